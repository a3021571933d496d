// Thumbnails of a space of images: the tile of each row (one Int32Array), the sprite pages (PNG,
// loaded when first needed, a few kept decoded), and drawing one tile onto a canvas.
import { getArray, spaceUrl } from './api.js';
import { h } from './dom.js';

const PAGES_KEPT = 12; // pages kept (a page of 1,024 tiles of 64 px is 16 MB decoded)
const bySpace = new Map();

/** The Thumbs of a space summary (from /api/spaces), or null when it keeps no thumbnails. */
export function thumbsOf(space) {
  if (!space || !space.thumbnails) return null;
  if (!bySpace.has(space.index)) bySpace.set(space.index, new Thumbs(space.index, space.thumbnails));
  return bySpace.get(space.index);
}

export class Thumbs {
  constructor(spaceIndex, layout) {
    this.space = spaceIndex;
    this.layout = layout; // {tile, cols, rows, per_page, pages, count}
    this.tiles = null;
    this.ready = getArray(spaceUrl(spaceIndex, '/thumbs/tiles'), Int32Array).then((t) => { this.tiles = t; return t; });
    this.pages = new Map(); // page -> {image, loaded}
    this.waiting = new Set(); // callbacks to run when a page arrives
  }

  /** The tile of space row `row`, or -1 (also while the tiles are still arriving). */
  tileOf(row) {
    if (!this.tiles || row < 0 || row >= this.tiles.length) return -1;
    return this.tiles[row];
  }

  /** {page, x, y} of tile `t` on its page. */
  where(t) {
    const { per_page: perPage, cols, tile } = this.layout;
    const j = t % perPage;
    return { page: Math.floor(t / perPage), x: (j % cols) * tile, y: Math.floor(j / cols) * tile };
  }

  /** The decoded image of `page` if it has arrived; else null (and it is asked for; `then` runs on arrival). */
  page(page, then = null) {
    let entry = this.pages.get(page);
    if (entry && entry.loaded) {
      this.pages.delete(page); // most recently used last
      this.pages.set(page, entry);
      return entry.image;
    }
    if (then) this.waiting.add(then);
    if (!entry) {
      const image = new Image();
      entry = { image, loaded: false };
      this.pages.set(page, entry);
      image.decoding = 'async';
      image.onload = () => {
        entry.loaded = true;
        this.trim();
        const calls = [...this.waiting];
        this.waiting.clear();
        for (const call of calls) call();
      };
      image.onerror = () => { this.pages.delete(page); };
      image.src = spaceUrl(this.space, `/thumbs/${page}.png`);
    }
    return null;
  }

  trim() {
    while (this.pages.size > PAGES_KEPT) this.pages.delete(this.pages.keys().next().value);
  }

  /** Draw the tile of `row` into `ctx` at (x, y), `size` px; false when it has none or its page is
   * still arriving (`then` runs when it arrives). */
  draw(ctx, row, x, y, size, then = null) {
    const t = this.tileOf(row);
    if (t < 0) return false;
    const at = this.where(t);
    const image = this.page(at.page, then);
    if (!image) return false;
    const { tile } = this.layout;
    ctx.drawImage(image, at.x, at.y, tile, tile, x, y, size, size);
    return true;
  }

  /** A canvas showing the thumbnail of `row` at `size` CSS px (drawn when its page arrives), or null. */
  element(row, size, className = 'thumb') {
    const t = this.tileOf(row);
    if (t < 0) return null;
    const ratio = window.devicePixelRatio || 1;
    const canvas = h('canvas', { className });
    canvas.width = Math.round(size * ratio);
    canvas.height = Math.round(size * ratio);
    canvas.style.width = `${size}px`;
    canvas.style.height = `${size}px`;
    canvas.dataset.tile = String(t);
    const paint = () => {
      const ctx = canvas.getContext('2d');
      if (this.draw(ctx, row, 0, 0, canvas.width, paint)) canvas.dataset.drawn = 'true';
    };
    paint();
    return canvas;
  }
}
