"""`build words` on a ~8M-token corpus: the five methods against gensim called directly (issue 3).

    .venv/bin/python benchmarks/bench_words.py [--methods ...] [--vocab 50000] [--workdir DIR]
                                               [--skip-double] [--out benchmarks/results/words.md]

Corpus (assembled once into --workdir, reused when present): GCIDE (Debian dict-gcide, markup
stripped), the NLTK movie_reviews, state_union and inaugural zips from ../shared/data/corpora and
gensim's shortened Wikipedia test dump, written as ONE plain UTF-8 file `corpus.txt` (one
paragraph or sentence per line), so every method and gensim read the same text; `corpus2x.txt`
is that file twice (the memory-doubling check).

Runs (each in a fresh subprocess; heavy imports done before the clock starts, on both sides):
  sgns, cbow, fasttext, glove, ppmi-svd
      embspace.words.build([corpus.txt], method, workers=2, max_vocab=V), every other knob at its default.
      Timed: the whole embspace.words.build call (tokenising included).
  gensim-cbow      gensim Word2Vec(corpus_file=F, workers=2, max_final_vocab=V): gensim's defaults
                   (sg=0, i.e. CBOW).
  gensim-sgns      gensim Word2Vec(corpus_file=F, sg=1, workers=2, max_final_vocab=V): the same
                   knobs as our sgns (gensim's defaults are ours but for seed 1 vs 0).
  gensim-fasttext  gensim FastText(corpus_file=F, sg=1, bucket=200_000, workers=2,
                   max_final_vocab=V): the same knobs as our fasttext.
      F is corpus.txt tokenised by embspace's `Corpus.write_line_corpus` (one sentence per line,
      tokens joined by spaces), which is what a gensim user does; its writing is timed and
      counted in gensim's wall time, since embspace.words.build does the same inside its own.
  glove-c          the original GloVe C code (../shared/reference/glove-c, built in WORKDIR) on F: its
                   README's pipeline with the knobs of our glove defaults (150-d, window 10, min
                   count 5, vocabulary V, 15 iterations, x_max 10, 2 threads); the reference row.
                   benchmarks/bench_glove.py compares the two at 1M, 3M and 7M tokens.
Measured per run: wall time, peak RSS (ru_maxrss of the process plus its children, right after
the build and again after evaluation), Spearman on WS-353, SimLex-999 and MEN (pairs with a
word outside the vocabulary dropped; coverage shown), Google analogy accuracy (3CosAdd,
restrict_vocab=V). gensim's vectors are evaluated as embspace.Space(wv.index_to_key, wv.vectors)
with the same evaluators. Then every embspace method again on corpus2x.txt: peak-RSS growth.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import re
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

OURS = ("sgns", "cbow", "fasttext", "glove", "ppmi-svd")
GENSIM = ("gensim-sgns", "gensim-cbow", "gensim-fasttext")
# gensim's counterpart listed first so both sides of a pair run back to back (same machine load)
ORDER = ("gensim-sgns", "sgns", "gensim-cbow", "cbow", "gensim-fasttext", "fasttext", "glove-c", "glove", "ppmi-svd")
PAIRS = ("ws353", "simlex999", "men")
GCIDE = Path("/usr/share/dictd/gcide.dict.dz")
NLTK = [
    REPO.parent / "shared" / "data" / "corpora" / name
    for name in ("movie_reviews.zip", "state_union.zip", "inaugural.zip")
]


def _wiki_dump() -> Path:
    import gensim

    return (
        Path(gensim.__file__).parent
        / "test"
        / "test_data"
        / "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
    )


# ---- the corpus ---------------------------------------------------------------------------------------
_SOURCE_TAG = re.compile(
    r"\[(?:1913 Webster|WordNet 1\.5|PJC|Webster 1913 Suppl\.|Century Dict\.|"
    r"[A-Z][A-Za-z. ]{0,30}(?:Webster|Dict\.|Dictionary|Suppl\.)[^\]]{0,20})\]"
)
_PRONUNCIATION = re.compile(r"\\[^\\\n]{0,80}\\")
_NAMED_LETTER = {
    "imac": "i",
    "aum": "a",
    "eth": "th",
    "thorn": "th",
    "yogh": "y",
    "udd": "u",
    "ae": "ae",
    "AE": "AE",
    "oe": "oe",
    "OE": "OE",
    "ng": "ng",
    "th": "th",
    "asl": "",
    "root": "",
    "add": "",
    "sect": "",
    "deg": "",
    "sharp": "",
    "flat": "",
    "frac12": " half ",
    "cre": "",
    "hand": "",
}
_ACCENT = re.compile(r"\[([=~'`\"^.,*-]?)([A-Za-z]{1,2})(\^?)\]")
_SHORT_BRACKET = re.compile(r"\[([^\]\s]{1,12})\]")
_TAG = re.compile(r"<[^<>\n]{0,80}>")


def _gcide_letters(match: re.Match) -> str:
    inner = match.group(1)
    if inner in _NAMED_LETTER:
        return _NAMED_LETTER[inner]
    return " "  # usage labels such as [Obs.] [R.] [Colloq.] and unknown symbols: dropped


def clean_gcide(raw: str) -> list[str]:
    """GCIDE's dictd text to plain paragraphs: source tags, pronunciations, accents, markup out."""
    start = raw.find("\nA \\A\\")
    text = raw[start + 1 :] if start >= 0 else raw
    text = _SOURCE_TAG.sub("\n\n", text)
    text = _PRONUNCIATION.sub(" ", text)
    text = _ACCENT.sub(lambda m: m.group(2), text)
    text = _SHORT_BRACKET.sub(_gcide_letters, text)
    text = text.replace("{", "").replace("}", "")
    text = _TAG.sub(" ", text)
    text = text.replace("--", " ")
    out = []
    for block in re.split(r"\n\s*\n", text):
        line = " ".join(block.split())
        if line:
            out.append(line)
    return out


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 24):
            h.update(block)
    return h.hexdigest()


def prepare_corpus(workdir: Path) -> dict:
    """corpus.txt and corpus2x.txt in workdir, and their description (reused when present)."""
    from embspace.words._corpus import Corpus, Tokenizer

    meta_path = workdir / "corpus.json"
    corpus, corpus2x = workdir / "corpus.txt", workdir / "corpus2x.txt"
    if meta_path.exists() and corpus.exists() and corpus2x.exists():
        meta = json.loads(meta_path.read_text())
        if meta.get("bytes") == corpus.stat().st_size and meta.get("bytes2x") == corpus2x.stat().st_size:
            print(f"# reusing the corpus in {workdir}", flush=True)
            return meta
    workdir.mkdir(parents=True, exist_ok=True)
    tokenize = Tokenizer()
    sources = []
    t0 = time.perf_counter()
    tmp = corpus.with_name(".corpus.txt.tmp")
    with open(tmp, "w", encoding="utf-8", newline="\n") as out:

        def write(name: str, path: Path, lines) -> None:
            n_lines = n_tokens = 0
            for line in lines:
                line = " ".join(line.split())
                if not line:
                    continue
                out.write(line + "\n")
                n_lines += 1
                n_tokens += len(tokenize(line))
            sources.append(
                {"name": name, "path": str(path), "sha256": _sha256(path), "lines": n_lines, "tokens": n_tokens}
            )
            print(f"#   {name}: {n_lines:,} lines, {n_tokens:,} tokens", flush=True)

        with gzip.open(GCIDE, "rb") as fh:
            raw = fh.read().decode("latin-1")  # a handful of stray bytes over 0x7f; the rest is ASCII
        write("GCIDE 0.48 (Debian dict-gcide; markup stripped)", GCIDE, clean_gcide(raw))
        del raw
        for path in NLTK:
            write(f"NLTK {path.stem}", path, Corpus(path, encoding_errors="replace").texts())
        wiki = _wiki_dump()
        write("gensim's shortened enwiki test dump", wiki, Corpus(wiki, encoding_errors="replace").texts())
    os.replace(tmp, corpus)
    # the total as embspace.words.build sees it: embspace's own reader and tokenizer over the written file
    tokens = Corpus(corpus, encoding_errors="replace").count_tokens()
    with open(corpus2x.with_name(".corpus2x.txt.tmp"), "wb") as out:
        for _ in range(2):
            with open(corpus, "rb") as fh:
                shutil.copyfileobj(fh, out, 1 << 24)
    os.replace(corpus2x.with_name(".corpus2x.txt.tmp"), corpus2x)
    meta = {
        "sources": sources,
        "tokens": tokens,
        "lines": sum(s["lines"] for s in sources),
        "bytes": corpus.stat().st_size,
        "sha256": _sha256(corpus),
        "bytes2x": corpus2x.stat().st_size,
        "sha256_2x": _sha256(corpus2x),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    meta_path.write_text(json.dumps(meta, indent=1))
    return meta


# ---- one run, in a fresh process -------------------------------------------------------------------
def _peak_rss_mib() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return (own + kids) / 1024  # KiB on Linux


def child(method: str, corpus: str, vocab: int) -> dict:
    import numpy as np  # noqa: F401  heavy imports before the clock, on both sides
    from gensim.models import FastText, Word2Vec

    import embspace
    from embspace.evaluate import analogies, word_pairs
    from embspace.words import build as build_words
    from embspace.words._corpus import Corpus, Tokenizer

    if method == "glove":
        from embspace.words import _cooccur, _glove  # noqa: F401
    if method == "ppmi-svd":
        from embspace.words import _cooccur, _ppmi  # noqa: F401
    out: dict = {"method": method, "corpus": corpus, "rss_after_imports_mib": round(_peak_rss_mib(), 1)}
    if method in OURS:
        t0 = time.perf_counter()
        space = build_words([corpus], method, workers=2, max_vocab=vocab)
        out["wall_s"] = time.perf_counter() - t0
        out["info_seconds"] = space.info["seconds"]
        out["tokens"] = space.info["tokens"]
        out["params"] = space.info["params"]
        for key in ("pairs", "count_seconds", "svd"):
            if key in space.info:
                out[key] = space.info[key]
    else:
        with tempfile.TemporaryDirectory(prefix="bench-words-") as tmp:
            t0 = time.perf_counter()
            lines = Corpus([corpus], tokenizer=Tokenizer(), encoding_errors="replace").write_line_corpus(
                os.path.join(tmp, "lines.txt")
            )
            out["tokenise_s"] = time.perf_counter() - t0
            t1 = time.perf_counter()
            if method == "glove-c":
                from _glove_c import build_glove_c, train_glove_c

                binaries = build_glove_c(Path(corpus).parent)
                t1 = time.perf_counter()  # building the C code is not timed
                words, vectors, steps = train_glove_c(
                    binaries, lines, Path(tmp) / "glove-c", dim=150, window=10, min_count=5, max_vocab=vocab
                )
                out.update({"train_s": time.perf_counter() - t1, "steps": steps, "tokens": None})
                out["wall_s"] = out["tokenise_s"] + out["train_s"]
                space = embspace.Space(words, vectors)
            elif method == "gensim-cbow":
                model = Word2Vec(corpus_file=str(lines), workers=2, max_final_vocab=vocab)
            elif method == "gensim-sgns":
                model = Word2Vec(corpus_file=str(lines), sg=1, workers=2, max_final_vocab=vocab)
            else:
                model = FastText(corpus_file=str(lines), sg=1, bucket=200_000, workers=2, max_final_vocab=vocab)
            if method != "glove-c":
                out["train_s"] = time.perf_counter() - t1
                out["wall_s"] = time.perf_counter() - t0
                wv = model.wv
                out["tokens"] = int(model.corpus_total_words)
                space = embspace.Space(list(wv.index_to_key), np.asarray(wv.vectors, dtype=np.float32))
                del model
    out["rss_peak_build_mib"] = round(_peak_rss_mib(), 1)
    out["vocabulary"], out["dim"] = len(space), int(space.vectors.shape[1])
    t2 = time.perf_counter()
    for name in PAIRS:
        r = word_pairs(space, name)
        out[name] = {"score": r.score, "coverage": r.coverage, "found": r.found, "total": r.total}
    r = analogies(space, "google", method="3cosadd", restrict_vocab=vocab)
    out["google"] = {"score": r.score, "coverage": r.coverage, "found": r.found, "total": r.total}
    out["eval_s"] = round(time.perf_counter() - t2, 1)
    out["rss_peak_total_mib"] = round(_peak_rss_mib(), 1)
    out["mean_spearman"] = sum(out[n]["score"] for n in PAIRS) / len(PAIRS)
    return out


def run_child(method: str, corpus: Path, vocab: int, logdir: Path, rep: int = 0) -> dict:
    from _common import OtherLoad, embspace_source, loadavg

    stamp = {"started": time.strftime("%Y-%m-%d %H:%M %Z"), "src": embspace_source()}
    log = logdir / f"{method}-{corpus.stem}-{rep}.log"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", method, str(corpus), str(vocab)]
    load_before = loadavg()
    probe = OtherLoad()
    t0 = time.perf_counter()
    with open(log, "w") as err:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=err, text=True, cwd=REPO)
    elapsed = time.perf_counter() - t0
    other = probe.stop()
    result = None
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line[len("RESULT ") :])
    if proc.returncode != 0 or result is None:
        tail = log.read_text()[-4000:]
        print(f"# {method} on {corpus.name} FAILED (exit {proc.returncode}); log {log}:\n{tail}", flush=True)
        return {"method": method, "corpus": str(corpus), "error": tail, "returncode": proc.returncode, **stamp}
    result.update(
        {**stamp, "process_s": round(elapsed, 1), "load_before": load_before, "load_after": loadavg(), "other": other}
    )
    print(
        f"# {method} on {corpus.name}: {result['wall_s']:.1f} s, peak {result['rss_peak_build_mib']:,.0f} MiB, "
        f"mean rho {result['mean_spearman']:.3f}, google {result['google']['score']:.3f}, "
        f"other processes {other and other['other_share_of_all_cores']:.0%} of the cores",
        flush=True,
    )
    return result


def aggregate(results: list[dict]) -> dict:
    """Several runs of one method: median wall time (with min and max), mean scores (with the range
    of mean Spearman), the highest peak RSS, the busiest share of other processes."""
    import statistics

    failed = [r for r in results if "error" in r]
    results = [r for r in results if "error" not in r]
    if not results:
        return failed[0]
    out = dict(results[0])
    out["reps"] = len(results)
    out["failed_reps"] = len(failed)
    for key in ("wall_s", "tokenise_s", "train_s"):
        if key in out:
            out[key] = statistics.median(r[key] for r in results)
    walls = [r["wall_s"] for r in results]
    out["wall_min"], out["wall_max"] = min(walls), max(walls)
    for name in (*PAIRS, "google"):
        out[name] = dict(results[0][name], score=statistics.fmean(r[name]["score"] for r in results))
    means = [r["mean_spearman"] for r in results]
    out["mean_spearman"] = statistics.fmean(means)
    out["mean_spearman_range"] = (min(means), max(means))
    accs = [r["google"]["score"] for r in results]
    out["google_range"] = (min(accs), max(accs))
    out["rss_peak_build_mib"] = max(r["rss_peak_build_mib"] for r in results)
    out["rss_after_imports_mib"] = min(r["rss_after_imports_mib"] for r in results)
    shares = [r["other"]["other_share_of_all_cores"] for r in results if r.get("other")]
    out["other"] = {"other_share_of_all_cores": max(shares)} if shares else None
    out["other_shares"] = shares
    return out


# ---- the report ------------------------------------------------------------------------------------
LABEL = {
    "sgns": "embspace sgns",
    "cbow": "embspace cbow",
    "fasttext": "embspace fasttext",
    "glove": "embspace glove",
    "ppmi-svd": "embspace ppmi-svd",
    "gensim-sgns": "gensim Word2Vec(sg=1) direct",
    "gensim-cbow": "gensim Word2Vec() defaults (CBOW) direct",
    "gensim-fasttext": "gensim FastText(sg=1, bucket=200k) direct",
    "glove-c": "GloVe C original (15 iter, x_max 10)",
}
COUNTERPART = {"sgns": "gensim-sgns", "cbow": "gensim-cbow", "fasttext": "gensim-fasttext"}
NOISE = 0.02  # |difference| in mean Spearman and in analogy accuracy counted as "within noise"


def _fmt_score(d: dict) -> str:
    return f"{d['score']:.3f} ({d['coverage']:.0%})"


def _wall(r: dict) -> str:
    s = f"{r['wall_s']:.1f}"
    if "train_s" in r:
        s += f" ({r['tokenise_s']:.0f} + {r['train_s']:.0f})"
    if r.get("reps", 1) > 1:
        s += f" [{r['wall_min']:.1f}–{r['wall_max']:.1f}]"
    if r.get("failed_reps"):
        s += f", {r['reps']} of {r['reps'] + r['failed_reps']} runs (see Failures)"
    return s


def _spread(lo_hi) -> str:
    return f" [{lo_hi[0]:.3f}–{lo_hi[1]:.3f}]" if lo_hi and lo_hi[1] > lo_hi[0] else ""


def main_table(runs: dict) -> str:
    from _common import table

    header = [
        "run",
        "wall s median [min–max]",
        "peak RSS MiB",
        "vocab",
        "WS-353 ρ (cov)",
        "SimLex-999 ρ (cov)",
        "MEN ρ (cov)",
        "mean ρ",
        "Google 3CosAdd (cov)",
        "other CPU",
    ]
    rows = []
    for method in ORDER:
        r = runs.get(method)
        if r is None:
            continue
        if "error" in r:
            rows.append([LABEL[method], "FAILED", *["–"] * 8])
            continue
        rows.append(
            [
                LABEL[method],
                _wall(r),
                f"{r['rss_peak_build_mib']:,.0f}",
                f"{r['vocabulary']:,}",
                *(_fmt_score(r[n]) for n in PAIRS),
                f"{r['mean_spearman']:.3f}{_spread(r.get('mean_spearman_range'))}",
                _fmt_score(r["google"]) + _spread(r.get("google_range")),
                "/".join(f"{x:.0%}" for x in r.get("other_shares", [])) or "?",
            ]
        )
    return table(header, rows)


def double_table(runs: dict, runs2x: dict) -> str:
    from _common import table

    header = ["method", "peak RSS 1× MiB", "peak RSS 2× MiB", "growth", "above imports 1× / 2× MiB", "wall 1× / 2× s"]
    rows = []
    for method in ORDER:
        a, b = runs.get(method), runs2x.get(method)
        if a is None or b is None:
            continue
        if "error" in a or "error" in b:
            rows.append([LABEL[method], "–", "FAILED" if "error" in b else "–", "–", "–", "–"])
            continue
        growth = b["rss_peak_build_mib"] / a["rss_peak_build_mib"] - 1
        rows.append(
            [
                LABEL[method],
                f"{a['rss_peak_build_mib']:,.0f}",
                f"{b['rss_peak_build_mib']:,.0f}",
                f"{growth:+.1%}",
                f"{a['rss_peak_build_mib'] - a['rss_after_imports_mib']:,.0f} / "
                f"{b['rss_peak_build_mib'] - b['rss_after_imports_mib']:,.0f}",
                f"{a['wall_s']:.0f} / {b['wall_s']:.0f}",
            ]
        )
    return table(header, rows)


def _ok(flag: bool | None) -> str:
    return "not measured" if flag is None else ("**met**" if flag else "**not met**")


def targets(runs: dict, runs2x: dict) -> list[str]:
    good = lambda m: m in runs and "error" not in runs[m]  # noqa: E731
    lines = []
    g = runs.get("gensim-sgns") if good("gensim-sgns") else None
    if g and good("ppmi-svd"):
        p = runs["ppmi-svd"]
        ratio = p["wall_s"] / g["wall_s"]
        flag = p["mean_spearman"] >= g["mean_spearman"] and ratio <= 0.2
        lines.append(
            f"- ppmi-svd (defaults) mean Spearman ≥ gensim SGNS's, in ≤ 1/5 of its wall time: {_ok(flag)} "
            f"(mean ρ {p['mean_spearman']:.3f} vs {g['mean_spearman']:.3f}; "
            f"wall {p['wall_s']:.1f} s vs {g['wall_s']:.1f} s = {ratio:.2f}×)"
        )
    else:
        lines.append("- ppmi-svd vs gensim SGNS: not measured (a run failed or was not selected)")
    if g and good("glove"):
        q = runs["glove"]
        diff = q["mean_spearman"] - g["mean_spearman"]
        ratio = q["wall_s"] / g["wall_s"]
        flag = abs(diff) <= 0.03 and ratio <= 1.0
        lines.append(
            f"- glove mean Spearman within 0.03 of gensim SGNS, wall time ≤ gensim SGNS's: {_ok(flag)} "
            f"(mean ρ {q['mean_spearman']:.3f} vs {g['mean_spearman']:.3f}, Δ {diff:+.3f}; "
            f"wall {q['wall_s']:.1f} s vs {g['wall_s']:.1f} s = {ratio:.2f}×)"
        )
    else:
        lines.append("- glove vs gensim SGNS: not measured (a run failed or was not selected)")
    for ours, theirs in COUNTERPART.items():
        if not (good(ours) and good(theirs)):
            lines.append(f"- {ours} via embspace vs {LABEL[theirs]}: not measured (a run failed or was not selected)")
            continue
        a, b = runs[ours], runs[theirs]
        d_rho = a["mean_spearman"] - b["mean_spearman"]
        d_acc = a["google"]["score"] - b["google"]["score"]
        extra = a["wall_s"] / b["wall_s"] - 1
        quality = abs(d_rho) <= NOISE and abs(d_acc) <= NOISE
        lines.append(
            f"- {ours} via embspace vs {LABEL[theirs]}: same quality (|Δ| ≤ {NOISE} in mean ρ and in "
            f"analogy accuracy): {_ok(quality)} (Δρ {d_rho:+.3f}, Δacc {d_acc:+.3f}); ≤ 5% more wall time: "
            f"{_ok(extra <= 0.05)} ({a['wall_s']:.1f} s vs {b['wall_s']:.1f} s, {extra:+.1%})"
        )
    measured = [m for m in OURS if m in runs and m in runs2x]
    if measured:
        growth = {}
        for m in measured:
            if "error" in runs[m] or "error" in runs2x[m]:
                growth[m] = None
            else:
                growth[m] = runs2x[m]["rss_peak_build_mib"] / runs[m]["rss_peak_build_mib"] - 1
        flag = all(v is not None and v < 0.20 for v in growth.values()) and len(measured) == len(OURS)
        detail = ", ".join(f"{m} {'FAILED' if v is None else f'{v:+.1%}'}" for m, v in growth.items())
        missing = [m for m in OURS if m not in measured]
        lines.append(
            f"- peak memory on the doubled corpus grows < 20% for every method: "
            f"{_ok(flag) if not missing else _ok(False) + ' / incomplete'} ({detail}"
            f"{'; not run: ' + ', '.join(missing) if missing else ''})"
        )
    else:
        lines.append("- peak memory on the doubled corpus: not measured (--skip-double)")
    return lines


def report(state: dict, meta: dict, runs: dict, runs2x: dict) -> str:
    sessions = state["sessions"]
    vocab, reps = sessions[0]["vocab"], sessions[0]["reps"]
    failures = [
        f"### {m} on {Path(r['corpus']).name} (started {r.get('started', '?')}, embspace {r.get('src', '?')})"
        f"\n\n```\n{r['error'].strip()}\n```"
        for key in ("runs", "runs2x")
        for m, rs in state.get(key, {}).items()
        for r in rs
        if "error" in r
    ]
    other_all = [
        r["other"]["other_share_of_all_cores"]
        for key in ("runs", "runs2x")
        for rs in state.get(key, {}).values()
        for r in rs
        if r.get("other")
    ]
    info = sessions[0]["info"]
    comp = "\n".join(f"| {s['name']} | {s['lines']:,} | {s['tokens']:,} |" for s in meta["sources"])
    parts = [
        "# `build words`: five methods vs gensim called directly (issue 3)",
        "",
        f"Machine: {info['cores']} cores ({info['cpu']}), Python {info['python']}, numpy {info['numpy']}, "
        f"BLAS {info['blas']}; {info['platform']}. The machine is shared with other engineers' jobs: "
        f"other processes took {min(other_all, default=float('nan')):.0%}–{max(other_all, default=float('nan')):.0%} "
        "of the cores during the runs (column *other CPU*), and timings carry that noise.",
        "",
    ]
    for i, sess in enumerate(sessions):
        what = "all runs" if i == 0 else f"re-ran {', '.join(sess['methods'])}, replacing their earlier figures"
        parts += [
            f"{'Run' if i == 0 else 'Update'}: `{sess['command']}` ({what})  ",
            f"date {sess['info']['date']}; load average before {sess['info']['loadavg_at_start']}, "
            f"after {sess.get('load_after')}; embspace {sess['info']['embspace']}.",
            "",
        ]
        if sess.get("note"):
            parts += [sess["note"], ""]
    parts += [
        "## Corpus",
        "",
        f"`corpus.txt`: {meta['lines']:,} lines, {meta['bytes']:,} bytes, **{meta['tokens']:,} tokens** "
        f"(embspace's tokenizer, lower-cased), sha256 `{meta['sha256']}`. `corpus2x.txt` is it twice "
        f"(sha256 `{meta['sha256_2x']}`).",
        "",
        "| source | lines | tokens |",
        "|---|---|---|",
        comp,
        "",
        "GCIDE: `/usr/share/dictd/gcide.dict.dz` read as latin-1, the licence preamble dropped, source tags "
        '(`[1913 Webster]`, `[WordNet 1.5]`, `[PJC]`, …) turned into paragraph breaks, `\\pro*nun"ci*a`tion\\` '
        "removed, accent codes (`[=a]`, `['e]`, `[ae]`, …) turned into their letters, short labels (`[Obs.]`, "
        "`[R.]`) dropped, `{…}` braces and `<…>` tags stripped; one paragraph per line. The NLTK zips and "
        "the wiki dump were read with embspace's `Corpus.texts()` (wiki markup stripped there), one line "
        "each.",
        "",
        f"## Results (vocabulary cap V = {vocab:,}, workers=2)",
        "",
        "Wall time excludes imports on both sides. embspace: the whole `build_words` call, tokenising "
        "included. gensim direct: tokenising `corpus.txt` with embspace's `Corpus.write_line_corpus` (what "
        "a gensim user does before `corpus_file=`) + training, shown as (tokenise + train). Peak RSS: "
        "`ru_maxrss` of the process plus its children right after the build (imports included). Spearman "
        "drops pairs with a word outside the vocabulary; coverage in brackets. Google: 3CosAdd, "
        f"restrict_vocab={vocab:,}. Each row: {reps} run(s) in fresh processes, interleaved with the "
        "other methods; wall time is the median [min–max], scores the mean [min–max of the runs], peak RSS "
        "the highest; *other CPU*: share of all cores other processes took during each run.",
        "",
        main_table(runs),
        "",
    ]
    if runs2x:
        parts += ["## Doubled corpus (`corpus2x.txt`, same V)", "", double_table(runs, runs2x), ""]
    parts += [
        "## Issue 3 targets",
        "",
        *targets(runs, runs2x),
        "",
        f'"Within noise" is taken as |Δ| ≤ {NOISE} in the mean over the runs. Each side keeps its seed '
        "over its runs (embspace 0, gensim's default 1), so the [min–max] spread above is the noise of "
        "multi-threaded training alone (gensim's `corpus_file` mode and GloVe's Hogwild updates are not "
        "deterministic with 2 workers); embspace's sgns/cbow and gensim's read the same token file with "
        "the same knobs, so their difference also shows what a change of seed does.",
        "",
    ]
    if failures:
        parts += ["## Failures", "", *failures, ""]
    return "\n".join(parts)


def main(argv=None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if argv and argv[0] == "--child":
        result = child(argv[1], argv[2], int(argv[3]))
        print("RESULT " + json.dumps(result), flush=True)
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--methods", default=",".join(ORDER), help=f"comma-separated runs, from {', '.join(ORDER)} (default: all)"
    )
    ap.add_argument("--vocab", type=int, default=50_000, help="vocabulary cap V for every run (default 50000)")
    ap.add_argument("--workdir", default=None, help="where the corpus is assembled (default: a temp dir)")
    ap.add_argument(
        "--reps",
        type=int,
        default=3,
        help="runs of each method on corpus.txt, interleaved (default 3; the doubled corpus: 1)",
    )
    ap.add_argument("--skip-double", action="store_true", help="skip the runs on the doubled corpus")
    ap.add_argument(
        "--update",
        action="store_true",
        help="keep the runs saved in WORKDIR/runs.json and re-run only --methods, replacing theirs",
    )
    ap.add_argument("--report-only", action="store_true", help="only re-render the report from WORKDIR/runs.json")
    ap.add_argument("--out", default=str(HERE / "results" / "words.md"), help="markdown report path ('' = none)")
    args = ap.parse_args(argv)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = set(methods) - set(ORDER)
    if unknown:
        ap.error(f"unknown method(s) {', '.join(sorted(unknown))}; choose from {', '.join(ORDER)}")
    methods = [m for m in ORDER if m in methods]
    if (args.update or args.report_only) and not args.workdir:
        ap.error("--update and --report-only need the --workdir of an earlier run")
    command = " ".join([".venv/bin/python", "benchmarks/bench_words.py", *map(shlex.quote, argv)])

    from _common import loadavg, machine, print_machine

    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="bench-words-"))
    state_path = workdir / "runs.json"
    state = {"sessions": [], "runs": {}, "runs2x": {}}
    if args.update or args.report_only:
        state = json.loads(state_path.read_text())
        if state["sessions"][0]["vocab"] != args.vocab:
            ap.error(f"the saved runs used --vocab {state['sessions'][0]['vocab']}; give the same")
    meta = prepare_corpus(workdir)
    if not args.report_only:
        info = machine()
        print_machine(info)
        print(
            f"# corpus {workdir / 'corpus.txt'}: {meta['tokens']:,} tokens, sha256 {meta['sha256'][:16]}…", flush=True
        )
        session = {
            "command": command,
            "info": info,
            "methods": methods,
            "vocab": args.vocab,
            "reps": args.reps,
            "skip_double": args.skip_double,
        }
        state["sessions"].append(session)
        logdir = workdir / "logs"
        logdir.mkdir(exist_ok=True)
        save = lambda: state_path.write_text(json.dumps(state, indent=1))  # noqa: E731
        for method in methods:
            state["runs"][method] = []
        for rep in range(args.reps):  # interleaved, so load from other jobs spreads over every method
            for method in methods:
                state["runs"][method].append(run_child(method, workdir / "corpus.txt", args.vocab, logdir, rep))
                save()
        if not args.skip_double:
            for method in [m for m in methods if m in OURS]:
                state["runs2x"][method] = [run_child(method, workdir / "corpus2x.txt", args.vocab, logdir, 0)]
                save()
        session["load_after"] = loadavg()
        save()
    runs = {m: aggregate(rs) for m, rs in state["runs"].items()}
    runs2x = {m: aggregate(rs) for m, rs in state["runs2x"].items()}
    text = report(state, meta, runs, runs2x)
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)
        print(f"# written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
