"""embspace's GloVe against the original GloVe C code, on the same tokens, at three corpus sizes.

    .venv/bin/python benchmarks/bench_glove.py [--workdir /tmp/bench-words] [--sizes 1,3,7] [--reps 1]

Corpus: bench_words.py's corpus.txt (GCIDE + gensim's shortened enwiki dump, ~7.3M tokens; made in
--workdir if missing), and every 7th line of it (~1M tokens) and 3 lines in 7 (~3M tokens). Each is
written once with embspace's `Corpus.write_line_corpus`, so both sides read the same tokens.

Knobs on both sides: --dim 100 --window 5 --min-count 5, 2 threads. The original: its README's
pipeline (vocab_count, cooccur, shuffle, glove) with 15 iterations and x_max 10, from
../shared/reference/glove-c built in --workdir. embspace: `embspace.words.build(method="glove")` with
every other knob at its default. Wall time: the whole pipeline on each side (embspace: the build
call in a fresh process, imports excluded; C: the four programs). Scores: Spearman on WS-353,
SimLex-999 and MEN, pairs outside the vocabulary dropped; the mean of the three.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PAIRS = ("ws353", "simlex999", "men")
KNOBS = {"dim": 100, "window": 5, "min_count": 5}
SIZES = {1: {0}, 3: {0, 1, 2}, 7: None}  # millions of tokens: which lines (index mod 7) are kept


def corpora(workdir: Path, sizes: list[int]) -> dict[int, Path]:
    """Line corpora of about `sizes` million tokens, tokenised once by embspace."""
    sys.path.insert(0, str(HERE))
    from bench_words import prepare_corpus
    from embspace.words._corpus import Corpus, Tokenizer

    prepare_corpus(workdir)
    full = workdir / "corpus.txt"
    out = {}
    for size in sizes:
        lines = workdir / f"glove-{size}m.txt"
        if not lines.exists():
            source = full
            if SIZES[size] is not None:
                source = workdir / f"glove-{size}m.raw.txt"
                with open(full, encoding="utf-8") as fin, open(source, "w", encoding="utf-8") as fout:
                    fout.writelines(line for i, line in enumerate(fin) if i % 7 in SIZES[size] and line.strip())
            tmp = lines.with_suffix(".tmp")
            Corpus([source], tokenizer=Tokenizer(), encoding_errors="replace").write_line_corpus(tmp)
            tmp.rename(lines)
        out[size] = lines
    return out


def scores(space) -> dict:
    from embspace.evaluate import word_pairs

    out = {}
    for name in PAIRS:
        r = word_pairs(space, name)
        out[name] = {"score": r.score, "coverage": r.coverage}
    out["mean"] = sum(out[n]["score"] for n in PAIRS) / len(PAIRS)
    return out


def child(side: str, lines: str, workdir: str) -> dict:
    """One run in this (fresh) process: heavy imports first, then the clock."""
    import numpy as np  # noqa: F401

    import embspace
    from embspace.words import _cooccur, _glove, build  # noqa: F401

    sys.path.insert(0, str(HERE))
    from _glove_c import build_glove_c, train_glove_c

    if side == "c":
        binaries = build_glove_c(Path(workdir))
        words, vectors, timings = train_glove_c(
            binaries, Path(lines), Path(workdir) / "glove-c-run", iters=15, x_max=10.0, threads=2, **KNOBS
        )
        space = embspace.Space(words, vectors)
        out = {"wall_s": timings["wall_s"], "steps": timings, "epochs": 15}
    else:
        t0 = time.perf_counter()
        space = build([lines], "glove", workers=2, **KNOBS)
        out = {
            "wall_s": round(time.perf_counter() - t0, 2),
            "epochs": space.info["params"]["epochs"],
            "abtt": space.info["params"]["abtt"],
            "tokens": space.info["tokens"],
        }
    out.update({"side": side, "vocabulary": space.n, **scores(space)})
    return out


def run(side: str, lines: Path, workdir: Path) -> dict:
    from _common import OtherLoad

    probe = OtherLoad()
    proc = subprocess.run(
        [sys.executable, __file__, "--child", side, str(lines), str(workdir)], capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise SystemExit(f"{side} on {lines.name} failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["other"] = probe.stop()
    return result


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(child(*sys.argv[2:5])), flush=True)
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workdir", default="/tmp/bench-words")
    ap.add_argument("--sizes", default="1,3,7")
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--out", default=str(HERE / "results" / "glove.md"))
    ap.add_argument("--report-only", action="store_true", help="re-render the table from the saved .json")
    args = ap.parse_args()
    sys.path.insert(0, str(HERE))
    from _common import machine

    workdir = Path(args.workdir)
    sizes = [int(s) for s in args.sizes.split(",")]
    results = []
    if args.report_only:
        saved = json.loads(Path(args.out).with_suffix(".json").read_text())
        info, results = saved["machine"], saved["results"]
    else:
        info = machine()
        paths = corpora(workdir, sizes)
        for size in sizes:
            for rep in range(args.reps):
                for side in ("c", "embspace"):  # interleaved, so drifting load hits both alike
                    r = run(side, paths[size], workdir)
                    r.update({"size": size, "rep": rep, "corpus": paths[size].name})
                    results.append(r)
                    print(
                        f"# {size}M {side}: {r['wall_s']:.1f} s, mean rho {r['mean']:.3f}, "
                        f"others {r['other'] and r['other']['other_share_of_all_cores']:.0%}",
                        flush=True,
                    )
        Path(args.out).with_suffix(".json").write_text(json.dumps({"machine": info, "results": results}, indent=1))
    md = render(results, info, args)
    Path(args.out).write_text(md)
    print(md)


def render(results: list[dict], info: dict, args) -> str:
    from _common import table

    tokens = {r["size"]: r["tokens"] for r in results if r.get("tokens")}
    rows = []
    for r in results:
        rows.append(
            [
                f"{r['size']}M ({tokens.get(r['size'], 0):,} tokens)",
                "GloVe C (original)" if r["side"] == "c" else "embspace glove",
                str(r["epochs"]),
                f"{r['wall_s']:.1f}",
                *(f"{r[n]['score']:.3f} ({r[n]['coverage']:.0%})" for n in PAIRS),
                f"{r['mean']:.3f}",
                f"{r['other']['other_share_of_all_cores']:.0%}" if r.get("other") else "?",
            ]
        )
    header = [
        "corpus",
        "side",
        "epochs",
        "wall s",
        "WS-353 (cov)",
        "SimLex-999 (cov)",
        "MEN (cov)",
        "mean ρ",
        "other CPU",
    ]
    reps = max((r["rep"] for r in results), default=0) + 1
    sizes = ",".join(str(s) for s in dict.fromkeys(r["size"] for r in results))
    return (
        "\n".join(
            [
                f"Run: `.venv/bin/python benchmarks/bench_glove.py --sizes {sizes} --reps {reps}` "
                f"({info.get('date', '')}, {info.get('cores', '')} cores; source {info.get('embspace', '')})",
                "",
                table(header, rows),
                "",
            ]
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
