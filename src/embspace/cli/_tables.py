"""`embspace build table`: a space of table rows; and what `compare` shows of two table spaces (the target)."""

from __future__ import annotations

import warnings

import click

from ..errors import EmbspaceError
from ._output import check_writable_output, echo_json, table

_METHOD_HELP = (
    "features: numbers standardised, yes/no as 0/1, categoricals one-hot, missing values imputed and flagged | "
    "learned: entity embeddings + a small MLP trained to predict --target; its penultimate layer."
)


@click.command("table")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", required=True, help="The .space folder to write.")
@click.option("--id", "id_column", metavar="COL", help="The column of unique row ids [the row number].")
@click.option("--target", metavar="COL", help="The column to predict: kept as meta, not in the vectors.")
@click.option("--columns", metavar="A,B,C", help="The columns to embed [all but the id and the target].")
@click.option(
    "--method", type=click.Choice(["features", "learned"]), default="features", show_default=True, help=_METHOD_HELP
)
@click.option(
    "--task",
    type=click.Choice(["regression", "classification"]),
    help="What the target is [regression if it is numeric, else classification].",
)
@click.option("--format", "fmt", type=click.Choice(["csv", "tsv", "parquet", "jsonl"]), help="[from the suffix]")
@click.option("--dim", type=click.IntRange(1, 4096), help="learned: width of the penultimate layer (the vectors) [16].")
@click.option("--hidden", type=click.IntRange(1, 65_536), help="learned: width of the first hidden layer [64].")
@click.option("--epochs", type=click.IntRange(1, 100_000), help="learned: the most epochs [300].")
@click.option("--patience", type=click.IntRange(1, 100_000), help="learned: stop this many epochs after the best [30].")
@click.option("--batch-size", type=click.IntRange(1, 1_000_000), help="learned: rows per step [64].")
@click.option("--lr", type=click.FloatRange(0, 10, min_open=True), help="learned: AdamW learning rate [3e-3].")
@click.option("--weight-decay", type=click.FloatRange(0, 10), help="learned: AdamW weight decay [1e-4].")
@click.option("--log-target", is_flag=True, default=None, help="learned: regress the logarithm of the target.")
@click.option(
    "--dropout", type=click.FloatRange(0, 1, max_open=True), help="learned: dropout after the hidden layer [0]."
)
@click.option(
    "--refit", is_flag=True, default=None, help="learned: train again on every row for the early-stopped epochs."
)
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=0, show_default=True, help="learned: the seed.")
@click.option("--force", is_flag=True, help="Replace OUT if it is already a space.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary on stdout.")
def build_table_cmd(file, output, id_column, target, columns, method, task, fmt, seed, force, as_json, **knobs):
    """Embed the rows of a table (CSV, TSV, Parquet or JSONL): one vector per row.

    The feature space places rows by their own values; the learned space by what a network trained to
    predict --target made of them (Guo & Berkhahn 2016). Both keep every column as metadata and the
    transform (and network) in the space, so new rows are placed the same way. Constant and empty
    columns are left out and said. `embspace compare` shows how well each predicts the target.

    \b
    Examples:
      embspace build table Housing.csv --id house --target price -o houses.space
      embspace build table Housing.csv --id house --target price --method learned -o houses-learned.space
      embspace compare houses.space houses-learned.space
    """
    from ..store import save
    from ..tables import DroppedColumnWarning
    from ..tables import build as build_table

    check_writable_output(output, force)
    given = {k: v for k, v in knobs.items() if v is not None and v is not False}
    if method != "learned" and given:
        flags = ", ".join("--" + k.replace("_", "-") for k in given)
        raise EmbspaceError(f"{flags} {'is' if len(given) == 1 else 'are'} for --method learned only")
    names = [c.strip() for c in columns.split(",") if c.strip()] if columns is not None else None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DroppedColumnWarning)
        space = build_table(
            file, id=id_column, target=target, method=method, columns=names, task=task, fmt=fmt, seed=seed, **given
        )
    save(space, output, overwrite=force)
    for warning in caught:
        if issubclass(warning.category, DroppedColumnWarning):
            click.echo(f"note: {warning.message}", err=True)
        else:
            warnings.showwarning(warning.message, warning.category, warning.filename, warning.lineno)
    _report(space, output, method, as_json)


def _report(space, output: str, method: str, as_json: bool) -> None:
    record = space.info["table"]
    training = (record.get("network") or {}).get("training")
    line = f"wrote {output}: {space.n:,} rows × {space.dim} ({method}) in {space.info['seconds']:.1f} s"
    if training:
        line += (
            f"; best epoch {training['best_epoch']} of {training['epochs_run']} "
            f"(validation loss {training['validation_loss']:.4f} on {training['validation_rows']:,} rows)"
        )
    click.echo(line, err=True)
    if as_json:
        echo_json(
            {
                "output": output,
                "method": method,
                "rows": space.n,
                "dim": space.dim,
                "target": record.get("target"),
                "task": record.get("task"),
                "layout": record["transform"]["layout"],
                "dropped": record["dropped"],
                "training": training,
                "seconds": space.info["seconds"],
            }
        )


def compare_targets(a, b, k: int = 10, sample: int | None = None, echo: bool = True) -> dict:
    """For two table spaces that share a target column: ``{"target": {...}}`` with how well each predicts
    it from its `k` nearest rows (leave-one-out, `sample` rows predicted) beside the mean (or majority)
    baseline, printed when `echo`; ``{}`` for other spaces."""
    from ..tables import BUILDER, knn_target

    if a.info.get("builder") != BUILDER or b.info.get("builder") != BUILDER:
        return {}
    names = [(s.info.get("table") or {}).get("target") for s in (a, b)]
    target = next((t for t in names if t and t in a.meta and t in b.meta), None)
    if target is None:
        return {}
    results = [knn_target(s, target, k=k, sample=sample) for s in (a, b)]  # the same rows in both
    trained = ["A" if names[0] == target and a.info.get("method") == "learned" else None]
    trained.append("B" if names[1] == target and b.info.get("method") == "learned" else None)
    out = {"target": {"name": target, "k": k, "a": results[0], "b": results[1]}}
    if echo:
        _echo_targets(target, k, results, [t for t in trained if t])
    return out


def _echo_targets(target: str, k: int, results: list[dict], trained: list[str]) -> None:
    first = results[0]
    over = (
        f"{first['rows']:,} rows"
        if first["predicted"] == first["rows"]
        else f"{first['predicted']:,} of {first['rows']:,} rows"
    )
    click.echo(f"predicting {target!r} from the {k} nearest rows (leave-one-out over {over}):")
    if first["task"] == "regression":
        rows = [(which, r["rmse"], r["mae"]) for which, r in zip("AB", results)]
        rows.append(("mean baseline", first["baseline_rmse"], first["baseline_mae"]))
        click.echo(table(rows, ["space", "RMSE", "MAE"], align="lrr"))
    else:
        rows = [(which, r["accuracy"]) for which, r in zip("AB", results)]
        rows.append(("majority baseline", first["baseline_accuracy"]))
        click.echo(table(rows, ["space", "accuracy"], align="lr"))
    for which in trained:
        click.echo(
            f"note: {which}'s network was trained on {target!r} with these rows, so its score is in-sample; "
            "benchmarks/bench_tables.py measures it out of fold"
        )
    click.echo()
