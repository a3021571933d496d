"""`embspace tune contrastive`: a projection head learned on any space's frozen vectors from pairs or labels."""

from __future__ import annotations

import click

from ._output import check_writable_output, echo_json, json_option, open_space


@click.command("contrastive")
@click.argument("space_path", metavar="SPACE")
@click.option(
    "--pairs",
    type=click.Path(exists=True, dir_okay=False),
    help="A TSV/CSV file of two ids per line (an optional header) that should sit close: InfoNCE.",
)
@click.option(
    "--label",
    metavar="COLUMN|FILE",
    help="A label column of SPACE, or a CSV/TSV file of id,label: supervised contrastive loss.",
)
@click.option(
    "--head",
    type=click.Choice(["linear", "mlp"]),
    default="linear",
    show_default=True,
    help="linear: one matrix, started as the identity | mlp: Linear-ReLU-Linear.",
)
@click.option("--dim", type=click.IntRange(1, 8192), help="Output dimensions [the space's].")
@click.option("--epochs", type=click.IntRange(1, 100_000), default=20, show_default=True)
@click.option("--batch-size", type=click.IntRange(2, 65_536), default=256, show_default=True)
@click.option("--lr", type=click.FloatRange(0, 1, min_open=True), default=1e-3, show_default=True)
@click.option("--temperature", type=click.FloatRange(0.001, 100), default=0.1, show_default=True)
@click.option(
    "--hard-negatives",
    type=click.IntRange(0, 1000),
    default=0,
    show_default=True,
    metavar="K",
    help="Mine each anchor's K nearest non-positive rows in the frozen space; one joins each step.",
)
@click.option(
    "--test-fraction",
    type=click.FloatRange(0, 0.9),
    default=0.2,
    show_default=True,
    help="Pairs (or each class's items) held out to score before and after; 0: none.",
)
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True)
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("-o", "--output", required=True, help="The .space folder to write.")
@click.option("--force", is_flag=True, help="Replace OUT if it is already a space.")
@json_option
def contrastive_cmd(
    space_path,
    pairs,
    label,
    head,
    dim,
    epochs,
    batch_size,
    lr,
    temperature,
    hard_negatives,
    test_fraction,
    seed,
    device,
    output,
    force,
    as_json,
):
    """Tune any space (words, texts, images, items, table rows) with a projection head on its vectors.

    The head is learned from --pairs (InfoNCE, in-batch negatives, both ways) or --label (supervised
    contrastive loss); a seeded share of the pairs or items is held out and scored before and after
    (pairs: recall@1/@10 and MRR of the partner among all rows; labels: kNN accuracy, k=10, against the
    training items). OUT's rows are the head's outputs, unit length; the head is stored in OUT
    (safetensors) so queries encoded later (a text, an image, a row) go through it too.

    \b
    Examples:
      embspace tune contrastive fashion.space --label label -o fashion-tuned.space
      embspace tune contrastive questions.space --label labels.csv --head mlp --hard-negatives 5 -o q.space
      embspace tune contrastive glove.space --pairs synonyms.tsv --epochs 10 -o glove-syn.space --json
    """
    from ..store import save
    from ..tune import contrastive

    if (pairs is None) == (label is None):
        raise click.ClickException("give --pairs FILE or --label COLUMN|FILE (one of them)")
    check_writable_output(output, force)
    space = open_space(space_path)
    tuned, report = contrastive(
        space,
        pairs=pairs,
        labels=label,
        head=head,
        dim=dim,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        temperature=temperature,
        hard_negatives=hard_negatives,
        test_fraction=test_fraction,
        seed=seed,
        device=device,
    )
    save(tuned, output, overwrite=force)
    unknown = report.data.get("unknown") or {}
    if as_json:
        echo_json({"output": output, "n": tuned.n, "dim": tuned.dim, **report.to_dict()})
        return
    if unknown.get("rows_dropped"):
        shown = ", ".join(repr(e) for e in unknown.get("examples", []))
        what = "pairs" if pairs else "labels"
        click.echo(f"dropped {unknown['rows_dropped']:,} {what} naming ids not in the space, e.g. {shown}", err=True)
    click.echo(report.table())
    click.echo(
        f"wrote {output}: {tuned.n:,} × {tuned.dim}, {report.objective}, {len(report.losses)} epochs "
        f"(loss {report.losses[0]:.4f} -> {report.losses[-1]:.4f}) in {report.seconds:.1f} s",
        err=True,
    )


TUNE_COMMANDS = [contrastive_cmd]
