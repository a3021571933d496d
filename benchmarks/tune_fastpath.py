"""How minilm-fast runs were chosen: ONNX Runtime threads per run x runs at once x batch size.

    .venv/bin/python benchmarks/tune_fastpath.py [--n 10000] [--repeats 2]

On 10,000 STS-B train sentences (longest first, as build_texts does): torch fp32 (embspace `minilm`,
batch 64, 2 torch threads), torch fp32 with one thread per batch and two batches at once, and the
int8 ONNX model that minilm-fast uses (and the fp32 ONNX export it is made from) with
(threads per run, runs at once, batch) varied. Best of --repeats, texts/s.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
DATA = HERE.parents[1] / "shared" / "data" / "sts"


def onnx_runner(path, tokenizer, intra, workers, batch):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = intra, 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def one(rows, texts, out):
        encs = tokenizer.encode_batch([texts[r] for r in rows])
        feed = {
            "input_ids": np.array([e.ids for e in encs], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encs], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encs], dtype=np.int64),
        }
        h = session.run(None, feed)[0]
        m = feed["attention_mask"][..., None]
        v = (h * m).sum(1) / m.sum(1)
        out[rows] = v / np.linalg.norm(v, axis=1, keepdims=True)

    def run(texts):
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.empty((len(texts), 384), np.float32)
        chunks = [order[i : i + batch] for i in range(0, len(texts), batch)]
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(lambda r: one(r, texts, out), chunks))
        return out

    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    os.environ["HF_HUB_OFFLINE"] = "1"
    import torch
    from tokenizers import Tokenizer

    from embspace.texts import _encoders_onnx
    from embspace.texts._encoders import SentenceEncoder, minilm_path

    lines = [line.split("\t") for line in (DATA / "sts-train.csv").read_text(encoding="utf-8").splitlines()]
    texts = list(dict.fromkeys(t for c in lines if len(c) >= 7 for t in (c[5], c[6])))[: args.n]
    int8 = _encoders_onnx.ensure_model()
    with tempfile.TemporaryDirectory() as tmp:
        _encoders_onnx._export_int8(Path(tmp))  # writes fp32.onnx (and an int8.onnx not used here)
        fp32 = Path(tmp) / "fp32.onnx"
        tok = Tokenizer.from_file(str(minilm_path() / "tokenizer.json"))
        tok.enable_truncation(max_length=256)
        tok.enable_padding(pad_id=0, pad_token="[PAD]")
        full = SentenceEncoder("minilm")

        def torch_threads(threads, workers, batch):
            def run(t):
                torch.set_num_threads(threads)
                order = np.argsort([-len(x) for x in t], kind="stable")
                chunks = [order[i : i + batch] for i in range(0, len(t), batch)]
                out = np.empty((len(t), 384), np.float32)

                def one(rows):
                    with torch.inference_mode():
                        out[rows] = full.model.encode(
                            [t[r] for r in rows], batch_size=batch, normalize_embeddings=True, show_progress_bar=False
                        )

                with ThreadPoolExecutor(workers) as pool:
                    list(pool.map(one, chunks))
                torch.set_num_threads(2)
                return out

            return run

        configs = [
            ("torch fp32, 2 threads, batch 64 (minilm)", lambda t: full.encode(t, batch_size=64)),
            ("torch fp32, 1 thread x 2 at once, batch 16", torch_threads(1, 2, 16)),
            ("onnx fp32, 1 thread x 2 at once, batch 16", onnx_runner(fp32, tok, 1, 2, 16)),
        ]
        for intra, workers, batch in [(2, 1, 64), (2, 1, 128), (1, 2, 64), (1, 2, 32), (1, 2, 16), (1, 2, 8)]:
            configs.append(
                (
                    f"onnx int8, {intra} thread(s) x {workers} at once, batch {batch}",
                    onnx_runner(int8, tok, intra, workers, batch),
                )
            )
        best: dict[str, float] = {}
        for _ in range(args.repeats):
            for name, run in configs:
                run(texts[:256])
                t0 = time.perf_counter()
                run(texts)
                best[name] = max(best.get(name, 0.0), len(texts) / (time.perf_counter() - t0))
        base = best[configs[0][0]]
        print(f"{len(texts):,} STS-B train sentences, best of {args.repeats}")
        print("| configuration | texts/s | x minilm |\n|---|---:|---:|")
        for name, _ in configs:
            print(f"| {name} | {best[name]:,.0f} | {best[name] / base:.2f} |")


if __name__ == "__main__":
    main()
