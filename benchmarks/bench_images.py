"""Image spaces on Fashion-MNIST: kNN accuracy of each method, images/s, contrastive training time, and
the cnn method's throughput against calling the same model directly in torch.

    python benchmarks/bench_images.py                                   # the full splits, every method
    python benchmarks/bench_images.py --train 10000 --test 2000 --methods pixels,cnn --json out.json
    python benchmarks/bench_images.py --train 500 --test 200 --epochs 1  # a smoke run

Data: the Debian package dataset-fashion-mnist (/usr/share/datasets/fashion-mnist). Each space is built
through the public `embspace.images.build` from the train IDX file (the first --train images: the database,
and the training set of `contrastive`; the test split is never trained on); the first --test images of the
test split are embedded as queries with `embed_images` (the embedder restored from the space, as a query
image later would be). Accuracy: k-nearest neighbours (k = 10, cosine, majority vote over the database's
labels). Methods: pixels, features, cnn, contrastive (SupCon: the labels are given), simclr (contrastive
without labels: the training slice written as a .npy, which has none).

cnn throughput: the same batches of test images through `Cnn.embed` (resizing and scaling included) and
through the same model called directly (``extract_features`` + average pool under inference_mode) on the
batches already resized and scaled, interleaved batch by batch (the order alternating); reported: the sum over
the batches of each one's quickest time, and the median per-batch time ratio.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import loadavg, machine  # noqa: E402

DATA = Path("/usr/share/datasets/fashion-mnist")
METHODS = ("pixels", "features", "cnn", "contrastive", "simclr")


def read_idx(split: str) -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST `split` ("train" or "t10k"): uint8 images (n, 28, 28) and int64 labels (n,)."""
    with gzip.open(DATA / f"{split}-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(DATA / f"{split}-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
    return images, labels


def knn_accuracy(database: np.ndarray, db_labels: np.ndarray, queries: np.ndarray, labels: np.ndarray, k: int = 10):
    """Share of queries whose k nearest database rows (cosine) vote for their label (ties: the smaller label)."""
    db = database / np.maximum(np.linalg.norm(database, axis=1, keepdims=True), 1e-12)
    q = queries / np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-12)
    classes = int(max(db_labels.max(), labels.max())) + 1
    right = 0
    for start in range(0, len(q), 1000):
        sims = q[start : start + 1000] @ db.T
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        votes = np.zeros((len(top), classes), dtype=np.int64)
        np.add.at(votes, (np.arange(len(top))[:, None], db_labels[top]), 1)
        right += int((votes.argmax(1) == labels[start : start + 1000]).sum())
    return right / len(q)


def rows_of(ids: list[str]) -> np.ndarray:
    """'train-images-idx3-ubyte:17' -> 17 (the row of the source the space kept)."""
    return np.array([int(i.rsplit(":", 1)[1]) for i in ids], dtype=np.int64)


def run_method(name: str, args, train: tuple, test: tuple, workdir: Path) -> dict:
    from embspace.images import build, embed_images

    method = "contrastive" if name == "simclr" else name
    knobs: dict = {}
    if method == "contrastive" and args.epochs:
        knobs["epochs"] = args.epochs
    if method == "cnn" and args.image_size:
        knobs["image_size"] = args.image_size
    if name == "simclr":  # a .npy has no labels: SimCLR
        source = workdir / "train-slice.npy"
        np.save(source, train[0][: args.train])
    else:
        source = DATA / "train-images-idx3-ubyte.gz"
    space = build(source, method, limit=args.train, thumbnails=False, progress=args.progress, seed=0, **knobs)
    db_labels = train[1][rows_of(space.ids)]
    started = time.perf_counter()
    queries = embed_images(space, list(test[0][: args.test]))
    query_seconds = time.perf_counter() - started
    info = space.info
    row = {
        "method": name,
        "dim": space.dim,
        "database": space.n,
        "queries": len(queries),
        "knn10_accuracy": round(knn_accuracy(np.asarray(space.vectors), db_labels, queries, test[1][: args.test]), 4),
        "build_seconds": info["seconds"],
        "fit_seconds": info.get("fit_seconds"),
        "embed_images_per_second": info.get("images_per_second"),
        "query_images_per_second": round(len(queries) / query_seconds, 1),
        "state": {k: v for k, v in info["images"].items() if k not in ("losses",)},
    }
    if method == "contrastive":
        row["losses"] = info["images"].get("losses")
        row["epoch_seconds"] = round(info["fit_seconds"] / max(1, info["images"]["epochs"]), 2)
    return row


def cnn_throughput(args, test_images: np.ndarray) -> dict:
    """Images/s of Cnn.embed vs the same model called directly on the same, already preprocessed batches."""
    import torch

    from embspace.images._cnn import Cnn, pooled_features

    cnn = Cnn(image_size=args.image_size or 112, device="cpu")
    images = list(test_images[: args.throughput_images])
    batch = cnn.batch_size
    batches = [images[s : s + batch] for s in range(0, len(images), batch)]
    ready = [cnn.inputs(b) for b in batches]

    def direct(i: int) -> None:
        with torch.inference_mode():
            pooled_features(cnn.model, ready[i]).numpy()

    def ours(i: int) -> None:
        cnn.embed(batches[i])

    ours(0), direct(0)  # warm-up: first calls allocate
    # Interleaved batch by batch, the order alternating, so that load from other processes (this machine is
    # shared) falls on both alike; per-batch ratios as well as totals.
    times: dict[str, list[list[float]]] = {"embspace": [[] for _ in batches], "direct": [[] for _ in batches]}
    ratios: list[float] = []
    for r in range(args.rounds):
        for i in range(len(batches)):
            pair = (("direct", direct), ("embspace", ours))
            took = {}
            for label, fn in pair if (r + i) % 2 == 0 else pair[::-1]:
                t0 = time.perf_counter()
                fn(i)
                took[label] = time.perf_counter() - t0
                times[label][i].append(took[label])
            ratios.append(took["embspace"] / took["direct"])
    best = {k: sum(min(t) for t in v) for k, v in times.items()}  # each batch's quickest time
    return {
        "images": len(images),
        "batch_size": batch,
        "image_size": cnn.image_size,
        "rounds": args.rounds,
        "torch_threads": torch.get_num_threads(),
        "embspace_images_per_second": round(len(images) / best["embspace"], 1),
        "direct_images_per_second": round(len(images) / best["direct"], 1),
        "embspace_slower_by": round(best["embspace"] / best["direct"] - 1, 4),
        "median_batch_ratio": round(float(np.median(ratios)), 4),
        "total_seconds": {k: round(sum(map(sum, v)), 3) for k, v in times.items()},
    }


def table(result: dict) -> str:
    lines = [
        f"Fashion-MNIST: {result['train']:,} train images as the database, {result['test']:,} test images as "
        "queries, kNN k=10 cosine",
        "",
        "| method | dim | kNN@10 accuracy | build s | training s | s / epoch | build images/s | query images/s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["methods"]:
        fit = r["fit_seconds"] if r["method"] in ("contrastive", "simclr") else None
        lines.append(
            f"| {r['method']} | {r['dim']} | {r['knn10_accuracy']:.4f} | {r['build_seconds']:.1f} | "
            f"{'' if fit is None else f'{fit:.1f}'} | {r.get('epoch_seconds', '')} | "
            f"{r['embed_images_per_second']} | {r['query_images_per_second']} |"
        )
    t = result.get("cnn_throughput")
    if t:
        lines += [
            "",
            f"cnn throughput ({t['images']} images, batch {t['batch_size']}, {t['image_size']} px, "
            f"{t['torch_threads']} torch threads, {t['rounds']} rounds interleaved batch by batch): embspace "
            f"{t['embspace_images_per_second']} images/s, torch directly {t['direct_images_per_second']} "
            f"images/s (each batch's quickest time): embspace slower by "
            f"{100 * t['embspace_slower_by']:.1f} %; median per-batch ratio {t['median_batch_ratio']:.3f}",
        ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--train", type=int, default=60_000, help="first N train images (database, training set)")
    ap.add_argument("--test", type=int, default=10_000, help="first M test images (queries)")
    ap.add_argument("--methods", default="pixels,features,cnn,contrastive,simclr")
    ap.add_argument("--epochs", type=int, default=None, help="contrastive epochs (default: the method's)")
    ap.add_argument("--image-size", type=int, default=None, help="cnn input size (default: the method's)")
    ap.add_argument("--throughput-images", type=int, default=512, help="images in the cnn throughput test (0: skip)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds of the throughput test")
    ap.add_argument("--progress", action="store_true", help="progress bars on stderr")
    ap.add_argument("--json", type=Path, help="write the results here as JSON")
    args = ap.parse_args()
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        ap.error(f"unknown methods {unknown}; choose from {', '.join(METHODS)}")
    if not (DATA / "train-images-idx3-ubyte.gz").is_file():
        sys.exit(f"Fashion-MNIST not found in {DATA}: apt-get install dataset-fashion-mnist")

    train, test = read_idx("train"), read_idx("t10k")
    args.train, args.test = min(args.train, len(train[0])), min(args.test, len(test[0]))
    result: dict = {
        "machine": machine(),
        "command": "python benchmarks/bench_images.py " + " ".join(sys.argv[1:]),
        "train": args.train,
        "test": args.test,
        "methods": [],
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name in methods:
            row = run_method(name, args, train, test, Path(tmp))
            result["methods"].append(row)
            print(f"{name}: kNN@10 {row['knn10_accuracy']:.4f} ({row['build_seconds']:.1f} s)", file=sys.stderr)
    if "cnn" in methods and args.throughput_images > 0:
        result["cnn_throughput"] = cnn_throughput(args, test[0])
    result["loadavg_at_end"] = loadavg()
    print(table(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
