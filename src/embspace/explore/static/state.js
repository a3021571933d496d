// The view in the address bar (#s=0&m=umap-2d-n50000-s0&id=king&c=...), so a view can be shared.

const NUMBERS = new Set(['s', 'k', 'cmp']);
let timer = null;
let last = '';

export function readHash() {
  const params = new URLSearchParams(window.location.hash.slice(1));
  const out = {};
  for (const [key, value] of params) {
    if (NUMBERS.has(key)) {
      const n = Number(value);
      if (Number.isInteger(n) && n >= 0) out[key] = n;
    } else {
      out[key] = value;
    }
  }
  return out;
}

/** Write the view into the address bar (debounced; replaces the entry rather than adding one). */
export function writeHash(view) {
  clearTimeout(timer);
  timer = setTimeout(() => {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(view)) {
      if (value !== undefined && value !== null && value !== '') params.set(key, String(value));
    }
    const hash = `#${params.toString()}`;
    if (hash !== last) {
      last = hash;
      window.history.replaceState(null, '', hash);
    }
  }, 250);
}
