"""The explorer on a 70,000-image space with thumbnails (all of Fashion-MNIST) in headless Chromium: the time
until the map is drawn, until pictures replace dots where they fit, and until a hovered point's thumbnail shows.

    .venv/bin/python benchmarks/bench_explorer_images.py [--reps 3] [--workdir DIR] [--json F] [--md F]

The space: `embspace.images.build([train IDX, t10k IDX], "pixels")` with the default thumbnails (64-px tiles in
sprite pages under assets/), saved once in --workdir, and its PCA 2-D map of every image
(`embspace.reduce.get_or_make_map`). The real server (`python -m embspace serve SPACE --port 0`, a subprocess)
serves it; Chromium (`/usr/bin/chromium --headless`, SwiftShader WebGL, no GPU, 1280x800) opens the page in a
fresh browser context --reps times (plus a first, cold open reported apart). Each time:

- drawn: `embspace:points-drawn` (the first frame with every point) from navigation start and from the load
  event, as benchmarks/bench_explorer.py measures it;
- hover on dots: on the whole map (more than 10,000 points in view: dots only, by design) the mouse is moved onto
  --hovers points, one after the other; the time from the move until the tooltip's thumbnail canvas says it is
  drawn (its sprite page fetched, if not yet, and the tile painted);
- zoom: `embspace.focusId(an image)` (what a search or a click does) until pictures replace dots;
- hover on pictures: as on dots, onto the pictures drawn.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import loadavg, machine, median, start_server, stop_server  # noqa: E402
from bench_explorer import ARGS, CHROMIUM, draw_once  # noqa: E402

DATA = Path("/usr/share/datasets/fashion-mnist")
SOURCES = [DATA / "train-images-idx3-ubyte.gz", DATA / "t10k-images-idx3-ubyte.gz"]


def the_space(workdir: Path) -> tuple[Path, float | None]:
    import embspace
    from embspace.images import build

    path = workdir / "fashion-mnist-70k.space"
    if (path / "manifest.json").exists():
        return path, None
    started = time.perf_counter()
    space = build([str(s) for s in SOURCES], "pixels", name="fashion-mnist-70k")
    embspace.save(space, path)
    return path, round(time.perf_counter() - started, 1)


HOVER_TARGETS = """(count) => {
  const pane = embspace.panes.a, plot = pane.plot, r = pane.plotBox.getBoundingClientRect(), out = [];
  for (let i = 0; i < plot.n && out.length < count; i += Math.floor(plot.n / count) + 7) {
    const p = plot.screen(i);
    if (p && p[0] > 20 && p[1] > 20 && p[0] < r.width - 20 && p[1] < r.height - 20)
      out.push([r.left + p[0], r.top + p[1]]);
  }
  return out;
}"""
PICTURE_TARGETS = """(count) => {
  const pane = embspace.panes.a, r = pane.plotBox.getBoundingClientRect();
  return pane.plot.pictures.drawn.slice(0, count).map(([i, x, y]) => [r.left + x, r.top + y]);
}"""
PICTURES_SHOWN = (
    "(() => { const c = document.querySelector('#pane-a canvas.pictures'); if (!c) return false;"
    " const d = c.dataset; return d.state === 'pictures' && Number(d.shown) > 0; })()"
)


def hover_times(page, targets: list) -> list[float]:
    """Seconds from moving the mouse onto each target until the tooltip's thumbnail is drawn."""
    times = []
    for x, y in targets:
        page.mouse.move(5, 5)
        try:
            page.wait_for_function("document.querySelector('#pane-a .tooltip').hidden", timeout=5_000)
        except Exception:  # a tooltip that stays (the corner is over a point): this hover is not counted
            continue
        t = time.perf_counter()
        page.mouse.move(x, y)
        try:
            page.wait_for_selector("#pane-a .tooltip canvas.thumb[data-drawn='true']", timeout=10_000)
        except Exception:  # the point under the mouse may be covered by another: not counted
            continue
        times.append(time.perf_counter() - t)
    return times


def pictures_and_hover(browser, url: str, n: int, hovers: int) -> dict:
    """One fresh page: the whole map drawn (dots: more than 10,000 points in view), `hovers` hovers on
    dots, then a zoom onto one image (`embspace.focusId`, as a search or a click does) until pictures
    replace the dots, and `hovers` hovers on pictures."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    page.wait_for_function(f"document.body.dataset.drawn === '{n}'", timeout=300_000)
    whole = page.evaluate("document.querySelector('#pane-a canvas.pictures')?.dataset.state")
    dots = hover_times(page, page.evaluate(HOVER_TARGETS, hovers))
    target = page.evaluate(f"embspace.panes.a.idOf({n // 3})")
    t = time.perf_counter()
    page.evaluate("id => embspace.focusId(id)", target)
    page.wait_for_function(PICTURES_SHOWN, timeout=300_000)
    zoom_s = time.perf_counter() - t
    page.wait_for_timeout(1500)  # the flight to the image ends; the pictures are laid out again
    layer = page.evaluate("(() => ({...document.querySelector('#pane-a canvas.pictures').dataset}))()")
    pictures = hover_times(page, page.evaluate(PICTURE_TARGETS, hovers))
    context.close()
    if errors:
        raise SystemExit(f"page errors: {errors}")
    return {
        "whole_map_layer": whole,
        "hover_dots_s": [round(h, 3) for h in dots],
        "zoom_to_pictures_s": round(zoom_s, 3),
        "pictures_shown": int(layer.get("shown", 0)),  # 1.5 s after the first ones
        "points_in_view": int(layer.get("inView") or 0),
        "hover_pictures_s": [round(h, 3) for h in pictures],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--hovers", type=int, default=10)
    ap.add_argument("--workdir", default="/tmp/bench-explorer-images")
    ap.add_argument("--json")
    ap.add_argument("--md")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    from embspace.reduce import get_or_make_map

    if not all(s.is_file() for s in SOURCES):
        raise SystemExit(f"Fashion-MNIST is not installed under {DATA} (apt-get install dataset-fashion-mnist)")
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    path, build_s = the_space(workdir)
    t0 = time.perf_counter()
    pca = get_or_make_map(path, "pca", 2)
    map_s = round(time.perf_counter() - t0, 1)
    assets = sorted((path / "assets").glob("*"))
    asset_mib = round(sum(a.stat().st_size for a in assets) / 2**20, 1)
    print(f"# space {path} ({pca.n:,} images; built in {build_s} s; {len(assets)} asset files, {asset_mib} MiB)")
    info = machine()
    proc, host, port = start_server([path])
    url = f"http://{host}:{port}/#s=0&m={pca.key}"
    runs, pics = [], []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            cold = draw_once(browser, url, pca.n)
            for rep in range(args.reps):
                r = draw_once(browser, url, pca.n)
                runs.append(r)
                q = pictures_and_hover(browser, url, pca.n, args.hovers)
                pics.append(q)
                print(
                    f"rep {rep + 1}: drawn {r['from_navigation_s']:.2f} s after navigation start "
                    f"({r['from_load_event_s']:.2f} s after the load event, {r['api_bytes'] / 2**20:.1f} MiB); "
                    f"whole map: {q['whole_map_layer']}, hover -> thumbnail median "
                    f"{median(q['hover_dots_s']) * 1000:.0f} ms ({len(q['hover_dots_s'])} dots); zoomed onto one "
                    f"image: pictures after {q['zoom_to_pictures_s']:.2f} s ({q['pictures_shown']} shown of "
                    f"{q['points_in_view']} in view), hover -> thumbnail median "
                    f"{median(q['hover_pictures_s']) * 1000:.0f} ms ({len(q['hover_pictures_s'])} pictures)",
                    flush=True,
                )
            browser.close()
    finally:
        stop_server(proc)
    hovers = [h for q in pics for h in q["hover_dots_s"] + q["hover_pictures_s"]]
    info["loadavg_at_end"] = loadavg()
    out = {
        "machine": info,
        "space": {"n": pca.n, "method": "pixels", "build_seconds": build_s, "map_seconds": map_s},
        "assets": {"files": len(assets), "mib": asset_mib},
        "cold": cold,
        "drawn_from_navigation_s": round(median([r["from_navigation_s"] for r in runs]), 3),
        "drawn_from_load_event_s": round(median([r["from_load_event_s"] for r in runs]), 3),
        "api_mib": round(runs[0]["api_bytes"] / 2**20, 1),
        "zoom_to_pictures_s": round(median([q["zoom_to_pictures_s"] for q in pics]), 3),
        "hover_ms_median": round(1000 * median(hovers), 1),
        "hover_ms_max": round(1000 * max(hovers), 1),
        "hovers": len(hovers),
        "runs": runs,
        "pictures_runs": pics,
    }
    md = (
        f"Fashion-MNIST, {pca.n:,} images with thumbnails ({len(assets)} sprite files, {asset_mib} MiB), PCA 2-D "
        f"map, headless Chromium (SwiftShader), {args.reps} reps after a cold open:\n\n"
        "| measure | median |\n|---|---:|\n"
        f"| map drawn, from navigation start | {out['drawn_from_navigation_s']:.2f} s |\n"
        f"| map drawn, from the load event | {out['drawn_from_load_event_s']:.2f} s |\n"
        f"| data fetched by the page | {out['api_mib']} MiB |\n"
        f"| zoomed onto one image: pictures in place of dots | {out['zoom_to_pictures_s']:.2f} s |\n"
        f"| hover -> thumbnail drawn ({len(hovers)} hovers, dots and pictures) | {out['hover_ms_median']:.0f} ms "
        f"(max {out['hover_ms_max']:.0f} ms) |\n\n"
        f"cold open (server just started): drawn {cold['from_navigation_s']:.2f} s after navigation start"
    )
    print(md)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    if args.md:
        Path(args.md).write_text(md + "\n")


if __name__ == "__main__":
    main()
