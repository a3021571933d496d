// A 2-D map drawn with regl-scatterplot (WebGL), with the overlay of labels and marks on top.
import createPubSub from './vendor/pub-sub-es.js';
import { h } from './dom.js';
import { Overlay } from './overlay.js';
import { PictureLayer } from './pictures.js';
import { ACTIVE, BACKGROUND, HOVER, POINT } from './palette.js';

let library = null;

function script(src) {
  return new Promise((resolve, reject) => {
    const node = document.createElement('script');
    node.src = src;
    node.onload = resolve;
    node.onerror = () => reject(new Error(`could not load ${src}`));
    document.head.append(node);
  });
}

/** regl-scatterplot's UMD build wants the globals createREGL and createPubSub. */
function loadLibrary() {
  if (!library) {
    library = (async () => {
      if (!globalThis.createREGL) await script('/static/vendor/regl.min.js');
      globalThis.createPubSub = createPubSub;
      if (!globalThis.createScatterplot) await script('/static/vendor/regl-scatterplot.min.js');
      const lib = globalThis.createScatterplot;
      return lib.default || lib;
    })();
  }
  return library;
}

export class Plot2D {
  /**
   * @param {HTMLElement} container  a positioned element the map fills
   * @param {object} on  handlers: hover(index|null), pick(index), lasso(indices), clear(), view()
   */
  constructor(container, on) {
    this.dims = 2;
    this.container = container;
    this.on = on;
    this.canvas = h('canvas', { className: 'gl' });
    this.pictureCanvas = h('canvas', { className: 'overlay pictures' });
    this.overlayCanvas = h('canvas', { className: 'overlay' });
    container.append(this.canvas, this.pictureCanvas, this.overlayCanvas);
    this.overlay = new Overlay(this.overlayCanvas);
    this.pictures = new PictureLayer(this.pictureCanvas, this);
    this.highlighted = [];
    this.queue = Promise.resolve();
    this.lassoing = false;
    this.n = 0;
  }

  async init(style) {
    const createScatterplot = await loadLibrary();
    this.sp = createScatterplot({
      canvas: this.canvas,
      width: 'auto',
      height: 'auto',
      backgroundColor: BACKGROUND,
      pointColor: [POINT],
      pointColorActive: ACTIVE,
      pointColorHover: HOVER,
      pointSize: style.size,
      opacity: style.opacity,
      pointSizeSelected: 3,
      pointOutlineWidth: 2,
      opacityInactiveScale: 0.6,
      colorBy: 'valueA',
      lassoColor: [0, 0.667, 1, 1],
      lassoMinDelay: 10,
      deselectOnDblClick: true,
      deselectOnEscape: true,
      showReticle: false,
      // The prebuilt UMD builds its spatial index in a Web Worker from 1,000,000 points on, and that
      // worker cannot run (its code refers to helpers of the minified bundle it is cut from). On the
      // main thread the index of 1M points takes a few hundred milliseconds.
      spatialIndexUseWorker: false,
    });
    this.sp.subscribe('pointOver', (i) => this.on.hover(i));
    this.sp.subscribe('pointOut', () => this.on.hover(null));
    this.sp.subscribe('lassoStart', () => { this.lassoing = true; });
    this.sp.subscribe('select', ({ points }) => {
      if (this.lassoing) {
        this.lassoing = false;
        this.on.lasso(Array.from(points));
      } else if (points.length === 1) {
        this.on.pick(points[0]);
      }
    });
    this.sp.subscribe('deselect', () => this.on.clear());
    this.sp.subscribe('view', () => { this.redrawOverlay(); this.on.view(); });
    this.sp.subscribe('draw', () => this.redrawOverlay());
    this.resizer = new ResizeObserver(() => this.resize());
    this.resizer.observe(this.container);
    this.resize();
  }

  resize() {
    const { width, height } = this.container.getBoundingClientRect();
    this.overlay.resize(width, height);
    this.pictures.resize(width, height);
    this.redrawOverlay();
  }

  /** Draw `coords` (Float32Array n*2 in [-1, 1]) coloured by `codes` (indices into `colours`).
   * Resolves once the first frame with every point is on screen. */
  setPoints(coords, codes, colours) {
    this.n = coords.length / 2;
    this.x = new Float32Array(this.n);
    this.y = new Float32Array(this.n);
    for (let i = 0; i < this.n; i += 1) {
      this.x[i] = coords[2 * i];
      this.y[i] = coords[2 * i + 1];
    }
    this.codes = codes;
    this.colours = colours;
    this.highlighted = [];
    this.pictures.points();
    return this.enqueue(async () => {
      this.sp.set({ pointColor: colours });
      await this.sp.draw({ x: this.x, y: this.y, valueA: codes }, { zDataType: 'categorical' });
    });
  }

  setColours(codes, colours) {
    this.codes = codes;
    this.colours = colours;
    return this.enqueue(async () => {
      this.sp.set({ pointColor: colours });
      await this.sp.draw({ x: this.x, y: this.y, valueA: codes }, {
        zDataType: 'categorical', spatialIndex: this.sp.get('spatialIndex'), preventFilterReset: true,
        select: this.highlighted,
      });
    });
  }

  enqueue(task) {
    this.queue = this.queue.then(task, task);
    return this.queue;
  }

  setStyle({ size, opacity }) {
    this.sp.set({ pointSize: size, opacity });
  }

  /** Highlight map points (the focused one, its neighbours, analogy terms...). */
  highlight(indices) {
    this.highlighted = indices.filter((i) => i >= 0 && i < this.n);
    if (this.highlighted.length) this.sp.select(this.highlighted, { preventEvent: true });
    else this.sp.deselect({ preventEvent: true });
  }

  /** Draw thumbnails in place of the points when few enough are in view: `thumbs` (a Thumbs, or
   * null for none) and `rows` (the space row of each map point). */
  setPictures(thumbs, rows, on = true) {
    this.pictures.set(thumbs, rows, on);
    this.redrawOverlay();
  }

  /** The map index of the picture drawn at (x, y) CSS px, or -1. */
  pictureAt(x, y) {
    return this.pictures.at(x, y);
  }

  marks(marks, arrows) {
    this.overlay.set(marks, arrows);
    this.redrawOverlay();
  }

  redrawOverlay() {
    if (this.pending || !this.sp) return;
    this.pending = requestAnimationFrame(() => {
      this.pending = null;
      this.pictures.draw();
      this.overlay.draw((i) => this.screen(i));
    });
  }

  /** CSS-pixel position of map point i on the canvas, or null. */
  screen(i) {
    if (!this.n || i < 0 || i >= this.n) return null;
    try {
      const p = this.sp.getScreenPosition(i);
      return p ? [p[0], p[1]] : null;
    } catch (e) {
      return null;
    }
  }

  flyTo(i, zoom = 0.15) {
    if (i < 0 || i >= this.n) return;
    this.sp.zoomToLocation([this.x[i], this.y[i]], zoom, { transition: true, transitionDuration: 500 });
  }

  /** Move the view so that every point of `indices` is in it. */
  fit(indices) {
    const ok = indices.filter((i) => i >= 0 && i < this.n);
    if (ok.length === 1) this.flyTo(ok[0]);
    else if (ok.length > 1) this.sp.zoomToPoints(ok, { padding: 0.4, transition: true, transitionDuration: 500 });
  }

  /** Show the whole map (the camera a map opens with). */
  reset({ transition = true } = {}) {
    this.sp.zoomToOrigin({ transition, transitionDuration: 400 });
  }

  camera() {
    const t = this.sp.get('cameraTarget');
    return [t[0], t[1], this.sp.get('cameraDistance')].map((v) => Number(v).toFixed(4)).join(',');
  }

  setCamera(text) {
    const v = String(text).split(',').map(Number);
    if (v.length === 3 && v.every(Number.isFinite) && v[2] > 0) {
      this.sp.set({ cameraTarget: [v[0], v[1]], cameraDistance: v[2] });
    }
  }

  setLasso(on) {
    this.sp.set({ mouseMode: on ? 'lasso' : 'panZoom' });
  }

  /** The view as one canvas: points and overlay. */
  snapshot() {
    const out = h('canvas', {});
    out.width = this.canvas.width;
    out.height = this.canvas.height;
    const ctx = out.getContext('2d');
    ctx.fillStyle = BACKGROUND;
    ctx.fillRect(0, 0, out.width, out.height);
    ctx.drawImage(this.canvas, 0, 0);
    ctx.drawImage(this.pictureCanvas, 0, 0, out.width, out.height);
    ctx.drawImage(this.overlayCanvas, 0, 0, out.width, out.height);
    return out;
  }

  destroy() {
    if (this.resizer) this.resizer.disconnect();
    if (this.sp) this.sp.destroy();
    this.canvas.remove();
    this.pictureCanvas.remove();
    this.overlayCanvas.remove();
  }
}
