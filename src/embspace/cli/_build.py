"""`embspace build words`: a word space from a corpus; `embspace compare A B`: two spaces side by side."""

from __future__ import annotations

import time
import warnings

import click

from ..errors import EmbspaceError
from ._output import check_writable_output, echo_json, json_option, open_space, table


@click.group("build")
def build() -> None:
    """Make a space from your data: `build words`, `texts`, `tokens`, `images`, `items` or `table`."""
    _sigterm_as_interrupt()


def _sigterm_as_interrupt() -> None:
    """For this command, SIGTERM (kill, a job scheduler, a container stopping) takes Ctrl-C's path:
    temporary files are removed and no half-written space is left. A second SIGTERM acts as usual."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():  # signals reach the main thread only
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous is None:  # a handler installed outside Python: leave it alone
        return

    def interrupt(signum, frame):
        signal.signal(signal.SIGTERM, previous)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    click.get_current_context().call_on_close(lambda: signal.signal(signal.SIGTERM, previous))


_METHOD_HELP = "sgns | cbow | fasttext (gensim underneath) | glove | ppmi-svd (our own)."


@build.command("words")
@click.argument("corpus", nargs=-1, required=True, type=click.Path(exists=True))
@click.option(
    "--method", required=True, type=click.Choice(["sgns", "cbow", "fasttext", "glove", "ppmi-svd"]), help=_METHOD_HELP
)
@click.option("-o", "--output", required=True, help="The .space folder to write.")
@click.option(
    "--dim", type=click.IntRange(1, 10_000), help="Dimensions [sgns/cbow/fasttext 100; glove 150; ppmi-svd 300]."
)
@click.option("--window", type=click.IntRange(1, 1_000), help="Context window each side [5; glove 10].")
@click.option("--min-count", type=click.IntRange(min=1), default=5, show_default=True)
@click.option("--max-vocab", type=click.IntRange(2, 100_000_000), help="Keep only the N most frequent words.")
@click.option(
    "--subsample",
    type=click.FloatRange(0, 1, max_open=True),
    help="Frequent-word subsampling threshold [1e-3 word2vec/fastText; 1e-4 glove; 0 ppmi-svd].",
)
@click.option(
    "--epochs", type=click.IntRange(1, 10_000), help="[5; glove 15 below 5M tokens, 10 above; not used by ppmi-svd]"
)
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=0, show_default=True)
@click.option("--workers", type=click.IntRange(1, 1_024), help="Threads [up to 4]; 1 with a seed = reproducible.")
@click.option(
    "--abtt",
    type=click.IntRange(0, 1_000),
    help="All-but-the-top: remove the mean and the top D principal directions after training "
    "[glove 4; others 0 (off)].",
)
@click.option("--no-lowercase", is_flag=True, help="Keep case when tokenising.")
@click.option(
    "--encoding-errors",
    type=click.Choice(["strict", "replace", "ignore"]),
    default="replace",
    show_default=True,
    help="Bytes that are not UTF-8: stop, replace with U+FFFD, or drop.",
)
@click.option("--negative", type=click.IntRange(1, 1_000), default=5, show_default=True, help="word2vec/fastText.")
@click.option(
    "--ns-exponent", type=click.FloatRange(-10, 10), default=0.75, show_default=True, help="word2vec/fastText."
)
@click.option("--min-n", type=click.IntRange(1, 100), default=3, show_default=True, help="fastText.")
@click.option("--max-n", type=click.IntRange(1, 100), default=6, show_default=True, help="fastText.")
@click.option(
    "--buckets",
    type=click.IntRange(1, 100_000_000),
    default=200_000,
    show_default=True,
    help="fastText: sub-word hash buckets (kept in the space for unseen words).",
)
@click.option("--x-max", type=click.FloatRange(0, 1e9, min_open=True), default=10.0, show_default=True, help="GloVe.")
@click.option("--alpha", type=click.FloatRange(0, 100, min_open=True), default=0.75, show_default=True, help="GloVe.")
@click.option(
    "--cds",
    type=click.FloatRange(0, 1, min_open=True),
    default=0.75,
    show_default=True,
    help="ppmi-svd: context-distribution smoothing.",
)
@click.option("--eig", type=click.FloatRange(0, 1), default=0.5, show_default=True, help="ppmi-svd: eigenvalue weight.")
@click.option(
    "--neg-shift", type=click.FloatRange(1, 1e9), default=1.0, show_default=True, help="ppmi-svd: shift PMI by log k."
)
@click.option(
    "--context-vectors/--no-context-vectors",
    default=True,
    show_default=True,
    help="ppmi-svd: add the context vectors to the word vectors (w + c).",
)
@click.option("--evaluate", "run_evaluate", is_flag=True, help="Print the report card of the new space.")
@click.option("--force", is_flag=True, help="Replace OUT if it is already a space.")
def words(corpus, method, output, run_evaluate, force, no_lowercase, **knobs):
    """Train a word space on text files, folders, .gz/.bz2/.zip archives or a Wikipedia .xml.bz2 dump.

    \b
    Examples:
      embspace build words corpus.txt --method sgns -o sgns.space
      embspace build words state_union.zip movie_reviews.zip --method ppmi-svd --evaluate -o ppmi.space
      embspace build words enwiki.xml.bz2 --method glove --dim 50 --epochs 15 -o glove.space
    """
    from ..store import save
    from ..words import WordParams
    from ..words import build as build_words
    from ..words._corpus_read import undecodable_note

    check_writable_output(output, force)  # fail before training, not after
    check_memory_for_words(method, knobs)
    params = WordParams(lowercase=not no_lowercase, **{k: v for k, v in knobs.items() if v is not None})
    start = time.perf_counter()
    space = _build_speaking_flags(build_words, corpus, method, params)
    save(space, output, overwrite=force)
    info = space.info
    undecodable = info["corpus"].get("undecodable_bytes")
    if undecodable:
        note = undecodable_note(undecodable, params.encoding_errors, "--encoding-errors strict")
        click.echo(f"note: {note}", err=True)
    click.echo(
        f"wrote {output}: {space.n:,} words × {space.dim} ({method}) from {info['tokens']:,} tokens "
        f"in {time.perf_counter() - start:.1f} s",
        err=True,
    )
    if run_evaluate:
        from ..evaluate import format_table, report_card

        click.echo(format_table(report_card(space)))


_DEFAULT_DIM = {"sgns": 100, "cbow": 100, "fasttext": 100, "glove": 150, "ppmi-svd": 300}


def check_memory_for_words(method: str, knobs: dict) -> None:
    """Refuse, before reading the corpus, a build whose tables the user sized beyond the memory available.

    Counts what the flags fix up front: fastText's sub-word buckets and --max-vocab words, each a
    float32 row of --dim for the input and the output side (× 2).
    """
    dim = knobs.get("dim") or _DEFAULT_DIM[method]
    rows = (knobs.get("max_vocab") or 0) + (knobs.get("buckets") or 0 if method == "fasttext" else 0)
    need = rows * dim * 4 * 2
    available = available_memory()
    if available is not None and need > available:
        raise EmbspaceError(
            f"this build would need about {need / 2**30:,.1f} GiB for {rows:,} rows × {dim} dimensions "
            f"(float32, words and contexts); {available / 2**30:,.1f} GiB is available: "
            "choose a smaller --dim, --buckets or --max-vocab"
        )


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (MemAvailable), or None where that cannot be read."""
    try:
        with open("/proc/meminfo", "rb") as fh:
            for line in fh:
                if line.startswith(b"MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _build_speaking_flags(build_words, corpus, method, params):
    """`build_words`, with its messages about undecodable bytes in the CLI's words (flags, not keywords)."""
    from ..words._corpus_read import UndecodableBytesWarning, UndecodableTextError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UndecodableBytesWarning)  # said below, with the flag
            return build_words(corpus, method, params)
    except UndecodableTextError as exc:
        raise EmbspaceError(exc.message("--encoding-errors replace")) from None


@click.command("compare")
@click.argument("space_a", metavar="A")
@click.argument("space_b", metavar="B")
@click.option("-k", "k", default=10, show_default=True, type=click.IntRange(1, 10_000), help="Neighbour set size.")
@click.option(
    "--sample",
    default=2000,
    show_default=True,
    type=click.IntRange(1, 10_000_000),
    help="Compare neighbourhoods of this many of the most frequent shared words.",
)
@click.option("--no-card", is_flag=True, help="Skip the report cards.")
@click.option(
    "--align",
    "align_first",
    is_flag=True,
    help="Two spaces of one language: align A onto B (orthogonal Procrustes on the shared words, or the map "
    "`embspace align` saved in A) and list the words that moved most (lowest cosine), with coverage.",
)
@json_option
def compare(space_a, space_b, k, sample, no_card, align_first, as_json):
    """Two spaces side by side: report cards, and how much their top-k neighbours overlap.

    Spaces of texts show each text beside its id, and the neighbours only one space has as texts.

    \b
    Examples:
      embspace compare sgns.space ppmi.space -k 10
      embspace compare minilm.space tfidf.space --no-card
      embspace compare wiki-2010.space wiki-2020.space --align --no-card
    """
    from ..evaluate import neighbour_overlap
    from ._tables import compare_targets

    a, b = open_space(space_a), open_space(space_b)
    overlap = neighbour_overlap(a, b, k=k, sample=sample)
    overlap.update(compare_targets(a, b, k, sample, echo=not as_json))  # table spaces: kNN prediction of the target
    if align_first:
        from ..tune import words_moved

        overlap["moved"] = words_moved(a, b, sample=sample)
    cards, missing = None, {}
    if not no_card:
        cards = [_card_or_reason(a, "A", missing), _card_or_reason(b, "B", missing)]
        paths = {"A": space_a, "B": space_b}
    if as_json:
        echo_json(
            {
                "a": space_a,
                "b": space_b,
                "overlap": overlap,
                "cards": None if cards is None else [[r.to_dict() for r in card] for card in cards],
                **({"no_card": missing} if missing else {}),
            }
        )
        return
    if cards and any(cards):
        click.echo(table(_card_rows(*cards), ["task", "metric", "A", "A found", "B", "B found"], align="llrrrr"))
    for which, reason in missing.items():
        click.echo(f"no report card for {which}: {reason} (for `embspace evaluate {paths[which]}`)")
    if cards:
        click.echo()
    if align_first:
        _echo_moved(overlap["moved"])
    texts = "text_column" in overlap
    images = a.info.get("builder") == "embspace.images" and b.info.get("builder") == "embspace.images"
    nouns = {"embspace.images": "image", "embspace.tables": "row", "embspace.items": "item"}
    same = a.info.get("builder") == b.info.get("builder")
    noun = (nouns.get(a.info.get("builder")) if same else None) or "word"
    what = "shared texts" if texts else f"shared {noun}s"
    click.echo(
        f"top-{k} neighbour overlap over {overlap['compared']:,} {what} "
        f"(of {overlap['shared']:,} shared): mean {overlap['mean']:.3f}"
    )
    rows = overlap["most_different"]
    if texts:
        body = [
            (
                w["id"],
                _snippet(w["text"], 50),
                w["overlap"],
                " | ".join(_snippet(t, 30) for t in w["a_only_text"][:2]),
                " | ".join(_snippet(t, 30) for t in w["b_only_text"][:2]),
            )
            for w in rows
        ]
        click.echo(table(body, ["id", "text", "overlap", "only in A", "only in B"], align="llrll"))
        return
    if images and "label" in a.meta:  # how differently two image spaces group: the neighbours' labels tell
        labels = a.meta["label"]

        def named(ids):
            return ", ".join(f"{i} ({labels[a.index(i)]})" for i in ids[:3])

        body = [(w["id"], labels[a.index(w["id"])], w["overlap"], named(w["a_only"]), named(w["b_only"])) for w in rows]
        click.echo(table(body, ["image", "label", "overlap", "only in A", "only in B"], align="llrll"))
        return
    body = [(w["id"], w["overlap"], ", ".join(w["a_only"][:4]), ", ".join(w["b_only"][:4])) for w in rows]
    click.echo(table(body, [noun, "overlap", "only in A", "only in B"], align="lrll"))


def _echo_moved(moved: dict) -> None:
    """The words that moved most after aligning A onto B, lowest cosine first, with coverage."""
    click.echo(
        f"moved most after alignment ({moved['alignment']}): cosine of each word's aligned A vector with its B "
        f"vector over {moved['compared']:,} of {moved['shared']:,} shared words ({moved['coverage_a']:.1%} of A); "
        f"mean {moved['mean_cosine']:.3f}"
    )
    click.echo(table([(w["id"], w["cosine"]) for w in moved["moved_most"]], ["word", "cosine"], align="lr"))
    click.echo()


def _card_or_reason(space, which: str, missing: dict) -> list:
    """The space's report card, or [] with the reason in `missing` (a text space without test sets)."""
    from ..evaluate import report_card

    try:
        return report_card(space)
    except EmbspaceError as exc:
        missing[which] = str(exc)
        return []


def _card_rows(card_a: list, card_b: list) -> list[tuple]:
    """One row per set and method (``google (3cosadd)``, ``google (3cosmul)``), matched by name, task and
    method, so two cards of different tasks never pair a row of one with another's."""

    def key(r):
        return (r.name, r.task, r.details.get("method"))

    by_a, by_b = {key(r): r for r in card_a}, {key(r): r for r in card_b}
    rows = []
    for both in dict.fromkeys([*by_a, *by_b]):  # A's order, then what only B has
        ra, rb = by_a.get(both), by_b.get(both)
        first = ra or rb
        rows.append(
            (
                first.title,
                first.metric,
                ra.score if ra else "",
                f"{ra.found}/{ra.total}" if ra else "",
                rb.score if rb else "",
                f"{rb.found}/{rb.total}" if rb else "",
            )
        )
    return rows


def _snippet(text: str, width: int) -> str:
    """`text` on one line, at most `width` characters."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= width else flat[: width - 1].rstrip() + "\u2026"


def _add_text_builders() -> None:
    from ._texts import build_texts_cmd, build_tokens_cmd

    build.add_command(build_texts_cmd)
    build.add_command(build_tokens_cmd)


_add_text_builders()

COMMANDS = [build, compare]
from ._images import build_images_cmd  # noqa: E402 - `embspace build images`, on the build group

build.add_command(build_images_cmd)
from ._tables import build_table_cmd  # noqa: E402 - `embspace build table`, on the build group

build.add_command(build_table_cmd)
