"""Text encoding: embspace vs sentence-transformers called directly, the int8 fast path, STS-B dev.

    python benchmarks/bench_texts.py            # writes benchmarks/results/texts.{json,md}

1. Throughput (texts/s) on 10,000 STS-B train sentences: `embspace.texts.build` (model already loaded, as in a
   long-running process) against `SentenceTransformer.encode` on the same texts, same batch size,
   alternating, best of `--repeats` each.
2. The fast path `minilm-fast` (ONNX Runtime, int8 weights, one core per batch and a batch per core,
   16 texts per batch, its default) and the earlier torch fast path (dynamic int8 quantisation of
   the Linear layers, batch 64) on the same texts, in the same alternation.
3. STS-B dev Spearman (all 1,500 pairs) of minilm, minilm-fast and tfidf-svd (fitted on the STS-B
   train sentences), each with coverage.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import loadavg, machine  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "sts"
OUT = Path(__file__).resolve().parent / "results"


def pairs(path: Path):
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        cols = line.split("\t")
        if len(cols) >= 7:
            out.append((cols[5], cols[6], float(cols[4])))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--batch-size", type=int, default=64, help="for the full model and sentence-transformers")
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()

    import torch
    from sentence_transformers import SentenceTransformer

    from embspace.evaluate import sts
    from embspace.texts import build as build_texts
    from embspace.texts._encoders import SentenceEncoder, minilm_path

    train = pairs(DATA / "sts-train.csv")
    texts = list(dict.fromkeys(t for a, b, _ in train for t in (a, b)))[: args.n]
    dev = pairs(DATA / "sts-dev.csv")
    result = {
        "machine": machine(),
        "texts": len(texts),
        "batch_size": args.batch_size,
        "torch_threads": torch.get_num_threads(),
        "command": "python benchmarks/bench_texts.py",
    }

    direct_model = SentenceTransformer(str(minilm_path()), device="cpu", local_files_only=True)
    build_texts(texts[:64])  # load embspace's model once (a long-running process pays this once)
    direct_model.encode(texts[:64])
    build_texts(texts[:64], model="minilm-fast")  # makes the int8 ONNX model once if it is not cached
    torch_int8 = SentenceEncoder("minilm-fast")  # the earlier fast path: torch dynamic int8
    torch_int8.encode(texts[:64])
    runs = {"embspace": [], "direct": [], "fast": [], "torch_int8": []}
    for r in range(args.repeats):
        for name in ("direct", "embspace", "fast", "torch_int8"):
            t0 = time.perf_counter()
            if name == "direct":
                direct_model.encode(texts, batch_size=args.batch_size, normalize_embeddings=True, convert_to_numpy=True)
            elif name == "embspace":
                build_texts(texts, batch_size=args.batch_size)
            elif name == "fast":
                build_texts(texts, model="minilm-fast")
            else:
                torch_int8.encode(texts, batch_size=args.batch_size)
            runs[name].append(len(texts) / (time.perf_counter() - t0))
            print(f"{name} run {r + 1}: {runs[name][-1]:.1f} texts/s (load {loadavg()})", flush=True)
    best = {k: max(v) for k, v in runs.items()}
    result["throughput"] = {
        "runs": runs,
        "best": best,
        "embspace_vs_direct": round(best["embspace"] / best["direct"], 4),
    }
    fast = best["fast"]
    result["fast_path"] = {
        "model": "minilm-fast (ONNX Runtime, int8 weights, one core per batch, batch 16)",
        "texts_per_s": fast,
        "speedup_vs_full_embspace": round(fast / best["embspace"], 3),
        "torch_int8_texts_per_s": best["torch_int8"],
        "torch_int8_speedup": round(best["torch_int8"] / best["embspace"], 3),
    }
    print(
        f"minilm-fast: {fast:.1f} texts/s, {fast / best['embspace']:.2f}x; torch int8 "
        f"{best['torch_int8']:.1f} texts/s, {best['torch_int8'] / best['embspace']:.2f}x",
        flush=True,
    )

    scores = {}
    for model in ("minilm", "minilm-fast"):
        r = sts(build_texts(["x"], model=model), dev, name="sts-dev")
        scores[model] = r.to_dict()
    old = build_texts(["x"], model="minilm")  # a space whose manifest names the torch int8 encoder
    old.info["encoder"] = {**torch_int8.describe()}
    scores["torch-int8"] = sts(old, dev, name="sts-dev").to_dict()
    lsa = build_texts([t for a, b, _ in train for t in (a, b)], model="tfidf-svd", dim=256)
    scores["tfidf-svd"] = sts(lsa, dev, name="sts-dev").to_dict()
    result["sts_dev"] = scores
    for name, r in scores.items():
        print(f"STS-B dev {name}: spearman {r['score']:.4f} ({r['found']}/{r['total']})", flush=True)
    result["loadavg_at_end"] = loadavg()
    OUT.mkdir(exist_ok=True)
    (OUT / "texts.json").write_text(json.dumps(result, indent=2) + "\n")
    md = [
        f"# Texts (issue 5): `{result['command']}`",
        "",
        f"{len(texts):,} STS-B train sentences, batch "
        f"{args.batch_size}, {result['torch_threads']} torch threads, {result['machine']['cpu']}",
        "",
        "| encoder | texts/s | STS-B dev Spearman | coverage |",
        "|---|---:|---:|---:|",
        f"| sentence-transformers direct (all-MiniLM-L6-v2) | {best['direct']:.1f} | | |",
        f"| embspace minilm | {best['embspace']:.1f} | {scores['minilm']['score']:.4f} | "
        f"{scores['minilm']['found']}/{scores['minilm']['total']} |",
        f"| embspace minilm-fast (ONNX Runtime int8) | {fast:.1f} | {scores['minilm-fast']['score']:.4f} | "
        f"{scores['minilm-fast']['found']}/{scores['minilm-fast']['total']} |",
        f"| torch dynamic int8 (the earlier fast path) | {best['torch_int8']:.1f} | "
        f"{scores['torch-int8']['score']:.4f} | {scores['torch-int8']['found']}/{scores['torch-int8']['total']} |",
        f"| embspace tfidf-svd (256-d, fitted on STS-B train) | | {scores['tfidf-svd']['score']:.4f} | "
        f"{scores['tfidf-svd']['found']}/{scores['tfidf-svd']['total']} |",
        "",
        f"embspace / direct: {result['throughput']['embspace_vs_direct']:.3f}; minilm-fast / minilm: "
        f"{result['fast_path']['speedup_vs_full_embspace']:.2f}x; load average {result['machine']['loadavg_at_start']}"
        f" at start, {result['loadavg_at_end']} at end.",
    ]
    (OUT / "texts.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main()
