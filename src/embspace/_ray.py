"""Building on Ray: start or join a cluster, encode rows over an actor pool into Parquet shards, read them back.

A kind of data (texts, images) hands `run_actor_pool` an Arrow table of its rows, each with its row number,
and an actor class that turns a batch of rows into a table of ``row`` plus its outputs (``vector`` as a
fixed-size list of float32, and whatever else the kind needs). The actors load their model once each; Ray
Data schedules the batches over them, retries a batch whose worker died, and writes what they return as
Parquet shards into a temporary folder. The driver reads the shards back ordered by row and refuses a result
in which any row is missing or doubled: a build is complete or it fails, never a partial space.

``import ray`` happens inside the functions here, so embspace imports (and builds locally) without Ray.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import logging
import os
import shutil
import socket
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from ._install import install_hint
from .errors import EmbspaceError

ENGINES = ("local", "ray")
CONNECT_TIMEOUT_S = 10.0  # an --address that does not answer within this fails in one line
RETRIES = 2  # a batch whose worker died is run again this many times (and the actor restarted)
# Tests only: a folder; the first actor to find ``armed`` in it (and no ``fired``) exits mid-batch, once.
CRASH_ENV = "EMBSPACE_RAY_TEST_CRASH_DIR"


def check_engine(engine: str, address: str | None, workers: int | None) -> None:
    """One-line errors for an unknown engine, or Ray options given to the local engine."""
    if engine not in ENGINES:
        raise EmbspaceError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    if engine == "local" and (address is not None or workers is not None):
        given = "address" if address is not None else "workers"
        raise EmbspaceError(f"{given} is an option of the Ray engine; add engine='ray' (--engine ray) or leave it out")
    if workers is not None and int(workers) < 1:
        raise EmbspaceError(f"workers must be at least 1; got {workers}")
    if address is not None and not str(address).strip():
        raise EmbspaceError("the Ray address is empty; give host:port, ray://host:10001 or auto")


def require_ray(address: str | None = None):
    """The `ray` module, or a one-line EmbspaceError naming the extra that brings it.

    Joining a cluster (`address`) with a token at hand (``~/.ray/auth_token``, ``RAY_AUTH_TOKEN_PATH`` or
    ``RAY_AUTH_TOKEN``) and no ``RAY_AUTH_MODE`` set: token authentication is switched on before Ray is
    imported, as Ray itself means to do (clusters made by ``ray start`` ask for the token); Ray reads the
    mode when it is imported, so setting it later in the same process comes too late.
    """
    if address is not None and "ray" not in sys.modules and "RAY_AUTH_MODE" not in os.environ and _has_token():
        os.environ["RAY_AUTH_MODE"] = "token"
    try:
        import ray
        import ray.data  # noqa: F401 - the engine needs Ray Data (ray[data]), not only Ray core
    except ImportError as exc:
        raise EmbspaceError(
            f"--engine ray needs the Python package {exc.name or 'ray'!r} (Ray Data), which is not installed; "
            f"{install_hint('ray')}"
        ) from None
    return ray


def _has_token() -> bool:
    if os.environ.get("RAY_AUTH_TOKEN"):
        return True
    path = os.environ.get("RAY_AUTH_TOKEN_PATH") or os.path.join(os.path.expanduser("~"), ".ray", "auth_token")
    return os.path.isfile(path)


@dataclass
class RaySession:
    """A connection to Ray for one build: how many actors to run and what to record in ``info["engine"]``."""

    workers: int
    gpus: int
    address: str | None
    startup_seconds: float
    resources: dict = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        return {
            "name": "ray",
            "workers": self.workers,
            "gpus_per_worker": 1 if self.gpus else 0,
            "address": self.address,
            "ray_version": _ray_version(),
            "startup_seconds": round(self.startup_seconds, 3),
        }


@contextlib.contextmanager
def ray_session(address: str | None = None, workers: int | None = None) -> Iterator[RaySession]:
    """Ray for one build: a cluster at `address`, the Ray already running in this process, or a local one.

    A local Ray gets ``workers`` (default: this machine's cores) CPUs and no dashboard (an open dashboard
    port runs any job sent to it: CVE-2023-48022). Ray is shut down at the end only if it was started here.
    """
    ray = require_ray(address)
    start = time.perf_counter()
    started = False
    quiet = {"log_to_driver": False, "logging_level": logging.ERROR, "configure_logging": True}
    if address is not None:
        address = str(address).strip()
        _probe(address)
        _join(ray, address, quiet)
        started = True
    elif not ray.is_initialized():
        cpus = int(workers or os.cpu_count() or 1)
        try:
            # "local": a new Ray of our own, even where `ray start` left a cluster this machine would join.
            ray.init(address="local", num_cpus=cpus, include_dashboard=False, **quiet)
        except Exception as exc:
            raise EmbspaceError(f"cannot start a local Ray with {cpus} CPUs: {_first_line(exc)}") from None
        started = True
    try:
        _quiet_data()
        resources = ray.cluster_resources()
        gpus = int(resources.get("GPU", 0))
        cpus = max(1, int(resources.get("CPU", 1)))
        n = int(workers or (gpus or cpus))
        if gpus:
            n = min(n, gpus)  # one GPU per actor
        yield RaySession(n, gpus, public_address(address), time.perf_counter() - start, dict(resources))
    finally:
        if started:
            ray.shutdown()


def run_actor_pool(
    rows: Any,
    actor: type,
    actor_kwargs: dict[str, Any],
    session: RaySession,
    *,
    rows_per_call: int,
    shards_dir: str | os.PathLike | None = None,
) -> Any:
    """Run `actor` over every row of `rows` (a pyarrow Table with an int64 ``row`` column 0..n-1).

    Returns the actors' outputs as one pyarrow Table ordered by ``row``, one row per input row.
    The shards go into a temporary folder inside `shards_dir` (default: the system's temporary folder),
    removed when done; on a cluster of several machines it must be a folder every node and this one share.
    """
    ray = require_ray()
    n = rows.num_rows
    step = max(1, int(rows_per_call))
    blocks = [rows.slice(lo, step) for lo in range(0, n, step)]  # one block per call: every actor gets work
    where = Path(shards_dir) if shards_dir is not None else Path(tempfile.gettempdir())
    try:
        folder = Path(tempfile.mkdtemp(prefix=".embspace-ray-shards-", dir=where))
    except OSError as exc:
        raise EmbspaceError(f"cannot make a folder for the Ray shards in {where}: {exc.strerror or exc}") from None
    try:
        per_actor = {"num_gpus": 1} if session.gpus else {"num_cpus": 1}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Ray's notes on its own deprecations are not the user's business
            ds = _pool(ray, blocks, actor, actor_kwargs, session.workers, step, per_actor)
        try:
            ds.write_parquet(str(folder))
        except Exception as exc:  # a worker's error comes wrapped (RayTaskError); say its own line
            raise EmbspaceError(f"the Ray build failed: {_first_line(_cause(exc))}") from None
        table = read_shards(folder, n)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return table


def _pool(ray, blocks, actor, actor_kwargs, workers: int, step: int, per_actor: dict):
    """The dataset of `blocks` mapped by a pool of `workers` actors; a batch whose worker died runs again."""
    return ray.data.from_arrow(blocks).map_batches(
        actor,
        fn_constructor_kwargs=actor_kwargs,
        compute=ray.data.ActorPoolStrategy(size=workers),
        batch_size=step,
        batch_format="pyarrow",
        zero_copy_batch=True,
        max_restarts=RETRIES,
        max_task_retries=RETRIES,
        **per_actor,
    )


def read_shards(folder: str | os.PathLike, n: int):
    """The Parquet shards in `folder` as one table sorted by ``row``; every row 0..n-1 exactly once, or an error."""
    import pyarrow.parquet as pq

    files = sorted(Path(folder).glob("*.parquet"))
    if not files:
        raise EmbspaceError(
            f"the Ray workers wrote no shards into {folder}; on a cluster of several machines the output "
            "folder must be on storage that every node shares"
        )
    table = pq.ParquetDataset([str(f) for f in files]).read()  # plain Arrow: nothing in a shard runs code
    got = table.column("row").to_numpy()
    order = np.argsort(got, kind="stable")
    ordered = got[order]
    if len(ordered) != n or (n and (ordered[0] != 0 or ordered[-1] != n - 1 or (np.diff(ordered) != 1).any())):
        missing = n - len(np.unique(ordered[(ordered >= 0) & (ordered < n)]))
        doubled = len(ordered) - len(np.unique(ordered))
        raise EmbspaceError(
            f"the Ray build returned {len(ordered):,} rows for {n:,} inputs ({missing:,} missing, {doubled:,} "
            "more than once); no space was written"
        )
    return table.take(order)


def vectors_of(table, column: str = "vector") -> np.ndarray:
    """A fixed-size-list float32 column as a C-contiguous (n, dim) float32 array."""
    col = table.column(column).combine_chunks()
    dim = col.type.list_size
    return np.ascontiguousarray(col.flatten().to_numpy(zero_copy_only=False), dtype=np.float32).reshape(-1, dim)


def vector_column(vectors: np.ndarray):
    """(n, dim) float32 as a pyarrow fixed-size list column (what the shards hold)."""
    import pyarrow as pa

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    return pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), int(vectors.shape[1]))


def maybe_crash() -> None:
    """Tests only (``EMBSPACE_RAY_TEST_CRASH_DIR``): kill this worker once, to show a batch is retried."""
    folder = os.environ.get(CRASH_ENV)
    if not folder or not os.path.exists(os.path.join(folder, "armed")):
        return
    try:
        os.close(os.open(os.path.join(folder, "fired"), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return
    os._exit(1)


def on_gpu() -> bool:
    """Whether Ray gave this actor a GPU (and torch can use it)."""
    import ray

    if not ray.get_gpu_ids():
        return False
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def public_address(address: str | None) -> str | None:
    """`address` as it may be recorded: scheme, host and port only (no user, password, path or query)."""
    if address is None or address == "auto":
        return address
    parts = urlsplit(address if "://" in address else f"//{address}")
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if _port(parts) is not None else ""
    return f"{parts.scheme}://{host}{port}" if parts.scheme else f"{host}{port}"


def _probe(address: str) -> None:
    """Fail in one line, within CONNECT_TIMEOUT_S, when nothing answers at host:port."""
    if address == "auto":
        return
    parts = urlsplit(address if "://" in address else f"//{address}")
    port = _port(parts)
    if not parts.hostname or port is None:
        raise EmbspaceError(
            f"the Ray address {public_address(address)!r} names no host:port; give host:6379, ray://host:10001 or auto"
        )
    try:
        with socket.create_connection((parts.hostname, port), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        why = "no answer" if isinstance(exc, TimeoutError) else (exc.strerror or type(exc).__name__).lower()
        raise EmbspaceError(
            f"cannot reach the Ray cluster at {public_address(address)} ({why} within {CONNECT_TIMEOUT_S:.0f} s); "
            "start one with `ray start --head` there, or check --address"
        ) from None


def _join(ray, address: str, quiet: dict) -> None:
    """`ray.init(address)` within about CONNECT_TIMEOUT_S, its retries' log lines kept off the terminal.

    Something may answer at host:port that is not Ray (a proxy, another server): Ray then retries for a
    while, printing a line each second from its C++ client. Those lines go to a file; the last one is told
    in the one-line error.
    """
    wait = "RAY_gcs_server_port_wait_time_s"  # Ray's own connect budget, in tries about 1 s apart
    before = os.environ.get(wait)
    if before is None:
        os.environ[wait] = str(int(CONNECT_TIMEOUT_S))
    with tempfile.TemporaryFile("w+b") as log, _client_timeout(CONNECT_TIMEOUT_S), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            with _stderr_into(log):
                ray.init(address=address, **quiet)
        except Exception as exc:  # ConnectionError, RuntimeError, grpc errors: all one line
            log.seek(0)
            said = [line.strip() for line in log.read().decode("utf-8", "replace").splitlines() if "] " in line]
            last = f" ({said[-1].split('] ', 1)[-1][:200]})" if said else ""
            where = public_address(address)
            if "AuthToken" in last or "AuthenticationError" in type(exc).__name__:
                raise EmbspaceError(
                    f"the Ray cluster at {where} asks for its authentication token: copy the head node's "
                    "~/.ray/auth_token here (or set RAY_AUTH_TOKEN) and set RAY_AUTH_MODE=token"
                ) from None
            raise EmbspaceError(f"cannot join the Ray cluster at {where}: {_first_line(exc)}{last}") from None
        finally:
            if before is None:
                os.environ.pop(wait, None)


@contextlib.contextmanager
def _client_timeout(seconds: float) -> Iterator[None]:
    """Ray Client (``ray://``) tries 3 times, 5 + 10 + 15 s by default: here, about `seconds` in all."""
    try:
        from ray.util.client import worker
    except ImportError:  # Ray without its client: ray.init says so itself
        yield
        return
    saved = {name: getattr(worker, name, None) for name in ("INITIAL_TIMEOUT_SEC", "MAX_TIMEOUT_SEC")}
    if None in saved.values():  # another Ray than the one this was written for: leave it be
        yield
        return
    worker.INITIAL_TIMEOUT_SEC = max(1, int(seconds // 5))
    worker.MAX_TIMEOUT_SEC = max(1, int(seconds * 2 // 5))
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(worker, name, value)


@contextlib.contextmanager
def _stderr_into(file) -> Iterator[None]:
    """Send this process's file descriptor 2 (where C++ libraries write) into `file` for a while."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        os.dup2(file.fileno(), 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def _port(parts) -> int | None:
    try:
        return parts.port
    except ValueError:
        return None


def _quiet_data() -> None:
    import ray.data

    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    if hasattr(ctx, "print_on_execution_start"):
        ctx.print_on_execution_start = False
    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _cause(exc: BaseException) -> BaseException:
    """The worker's own exception inside Ray's wrappers (an EmbspaceError raised by an actor, say)."""
    seen = 0
    while seen < 10:
        inner = getattr(exc, "cause", None) or exc.__cause__
        if inner is None or inner is exc:
            break
        exc, seen = inner, seen + 1
    return exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("Traceback", "File ", "ray::")):
            return line[:300]
    return type(exc).__name__


def _ray_version() -> str | None:
    try:
        return importlib.metadata.version("ray")
    except importlib.metadata.PackageNotFoundError:
        return None
