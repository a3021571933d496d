"""`--engine ray [--address ADDR] [--workers N]`: the options that send `build texts|images` to Ray."""

from __future__ import annotations

import os
from pathlib import Path

import click


def ray_options(command):
    """Add --engine, --address and --workers to a build command."""
    options = [
        click.option(
            "--engine",
            type=click.Choice(["local", "ray"]),
            default="local",
            show_default=True,
            help="local: this process. ray: an actor pool on Ray (pip install -e '.[ray]'); same result.",
        ),
        click.option(
            "--address",
            help="ray: the cluster to join (host:6379, ray://host:10001, auto) [start a local Ray, no dashboard].",
        ),
        click.option(
            "--workers", type=click.IntRange(1, 100_000), help="ray: actors, one model load each [CPUs, or GPUs]."
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def ray_arguments(engine: str, address: str | None, workers: int | None, output: str) -> dict:
    """The build function's keywords: for Ray, its shards go beside OUT (shared storage on a cluster)."""
    if engine != "ray":
        if address is not None or workers is not None:
            flag = "--address" if address is not None else "--workers"
            raise click.UsageError(f"{flag} is an option of the Ray engine; add --engine ray")
        return {}
    parent = Path(os.path.abspath(output)).parent
    return {"engine": "ray", "address": address, "workers": workers, "shards_dir": parent}


def engine_note(engine: dict) -> str:
    """'on Ray 2.60.0, 4 workers (local; started in 5.1 s)' for the line a build prints."""
    where = engine.get("address") or "local"
    gpus = ", a GPU each" if engine.get("gpus_per_worker") else ""
    return (
        f"on Ray {engine.get('ray_version')}, {engine.get('workers')} workers{gpus} ({where}; "
        f"started in {engine.get('startup_seconds', 0):.1f} s)"
    )
