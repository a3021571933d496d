"""`embspace transfer`: a space's vectors as features for a new labelled task, beside bag of words."""

from __future__ import annotations

import click

from ._output import echo_json, json_option, open_space, table


def _fractions(ctx: click.Context, param: click.Parameter, value: str) -> list[float]:
    try:
        out = [float(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter(
            f"{value!r}: expected numbers in (0, 1] separated by commas, e.g. 0.01,0.1,1"
        ) from None
    if not out or any(not 0 < f <= 1 for f in out):
        raise click.BadParameter(f"{value!r}: every fraction must be in (0, 1], e.g. 0.01,0.1,1")
    return out


@click.command("transfer")
@click.argument("space")
@click.option("--train", "train", required=True, type=click.Path(exists=True, dir_okay=False), help="Labels to learn.")
@click.option(
    "--test", "test", type=click.Path(exists=True, dir_okay=False), help="Labels to score on [k-fold over --train]."
)
@click.option(
    "--task",
    type=click.Choice(["classify", "regress"]),
    help="Logistic regression or ridge [from the labels: numbers with fractions or >20 values regress].",
)
@click.option("--id-column", default="id", show_default=True, help="Column of the space's ids.")
@click.option("--label-column", default="label", show_default=True, help="Column of the labels.")
@click.option("--text-column", help="Texts for the bag-of-words baseline [text, else the space's texts].")
@click.option("--folds", type=click.IntRange(2, 100), default=5, show_default=True, help="k-fold without --test.")
@click.option(
    "--fractions",
    default="0.01,0.1,1",
    show_default=True,
    callback=_fractions,
    help="Learning curve: shares of the training labels (stratified, at least 1 per class).",
)
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=0, show_default=True)
@json_option
def transfer_cmd(space, train, test, task, id_column, label_column, text_column, folds, fractions, seed, as_json):
    """Embeddings as features for a new task, with the baseline beside them.

    TRAIN (and TEST) are CSV, TSV, JSONL or Parquet files with an id column (the space's ids) and a label
    column. Logistic regression (classify; C=1 on standardised vectors) or ridge
    (regress; alpha by leave-one-out) learns the labels from the vectors, scored on TEST or by k-fold,
    at each fraction of the training labels. Beside it: bag of words (tf-idf + the same model) when
    there are texts (a text column, or a text space), else the file's numeric columns, and always the
    majority class (or the mean). Ids missing from the space are counted and left out.

    \b
    Examples:
      embspace transfer reviews.space --train labels.csv
      embspace transfer questions.space --train train.csv --test test.csv --fractions 0.01,0.1,1
      embspace transfer movies.space --train ratings.csv --id-column item --label-column mean --task regress --json
    """
    from ..transfer import run

    report = run(
        open_space(space),
        train,
        test,
        task=task,
        id_column=id_column,
        label_column=label_column,
        text_column=text_column,
        folds=folds,
        fractions=fractions,
        seed=seed,
    )
    if as_json:
        echo_json(report.as_dict())
        return
    metrics = list(report.metrics)
    rows = [
        [r["features"], f"{r['fraction']:g}", r["labels"], *[r[m] for m in metrics], r["coverage"]] for r in report.rows
    ]
    click.echo(
        table(rows, ["features", "fraction", "labels", *metrics, "coverage"], align="llr" + "r" * len(metrics) + "r")
    )
    where = report.details["evaluation"]
    click.echo(
        f"{report.details['method']} on {report.found:,} of {report.total:,} labelled ids ({report.coverage:.1%}); "
        f"{where}; baseline: {report.details['baseline']}"
    )
    if report.unknown:
        shown = ", ".join(report.unknown[:10])
        more = f" and {len(report.unknown) - 10:,} more" if len(report.unknown) > 10 else ""
        click.echo(f"{len(report.unknown):,} ids not in the space, left out: {shown}{more}", err=True)


COMMANDS = [transfer_cmd]
