// Colours of the map: categories, quantile bins, the trust scale, and the highlight colours.

export const BACKGROUND = '#101418';
export const POINT = '#7fb3e6';
export const OTHER = '#5a6470';
export const ACTIVE = '#ffd54a';
export const HOVER = '#ffffff';
// a user's history and recommendations on the map (the rings of overlay.js)
export const USER_COLOURS = { history: '#3fd0ff', recommended: '#ff4fd8' };

const CATEGORICAL = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1',
  '#ff9da7', '#9c755f', '#bab0ac', '#86bcb6', '#d37295'];

// viridis, 16 steps (matplotlib's, sampled)
const SEQUENTIAL = ['#440154', '#481a6c', '#472f7d', '#414487', '#39568c', '#31688e', '#2a788e', '#23888e',
  '#1f988b', '#22a884', '#35b779', '#54c568', '#7ad151', '#a5db36', '#d2e21b', '#fde725'];

// trust 0/10 .. 10/10: red (neighbours lost) to green (kept)
const TRUST = ['#b2182b', '#d6604d', '#e58368', '#f4a582', '#f9cdb4', '#f7f7f7', '#d1e5f0', '#a7cfe4',
  '#6fb0d4', '#4393c3', '#2166ac'];

/** Colours for a legend from the server: one per label, then the colour of "other". */
export function coloursFor(legend) {
  if (!legend) return [POINT, OTHER];
  const m = legend.labels.length;
  let colours;
  if (legend.scale === 'trust') colours = TRUST.slice(0, m);
  else if (legend.kind === 'categorical') colours = CATEGORICAL.slice(0, m);
  else colours = Array.from({ length: m }, (_, i) => SEQUENTIAL[Math.round((i * (SEQUENTIAL.length - 1)) / Math.max(1, m - 1))]);
  return [...colours, OTHER];
}

/** Codes from the server (-1 = other) as indices into `coloursFor(legend)`. */
export function codesFor(codes, legend) {
  const other = legend ? legend.labels.length : 1;
  const out = new Float32Array(codes.length);
  for (let i = 0; i < codes.length; i += 1) out[i] = codes[i] < 0 ? other : codes[i];
  return out;
}

export function hexToRgb(hex) {
  const v = parseInt(hex.slice(1), 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

/** Point size (px) and opacity that keep 100 to 1,000,000 points readable. */
export function autoStyle(n) {
  const size = Math.min(8, Math.max(1.5, 8 * (1000 / Math.max(n, 1)) ** 0.25));
  const opacity = Math.min(0.9, Math.max(0.2, (20000 / Math.max(n, 1)) ** 0.5));
  return { size: Math.round(size * 2) / 2, opacity: Math.round(opacity * 100) / 100 };
}
