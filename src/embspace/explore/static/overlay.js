// The layer above a map: labels of the focused point and its neighbours, rings that mark the
// neighbours the map puts far away, arrows of an analogy. Text is drawn with fillText (never HTML).
import { USER_COLOURS } from './palette.js';

const STYLE = {
  query: { ring: '#ffd54a', width: 3, radius: 9, text: '#ffd54a', font: 'bold 13px system-ui, sans-serif' },
  near: { ring: '#e8eef5', width: 1.5, radius: 6, text: '#e8eef5', font: '12px system-ui, sans-serif' },
  far: { ring: '#ff7b39', width: 2.5, radius: 8, text: '#ff9a66', font: '12px system-ui, sans-serif', dash: [4, 3] },
  term: { ring: '#9ad0ff', width: 2.5, radius: 8, text: '#9ad0ff', font: 'bold 13px system-ui, sans-serif' },
  answer: { ring: '#7dffa0', width: 2.5, radius: 8, text: '#7dffa0', font: 'bold 13px system-ui, sans-serif' },
  hit: { ring: '#ffffff', width: 1.5, radius: 6, text: '#ffffff', font: '12px system-ui, sans-serif' },
  // a user's history and recommendations (the user panel's legend shows the same colours)
  history: { ring: USER_COLOURS.history, width: 2, radius: 6, text: USER_COLOURS.history, font: '12px system-ui, sans-serif' },
  recommended: { ring: USER_COLOURS.recommended, width: 2.5, radius: 8, text: USER_COLOURS.recommended, font: 'bold 12px system-ui, sans-serif' },
};

export class Overlay {
  constructor(canvas) {
    this.canvas = canvas;
    this.marks = [];
    this.arrows = [];
    this.lasso = null;
  }

  /** marks: [{index, text, kind}]; arrows: [{from, to}] (map indices). */
  set(marks, arrows = []) {
    this.marks = marks || [];
    this.arrows = arrows || [];
  }

  resize(width, height) {
    const ratio = window.devicePixelRatio || 1;
    this.canvas.width = Math.max(1, Math.round(width * ratio));
    this.canvas.height = Math.max(1, Math.round(height * ratio));
    this.canvas.style.width = `${width}px`;
    this.canvas.style.height = `${height}px`;
  }

  /** Redraw with `project(index) -> [x, y] (CSS px) | null`. */
  draw(project) {
    const ctx = this.canvas.getContext('2d');
    const ratio = window.devicePixelRatio || 1;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    const at = new Map();
    for (const m of this.marks) {
      const p = project(m.index);
      if (p) at.set(m.index, p);
    }
    const query = this.marks.find((m) => m.kind === 'query');
    if (query && at.has(query.index)) {
      const [qx, qy] = at.get(query.index);
      ctx.save();
      ctx.strokeStyle = 'rgba(255, 123, 57, 0.55)';
      ctx.setLineDash([3, 4]);
      ctx.lineWidth = 1;
      for (const m of this.marks) {
        if (m.kind !== 'far' || !at.has(m.index)) continue;
        const [x, y] = at.get(m.index);
        ctx.beginPath();
        ctx.moveTo(qx, qy);
        ctx.lineTo(x, y);
        ctx.stroke();
      }
      ctx.restore();
    }
    for (const { from, to } of this.arrows) {
      if (at.has(from) && at.has(to)) arrow(ctx, at.get(from), at.get(to));
    }
    const boxes = [];
    const order = ['history', 'hit', 'near', 'far', 'term', 'answer', 'recommended', 'query'];
    const sorted = [...this.marks].sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind));
    for (const m of sorted) {
      if (!at.has(m.index)) continue;
      const s = STYLE[m.kind] || STYLE.hit;
      const [x, y] = at.get(m.index);
      ctx.save();
      ctx.strokeStyle = s.ring;
      ctx.lineWidth = s.width;
      if (s.dash) ctx.setLineDash(s.dash);
      ctx.beginPath();
      ctx.arc(x, y, s.radius, 0, 2 * Math.PI);
      ctx.stroke();
      ctx.restore();
    }
    // labels last, most important first so they win the space
    for (const m of sorted.reverse()) {
      if (!at.has(m.index) || !m.text) continue;
      const s = STYLE[m.kind] || STYLE.hit;
      const [x, y] = at.get(m.index);
      ctx.font = s.font;
      const text = m.text.length > 40 ? `${m.text.slice(0, 39)}…` : m.text;
      const w = ctx.measureText(text).width;
      const box = [x + s.radius + 2, y - 8, x + s.radius + 6 + w, y + 8];
      if (boxes.some((b) => b[0] < box[2] && box[0] < b[2] && b[1] < box[3] && box[1] < b[3]) && m.kind !== 'query') continue;
      boxes.push(box);
      ctx.fillStyle = 'rgba(16, 20, 24, 0.75)';
      ctx.fillRect(box[0] - 2, box[1], box[2] - box[0], box[3] - box[1]);
      ctx.fillStyle = s.text;
      ctx.textBaseline = 'middle';
      ctx.fillText(text, box[0], y);
    }
    if (this.lasso && this.lasso.length > 1) {
      ctx.save();
      ctx.strokeStyle = '#00aaff';
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.moveTo(...this.lasso[0]);
      for (const p of this.lasso.slice(1)) ctx.lineTo(...p);
      ctx.stroke();
      ctx.restore();
    }
  }
}

function arrow(ctx, [x0, y0], [x1, y1]) {
  const angle = Math.atan2(y1 - y0, x1 - x0);
  const len = Math.hypot(x1 - x0, y1 - y0);
  if (len < 12) return;
  const ex = x1 - Math.cos(angle) * 10;
  const ey = y1 - Math.sin(angle) * 10;
  ctx.save();
  ctx.strokeStyle = '#9ad0ff';
  ctx.fillStyle = '#9ad0ff';
  ctx.lineWidth = 2;
  ctx.beginPath();
  ctx.moveTo(x0 + Math.cos(angle) * 10, y0 + Math.sin(angle) * 10);
  ctx.lineTo(ex, ey);
  ctx.stroke();
  ctx.beginPath();
  ctx.moveTo(ex, ey);
  ctx.lineTo(ex - 8 * Math.cos(angle - 0.4), ey - 8 * Math.sin(angle - 0.4));
  ctx.lineTo(ex - 8 * Math.cos(angle + 0.4), ey - 8 * Math.sin(angle + 0.4));
  ctx.closePath();
  ctx.fill();
  ctx.restore();
}
