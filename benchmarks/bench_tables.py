"""Feature space against learned embedding space on a table: kNN (k = 10) prediction error of the target.

    python benchmarks/bench_tables.py                      # Housing: writes benchmarks/results/tables.{json,md}
    python benchmarks/bench_tables.py --flights 20000      # also 20,000 nycflights13 flights (arr_delay)
    python benchmarks/bench_tables.py --variants           # also the learned method's variants on Housing

Housing (546 houses, Ecdat via the `pydataset` package's CSV; target price) and, with ``--flights N``, N
flights of nycflights13 drawn at random (seed 0) with two targets in turn: arr_delay (minutes late) and
air_time (minutes in the air); carrier, origin, dest as categoricals, month, day, scheduled departure and
arrival times, distance as numbers; the actual times and the other delays left out as they give the
answer away (and each target leaves the other out).

What is measured, all with k = 10 and the space's metric (euclidean):

* ``features, leave-one-out``: the feature space of all rows; each row's price predicted as the mean of its
  10 nearest other rows (`embspace.tables.knn_target`); baseline the mean price of the other rows.
* ``features, 5-fold`` and ``learned, 5-fold (out of fold)``: the rows are split in 5 folds (seeded). For
  each fold a space is built on the other 4/5 only (the feature transform is fitted there; the network is
  trained there, with its own 20 % validation split for early stopping), the held-out 1/5 is placed in it
  with `embspace.tables.embed_rows`, and each held-out row's target is predicted as the mean of its 10
  nearest training rows. The held-out rows' targets never reach the network that places them: no leak.
  Baseline: the training folds' mean target.
* ``learned, in-sample leave-one-out``: for reference only; the network saw every row's target, so this
  number leaks and is not the comparison.

Quality figures do not depend on the machine's load; times are not reported.
"""

from __future__ import annotations

import argparse
import json
import sys
import tarfile
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SITE = next((ROOT / ".venv" / "lib").glob("python3*/site-packages"), None)
OUT = Path(__file__).resolve().parent / "results"
K = 10
FOLDS = 5


def housing():
    """The Housing table: 546 rows, a row id, price and 11 features (read out of pydataset's tarball)."""
    import pandas as pd

    path = SITE / "pydataset" / "resources.tar.gz"
    with tarfile.open(path) as tar:
        raw = tar.extractfile("resources/rdata/csv/Ecdat/Housing.csv")
        frame = pd.read_csv(raw)
    return frame.rename(columns={frame.columns[0]: "house"})


def flights(n: int, seed: int = 0):
    """`n` flights of nycflights13 drawn at random, with the columns known before take-off and arr_delay."""
    import pandas as pd

    with zipfile.ZipFile(SITE / "nycflights13" / "data" / "flights.csv.zip") as z, z.open("flights.csv") as fh:
        frame = pd.read_csv(fh)
    frame = frame.sample(n=n, random_state=seed).reset_index(drop=True)
    frame["flight_id"] = [
        f"{c}{f}-{y}-{m:02d}-{d:02d}-{t}"
        for c, f, y, m, d, t in zip(
            frame.carrier, frame.flight, frame.year, frame.month, frame.day, frame.sched_dep_time
        )
    ]
    keep = ["flight_id", "month", "day", "sched_dep_time", "sched_arr_time", "carrier", "origin", "dest", "distance"]
    return frame[[*keep, "arr_delay", "air_time"]].drop_duplicates("flight_id").reset_index(drop=True)


def folds(n: int, seed: int = 0) -> list[np.ndarray]:
    return np.array_split(np.random.default_rng(seed).permutation(n), FOLDS)


def out_of_fold(frame, id_col: str, target: str, method: str, **knobs) -> dict:
    """kNN prediction of `target` for each row from a space built without its fold (see the docstring)."""
    from embspace import tables

    truth, predicted, baseline = [], [], []
    epochs = []
    for held in folds(len(frame)):
        mask = np.zeros(len(frame), dtype=bool)
        mask[held] = True
        train, test = frame[~mask], frame[mask]
        test = test[test[target].notna()]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", tables.DroppedColumnWarning)
            space = tables.build(train, id=id_col, target=target, method=method, **knobs)
        if method == "learned":
            epochs.append(space.info["table"]["network"]["training"]["best_epoch"])
        rows, values, task = tables._knn.target_values(space, target)
        queries = tables.embed_rows(space, test.drop(columns=[target]))
        predicted.append(tables.knn_predict(space.vectors[rows], values, queries, K, task, space.metric))
        truth.append(test[target].to_numpy(dtype=float))
        baseline.append(np.full(len(test), values.mean()))
    scores = tables.prediction_scores(np.concatenate(truth), np.concatenate(predicted), np.concatenate(baseline), task)
    return {**scores, "rows": int(sum(len(t) for t in truth)), **({"best_epochs": epochs} if epochs else {})}


def leave_one_out(frame, id_col: str, target: str, method: str, **knobs) -> dict:
    from embspace import tables

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", tables.DroppedColumnWarning)
        space = tables.build(frame, id=id_col, target=target, method=method, **knobs)
    result = tables.knn_target(space, k=K)
    keep = ("rmse", "mae", "baseline_rmse", "baseline_mae", "rows")
    return {key: result[key] for key in keep}


def run_set(
    name: str, frame, id_col: str, target: str, learned: dict, variants: dict | None, seeds: int = 1
) -> list[dict]:
    rows = []

    def add(label: str, how: str, result: dict, knobs: dict | None = None) -> None:
        rows.append({"data": name, "space": label, "how": how, **result, **({"knobs": knobs} if knobs else {})})
        print(
            f"{name:22s} {label:20s} {how:22s} RMSE {result['rmse']:10.1f}  MAE {result['mae']:10.1f}  "
            f"(mean baseline RMSE {result['baseline_rmse']:.1f}, MAE {result['baseline_mae']:.1f})",
            flush=True,
        )

    add("features", "leave-one-out", leave_one_out(frame, id_col, target, "features"))
    add("features", "5-fold", out_of_fold(frame, id_col, target, "features"))
    add("learned", "5-fold (out of fold)", out_of_fold(frame, id_col, target, "learned", **learned), learned)
    for seed in range(1, seeds):
        knobs = {**learned, "seed": seed}
        add(
            f"learned seed {seed}",
            "5-fold (out of fold)",
            out_of_fold(frame, id_col, target, "learned", **knobs),
            knobs,
        )
    if seeds > 1:
        runs = [r for r in rows if r["space"].startswith("learned") and r["how"] == "5-fold (out of fold)"]
        mean = {key: float(np.mean([r[key] for r in runs])) for key in ("rmse", "mae", "baseline_rmse", "baseline_mae")}
        add(f"learned, mean of {seeds} seeds", "5-fold (out of fold)", {**mean, "rows": runs[0]["rows"]})
        rows[-1]["worst_rmse"], rows[-1]["worst_mae"] = max(r["rmse"] for r in runs), max(r["mae"] for r in runs)
    add("learned", "in-sample LOO (leaks)", leave_one_out(frame, id_col, target, "learned", **learned), learned)
    for label, knobs in (variants or {}).items():
        add(f"learned {label}", "5-fold (out of fold)", out_of_fold(frame, id_col, target, "learned", **knobs), knobs)
    return rows


VARIANTS = {
    "log-price": {"log_target": True},
    "dim 8": {"dim": 8},
    "dim 32": {"dim": 32},
    "weight decay 1e-2": {"weight_decay": 1e-2},
    "hidden 32": {"hidden": 32},
    "lr 1e-3": {"lr": 1e-3},
    "dropout 0.2": {"dropout": 0.2},
    "refit on all rows": {"refit": True},
}


def markdown(rows: list[dict], command: str) -> str:
    lines = [
        f"Command: `{command}`; k = {K}, euclidean; 5 folds seeded 0.",
        "",
        "| data | space | how | RMSE | MAE | mean baseline RMSE | mean baseline MAE | rows |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['data']} | {r['space']} | {r['how']} | {r['rmse']:,.1f} | {r['mae']:,.1f} | "
            f"{r['baseline_rmse']:,.1f} | {r['baseline_mae']:,.1f} | {r['rows']:,} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flights", type=int, default=0, help="Also N nycflights13 flights (0: skip).")
    parser.add_argument("--variants", action="store_true", help="Also the learned variants on Housing.")
    parser.add_argument("--seeds", type=int, default=1, help="Also the learned method with seeds 1..N-1 on Housing.")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: the same numbers on any machine).")
    parser.add_argument("--no-write", action="store_true", help="Print only; write no results file.")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    rows = run_set("Housing", housing(), "house", "price", {}, VARIANTS if args.variants else None, args.seeds)
    if args.flights:
        big = {"batch_size": 256, "patience": 10}
        frame = flights(args.flights)
        for target, other in (("arr_delay", "air_time"), ("air_time", "arr_delay")):  # each leaks the other
            name = f"flights-{args.flights // 1000}k {target}"
            rows += run_set(name, frame.drop(columns=[other]), "flight_id", target, big, None)
    command = "python benchmarks/bench_tables.py " + " ".join(sys.argv[1:])
    print(f"done in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    if not args.no_write:
        OUT.mkdir(exist_ok=True)
        (OUT / "tables.json").write_text(json.dumps({"command": command.strip(), "rows": rows}, indent=2) + "\n")
        (OUT / "tables.md").write_text(markdown(rows, command.strip()))


if __name__ == "__main__":
    main()
