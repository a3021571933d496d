"""`embspace evaluate`: word-pair similarity and analogy scores, each with its coverage."""

from __future__ import annotations

import click

from ._output import echo_json, json_option, open_space


@click.command("evaluate")
@click.argument("space_path", metavar="SPACE")
@click.option("--pairs", multiple=True, help="A `w1 w2 score` file (or ws353, simlex999, men). Repeatable.")
@click.option("--analogies", multiple=True, help="A Google-format analogy file (or google). Repeatable.")
@click.option(
    "--oov",
    type=click.Choice(["drop", "wrong"]),
    default="drop",
    show_default=True,
    help="Out-of-vocabulary items: leave out of the score, or count as wrong.",
)
@click.option(
    "--restrict-vocab",
    type=click.IntRange(min=4),
    default=300_000,
    show_default=True,
    help="Use only the first N ids (word spaces are in frequency order).",
)
@click.option(
    "--method",
    "methods",
    multiple=True,
    type=click.Choice(["3cosadd", "3cosmul"]),
    help="Analogy method(s); default both.",
)
@click.option(
    "--sts",
    "sts_files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="Text spaces: an STS file (STS-B format or s1<TAB>s2<TAB>score). Repeatable.",
)
@click.option(
    "--retrieval",
    "retrieval_sets",
    multiple=True,
    nargs=2,
    type=click.Path(exists=True, dir_okay=False),
    metavar="QUERIES QRELS",
    help="Text spaces: queries (qid<TAB>text) and judgements. Repeatable.",
)
@click.option(
    "--label",
    help="Text and image spaces: label column for kNN agreement/accuracy and a linear probe, shown beside a "
    "bag-of-words probe (texts) or raw pixels (images) and the majority-class rate [label].",
)
@click.option(
    "--queries",
    metavar="COLUMN=VALUE",
    help="Image spaces: the rows that query the others for kNN accuracy, e.g. split=test [leave-one-out].",
)
@click.option(
    "--holdout",
    type=click.Path(exists=True, dir_okay=False),
    help="Item spaces: held-out interactions (from `embspace split`): hit@k, nDCG@k, recall@k and catalogue "
    "coverage, each beside the popularity baseline (full ranking, seen items left out).",
)
@click.option("-k", "k", default=10, show_default=True, type=click.IntRange(1, 10_000), help="--holdout: list length.")
@json_option
def evaluate(
    space_path,
    pairs,
    analogies,
    oov,
    restrict_vocab,
    methods,
    sts_files,
    retrieval_sets,
    label,
    queries,
    holdout,
    k,
    as_json,
):
    """Does distance match human judgement?  No files: the report card
    (WS-353, SimLex-999, MEN, Google analogies with 3CosAdd and 3CosMul).

    \b
    Examples:
      embspace evaluate glove.space
      embspace evaluate glove.space --pairs EN-RG-65.txt --analogies questions-words.txt --oov wrong --json
      embspace evaluate questions.space --sts sts-dev.csv --label label
      embspace evaluate fashion.space --queries split=test
      embspace evaluate movies.space --holdout test.tsv -k 10
    """
    from ..evaluate import format_table
    from ..evaluate import report_card as run

    space = open_space(space_path)
    if holdout:
        from ..evaluate import recommendation

        results = recommendation(space, holdout, k=k)
        if as_json:
            echo_json({"space": str(space_path), "tasks": [r.to_dict() for r in results]})
        else:
            click.echo(format_table(results))
        return
    kwargs = {"oov": oov, "restrict_vocab": restrict_vocab}
    if methods:
        kwargs["methods"] = tuple(methods)
    if sts_files or retrieval_sets or label:
        kwargs.update(sts=list(sts_files), retrieval=list(retrieval_sets), label=label)
    if queries:
        kwargs["queries"] = queries
    results = run(space, pairs=list(pairs) or None, analogies=list(analogies) or None, **kwargs)
    if as_json:
        echo_json({"space": str(space_path), "tasks": [r.to_dict() for r in results]})
    else:
        click.echo(format_table(results))


COMMANDS = [evaluate]
