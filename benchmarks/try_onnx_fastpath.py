"""Exploratory, not part of the product: an ONNX Runtime int8 fast path for all-MiniLM-L6-v2.

    pip install onnx onnxruntime && python benchmarks/try_onnx_fastpath.py

Exports the transformer with torch.onnx (no network) to /tmp/onnx_minilm, quantises it with
onnxruntime.quantization.quantize_dynamic, and compares texts/s on 3,000 STS-B train sentences with
embspace minilm (torch fp32) and minilm-fast (torch int8), plus the mean cosine to the fp32 vectors.
"""

import os
import time
import warnings

import numpy as np
import torch

warnings.filterwarnings("ignore")
os.environ["HF_HUB_OFFLINE"] = "1"
from embspace.texts._encoders import SentenceEncoder  # noqa: E402

enc = SentenceEncoder("minilm")
st = enc.model
tok = st.tokenizer
m = st[0].auto_model
d = "/tmp/onnx_minilm"
os.makedirs(d, exist_ok=True)
x = tok(["hello world example"], return_tensors="pt")
t = time.time()


class W(torch.nn.Module):
    def __init__(s, m):
        super().__init__()
        s.m = m

    def forward(s, a, b, c):
        return s.m(input_ids=a, attention_mask=b, token_type_ids=c).last_hidden_state


torch.onnx.export(
    W(m).eval(),
    (x["input_ids"], x["attention_mask"], x["token_type_ids"]),
    f"{d}/m.onnx",
    input_names=["input_ids", "attention_mask", "token_type_ids"],
    output_names=["last_hidden_state"],
    dynamic_axes={k: {0: "b", 1: "s"} for k in ["input_ids", "attention_mask", "token_type_ids"]}
    | {"last_hidden_state": {0: "b", 1: "s"}},
    opset_version=17,
    dynamo=False,
)
print("export", time.time() - t)
from onnxruntime.quantization import QuantType, quantize_dynamic  # noqa: E402

quantize_dynamic(f"{d}/m.onnx", f"{d}/q.onnx", weight_type=QuantType.QInt8)
import onnxruntime as ort  # noqa: E402

lines = [
    line.split("\t")
    for line in open(
        str(__import__("pathlib").Path(__file__).resolve().parents[2] / "shared/data/sts/sts-train.csv"),
        encoding="utf-8",
    )
    .read()
    .splitlines()
]
texts = list(dict.fromkeys(t for c in lines if len(c) >= 7 for t in (c[5], c[6])))[:3000]


def run(path):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    order = np.argsort([-len(t) for t in texts])
    out = np.empty((len(texts), 384), np.float32)
    t0 = time.time()
    for i in range(0, len(texts), 64):
        rows = order[i : i + 64]
        b = tok([texts[r] for r in rows], padding=True, truncation=True, max_length=256, return_tensors="np")
        h = s.run(None, {k: b[k].astype(np.int64) for k in ["input_ids", "attention_mask", "token_type_ids"]})[0]
        mask = b["attention_mask"][..., None]
        v = (h * mask).sum(1) / mask.sum(1)
        out[rows] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return len(texts) / (time.time() - t0), out


t0 = time.time()
ref = enc.encode(texts)
full = len(texts) / (time.time() - t0)
fast = SentenceEncoder("minilm-fast")
t0 = time.time()
fast.encode(texts)
tq = len(texts) / (time.time() - t0)
for p in ("m.onnx", "q.onnx"):
    r, out = run(f"{d}/{p}")
    print(
        p, f"{r:.0f} texts/s = {r / full:.2f}x full torch ({full:.0f}); cos to full {np.mean((out * ref).sum(1)):.4f}"
    )
print(f"torch int8 {tq:.0f} texts/s = {tq / full:.2f}x")
