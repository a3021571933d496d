// Thumbnails in place of points on a 2-D map, drawn on a canvas above the WebGL points once few
// enough are in view (zoomed in): the points in view are found with one affine transform of the map
// coordinates (three reference points project the rest), so a 70,000-point map costs one pass of a
// few multiplications per redraw. Pictures go where they overlap no other, the highlighted points
// first, then in map order (stable while panning, so pictures do not jump); zooming in makes room
// for more. At most BUDGET are drawn; the other points stay dots.

const DENSE = 10000; // more points than this in view: dots only
const BUDGET = 500; // pictures drawn at once
const SIZE = 48; // CSS px of a picture...
const MAX_SIZE = 112; // ...growing up to this when few points are in view

export class PictureLayer {
  constructor(canvas, plot) {
    this.canvas = canvas;
    this.plot = plot;
    this.thumbs = null;
    this.rows = null;
    this.on = true;
    this.anchors = undefined;
    this.width = 1;
    this.height = 1;
    this.redraw = () => plot.redrawOverlay(); // when a page of pictures arrives
    this.drawn = []; // [index, x, y] of the pictures on screen, in drawing order
    this.size = 0;
  }

  /** The map index of the picture at (x, y) CSS px (the one drawn last where several meet), or -1. */
  at(x, y) {
    const half = this.size / 2;
    for (let k = this.drawn.length - 1; k >= 0; k -= 1) {
      const [i, px, py] = this.drawn[k];
      if (Math.abs(x - px) <= half && Math.abs(y - py) <= half) return i;
    }
    return -1;
  }

  set(thumbs, rows, on = true) {
    this.thumbs = thumbs;
    this.rows = rows;
    this.on = on;
  }

  /** New coordinates: the reference points are chosen again on the next draw. */
  points() {
    this.anchors = undefined;
  }

  resize(width, height) {
    const ratio = window.devicePixelRatio || 1;
    this.width = width;
    this.height = height;
    this.canvas.width = Math.max(1, Math.round(width * ratio));
    this.canvas.height = Math.max(1, Math.round(height * ratio));
    this.canvas.style.width = `${width}px`;
    this.canvas.style.height = `${height}px`;
  }

  /** Redraw: pictures of the points in view, or nothing (dots only) when too many are. */
  draw() {
    const ctx = this.canvas.getContext('2d');
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    this.drawn = [];
    const state = this.drawPictures(ctx);
    this.canvas.dataset.state = state.state;
    this.canvas.dataset.shown = String(state.shown);
    this.canvas.dataset.inView = String(state.inView ?? '');
  }

  drawPictures(ctx) {
    const { plot, thumbs, rows } = this;
    if (!this.on || !thumbs || !rows || !thumbs.tiles || !plot.n || !plot.x) return { state: 'off', shown: 0 };
    const f = this.transform();
    if (!f) return { state: 'off', shown: 0 };
    const { x: xs, y: ys } = plot;
    const project = f.each || ((i) => [f.a * xs[i] + f.b * ys[i] + f.c, f.d * xs[i] + f.e * ys[i] + f.f]);
    const visible = this.inView(f);
    if (!visible) return { state: 'dots', shown: 0 };
    const fit = Math.sqrt((this.width * this.height) / Math.max(visible.length, 1)) * 0.5;
    const size = Math.round(Math.max(SIZE, Math.min(MAX_SIZE, 2 * thumbs.layout.tile, fit)));
    const placed = place(this.order(visible), project, size, (i) => thumbs.tileOf(rows[i]) >= 0);
    const ratio = window.devicePixelRatio || 1;
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.imageSmoothingQuality = 'medium';
    const framed = plot.colours && plot.colours.length > 2; // coloured by a column: a frame says which
    let shown = 0;
    this.size = size;
    for (const [i, x, y] of placed) {
      const left = Math.round(x - size / 2);
      const top = Math.round(y - size / 2);
      if (!thumbs.draw(ctx, rows[i], left, top, size, this.redraw)) continue;
      shown += 1;
      this.drawn.push([i, x, y]);
      if (framed) {
        ctx.strokeStyle = plot.colours[plot.codes[i]] || plot.colours[plot.colours.length - 1];
        ctx.lineWidth = 2;
        ctx.strokeRect(left + 1, top + 1, size - 2, size - 2);
      }
    }
    return { state: 'pictures', shown, inView: visible.length };
  }

  /** The points in view, the highlighted ones (the selection, its neighbours) first. */
  order(visible) {
    const first = (this.plot.highlighted || []).filter((i) => i >= 0 && i < this.plot.n);
    if (!first.length) return visible;
    const seen = new Set(first);
    return [...first, ...visible.filter((i) => !seen.has(i))];
  }

  /** Map indices of the points within the view (with a margin), or null when more than DENSE.
   * One pass of two multiply-adds a point, nothing allocated but the answer. */
  inView(f) {
    const margin = MAX_SIZE / 2;
    const w = this.width + margin;
    const h = this.height + margin;
    const { x, y, n } = this.plot;
    const out = [];
    for (let i = 0; i < n; i += 1) {
      let sx;
      let sy;
      if (f.each) {
        const p = f.each(i);
        if (!p) continue;
        [sx, sy] = p;
      } else {
        sx = f.a * x[i] + f.b * y[i] + f.c;
        sy = f.d * x[i] + f.e * y[i] + f.f;
      }
      if (sx >= -margin && sx <= w && sy >= -margin && sy <= h) {
        out.push(i);
        if (out.length > DENSE) return null;
      }
    }
    return out;
  }

  /** The screen position (CSS px) of map point i for the current camera, as the affine map
   * {a, b, c, d, e, f}: x' = a x + b y + c, y' = d x + e y + f, found from three reference points;
   * or {each(i)}, the plot's own projection point by point, when the map is a line (no three points
   * span it). */
  transform() {
    const { plot } = this;
    if (this.anchors === undefined) this.anchors = anchors(plot.x, plot.y);
    if (!this.anchors) return { each: (i) => plot.screen(i) };
    const [i0, i1, i2] = this.anchors;
    const s0 = plot.screen(i0);
    const s1 = plot.screen(i1);
    const s2 = plot.screen(i2);
    if (!s0 || !s1 || !s2) return null;
    const { x, y } = plot;
    const dx1 = x[i1] - x[i0];
    const dy1 = y[i1] - y[i0];
    const dx2 = x[i2] - x[i0];
    const dy2 = y[i2] - y[i0];
    const det = dx1 * dy2 - dx2 * dy1;
    const [u1, v1, u2, v2] = [s1[0] - s0[0], s1[1] - s0[1], s2[0] - s0[0], s2[1] - s0[1]];
    const a = (u1 * dy2 - u2 * dy1) / det;
    const b = (u2 * dx1 - u1 * dx2) / det;
    const d = (v1 * dy2 - v2 * dy1) / det;
    const e = (v2 * dx1 - v1 * dx2) / det;
    const c = s0[0] - a * x[i0] - b * y[i0];
    const f = s0[1] - d * x[i0] - e * y[i0];
    return { a, b, c, d, e, f };
  }
}

/** Greedy placement of `size` px squares centred on the points of `order` that `has` a picture:
 * each that overlaps no square kept before it is kept, up to BUDGET. A grid of `size` px cells
 * finds the kept squares near each one. Returns [[index, x, y]]. */
function place(order, project, size, has) {
  const grid = new Map();
  const kept = [];
  for (const i of order) {
    if (kept.length >= BUDGET) break;
    if (!has(i)) continue;
    const p = project(i);
    if (!p) continue;
    const [x, y] = p;
    const cx = Math.floor(x / size);
    const cy = Math.floor(y / size);
    let free = true;
    for (let dx = -1; dx <= 1 && free; dx += 1) {
      for (let dy = -1; dy <= 1 && free; dy += 1) {
        for (const [ox, oy] of grid.get(`${cx + dx},${cy + dy}`) || []) {
          if (Math.abs(ox - x) < size && Math.abs(oy - y) < size) { free = false; break; }
        }
      }
    }
    if (!free) continue;
    const key = `${cx},${cy}`;
    if (!grid.has(key)) grid.set(key, []);
    grid.get(key).push([x, y]);
    kept.push([i, x, y]);
  }
  return kept;
}

/** Three points that span the map (the leftmost, the farthest from it, the farthest from that
 * line), or null when every point lies on one line. */
function anchors(x, y) {
  const n = x.length;
  if (n < 3) return null;
  let i0 = 0;
  for (let i = 1; i < n; i += 1) if (x[i] < x[i0]) i0 = i;
  let i1 = i0;
  let far = 0;
  for (let i = 0; i < n; i += 1) {
    const d = (x[i] - x[i0]) ** 2 + (y[i] - y[i0]) ** 2;
    if (d > far) { far = d; i1 = i; }
  }
  let i2 = i0;
  let area = 0;
  const ux = x[i1] - x[i0];
  const uy = y[i1] - y[i0];
  for (let i = 0; i < n; i += 1) {
    const cross = Math.abs(ux * (y[i] - y[i0]) - uy * (x[i] - x[i0]));
    if (cross > area) { area = cross; i2 = i; }
  }
  return area > 1e-4 * far ? [i0, i1, i2] : null;
}
