// One map of one space on screen: its data (ids, rows, coordinates, colours), its plot (2-D or 3-D),
// the tooltip, and the marks of the focused point.
import { getArray, getJSON, mapUrl, spaceUrl } from './api.js';
import { $, fill, h } from './dom.js';
import { autoStyle, codesFor, coloursFor } from './palette.js';
import { Plot2D } from './plot2d.js';
import { Plot3D } from './plot3d.js';
import { thumbsOf } from './thumbs.js';
import { explainDrawingError } from './webgl.js';

const idsCache = new Map();
const titlesCache = new Map();

/** The ids of a space, fetched once per page. */
export function idsOf(space) {
  if (!idsCache.has(space)) idsCache.set(space, getJSON(spaceUrl(space, '/ids')));
  return idsCache.get(space);
}

/** The titles of a space that has a "title" column (aligned with its ids), fetched once per page; null without. */
export function titlesOf(space) {
  if (!space.title) return Promise.resolve(null);
  if (!titlesCache.has(space.index)) titlesCache.set(space.index, getJSON(spaceUrl(space.index, '/titles')));
  return titlesCache.get(space.index);
}

/** What a list or a label shows of an item: its title where it has one, else its id. */
export const nameOf = (item) => item.title || item.id;

export class Pane {
  /**
   * @param {HTMLElement} root  the .pane element
   * @param {object} on  hover(pane, index|null), pick(pane, index), lasso(pane, indices), clear(pane), view(pane)
   */
  constructor(root, on) {
    this.root = root;
    this.on = on;
    this.plotBox = $('.plot', root);
    this.title = $('.pane-title', root);
    this.tip = $('.tooltip', root);
    this.plot = null;
    this.space = null;
    this.key = null;
    this.column = '';
    this.legend = null;
    this.style = null;
    this.thumbs = null; // the space's thumbnails (a space of images), or null
    this.pictures = true; // draw thumbnails in place of points when zoomed in
    this.mouse = [0, 0];
    root.addEventListener('mousemove', (e) => {
      const r = this.plotBox.getBoundingClientRect();
      this.mouse = [e.clientX - r.left, e.clientY - r.top];
      this.hoverPicture();
      if (!this.tip.hidden) this.placeTip();
    });
    // a picture drawn in place of a point answers like the point: hover shows it, a click selects it
    // (a click on a dot is the map's own; a drag is a pan or a lasso)
    this.dotHovered = false;
    this.plotBox.addEventListener('pointerdown', (e) => { this.down = [e.clientX, e.clientY]; });
    this.plotBox.addEventListener('click', (e) => {
      if (!this.down || Math.hypot(e.clientX - this.down[0], e.clientY - this.down[1]) > 4 || this.dotHovered) return;
      const i = this.pictureAt();
      if (i >= 0) this.on.pick(this, i);
    });
  }

  /** Show map `key` of space `space` (a summary from /api/spaces). The points are drawn as soon as
   * their coordinates arrive; the ids (needed for labels and search, not for drawing) load beside. */
  async open(space, key, { column = '', style = null } = {}) {
    const idsP = idsOf(space.index);
    const titlesP = titlesOf(space);
    const rowsP = getArray(mapUrl(space.index, key, '/rows'), Int32Array);
    const [info, coords] = await Promise.all([
      getJSON(mapUrl(space.index, key)),
      getArray(mapUrl(space.index, key, '/coords'), Float32Array),
    ]);
    performance.mark('embspace:data-loaded', { detail: { n: info.n } });
    this.hover(null);
    // another map (of this space or another) opens on the whole of it: the camera of the last one
    // would look at a corner of the new coordinates, or at nothing
    const another = !this.space || this.space.index !== space.index || this.key !== key;
    this.space = space;
    this.thumbs = thumbsOf(space);
    this.key = key;
    this.info = info;
    this.n = info.n;
    this.dims = info.dims;
    this.style = style || autoStyle(this.n);
    if (!this.plot || this.plot.dims !== this.dims) {
      if (this.plot) this.plot.destroy();
      const handlers = {
        hover: (i) => {
          this.dotHovered = i !== null && i !== undefined && i >= 0;
          this.hover(this.dotHovered ? i : this.pictureAt());
        },
        pick: (i) => this.on.pick(this, i),
        lasso: (indices) => this.on.lasso(this, indices),
        clear: () => this.on.clear(this),
        view: () => this.on.view(this),
      };
      try {
        this.plot = this.dims === 3 ? new Plot3D(this.plotBox, handlers) : new Plot2D(this.plotBox, handlers);
        await this.plot.init(this.style);
      } catch (err) {
        this.plot = null;
        this.plotBox.replaceChildren();
        throw explainDrawingError(err, this.dims);
      }
    } else {
      this.plot.setStyle(this.style);
      if (another) this.plot.reset({ transition: false });
    }
    const { codes, legend } = await this.colourCodes(column);
    this.column = column;
    this.legend = legend;
    fill(this.title, `${space.name} · ${describeMap(info)}`);
    await this.plot.setPoints(coords, codesFor(codes, legend), coloursFor(legend));
    performance.mark('embspace:points-drawn', { detail: { n: this.n } });
    const [ids, rows, titles] = await Promise.all([idsP, rowsP, titlesP]);
    this.ids = ids;
    this.titles = titles;
    this.rows = rows;
    this.position = new Int32Array(space.n).fill(-1);
    for (let i = 0; i < rows.length; i += 1) this.position[rows[i]] = i;
    this.plot.marks([], []);
    this.showPictures(this.pictures);
    if (this.thumbs) {
      const thumbs = this.thumbs;
      thumbs.ready.then(() => { if (this.thumbs === thumbs) this.showPictures(this.pictures); }).catch(() => {});
    }
  }

  /** The map index of the picture under the mouse, or -1. */
  pictureAt() {
    return this.plot && this.plot.pictureAt && this.rows ? this.plot.pictureAt(this.mouse[0], this.mouse[1]) : -1;
  }

  /** Over a picture (not a dot): its tooltip; off every picture: none. */
  hoverPicture() {
    if (this.dotHovered) return;
    const i = this.pictureAt();
    if (i >= 0 && i !== this.hovered) this.hover(i);
    else if (i < 0 && this.hovered !== null && this.hovered !== undefined) this.hover(null);
  }

  /** Draw thumbnails in place of points when zoomed in (2-D maps of spaces of images). */
  showPictures(on) {
    this.pictures = on;
    if (this.plot && this.plot.setPictures) this.plot.setPictures(this.thumbs, this.rows, on);
  }

  async colourCodes(column) {
    if (!column) return { codes: new Float32Array(this.n), legend: null };
    const params = { column };
    const [legend, codes] = await Promise.all([
      getJSON(mapUrl(this.space.index, this.key, '/colors'), params),
      getArray(mapUrl(this.space.index, this.key, '/colors.f32'), Float32Array, params),
    ]);
    return { codes, legend };
  }

  async colour(column) {
    const { codes, legend } = await this.colourCodes(column);
    this.column = column;
    this.legend = legend;
    await this.plot.setColours(codesFor(codes, legend), coloursFor(legend));
  }

  setStyle(style) {
    this.style = style;
    this.plot.setStyle(style);
  }

  indexOfRow(row) {
    return row >= 0 && row < this.position.length ? this.position[row] : -1;
  }

  idOf(index) {
    return this.ids[this.rows[index]];
  }

  /** The title of map point `index` where the space has titles, else its id. */
  labelOf(index) {
    const row = this.rows[index];
    return (this.titles && this.titles[row]) || this.ids[row];
  }

  hover(index) {
    if (index === null || index === undefined || index < 0) {
      this.tip.hidden = true;
      this.hovered = null;
      return;
    }
    if (!this.rows || !this.ids) return; // still arriving
    this.hovered = index;
    this.fillTip(index, null);
    this.tip.hidden = false;
    this.placeTip();
    this.on.hover(this, index);
  }

  /** Add the nearest ids to the tooltip of `index`, if it is still the one hovered. */
  hoverNeighbours(index, result) {
    if (this.hovered !== index || this.tip.hidden) return;
    const names = result.neighbors.slice(0, 5).map(nameOf).join(', ');
    this.fillTip(index, h('div', { className: 'tip-near' }, `nearest: ${names}`));
    this.placeTip();
  }

  /** The tooltip of map point `index`: its thumbnail (in a space of images), its title and id, `more`. */
  fillTip(index, more) {
    const row = this.rows[index];
    const picture = this.thumbs ? this.thumbs.element(row, Math.min(128, 2 * this.thumbs.layout.tile), 'thumb tip-thumb') : null;
    const title = this.titles && this.titles[row];
    const head = title
      ? [h('div', { className: 'tip-id tip-title' }, title), h('div', { className: 'tip-sub' }, `id ${this.ids[row]}`)]
      : [h('div', { className: 'tip-id' }, this.ids[row])];
    fill(this.tip, picture, ...head, more);
  }

  placeTip() {
    const box = this.plotBox.getBoundingClientRect();
    const x = Math.min(this.mouse[0] + 14, box.width - Math.max(200, this.tip.offsetWidth));
    const y = Math.min(this.mouse[1] + 14, box.height - Math.max(60, this.tip.offsetHeight));
    this.tip.style.left = `${Math.max(0, x)}px`;
    this.tip.style.top = `${Math.max(0, y)}px`;
  }

  /** Mark the focused point and its neighbours (a result of /neighbors). */
  showNeighbours(result) {
    const q = result.query.map_index ?? -1;
    const marks = [];
    const indices = [];
    if (q >= 0) {
      indices.push(q);
      marks.push({ index: q, text: nameOf(result.query), kind: 'query' });
    }
    for (const nb of result.neighbors) {
      const i = nb.map_index ?? -1;
      if (i < 0) continue;
      indices.push(i);
      marks.push({ index: i, text: nameOf(nb), kind: nb.near_on_map === false ? 'far' : 'near' });
    }
    this.plot.highlight(indices);
    this.plot.marks(marks, []);
  }

  /** Mark the terms and answers of an analogy; arrows a -> b and c -> the first answer. */
  showAnalogy(result) {
    const marks = [];
    const indices = [];
    const idx = (item) => item.map_index ?? -1;
    for (const name of ['a', 'b', 'c']) {
      if (idx(result[name]) >= 0) {
        indices.push(idx(result[name]));
        marks.push({ index: idx(result[name]), text: `${name.toUpperCase()}: ${result[name].id}`, kind: 'term' });
      }
    }
    result.answers.forEach((ans, j) => {
      if (idx(ans) < 0) return;
      indices.push(idx(ans));
      marks.push({ index: idx(ans), text: j === 0 ? `→ ${ans.id}` : ans.id, kind: j === 0 ? 'answer' : 'near' });
    });
    const arrows = [{ from: idx(result.a), to: idx(result.b) }];
    if (result.answers.length) arrows.push({ from: idx(result.c), to: idx(result.answers[0]) });
    this.plot.highlight(indices);
    this.plot.marks(marks, arrows.filter((a) => a.from >= 0 && a.to >= 0));
  }

  showHits(results) {
    const indices = results.map((r) => r.map_index ?? -1).filter((i) => i >= 0);
    this.plot.highlight(indices);
    this.plot.marks(indices.slice(0, 30).map((i) => ({ index: i, text: this.labelOf(i), kind: 'hit' })), []);
  }

  /** Mark a user's history (rings) and recommendations (labelled rings, best first), a /user answer. */
  showUser(result) {
    const marks = [];
    const indices = [];
    for (const item of result.history) {
      const i = item.map_index ?? -1;
      if (i < 0) continue;
      indices.push(i);
      marks.push({ index: i, text: '', kind: 'history' });
    }
    result.recommendations.forEach((rec, j) => {
      const i = rec.map_index ?? -1;
      if (i < 0) return;
      indices.push(i);
      marks.push({ index: i, text: `${j + 1}. ${nameOf(rec)}`, kind: 'recommended' });
    });
    this.plot.highlight(indices);
    this.plot.marks(marks, []);
    return indices;
  }

  clearMarks() {
    this.plot.highlight([]);
    this.plot.marks([], []);
  }
}

export function describeMap(m) {
  const method = { pca: 'PCA', tsne: 't-SNE', umap: 'UMAP' }[m.method] || m.method;
  return `${method} ${m.dims}-D · ${Number(m.n).toLocaleString('en-US')} points`;
}
