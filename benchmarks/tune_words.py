"""How the GloVe and PPMI-SVD defaults of `build words` were chosen: sweeps on the 7M-token corpus.

The corpus is the one `bench_words.py` assembles (run it first, or give its --workdir). It is
tokenised once with embspace's tokenizer and vocabulary rules (V = 50,000, min count 5); each
setting is then counted, trained and scored on WS-353, SimLex-999 and MEN (Spearman, pairs with
an unknown word dropped), printing one line per setting.

    .venv/bin/python benchmarks/tune_words.py prep  --workdir /tmp/bench-words
    .venv/bin/python benchmarks/tune_words.py ppmi  --workdir /tmp/bench-words --windows 2,5,8 \
        --weightings uniform,harmonic
    .venv/bin/python benchmarks/tune_words.py glove --workdir /tmp/bench-words --window 10 --x-max 10 \
        --dim 100 --subsample 3e-5 --checkpoints 5,10,15 [--abtt 0,2,4,5]

`ppmi`: for each window and weighting, one randomised SVD at 500 dimensions per (cds, shift);
300-d results are its first 300 singular vectors (the top of a 500-d randomised SVD), and eig
0 / 0.5 and w / w+c are read off the same factors. `glove`: one training run, scored at each
checkpoint epoch (W + C); two Hogwild workers, so reruns differ in the third decimal.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from embspace import Space  # noqa: E402
from embspace.evaluate import word_pairs  # noqa: E402

PAIRS = ("ws353", "simlex999", "men")


def prep(workdir: Path, vocab_size: int) -> None:
    from embspace.words._corpus import Corpus, Tokenizer, Vocab

    start = time.perf_counter()
    corpus = Corpus([workdir / "corpus.txt"], tokenizer=Tokenizer(), encoding_errors="replace")
    vocab = Vocab.build(corpus, min_count=5, max_vocab=vocab_size)
    ids, lens = [], []
    for sentence in vocab.encode(corpus):
        ids.append(sentence.astype(np.int32))
        lens.append(sentence.size)
    out = workdir / "tune"
    out.mkdir(exist_ok=True)
    np.save(out / "ids.npy", np.concatenate(ids))
    np.save(out / "lens.npy", np.array(lens, dtype=np.int64))
    np.save(out / "counts.npy", np.asarray(vocab.counts))
    (out / "words.json").write_text(json.dumps(list(vocab.words)))
    print(f"{len(vocab.words):,} words, {vocab.total:,} tokens, {time.perf_counter() - start:.1f} s")


class Data:
    def __init__(self, workdir: Path):
        d = workdir / "tune"
        if not (d / "ids.npy").exists():
            sys.exit(f"no tokenised corpus in {d}; run `tune_words.py prep --workdir {workdir}` first")
        self.ids = np.load(d / "ids.npy")
        self.bounds = np.concatenate([[0], np.cumsum(np.load(d / "lens.npy"))])
        self.counts = np.load(d / "counts.npy")
        self.words = json.loads((d / "words.json").read_text())

    def sentences(self, subsample: float = 0.0, seed: int = 0):
        """word2vec's subsampling applied before counting ("dirty"), as build_words does."""
        keep = None
        if subsample:
            f = self.counts / self.counts.sum()
            keep = np.minimum(1.0, (np.sqrt(f / subsample) + 1) * subsample / f)

        def gen():
            rng = np.random.default_rng(seed)
            for a, b in zip(self.bounds[:-1], self.bounds[1:]):
                s = self.ids[a:b]
                if keep is not None and s.size:
                    s = s[rng.random(s.size) < keep[s]]
                yield s

        return gen

    def score(self, vectors: np.ndarray, tag: str) -> float:
        space = Space(self.words, np.ascontiguousarray(vectors, dtype=np.float32))
        r = [word_pairs(space, name).score for name in PAIRS]
        mean = sum(r) / len(r)
        print(f"{tag:66s} ws {r[0]:.3f} sl {r[1]:.3f} men {r[2]:.3f} mean {mean:.3f}", flush=True)
        return mean


def ppmi(data: Data, windows, weightings, subsample: float) -> None:
    from embspace.words._cooccur import cooccurrence
    from embspace.words._ppmi import _ppmi, randomized_svd

    for window, weighting in itertools.product(windows, weightings):
        start = time.perf_counter()
        counts = cooccurrence(data.sentences(subsample), len(data.words), window=window, weighting=weighting).tocsr()
        count_s = time.perf_counter() - start
        for cds, shift in itertools.product((0.75, 1.0), (1.0, 5.0)):
            start = time.perf_counter()
            u, s, vt = randomized_svd(_ppmi(counts, cds, shift), 500, n_iter=3, seed=0)
            svd_s = time.perf_counter() - start
            for dim, eig in itertools.product((300, 500), (0.0, 0.5)):
                w = s[:dim] ** eig
                tag = f"w{window} {weighting} sub{subsample} cds{cds} k{shift} d{dim} eig{eig}"
                data.score(u[:, :dim] * w, f"{tag} w (count {count_s:.0f}s svd {svd_s:.0f}s)")
                data.score(u[:, :dim] * w + vt[:dim].T * w, f"{tag} w+c")


def glove(
    data: Data,
    window: int,
    x_max: float,
    dim: int,
    lr: float,
    alpha: float,
    subsample: float,
    checkpoints: list[int],
    workers: int,
    min_x: float = 0.0,
    abtt: tuple[int, ...] = (0,),
) -> None:
    from embspace.tune._abtt import all_but_the_top
    from embspace.words import _glove as G
    from embspace.words._cooccur import cooccurrence

    start = time.perf_counter()
    counts = cooccurrence(data.sentences(subsample), len(data.words), window=window, weighting="harmonic")
    if min_x:  # drop the faintest pairs (seen once, far apart): fewer updates per epoch
        counts.data[counts.data < min_x] = 0
        counts.eliminate_zeros()
    print(f"count {time.perf_counter() - start:.1f} s, {counts.nnz:,} pairs", flush=True)
    rng = np.random.default_rng(0)  # the same draws, in the same order, as train_glove
    rows, cols, log_x, weight, shape = G._pairs(counts, x_max, alpha, int(rng.integers(2**63)))
    del counts
    W, C = G._init(rng, (shape[0], dim), dim), G._init(rng, (shape[1], dim), dim)
    bw, bc = G._init(rng, shape[0], dim), G._init(rng, shape[1], dim)
    state = (
        rows,
        cols,
        log_x,
        weight,
        W,
        C,
        bw,
        bc,
        np.ones_like(W),
        np.ones_like(C),
        np.ones_like(bw),
        np.ones_like(bc),
        np.float32(lr),
    )
    n_blocks = -(-rows.size // G._BLOCK)
    start = time.perf_counter()
    for epoch in range(1, max(checkpoints) + 1):
        blocks = rng.permutation(n_blocks).astype(np.int64)
        loss = G._hogwild(blocks, np.uint64(int(rng.integers(2**63))), workers, state) / rows.size
        if epoch in checkpoints:
            for d in abtt:
                data.score(
                    all_but_the_top(W + C, d)[0],
                    f"glove w{window} xmax{x_max} a{alpha} d{dim} lr{lr} sub{subsample} minx{min_x} ep{epoch} "
                    f"loss {loss:.4f} t {time.perf_counter() - start:.0f}s W+C abtt{d}",
                )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("what", choices=["prep", "ppmi", "glove"])
    ap.add_argument("--workdir", default="/tmp/bench-words", help="bench_words.py's workdir (has corpus.txt)")
    ap.add_argument("--vocab", type=int, default=50_000)
    ap.add_argument("--windows", default="2,5")
    ap.add_argument("--weightings", default="uniform,harmonic")
    ap.add_argument("--window", type=int, default=10)
    ap.add_argument("--x-max", type=float, default=10.0)
    ap.add_argument("--dim", type=int, default=100)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--alpha", type=float, default=0.75)
    ap.add_argument("--subsample", type=float, default=0.0)
    ap.add_argument("--checkpoints", default="10,25")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--min-x", type=float, default=0.0, help="glove: drop pairs whose weighted count is below")
    ap.add_argument("--abtt", default="0", help="glove: score W + C after all-but-the-top with each D (e.g. 0,2,4,5)")
    args = ap.parse_args()
    workdir = Path(args.workdir)
    if args.what == "prep":
        prep(workdir, args.vocab)
        return
    data = Data(workdir)
    if args.what == "ppmi":
        ppmi(data, [int(x) for x in args.windows.split(",")], args.weightings.split(","), args.subsample)
    else:
        glove(
            data,
            args.window,
            args.x_max,
            args.dim,
            args.lr,
            args.alpha,
            args.subsample,
            [int(x) for x in args.checkpoints.split(",")],
            args.workers,
            args.min_x,
            tuple(int(x) for x in args.abtt.split(",")),
        )


if __name__ == "__main__":
    main()
