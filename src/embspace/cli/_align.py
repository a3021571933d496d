"""`embspace align` and `embspace translate`: one space mapped onto another from a dictionary, and CSLS lookup."""

from __future__ import annotations

import click

from ._output import check_writable_output, echo_json, json_option, open_space, table


@click.command("align")
@click.argument("source_path", metavar="SOURCE")
@click.argument("target_path", metavar="TARGET")
@click.option(
    "--dictionary",
    "dictionaries",
    multiple=True,
    required=True,
    help="Pairs SOURCE-word TARGET-word: a FreeDict dictionary (its .index, e.g. "
    "/usr/share/dictd/freedict-eng-fra.index) or a `source target` file (tab or space). Repeatable.",
)
@click.option(
    "--reversed-dictionary",
    "reversed_dictionaries",
    multiple=True,
    help="Like --dictionary, read the other way round (a fra-eng dictionary for English -> French). Repeatable.",
)
@click.option(
    "--method",
    type=click.Choice(["procrustes", "lstsq", "vecmap"]),
    default="procrustes",
    show_default=True,
    help="procrustes: orthogonal map (equal dimensions, or --pca) | lstsq: least squares (gensim's "
    "translation matrix; any dimensions) | vecmap: whitening, orthogonal map and re-weighting into a common "
    "space of the smaller dimension (VecMap's supervised recipe; any dimensions).",
)
@click.option("--pca", is_flag=True, help="procrustes with different dimensions: reduce the larger space by PCA first.")
@click.option(
    "--refine",
    type=click.IntRange(0, 100),
    default=0,
    show_default=True,
    help="Rounds of adding mutual CSLS nearest neighbours among the frequent words to the pairs and refitting.",
)
@click.option(
    "--refine-vocab",
    type=click.IntRange(10, 1_000_000),
    default=10_000,
    show_default=True,
    help="--refine looks among this many of each space's first (most frequent) words.",
)
@click.option(
    "--test-fraction",
    type=click.FloatRange(0, 1, max_open=True),
    default=0.2,
    show_default=True,
    help="Share of the dictionary's source words held out for P@1/5/10 (0: train on all).",
)
@click.option(
    "--source-vocab",
    type=click.IntRange(1),
    help="Keep the first N source words (frequency order) [all].",
)
@click.option(
    "--target-vocab",
    type=click.IntRange(1),
    help="Translate into the first N target words only [all].",
)
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=0, show_default=True, help="Of the held-out split.")
@click.option("-o", "--output", required=True, help="The aligned .space folder to write.")
@click.option("--force", is_flag=True, help="Replace OUTPUT if it is already a space.")
@json_option
def align_cmd(
    source_path,
    target_path,
    dictionaries,
    reversed_dictionaries,
    method,
    pca,
    refine,
    refine_vocab,
    test_fraction,
    source_vocab,
    target_vocab,
    seed,
    output,
    force,
    as_json,
):
    """Map SOURCE onto TARGET from dictionary pairs; print P@1/5/10 on held-out pairs (NN and CSLS).

    Both spaces are normalised as VecMap does (unit length, centred, unit length). The aligned space holds
    SOURCE's words in TARGET's space (vecmap: in their common space); the map is a step of its transform
    chain, and the target's name and sha256 are recorded, so `embspace translate` finds a word's
    translations, and for two spaces of one language `embspace compare ALIGNED TARGET --align` lists the
    words that moved most. Pairs naming words a space lacks are counted and dropped.

    \b
    Examples:
      embspace align glove.space fr.space --dictionary /usr/share/dictd/freedict-eng-fra.index \\
          --method vecmap --source-vocab 200000 -o en-fr.space
      embspace align glove.space fr.space --dictionary pairs.tsv --method procrustes --pca --refine 3 -o en-fr.space
      embspace align news-2010.space news-2020.space --dictionary same-words.tsv --test-fraction 0 -o moved.space
    """
    from ..store import save
    from ..tune import align
    from ..tune._dictionary import Dictionary, read_dictionary

    check_writable_output(output, force)
    source, target = open_space(source_path), open_space(target_path)
    pairs = Dictionary()
    for path in dictionaries:
        pairs.add(read_dictionary(path))
    for path in reversed_dictionaries:
        pairs.add(read_dictionary(path, reverse=True))
    aligned, report = align(
        source,
        target,
        pairs.pairs,
        method=method,
        pca=pca,
        refine=refine,
        refine_vocab=refine_vocab,
        test_fraction=test_fraction,
        source_vocab=source_vocab,
        target_vocab=target_vocab,
        seed=seed,
    )
    aligned.info["alignment"]["dictionaries"] = pairs.sources
    save(aligned, output, overwrite=force)
    if as_json:
        echo_json({"output": output, **report})
        return
    _print_report(report, output)


def _print_report(report: dict, output: str) -> None:
    d = report["dictionary"]
    click.echo(
        f"pairs: {d['kept']:,} of {d['pairs']:,} have both words in the spaces (coverage {d['coverage']:.1%}); "
        f"{report['training_pairs']:,} train, {report['held_out_source_words']:,} source words held out"
    )
    for side in ("source", "target"):
        if d[f"unknown_{side}_words"]:
            click.echo(
                f"  {d[f'unknown_{side}_words']:,} {side} words not in the {side} space, e.g. "
                + ", ".join(d[f"unknown_{side}_examples"])
            )
    for i, r in enumerate(report["rounds"], 1):
        click.echo(f"  refinement {i}: {r['mutual_pairs']:,} mutual neighbours, {r['training_pairs']:,} training pairs")
    e = report["evaluation"]
    if e:
        rows = [
            (name, e[f"{key}_p@1"], e[f"{key}_p@5"], e[f"{key}_p@10"], f"{e['source_words']:,}")
            for name, key in (("nearest neighbour", "nn"), ("CSLS (k=10)", "csls"))
        ]
        click.echo(table(rows, ["retrieval", "P@1", "P@5", "P@10", "held-out words"], align="lrrrr"))
    click.echo(f"wrote {output}")


@click.command("translate")
@click.argument("aligned_path", metavar="ALIGNED")
@click.argument("words", nargs=-1, required=True)
@click.option("-k", "k", default=5, show_default=True, type=click.IntRange(1, 1000), help="Translations per word.")
@click.option("--target", "target_path", help="The target space [the one ALIGNED was made against, by its path].")
@click.option("--nn", is_flag=True, help="Also list the plain nearest neighbours (cosine) beside CSLS.")
@json_option
def translate_cmd(aligned_path, words, k, target_path, nn, as_json):
    """The target words nearest each WORD of an aligned space, by CSLS (and plain cosine with --nn).

    \b
    Examples:
      embspace translate en-fr.space cat house -k 5
      embspace translate en-fr.space water --nn --target fr.space --json
    """
    from ..errors import EmbspaceError
    from ..tune import translate

    aligned = open_space(aligned_path)
    if "alignment" not in aligned.info:
        raise EmbspaceError(f"{aligned_path} was not made by `embspace align`; align it to a target first")
    path = target_path or (aligned.info["alignment"].get("target") or {}).get("path")
    if not path:
        raise EmbspaceError("the aligned space does not say where its target is; give it with --target")
    target = open_space(path)
    found = {"csls": translate(aligned, target, words, k, csls=True)}
    if nn:
        found["nn"] = translate(aligned, target, words, k, csls=False)
    if as_json:
        echo_json(
            {
                word: {how: [{"id": n.id, "score": n.score} for n in lists[i]] for how, lists in found.items()}
                for i, word in enumerate(words)
            }
        )
        return
    for i, word in enumerate(words):
        rows = [(rank + 1, n.id, n.score) for rank, n in enumerate(found["csls"][i])]
        header = ["#", "CSLS", "score"]
        if nn:
            rows = [(*r, m.id, m.score) for r, m in zip(rows, found["nn"][i])]
            header += ["nearest neighbour", "cosine"]
        click.echo(f"{word}:")
        click.echo(table(rows, header))


COMMANDS = [align_cmd, translate_cmd]
