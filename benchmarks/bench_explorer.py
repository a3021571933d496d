"""The explorer (`embspace serve`) in headless Chromium with software WebGL: the time until
1,000,000 points are drawn, and the server's memory with the 400k x 50 GloVe space open.

    .venv/bin/python benchmarks/bench_explorer.py [--n 1000000] [--reps 3] [--workdir DIR] [--wait-quiet]
                                                  [--json F] [--md F]

Drawing: the real server (`python -m embspace serve A.space B.space --port 0`, a subprocess) serves
  (a) a synthetic space of --n points (8-D mixture of 40 Gaussians, ids "item0000000"...) with its
      PCA 2-D map of every point, made with `embspace.reduce.get_or_make_map`, and
  (b) the 400k GloVe words with their PCA 2-D map of every word.
Chromium (`/usr/bin/chromium --headless`, SwiftShader WebGL through ANGLE, no GPU; 1280x800) opens
the page on each map in a fresh browser context, --reps times, interleaved. The page marks
`embspace:points-drawn` (performance.mark) when regl-scatterplot's draw() resolves: the first frame
rendered with every point (after the ids JSON, the Float32 coordinates and the Int32 rows arrived,
the points were uploaded and the spatial index was built). Reported: that time from navigation start
and from the load event (`loadEventEnd`), and when the data had arrived (`embspace:data-loaded`).
A screenshot of the map checks that something was drawn (pixel standard deviation).

Memory: a second server with only the GloVe space (`python -m embspace serve GLOVE --port 0`);
/proc/<pid>/status is read when it is listening, after the page drew the 400k-point map, and after
200 neighbour queries (each also ranks the neighbours on the map), prefix and regex searches and
an analogy. RssFile is the part backed by files (the memory-mapped vectors.npy pages the queries
touched, shared with the page cache); RssAnon is the process's own memory. /proc/<pid>/maps shows
whether vectors.npy is memory-mapped.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import loadavg, median, start, start_server, stop_server, table  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--enable-unsafe-swiftshader",
    "--use-angle=swiftshader",
]
TARGET_S = 3.0


def synthetic_space(path: Path, n: int, seed: int = 0) -> Path:
    """An 8-D mixture of 40 Gaussians with n points (made once)."""
    import embspace

    if (path / "manifest.json").exists():
        return path
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=4.0, size=(40, 8)).astype(np.float32)
    which = rng.integers(0, 40, size=n)
    vectors = centres[which] + rng.normal(size=(n, 8)).astype(np.float32)
    ids = [f"item{i:07d}" for i in range(n)]
    embspace.save(embspace.Space(ids, vectors, info={"name": f"synthetic-{n // 1000}k"}, metric="euclidean"), path)
    return path


def memory(pid: int) -> dict:
    fields = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem"):
                fields[key] = int(value.split()[0]) * 1024
    return fields


def mapped_vectors(pid: int) -> list[str]:
    with open(f"/proc/{pid}/maps") as fh:
        return sorted({line.split()[-1] for line in fh if line.rstrip().endswith("vectors.npy")})


def draw_once(browser, url: str, n: int) -> dict:
    from PIL import Image

    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    page.wait_for_function(f"document.body.dataset.drawn === '{n}'", timeout=300_000)
    marks = page.evaluate("""() => {
        const nav = performance.getEntriesByType('navigation')[0];
        const last = (name) => {
            const e = performance.getEntriesByName(name); return e.length ? e[e.length - 1].startTime : null; };
        return { load: nav.loadEventEnd, dom: nav.domContentLoadedEventEnd, data: last('embspace:data-loaded'),
                 drawn: last('embspace:points-drawn'),
                 transfer: performance.getEntriesByType('resource').filter(r => r.name.includes('/api/'))
                     .reduce((s, r) => s + (r.encodedBodySize || 0), 0) };
    }""")
    shot = np.asarray(Image.open(io.BytesIO(page.locator("#pane-a").screenshot())).convert("L"), dtype=np.float64)
    context.close()
    if errors:
        raise SystemExit(f"page errors: {errors}")
    return {
        "from_navigation_s": marks["drawn"] / 1000,
        "from_load_event_s": (marks["drawn"] - marks["load"]) / 1000,
        "data_arrived_s": marks["data"] / 1000,
        "load_event_s": marks["load"] / 1000,
        "api_bytes": marks["transfer"],
        "pixel_std": round(float(shot.std()), 2),
    }


def get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=120) as r:
        return json.loads(r.read())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--workdir", default="/tmp/bench-explorer")
    ap.add_argument("--space", help="GloVe space (default: the demo space)")
    ap.add_argument("--wait-quiet", action="store_true")
    ap.add_argument("--json")
    ap.add_argument("--md")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    from embspace.reduce import get_or_make_map

    glove, info, other = start(args.space, args.wait_quiet)
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    synth = synthetic_space(workdir / f"synthetic-{args.n}.space", args.n)
    big = get_or_make_map(synth, "pca", 2)
    words = get_or_make_map(glove, "pca", 2)
    print(
        f"# maps ready in {time.perf_counter() - t0:.1f} s: {big.key} ({big.n:,}), {words.key} ({words.n:,})",
        flush=True,
    )
    cases = [
        (f"synthetic, {args.n:,} points", f"#s=0&m={big.key}", big.n),
        (f"GloVe 6B 50d, {words.n:,} words", f"#s=1&m={words.key}", words.n),
    ]
    results = {name: [] for name, _, _ in cases}

    proc, host, port = start_server([synth, glove])
    url = f"http://{host}:{port}/"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            # the first open after the server started also reads the map from disk: reported apart
            cold = {name: draw_once(browser, url + suffix, n) for name, suffix, n in cases}
            for rep in range(args.reps):
                for name, suffix, n in cases:
                    r = draw_once(browser, url + suffix, n)
                    results[name].append(r)
                    print(
                        f"{name} rep {rep + 1}: drawn {r['from_navigation_s']:.2f} s after navigation start, "
                        f"{r['from_load_event_s']:.2f} s after the load event (data at {r['data_arrived_s']:.2f} s, "
                        f"{r['api_bytes'] / 2**20:.1f} MiB), pixel std {r['pixel_std']}",
                        flush=True,
                    )
            browser.close()
    finally:
        stop_server(proc)

    proc, host, port = start_server([glove])
    url = f"http://{host}:{port}/"
    mem = {}
    try:
        time.sleep(1.0)
        mem["listening"] = memory(proc.pid)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            draw_once(browser, url + f"#s=0&m={words.key}", words.n)
            browser.close()
        mem["after the page drew the 400k map"] = memory(proc.pid)
        ids = get(url + "api/space/0/ids")
        for word in ids[1000:1200]:
            get(url + "api/space/0/neighbors?" + urllib.parse.urlencode({"id": word, "k": 10, "map": words.key}))
        get(url + "api/space/0/search?q=a&mode=prefix")
        get(url + "api/space/0/search?" + urllib.parse.urlencode({"q": "^q.*z$", "mode": "regex"}))
        get(url + "api/space/0/analogy?a=man&b=king&c=woman&map=" + words.key)
        mem["after 200 neighbour queries, searches, an analogy"] = memory(proc.pid)
        mapped = mapped_vectors(proc.pid)
    finally:
        stop_server(proc)
    load = other.stop()

    summary = {}
    for name, runs in results.items():
        summary[name] = {
            key: round(median([r[key] for r in runs]), 3)
            for key in ("from_navigation_s", "from_load_event_s", "data_arrived_s", "load_event_s")
        }
        summary[name]["min_from_load_event_s"] = round(min(r["from_load_event_s"] for r in runs), 3)
        summary[name]["api_mib"] = round(runs[0]["api_bytes"] / 2**20, 1)
    info["loadavg_at_end"] = loadavg()
    info["other_processes"] = load
    vectors_mib = os.path.getsize(Path(glove) / "vectors.npy") / 2**20
    out = {
        "machine": info,
        "n": args.n,
        "reps": args.reps,
        "draw": summary,
        "draw_runs": results,
        "first_open": cold,
        "target_s": TARGET_S,
        "server_memory_bytes": mem,
        "vectors_npy_mapped": mapped,
        "vectors_npy_mib": round(vectors_mib, 1),
        "chromium_args": ARGS,
        "chromium": subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True).stdout.strip(),
    }
    md = render(out)
    print(md)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    if args.md:
        Path(args.md).write_text(md + "\n")


def render(out: dict) -> str:
    i = out["machine"]
    lines = [
        f"{i['date']} | {i['cores']} cores, {i['cpu']} | Python {i['python']} | {out['chromium']} | load average "
        f"{i['loadavg_at_start']} at start, {i['loadavg_at_end']} at end | other processes: {i['other_processes']} "
        f"| embspace {i['embspace']}",
        "",
    ]
    rows = []
    for name, s in out["draw"].items():
        rows.append(
            [
                name,
                f"{s['from_load_event_s']:.2f} s ({s['min_from_load_event_s']:.2f} s)",
                f"{s['from_navigation_s']:.2f} s",
                f"{s['data_arrived_s']:.2f} s",
                f"{s['load_event_s']:.2f} s",
                f"{s['api_mib']} MiB",
            ]
        )
    lines.append(
        table(
            [
                "map drawn (PCA 2-D)",
                f"all points drawn, after the load event: median of {out['reps']} (min)",
                "after navigation start",
                "data arrived",
                "load event",
                "data sent",
                "first open after the server started (map read from disk)",
            ],
            [r + [f"{out['first_open'][name]['from_load_event_s']:.2f} s"] for r, name in zip(rows, out["draw"])],
        )
    )
    first = next(iter(out["draw"].values()))
    verdict = "met" if first["from_load_event_s"] <= out["target_s"] else "not met"
    lines += [
        "",
        f"target: {out['n']:,} points drawn at most {out['target_s']:.0f} s after the page loads: "
        f"{first['from_load_event_s']:.2f} s -> {verdict}",
        "",
    ]
    mib = lambda b: f"{b / 2**20:,.0f} MiB"  # noqa: E731
    rows = [
        [when, mib(m["VmRSS"]), mib(m["RssAnon"]), mib(m["RssFile"]), mib(m["VmHWM"])]
        for when, m in out["server_memory_bytes"].items()
    ]
    lines.append(
        table(
            ["server with GloVe 400k x 50 open", "RSS", "of which anonymous", "of which file-backed", "peak RSS"], rows
        )
    )
    lines += [
        "",
        f"vectors.npy ({out['vectors_npy_mib']} MiB) memory-mapped by the server: "
        f"{'yes' if out['vectors_npy_mapped'] else 'no'} ({', '.join(out['vectors_npy_mapped'])})",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
