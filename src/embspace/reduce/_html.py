"""One self-contained interactive HTML file of a map: a canvas scatter with zoom, pan (or rotation
in 3-D), hover labels, search and colouring, with no request to anywhere.

Safety: the data travel in a ``<script type="application/json">`` block whose JSON has ``<``, ``>``,
``&`` and the two JavaScript line separators escaped (an id like ``</script>`` cannot end the block),
the page reads it with ``JSON.parse`` and shows ids only through ``textContent`` and
``fillText`` (never as HTML), and a Content-Security-Policy lets only its own script (by hash) run.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import os
from pathlib import Path

import numpy as np

from ..space import Space
from ._draw import coloring, label_priority, label_texts, title_of, write_atomically
from ._map import Map

_CANDIDATES = 3000  # points that may get a permanent label as the view zooms


def write_html(m: Map, space: Space, path: str | os.PathLike, color: str | None = None, labels: int = 30) -> Path:
    """Write map `m` of `space` as one interactive HTML file (no network, no external files).

    Parameters
    ----------
    color : str, optional
        A metadata column to colour by (categories or numbers), or ``"trust"``. The page also
        offers each point's map trust as a colouring.
    labels : int
        How many ids stay written on the map at once (chosen again at every zoom so they do not
        overlap); every point shows its id on hover.
    """
    page = render_html(m, space, color, labels)
    out = Path(path)
    return write_atomically(out, lambda tmp: tmp.write_text(page, encoding="utf-8"))


def render_html(m: Map, space: Space, color: str | None = None, labels: int = 30) -> str:
    """The page as a string (see `write_html`)."""
    paint = coloring(m, space, color)
    data = {
        "title": title_of(m, space),
        "dims": m.dims,
        "n": m.n,
        "ids": m.ids(space),
        # a space of texts is labelled by the start of each text (see _draw.label_texts), not its ids
        "names": label_texts(space, m.rows) if "text" in space.meta else None,
        "coords": _b64(m.coords.astype("<f4")),
        "trust": _b64(np.asarray(m.point_trust, dtype="<f4")),
        "labels": int(labels),
        "candidates": label_priority(m, space, _CANDIDATES).tolist(),
        "color": {"kind": paint.kind, "name": paint.name},
        "map": {"key": m.key, "method": m.method, "seed": m.seed, "params": m.params, "trust": m.trust},
    }
    if paint.kind == "categorical":
        data["color"].update(codes=_b64(paint.codes.astype("<i4")), categories=paint.categories, counts=paint.counts)
    elif paint.kind == "numeric":
        data["color"].update(values=_b64(paint.values.astype("<f4")))
    script = _SCRIPT.strip()
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    csp = (
        f"default-src 'none'; script-src 'sha256-{digest}'; style-src 'unsafe-inline'; "
        f"img-src data: blob:; base-uri 'none'; form-action 'none'"
    )
    return (
        _PAGE.replace("{{CSP}}", html.escape(csp, quote=False))  # the attribute is in double quotes
        .replace("{{TITLE}}", html.escape(data["title"]))
        .replace("{{DATA}}", json_for_script(data))
        .replace("{{SCRIPT}}", script)
    )


def json_for_script(value) -> str:
    """JSON that is safe inside an HTML <script> element: no ``<``, ``>`` or ``&`` (so no
    ``</script>`` or ``<!--``), no U+2028/U+2029."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _b64(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array).tobytes()).decode("ascii")


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{{CSP}}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{TITLE}}</title>
<style>
  html, body { margin: 0; height: 100%; font: 13px system-ui, sans-serif; color: #222; background: #fff; }
  #bar { position: absolute; top: 0; left: 0; right: 0; padding: 6px 10px; background: rgba(255,255,255,0.9);
         border-bottom: 1px solid #ddd; display: flex; gap: 12px; align-items: center; flex-wrap: wrap; z-index: 2; }
  #title { font-weight: 600; }
  .badge { padding: 2px 6px; border-radius: 4px; background: #eef3fb; border: 1px solid #c9d7ee; }
  #map { position: absolute; top: 0; left: 0; width: 100%; height: 100%; cursor: grab; }
  #tip { position: absolute; pointer-events: none; background: #222; color: #fff; padding: 3px 6px;
         border-radius: 3px; font-size: 12px; display: none; z-index: 3; white-space: pre; }
  #legend { position: absolute; right: 10px; bottom: 10px; background: rgba(255,255,255,0.92); border: 1px solid #ddd;
            padding: 6px 8px; max-height: 45%; overflow: auto; z-index: 2; }
  #legend div { white-space: nowrap; }
  .sw { display: inline-block; width: 10px; height: 10px; margin-right: 6px; border-radius: 50%; }
  #help { color: #666; }
  input, select, button { font: inherit; }
</style>
</head>
<body>
<canvas id="map"></canvas>
<div id="bar">
  <span id="title"></span>
  <span class="badge" id="trustbadge"></span>
  <label>colour <select id="colour"></select></label>
  <input id="search" type="search" placeholder="find an id" autocomplete="off">
  <button id="png" type="button">PNG</button>
  <span id="help"></span>
</div>
<div id="legend"></div>
<div id="tip"></div>
<script type="application/json" id="map-data">{{DATA}}</script>
<script>{{SCRIPT}}</script>
</body>
</html>
"""

_SCRIPT = r"""
"use strict";
(function () {
  const D = JSON.parse(document.getElementById("map-data").textContent);
  const f32 = (b) => { const s = atob(b), u = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) u[i] = s.charCodeAt(i); return new Float32Array(u.buffer); };
  const i32 = (b) => { const f = f32(b); return new Int32Array(f.buffer); };
  const n = D.n, dims = D.dims, xyz = f32(D.coords), trust = f32(D.trust), ids = D.ids, names = D.names || ids;
  const canvas = document.getElementById("map"), ctx = canvas.getContext("2d");
  const tip = document.getElementById("tip"), legend = document.getElementById("legend");
  const $ = (id) => document.getElementById(id);
  $("title").textContent = D.title.split("  |  ")[0];
  const T = D.map.trust;
  $("trustbadge").textContent = "trustworthiness " + T.trustworthiness.toFixed(3) + " · kNN recall@" + T.k + " " +
    T.knn_recall.toFixed(3) + " (" + T.sample + " points)";
  $("help").textContent = dims === 3 ? "drag: rotate · shift-drag: pan · wheel: zoom · double-click: reset"
                                     : "drag: pan · wheel: zoom · double-click: reset";
  const TAB = ["#1f77b4","#ff7f0e","#2ca02c","#d62728","#9467bd","#8c564b","#e377c2","#7f7f7f","#bcbd22","#17becf"];
  const OTHER = "#b8b8b8", PLAIN = "#3566a8";
  const VIRIDIS = ["#440154","#482878","#3e4989","#31688e","#26828e","#1f9e89","#35b779","#6ece58","#b5de2b","#fde725"];
  // colourings: a group number per point and a colour per group
  const colourings = [{name: "none", make: () => ({group: new Uint16Array(n), colors: [PLAIN], legend: []})}];
  const numeric = (name, values) => ({name, make: () => {
    let lo = Infinity, hi = -Infinity;
    for (const v of values) if (Number.isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    const group = new Uint16Array(n), span = hi > lo ? hi - lo : 1;
    for (let i = 0; i < n; i++) { const v = values[i];
      group[i] = Number.isFinite(v) ? 1 + Math.min(9, Math.floor((v - lo) / span * 10)) : 0; }
    let missing = 0; for (let i = 0; i < n; i++) if (group[i] === 0) missing++;
    const legendRows = missing ? [[OTHER, "missing (" + missing + ")"]] : [];
    for (let b = 0; b < 10; b++) legendRows.push([VIRIDIS[b], (lo + span * b / 10).toPrecision(3) + " – " +
                                                    (lo + span * (b + 1) / 10).toPrecision(3)]);
    return {group, colors: [OTHER].concat(VIRIDIS), legend: legendRows, title: name};
  }});
  if (D.color.kind === "categorical") {
    const codes = i32(D.color.codes), cats = D.color.categories, counts = D.color.counts;
    colourings.push({name: D.color.name, make: () => {
      const group = new Uint16Array(n); let other = 0;
      for (let i = 0; i < n; i++) { group[i] = codes[i] < 0 ? cats.length : codes[i]; if (codes[i] < 0) other++; }
      const colors = cats.map((c, i) => TAB[i % 10]).concat([OTHER]);
      const rows = cats.map((c, i) => [TAB[i % 10], c + " (" + counts[i] + ")"]);
      if (other) rows.push([OTHER, "other (" + other + ")"]);
      return {group, colors, legend: rows, title: D.color.name};
    }});
  } else if (D.color.kind === "numeric") {
    colourings.push(numeric(D.color.name, f32(D.color.values)));
  }
  colourings.push(numeric("map trust", trust));
  const select = $("colour");
  colourings.forEach((c, i) => { const o = document.createElement("option"); o.value = String(i);
    o.textContent = c.name; select.appendChild(o); });
  select.value = String(D.color.kind === "none" ? 0 : 1);
  let paint = null, groups = null;
  function setColouring(i) {
    paint = colourings[i].make();
    groups = paint.colors.map(() => []);
    for (let p = 0; p < n; p++) groups[paint.group[p]].push(p);
    legend.replaceChildren();
    legend.style.display = paint.legend.length ? "block" : "none";
    if (paint.title) { const h = document.createElement("div"); h.textContent = paint.title;
      h.style.fontWeight = "600"; legend.appendChild(h); }
    for (const [col, text] of paint.legend) {
      const row = document.createElement("div"), sw = document.createElement("span");
      sw.className = "sw"; sw.style.background = col; row.appendChild(sw);
      row.appendChild(document.createTextNode(text)); legend.appendChild(row);
    }
    draw();
  }
  // view: centre, scale and (3-D) rotation
  const mean = [0, 0, 0], dist = new Float32Array(n);
  for (let i = 0; i < n; i++) for (let d = 0; d < dims; d++) mean[d] += xyz[i * dims + d] / n;
  for (let i = 0; i < n; i++) { let r = 0;
    for (let d = 0; d < dims; d++) { const v = xyz[i * dims + d] - mean[d]; r += v * v; }
    dist[i] = Math.sqrt(r); }
  dist.sort();  // the first view fits 99.5% of the points: a few outliers do not shrink the map
  const radius = dist[Math.min(n - 1, Math.floor(0.995 * n))] || 1;
  let view;
  const reset = () => { view = {cx: 0, cy: 0, zoom: 1, yaw: 0.6, pitch: 0.35}; };
  reset();
  const sx = new Float32Array(n), sy = new Float32Array(n);
  let W = 0, H = 0, dpr = 1;
  function project() {
    const s = view.zoom * 0.45 * Math.min(W, H) / radius;
    const cyaw = Math.cos(view.yaw), syaw = Math.sin(view.yaw), cp = Math.cos(view.pitch), sp = Math.sin(view.pitch);
    for (let i = 0; i < n; i++) {
      let x = xyz[i * dims] - mean[0], y = xyz[i * dims + 1] - mean[1];
      if (dims === 3) { const z = xyz[i * dims + 2] - mean[2];
        const x1 = cyaw * x + syaw * z, z1 = -syaw * x + cyaw * z; const y1 = cp * y - sp * z1; x = x1; y = y1; }
      sx[i] = W / 2 + (x - view.cx) * s; sy[i] = H / 2 - (y - view.cy) * s;
    }
    return s;
  }
  const pointSize = Math.max(1.2, Math.min(6, 500 / Math.sqrt(n)));
  let highlight = -1, drag = null;
  function draw() {
    if (!paint) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, W, H);
    project();
    const size = Math.min(7, pointSize * Math.sqrt(view.zoom)), h = size / 2;
    ctx.globalAlpha = Math.max(0.3, Math.min(0.9, 30000 / n));
    for (let g = 0; g < groups.length; g++) {
      ctx.fillStyle = paint.colors[g];
      for (const i of groups[g]) { const x = sx[i], y = sy[i];
        if (x >= -h && y >= -h && x <= W + h && y <= H + h) ctx.fillRect(x - h, y - h, size, size); }
    }
    ctx.globalAlpha = 1;
    drawLabels();
    if (highlight >= 0) { ctx.strokeStyle = "#d00"; ctx.lineWidth = 2; ctx.beginPath();
      ctx.arc(sx[highlight], sy[highlight], 8, 0, 2 * Math.PI); ctx.stroke();
      label(highlight, "#d00"); }
  }
  function label(i, color) {
    ctx.font = "12px system-ui, sans-serif"; ctx.lineWidth = 3; ctx.strokeStyle = "rgba(255,255,255,0.9)";
    ctx.fillStyle = color; ctx.strokeText(names[i], sx[i] + 5, sy[i] + 4); ctx.fillText(names[i], sx[i] + 5, sy[i] + 4);
  }
  const widths = new Map();
  function drawLabels() {
    // the best candidates in view, spread over a grid, kept when their boxes do not overlap
    ctx.font = "12px system-ui, sans-serif";
    const top = $("bar").offsetHeight + 8;
    const cells = Math.max(2, Math.ceil(Math.sqrt(D.labels))), seen = new Map(), order = [];
    for (const i of D.candidates) { const x = sx[i], y = sy[i];
      if (x < 0 || y < top || x > W || y > H) continue;
      const cell = Math.min(cells - 1, Math.floor(x / W * cells)) * cells
        + Math.min(cells - 1, Math.floor(y / H * cells));
      const r = seen.get(cell) || 0; seen.set(cell, r + 1); order.push([r, order.length, i]); }
    order.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    const boxes = []; let placed = 0;
    for (const [, , i] of order) {
      if (placed >= D.labels) break;
      let w = widths.get(i); if (w === undefined) { w = ctx.measureText(names[i]).width; widths.set(i, w); }
      const b = [sx[i] + 4, sy[i] - 9, sx[i] + 6 + w, sy[i] + 7];
      if (b[2] > W) continue;
      if (boxes.some((o) => o[0] < b[2] && b[0] < o[2] && o[1] < b[3] && b[1] < o[3])) continue;
      boxes.push(b); placed++; label(i, "#202020");
    }
  }
  function resize() {
    dpr = window.devicePixelRatio || 1; W = window.innerWidth; H = window.innerHeight;
    canvas.width = Math.round(W * dpr); canvas.height = Math.round(H * dpr); draw();
  }
  function nearest(mx, my, within) {
    if (pending) project();  // the view changed and has not been drawn yet
    let best = -1, bd = within * within;
    for (let i = 0; i < n; i++) { const dx = sx[i] - mx, dy = sy[i] - my, d = dx * dx + dy * dy;
      if (d < bd) { bd = d; best = i; } }
    return best;
  }
  let pending = false;
  const redraw = () => { if (!pending) { pending = true; requestAnimationFrame(() => { pending = false; draw(); }); } };
  canvas.addEventListener("mousedown", (e) => { drag = {x: e.clientX, y: e.clientY, shift: e.shiftKey};
    canvas.style.cursor = "grabbing"; });
  window.addEventListener("mouseup", () => { drag = null; canvas.style.cursor = "grab"; });
  window.addEventListener("mousemove", (e) => {
    if (drag) {
      const dx = e.clientX - drag.x, dy = e.clientY - drag.y; drag.x = e.clientX; drag.y = e.clientY;
      if (dims === 3 && !drag.shift) { view.yaw += dx * 0.01;
        view.pitch = Math.max(-1.55, Math.min(1.55, view.pitch + dy * 0.01)); }
      else { const s = view.zoom * 0.45 * Math.min(W, H) / radius; view.cx -= dx / s; view.cy += dy / s; }
      tip.style.display = "none"; redraw(); return;
    }
    if (e.target !== canvas) { tip.style.display = "none"; return; }
    const i = nearest(e.clientX, e.clientY, 10);
    if (i < 0) { tip.style.display = "none"; return; }
    const t = trust[i];
    tip.textContent = ids[i] + (names !== ids ? "\n" + names[i] : "")
      + (Number.isFinite(t) ? "\nmap trust " + t.toFixed(2) : "");
    tip.style.left = (e.clientX + 12) + "px"; tip.style.top = (e.clientY + 12) + "px"; tip.style.display = "block";
  });
  canvas.addEventListener("wheel", (e) => {
    e.preventDefault();
    const factor = Math.exp(-e.deltaY * 0.0015), s = view.zoom * 0.45 * Math.min(W, H) / radius;
    if (dims === 2) { // keep the point under the cursor in place
      const px = view.cx + (e.clientX - W / 2) / s, py = view.cy - (e.clientY - H / 2) / s;
      view.zoom *= factor; const s2 = view.zoom * 0.45 * Math.min(W, H) / radius;
      view.cx = px - (e.clientX - W / 2) / s2; view.cy = py + (e.clientY - H / 2) / s2;
    } else view.zoom *= factor;
    redraw();
  }, {passive: false});
  canvas.addEventListener("dblclick", () => { reset(); highlight = -1; redraw(); });
  const index = new Map(ids.map((id, i) => [id, i]));
  $("search").addEventListener("keydown", (e) => {
    if (e.key !== "Enter") return;
    const q = e.target.value.trim(); let i = index.get(q);
    if (i === undefined) {
      const lower = q.toLowerCase(); i = ids.findIndex((id) => id.toLowerCase().startsWith(lower)); }
    if (i === undefined || i < 0) { e.target.style.background = "#fdd"; return; }
    e.target.style.background = ""; highlight = i;
    if (dims === 2) {
      view.cx = xyz[i * 2] - mean[0]; view.cy = xyz[i * 2 + 1] - mean[1]; view.zoom = Math.max(view.zoom, 4); }
    redraw();
  });
  select.addEventListener("change", () => setColouring(Number(select.value)));
  $("png").addEventListener("click", () => {
    const a = document.createElement("a"); a.download = D.map.key + ".png";
    a.href = canvas.toDataURL("image/png"); a.click();
  });
  window.addEventListener("resize", resize);
  setColouring(Number(select.value));
  resize();
})();
"""
