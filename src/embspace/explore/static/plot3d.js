// A 3-D map drawn with three.js: drag to turn, wheel to zoom, shift-drag (or lasso mode) to select.
import * as THREE from './vendor/three.module.min.js';
import { h } from './dom.js';
import { Overlay } from './overlay.js';
import { ACTIVE, BACKGROUND, hexToRgb } from './palette.js';

const HOME = { theta: 0.8, phi: 1.15, radius: 3.4, target: [0, 0, 0] };

function discTexture() {
  const c = h('canvas', {});
  c.width = 64;
  c.height = 64;
  const ctx = c.getContext('2d');
  ctx.fillStyle = '#ffffff';
  ctx.beginPath();
  ctx.arc(32, 32, 30, 0, 2 * Math.PI);
  ctx.fill();
  return new THREE.CanvasTexture(c);
}

export class Plot3D {
  constructor(container, on) {
    this.dims = 3;
    this.container = container;
    this.on = on;
    this.canvas = h('canvas', { className: 'gl' });
    this.overlayCanvas = h('canvas', { className: 'overlay' });
    container.append(this.canvas, this.overlayCanvas);
    this.overlay = new Overlay(this.overlayCanvas);
    this.orbit = { ...HOME, target: [...HOME.target] };
    this.n = 0;
    this.highlighted = [];
    this.lassoMode = false;
    this.lastHover = -1;
  }

  async init(style) {
    this.style = { ...style };
    this.renderer = new THREE.WebGLRenderer({ canvas: this.canvas, antialias: false, preserveDrawingBuffer: true });
    this.renderer.setPixelRatio(window.devicePixelRatio || 1);
    this.renderer.setClearColor(BACKGROUND);
    this.scene = new THREE.Scene();
    this.cam = new THREE.PerspectiveCamera(50, 1, 0.001, 100);
    this.disc = discTexture();
    this.material = new THREE.PointsMaterial({
      size: style.size, sizeAttenuation: false, vertexColors: true, map: this.disc, alphaTest: 0.3,
      transparent: true, opacity: style.opacity, depthWrite: false,
    });
    this.hiMaterial = new THREE.PointsMaterial({
      size: style.size + 5, sizeAttenuation: false, color: new THREE.Color(ACTIVE), map: this.disc,
      alphaTest: 0.3, transparent: true, depthTest: false,
    });
    this.bindPointer();
    this.resizer = new ResizeObserver(() => this.resize());
    this.resizer.observe(this.container);
    this.resize();
  }

  bindPointer() {
    const c = this.canvas;
    let down = null;
    c.addEventListener('pointerdown', (e) => {
      down = { x: e.offsetX, y: e.offsetY, orbit: { ...this.orbit, target: [...this.orbit.target] },
        lasso: this.lassoMode || e.shiftKey, moved: false, button: e.button };
      if (down.lasso) this.overlay.lasso = [[e.offsetX, e.offsetY]];
      c.setPointerCapture(e.pointerId);
    });
    c.addEventListener('pointermove', (e) => {
      if (!down) { this.hoverAt(e.offsetX, e.offsetY); return; }
      const dx = e.offsetX - down.x;
      const dy = e.offsetY - down.y;
      if (Math.hypot(dx, dy) > 3) down.moved = true;
      if (down.lasso) {
        this.overlay.lasso.push([e.offsetX, e.offsetY]);
        this.redraw();
      } else if (down.button === 2 || e.ctrlKey) {
        this.pan(down.orbit, dx, dy);
      } else {
        this.orbit.theta = down.orbit.theta - dx * 0.008;
        this.orbit.phi = Math.min(3.1, Math.max(0.04, down.orbit.phi - dy * 0.008));
        this.changed();
      }
    });
    c.addEventListener('pointerup', (e) => {
      if (!down) return;
      if (down.lasso && this.overlay.lasso && this.overlay.lasso.length > 2) {
        const inside = this.inPolygon(this.overlay.lasso);
        this.overlay.lasso = null;
        this.on.lasso(inside);
      } else if (!down.moved) {
        const i = this.pickAt(e.offsetX, e.offsetY);
        if (i >= 0) this.on.pick(i);
      }
      this.overlay.lasso = null;
      down = null;
      this.redraw();
    });
    c.addEventListener('contextmenu', (e) => e.preventDefault());
    c.addEventListener('wheel', (e) => {
      e.preventDefault();
      this.orbit.radius = Math.min(20, Math.max(0.05, this.orbit.radius * Math.exp(e.deltaY * 0.0012)));
      this.changed();
    }, { passive: false });
    c.addEventListener('dblclick', () => this.reset());
    c.addEventListener('pointerleave', () => { if (this.lastHover >= 0) { this.lastHover = -1; this.on.hover(null); } });
  }

  pan(from, dx, dy) {
    const scale = from.radius * 0.0015;
    const right = new THREE.Vector3().setFromMatrixColumn(this.cam.matrixWorld, 0);
    const up = new THREE.Vector3().setFromMatrixColumn(this.cam.matrixWorld, 1);
    const t = new THREE.Vector3(...from.target).addScaledVector(right, -dx * scale).addScaledVector(up, dy * scale);
    this.orbit.target = [t.x, t.y, t.z];
    this.changed();
  }

  resize() {
    const { width, height } = this.container.getBoundingClientRect();
    this.width = Math.max(1, width);
    this.height = Math.max(1, height);
    this.renderer.setSize(this.width, this.height, true);
    this.cam.aspect = this.width / this.height;
    this.cam.updateProjectionMatrix();
    this.overlay.resize(this.width, this.height);
    this.redraw();
  }

  changed() {
    this.redraw();
    this.on.view();
  }

  setPoints(coords, codes, colours) {
    this.n = coords.length / 3;
    this.coords = coords;
    if (this.points) {
      this.scene.remove(this.points);
      this.points.geometry.dispose();
    }
    const geometry = new THREE.BufferGeometry();
    geometry.setAttribute('position', new THREE.BufferAttribute(coords, 3));
    geometry.setAttribute('color', new THREE.BufferAttribute(this.colourArray(codes, colours), 3, true));
    this.points = new THREE.Points(geometry, this.material);
    this.scene.add(this.points);
    this.highlight([]);
    this.render();
    return Promise.resolve();
  }

  colourArray(codes, colours) {
    const rgb = colours.map(hexToRgb);
    const out = new Uint8Array(codes.length * 3);
    for (let i = 0; i < codes.length; i += 1) {
      const c = rgb[codes[i]] || rgb[rgb.length - 1];
      out[3 * i] = c[0];
      out[3 * i + 1] = c[1];
      out[3 * i + 2] = c[2];
    }
    return out;
  }

  setColours(codes, colours) {
    const attr = this.points.geometry.getAttribute('color');
    attr.array.set(this.colourArray(codes, colours));
    attr.needsUpdate = true;
    this.redraw();
    return Promise.resolve();
  }

  setStyle({ size, opacity }) {
    this.material.size = size;
    this.material.opacity = opacity;
    this.hiMaterial.size = size + 5;
    this.redraw();
  }

  highlight(indices) {
    this.highlighted = indices.filter((i) => i >= 0 && i < this.n);
    if (this.hiPoints) {
      this.scene.remove(this.hiPoints);
      this.hiPoints.geometry.dispose();
      this.hiPoints = null;
    }
    if (this.highlighted.length) {
      const pos = new Float32Array(this.highlighted.length * 3);
      this.highlighted.forEach((p, j) => pos.set(this.coords.subarray(3 * p, 3 * p + 3), 3 * j));
      const geometry = new THREE.BufferGeometry();
      geometry.setAttribute('position', new THREE.BufferAttribute(pos, 3));
      this.hiPoints = new THREE.Points(geometry, this.hiMaterial);
      this.hiPoints.renderOrder = 1;
      this.scene.add(this.hiPoints);
    }
    this.redraw();
  }

  marks(marks, arrows) {
    this.overlay.set(marks, arrows);
    this.redraw();
  }

  redraw() {
    if (this.pending) return;
    this.pending = requestAnimationFrame(() => {
      this.pending = null;
      this.render();
    });
  }

  render() {
    const { theta, phi, radius, target } = this.orbit;
    this.cam.position.set(
      target[0] + radius * Math.sin(phi) * Math.cos(theta),
      target[1] + radius * Math.cos(phi),
      target[2] + radius * Math.sin(phi) * Math.sin(theta),
    );
    this.cam.lookAt(target[0], target[1], target[2]);
    this.cam.updateMatrixWorld();
    this.renderer.render(this.scene, this.cam);
    this.overlay.draw((i) => this.screen(i));
  }

  matrix() {
    return new THREE.Matrix4().multiplyMatrices(this.cam.projectionMatrix, this.cam.matrixWorldInverse).elements;
  }

  screen(i) {
    if (!this.n || i < 0 || i >= this.n) return null;
    const e = this.matrix();
    const x = this.coords[3 * i];
    const y = this.coords[3 * i + 1];
    const z = this.coords[3 * i + 2];
    const w = e[3] * x + e[7] * y + e[11] * z + e[15];
    if (w <= 0) return null;
    return [((e[0] * x + e[4] * y + e[8] * z + e[12]) / w + 1) * 0.5 * this.width,
      (1 - (e[1] * x + e[5] * y + e[9] * z + e[13]) / w) * 0.5 * this.height];
  }

  /** Visit every point on screen: fn(index, x, y, depth). */
  eachOnScreen(fn) {
    const e = this.matrix();
    const c = this.coords;
    const W = this.width * 0.5;
    const H = this.height * 0.5;
    for (let i = 0; i < this.n; i += 1) {
      const x = c[3 * i];
      const y = c[3 * i + 1];
      const z = c[3 * i + 2];
      const w = e[3] * x + e[7] * y + e[11] * z + e[15];
      if (w <= 0) continue;
      fn(i, ((e[0] * x + e[4] * y + e[8] * z + e[12]) / w + 1) * W, (1 - (e[1] * x + e[5] * y + e[9] * z + e[13]) / w) * H, w);
    }
  }

  pickAt(px, py, radius = 8) {
    let best = -1;
    let bestScore = Infinity;
    this.eachOnScreen((i, x, y, w) => {
      const d = (x - px) ** 2 + (y - py) ** 2;
      if (d <= radius * radius) {
        const score = d + w * 0.01; // nearer the cursor first, then nearer the camera
        if (score < bestScore) { bestScore = score; best = i; }
      }
    });
    return best;
  }

  hoverAt(px, py) {
    const now = performance.now();
    if (this.hoverBusy && now - this.hoverBusy < 60) return;
    this.hoverBusy = now;
    const i = this.pickAt(px, py);
    if (i !== this.lastHover) {
      this.lastHover = i;
      this.on.hover(i >= 0 ? i : null);
    }
  }

  inPolygon(poly) {
    let x0 = Infinity; let y0 = Infinity; let x1 = -Infinity; let y1 = -Infinity;
    for (const [x, y] of poly) { x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x); y1 = Math.max(y1, y); }
    const inside = [];
    this.eachOnScreen((i, x, y) => {
      if (x < x0 || x > x1 || y < y0 || y > y1) return;
      let hit = false;
      for (let a = 0, b = poly.length - 1; a < poly.length; b = a, a += 1) {
        const [ax, ay] = poly[a];
        const [bx, by] = poly[b];
        if ((ay > y) !== (by > y) && x < ((bx - ax) * (y - ay)) / (by - ay) + ax) hit = !hit;
      }
      if (hit) inside.push(i);
    });
    return inside;
  }

  /** Move the view so that every point of `indices` is in it. */
  fit(indices) {
    const ok = indices.filter((i) => i >= 0 && i < this.n);
    if (!ok.length) return;
    const c = [0, 1, 2].map((d) => ok.reduce((s, i) => s + this.coords[3 * i + d], 0) / ok.length);
    const r = Math.max(...ok.map((i) => Math.hypot(...[0, 1, 2].map((d) => this.coords[3 * i + d] - c[d]))));
    this.moveTo(c, Math.max(0.3, r * 2.6));
  }

  flyTo(i) {
    if (i < 0 || i >= this.n) return;
    this.moveTo([this.coords[3 * i], this.coords[3 * i + 1], this.coords[3 * i + 2]], 0.45);
  }

  moveTo(goal, radius) {
    const start = { ...this.orbit, target: [...this.orbit.target] };
    const t0 = performance.now();
    const motion = {};
    this.motion = motion;
    const step = () => {
      if (this.motion !== motion) return; // another move, or a reset, took over
      const t = Math.min(1, (performance.now() - t0) / 450);
      const s = t * t * (3 - 2 * t);
      this.orbit.target = start.target.map((v, k) => v + (goal[k] - v) * s);
      this.orbit.radius = start.radius + (radius - start.radius) * s;
      this.render();
      if (t < 1) requestAnimationFrame(step);
      else this.on.view();
    };
    requestAnimationFrame(step);
  }

  /** Show the whole map (the camera a map opens with). */
  reset() {
    this.motion = null;
    this.orbit = { ...HOME, target: [...HOME.target] };
    this.changed();
  }


  camera() {
    const o = this.orbit;
    return [o.theta, o.phi, o.radius, ...o.target].map((v) => Number(v).toFixed(4)).join(',');
  }

  setCamera(text) {
    const v = String(text).split(',').map(Number);
    if (v.length === 6 && v.every(Number.isFinite) && v[2] > 0) {
      this.orbit = { theta: v[0], phi: v[1], radius: v[2], target: v.slice(3) };
      this.redraw();
    }
  }

  setLasso(on) {
    this.lassoMode = on;
  }

  snapshot() {
    this.render();
    const out = h('canvas', {});
    out.width = this.canvas.width;
    out.height = this.canvas.height;
    const ctx = out.getContext('2d');
    ctx.drawImage(this.canvas, 0, 0);
    ctx.drawImage(this.overlayCanvas, 0, 0, out.width, out.height);
    return out;
  }

  destroy() {
    if (this.resizer) this.resizer.disconnect();
    if (this.points) this.points.geometry.dispose();
    this.renderer.dispose();
    this.canvas.remove();
    this.overlayCanvas.remove();
  }
}
