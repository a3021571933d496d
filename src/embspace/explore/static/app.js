// The explorer page: wires the controls, the panes, the side panels and the address bar together.
import { getJSON, postJSON, spaceUrl } from './api.js';
import { $, download, fill, h, int } from './dom.js';
import { lassoCsv, snapshot } from './export.js';
import { autoStyle } from './palette.js';
import { Pane, describeMap } from './pane.js';
import {
  clearSelection, clearUser, renderAnalogy, renderCompare, renderLasso, renderLegend, renderMissing, renderSearch,
  renderSecondList, renderSelection, renderUser, renderUsers, reportError, status, trustBadge,
} from './panels.js';
import { readHash, writeHash } from './state.js';
import { showNoWebGL, webgl } from './webgl.js';

const state = {
  spaces: [],
  maps: new Map(), // space index -> list of map summaries
  focus: null, // {pane, row, id}
  lasso: null, // {pane, indices}
  k: 10,
  column: '',
  beforeTrust: '',
  style: null,
  compare: null, // result of /api/compare
  user: null, // {id}: the user whose history and recommendations are drawn (a space of items)
};

const hoverCache = new Map();
let panes;
let hoverTimer = null;

function option(value, text, selected = false) {
  const o = h('option', { value }, text);
  o.selected = selected;
  return o;
}

// ---- maps ---------------------------------------------------------------------------------------------
async function mapsOf(space, refresh = false) {
  if (refresh || !state.maps.has(space)) {
    const out = await getJSON(spaceUrl(space, '/maps'));
    state.maps.set(space, out.maps);
  }
  return state.maps.get(space);
}

function defaultMap(maps) {
  const rank = { umap: 0, tsne: 1, pca: 2 };
  const sorted = [...maps].sort((a, b) => (a.dims - b.dims) || (rank[a.method] - rank[b.method]) || (b.n - a.n));
  return sorted.length ? sorted[0].key : null;
}

function fillMapSelect(select, maps, key) {
  fill(select, ...maps.map((m) => option(m.key, describeMap(m), m.key === key)));
  select.disabled = maps.length === 0;
}

const go = (from) => (id) => focusId(id, { from }).catch(reportError);

function legend(pane) {
  const m = pane.info;
  renderLegend(pane, () => submitMap(pane.space.index, {
    method: m.method, dims: m.dims, sample: m.sample, seed: m.seed, params: m.params, point_trust: 'all',
  }, pane).catch(reportError));
}

async function openMap(pane, spaceIndex, key, { keepStyle = false } = {}) {
  const space = state.spaces[spaceIndex];
  const maps = await mapsOf(spaceIndex);
  if (!key) key = defaultMap(maps);
  if (!key) {
    await drawMissingMap(spaceIndex, pane);
    return;
  }
  const column = space.columns.some((c) => c.name === state.column) ? state.column : '';
  status(`loading ${space.name}…`);
  await pane.open(space, key, { column, style: keepStyle ? state.style : null });
  if (pane === panes.a) {
    state.style = pane.style;
    $('#size').value = pane.style.size;
    $('#opacity').value = pane.style.opacity;
    fillMapSelect($('#map'), maps, key);
    $('#pictures').hidden = !pane.thumbs || pane.dims !== 2;
    trustBadge(pane.info);
    legend(pane);
  } else {
    pane.setStyle(state.style);
    fillMapSelect($('#map-b'), maps, key);
  }
  status('');
  markDrawn(pane);
  if (state.focus) {
    await focusId(state.focus.id, { fly: false, from: pane, only: pane, quiet: true }).catch(() => pane.clearMarks());
  }
  if (state.user && pane === panes.a) await showUser(state.user.id, { fit: false }).catch(reportError);
  writeHash(viewState());
}

function markDrawn(pane) {
  document.body.dataset.drawn = String(pane.n);
  document.body.dataset.map = pane.key;
  document.body.dataset.drawnAt = String(performance.now());
}

// ---- drawing a missing map from the page ----------------------------------------------------------------
async function drawMissingMap(spaceIndex, pane) {
  const space = state.spaces[spaceIndex];
  status(`${space.name} has no map yet; drawing a PCA map…`);
  await submitMap(spaceIndex, { method: 'pca', dims: 2, sample: space.n > 1000000 ? 1000000 : null, seed: 0 }, pane);
}

async function submitMap(spaceIndex, request, pane = panes.a) {
  const job = await postJSON(spaceUrl(spaceIndex, '/maps'), request);
  $('#new-map').hidden = false;
  const progress = $('#job-progress');
  progress.hidden = false;
  for (;;) {
    const j = await getJSON(`/api/jobs/${job.id}`);
    progress.value = j.fraction;
    fill($('#job-state'), j.state === 'failed' ? `failed: ${j.error}` : `${j.key}: ${j.message} (${Math.round(100 * j.fraction)}%, ${j.seconds} s)`);
    if (j.state === 'done') {
      progress.hidden = true;
      await mapsOf(spaceIndex, true);
      await openMap(pane, spaceIndex, j.key, { keepStyle: false });
      return;
    }
    if (j.state === 'failed') {
      progress.hidden = true;
      throw new Error(`the map could not be drawn: ${j.error}`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

// ---- focus: a point and its true neighbours ------------------------------------------------------------
async function neighboursIn(pane, params) {
  return getJSON(spaceUrl(pane.space.index, '/neighbors'), { ...params, k: state.k, map: pane.key });
}

/** Select `id`: its true neighbours in every pane shown (linked selection), listed in the side panel. */
async function focusId(id, { fly = true, from = panes.a, only = null, quiet = false } = {}) {
  const targets = only ? [only] : activePanes();
  const results = new Map();
  for (const pane of targets) {
    try {
      results.set(pane, await neighboursIn(pane, { id }));
    } catch (err) {
      if (err.status === 404 && pane !== from) { pane.clearMarks(); continue; }
      throw err;
    }
  }
  for (const [pane, result] of results) {
    pane.showNeighbours(result);
    const q = result.query.map_index ?? -1;
    if (fly && q >= 0) pane.plot.flyTo(q);
    if (q < 0 && !quiet && pane === from) {
      status(`${id} is not on this map (it shows ${int(pane.n)} of ${int(pane.space.n)} points); its neighbours are listed`);
    }
  }
  state.focus = { id };
  if (results.has(panes.a)) {
    const result = results.get(panes.a);
    const point = await getJSON(spaceUrl(panes.a.space.index, `/point/${result.query.row}`));
    const thumbs = await picturesOf(panes.a);
    state.lastA = result;
    renderSelection(point, result, go(panes.a), thumbs);
  } else if (!only) {
    state.lastA = null;
    renderMissing(id, panes.a.space.name);
  }
  if (comparing() && (!only || only === panes.b)) {
    const firstIds = new Set((state.lastA ? state.lastA.neighbors : []).map((n) => n.id));
    renderSecondList(id, results.get(panes.b), panes.b.space.name, firstIds, go(panes.b), await picturesOf(panes.b));
  }
  writeHash(viewState());
}

/** The thumbnails of the space `pane` shows, once their tiles have arrived (null: none). */
async function picturesOf(pane) {
  if (!pane.thumbs) return null;
  try {
    await pane.thumbs.ready;
    return pane.thumbs;
  } catch (err) {
    return null; // the map and the lists work without pictures
  }
}

function clearFocus() {
  state.focus = null;
  clearSelection();
  for (const pane of activePanes()) pane.clearMarks();
  writeHash(viewState());
}

// ---- search ----------------------------------------------------------------------------------------------
async function search(event) {
  event.preventDefault();
  const q = $('#search').value;
  if (!q) return;
  const mode = $('#search-mode').value;
  const out = await getJSON(spaceUrl(panes.a.space.index, '/search'), { q, mode, map: panes.a.key, limit: 200 });
  if (mode === 'exact' && out.results.length === 1) {
    $('#search-results').hidden = true;
    await focusId(out.results[0].id);
    return;
  }
  renderSearch(out, go(panes.a), await picturesOf(panes.a));
  if (out.results.length) panes.a.showHits(out.results);
}

// ---- users of a space of items ----------------------------------------------------------------------------
/** Offer the user picker where the space of the main map has users (forgetting the last user), and the
 * search of titles where it has titles. */
function itemsFor(space) {
  $('#search').placeholder = space.title ? 'find an id or title…' : 'find an id…';
  $('#users-panel').hidden = !space.users;
  $('#user-results').hidden = true;
  state.user = null;
  clearUser();
  $('#user-hint').hidden = false;
}

async function findUsers(event) {
  event.preventDefault();
  const q = $('#user-q').value.trim();
  const out = await getJSON(spaceUrl(panes.a.space.index, '/users'), { q, limit: 20 });
  if (q && out.results.length && out.results[0].id === q && out.total === 1) {
    $('#user-results').hidden = true;
    await showUser(q);
    return;
  }
  renderUsers(out, (id) => showUser(id).catch(reportError));
}

/** Draw user `id`'s history and recommendations (k = 20, each with why) on the main map and list them. */
async function showUser(id, { fit = true } = {}) {
  const pane = panes.a;
  const out = await getJSON(spaceUrl(pane.space.index, '/user'), { id, k: 20, map: pane.key });
  state.user = { id };
  $('#user-hint').hidden = true;
  renderUser(out, go(pane));
  const indices = pane.showUser(out);
  if (fit && indices.length > 1) pane.plot.fit(indices);
  document.body.dataset.user = out.user;
  writeHash(viewState());
}

function clearUserMarks() {
  state.user = null;
  clearUser();
  $('#user-hint').hidden = false;
  panes.a.clearMarks();
  delete document.body.dataset.user;
  writeHash(viewState());
}

// ---- analogy ---------------------------------------------------------------------------------------------
async function analogy(event) {
  event.preventDefault();
  const [a, b, c] = ['#an-a', '#an-b', '#an-c'].map((s) => $(s).value.trim() || $(s).placeholder);
  const pane = panes.a;
  const out = await getJSON(spaceUrl(pane.space.index, '/analogy'), { a, b, c, k: 10, method: $('#an-method').value, map: pane.key });
  renderAnalogy(out, go(pane));
  pane.showAnalogy(out);
  const shown = [out.a, out.b, out.c, ...out.answers.slice(0, 1)].map((x) => x.map_index ?? -1);
  pane.plot.fit(shown);
}

// ---- compare ---------------------------------------------------------------------------------------------
const comparing = () => $('#compare').checked && !panes.b.root.hidden;
const other = (pane) => (pane === panes.a ? panes.b : panes.a);
const activePanes = () => (comparing() ? [panes.a, panes.b] : [panes.a]);

let compareRun = 0;

/** The spaces that share ids with space `a` (enough to compare neighbourhoods), most shared first. */
async function partnersOf(a) {
  const out = await getJSON(spaceUrl(a, '/partners'), { k: 10 });
  return out.spaces.filter((s) => s.comparable);
}

function cancelCompare(message) {
  $('#compare').checked = false;
  stopCompare();
  status(message, true);
}

async function startCompare(bIndex, bKey) {
  const run = ++compareRun; // a later call (another space chosen) wins over this one
  if (state.spaces.length < 2) {
    cancelCompare('compare needs two spaces: start the explorer with two, e.g. embspace serve a.space b.space');
    return;
  }
  const a = panes.a.space.index;
  const partners = await partnersOf(a);
  if (run !== compareRun) return;
  if (!partners.length) {
    cancelCompare(`no other space shares ids with ${panes.a.space.name}, so there are no neighbourhoods to compare`);
    return;
  }
  if (!partners.some((s) => s.index === bIndex)) {
    const asked = state.spaces[bIndex];
    if (asked && bIndex !== a) status(`${asked.name} shares too few ids with ${panes.a.space.name}; comparing with ${partners[0].name}`);
    bIndex = partners[0].index; // the one that shares most
    bKey = null;
  }
  fill($('#space-b'), ...partners.map((s) => option(String(s.index), `${s.name} (${int(s.shared)} shared)`, s.index === bIndex)));
  $('#space-b').disabled = false;
  $('#map-b').disabled = false;
  $('#space-b').hidden = false;
  $('#map-b').hidden = false;
  panes.b.root.hidden = false;
  $('#compare-panel').hidden = false;
  fill($('#compare-list'));
  try {
    fill($('#compare-summary'), 'opening the second map…');
    await openMap(panes.b, bIndex, bKey);
    if (run !== compareRun) return;
    fill($('#compare-summary'), 'comparing neighbourhoods…');
    const out = await getJSON('/api/compare', { a, b: bIndex, k: 10, sample: 2000, worst: 50 });
    if (run !== compareRun) return;
    state.compare = out;
    renderCompare(out, go(panes.a));
  } catch (err) {
    if (run === compareRun) fill($('#compare-summary'), `could not compare: ${err.message}`); // never a spinner left
    throw err;
  }
  writeHash(viewState());
}

function stopCompare() {
  panes.b.root.hidden = true;
  $('#nb-b-title').hidden = true;
  fill($('#neighbors-b'));
  $('#compare-panel').hidden = true;
  $('#space-b').disabled = true;
  $('#map-b').disabled = true;
  $('#space-b').hidden = true;
  $('#map-b').hidden = true;
  writeHash(viewState());
}

// ---- lasso and export ------------------------------------------------------------------------------------
function onLasso(pane, indices) {
  state.lasso = { pane, indices };
  if (pane.plot.dims === 3) pane.plot.highlight(indices);
  renderLasso(pane, indices);
}

function exportCsv() {
  if (!state.lasso) return;
  const { pane, indices } = state.lasso;
  download(lassoCsv(pane, indices), `${pane.space.name}-${pane.key}-selection.csv`);
}

function exportPng() {
  snapshot(activePanes().map((p) => p.plot.snapshot()))
    .then((blob) => download(blob, `${panes.a.space.name}-${panes.a.key}.png`)).catch(reportError);
}

// ---- view state in the address bar ------------------------------------------------------------------------
function viewState() {
  const s = { s: panes.a.space?.index, m: panes.a.key, k: state.k };
  if (state.focus) s.id = state.focus.id;
  if (state.user) s.u = state.user.id;
  if (state.column) s.col = state.column;
  if (panes.a.plot) s.c = panes.a.plot.camera();
  if (comparing()) { s.cmp = panes.b.space?.index; s.mb = panes.b.key; }
  return s;
}

// ---- start -----------------------------------------------------------------------------------------------
function bind() {
  $('#space').addEventListener('change', async (e) => {
    state.focus = null;
    clearFocus();
    itemsFor(state.spaces[Number(e.target.value)]);
    fillColumns(state.spaces[Number(e.target.value)]);
    await openMap(panes.a, Number(e.target.value), null);
    if (comparing()) await startCompare(null, null);
  });
  $('#map').addEventListener('change', (e) => openMap(panes.a, panes.a.space.index, e.target.value, { keepStyle: true }).catch(reportError));
  $('#map-b').addEventListener('change', (e) => openMap(panes.b, panes.b.space.index, e.target.value, { keepStyle: true }).catch(reportError));
  $('#space-b').addEventListener('change', (e) => startCompare(Number(e.target.value), null).catch(reportError));
  $('#compare').addEventListener('change', (e) => (e.target.checked ? startCompare(null, null) : Promise.resolve(stopCompare())).catch(reportError));
  $('#search-form').addEventListener('submit', (e) => search(e).catch(reportError));
  $('#analogy-form').addEventListener('submit', (e) => analogy(e).catch(reportError));
  $('#user-form').addEventListener('submit', (e) => findUsers(e).catch(reportError));
  $('#user-clear').addEventListener('click', clearUserMarks);
  $('#k').addEventListener('change', (e) => {
    state.k = Number(e.target.value);
    if (state.focus) focusId(state.focus.id, { fly: false }).catch(reportError);
  });
  $('#color').addEventListener('change', (e) => setColumn(e.target.value).catch(reportError));
  $('#trust-overlay').addEventListener('click', () => {
    const on = state.column !== ':trust';
    if (on) state.beforeTrust = state.column;
    setColumn(on ? ':trust' : state.beforeTrust).catch(reportError);
  });
  const restyle = () => {
    state.style = { size: Number($('#size').value), opacity: Number($('#opacity').value) };
    for (const p of activePanes()) p.setStyle(state.style);
  };
  $('#size').addEventListener('input', restyle);
  $('#opacity').addEventListener('input', restyle);
  $('#auto-style').addEventListener('click', () => {
    const s = autoStyle(panes.a.n);
    $('#size').value = s.size;
    $('#opacity').value = s.opacity;
    restyle();
  });
  $('#lasso').addEventListener('click', (e) => {
    const on = e.target.getAttribute('aria-pressed') !== 'true';
    e.target.setAttribute('aria-pressed', String(on));
    for (const p of activePanes()) p.plot.setLasso(on);
  });
  $('#reset-view').addEventListener('click', () => { for (const p of activePanes()) p.plot.reset(); });
  $('#pictures').addEventListener('click', (e) => {
    const on = e.target.getAttribute('aria-pressed') !== 'true';
    e.target.setAttribute('aria-pressed', String(on));
    for (const p of [panes.a, panes.b]) p.showPictures(on);
  });
  $('#export-png').addEventListener('click', exportPng);
  $('#export-csv').addEventListener('click', exportCsv);
  $('#new-map-toggle').addEventListener('click', () => { $('#new-map').hidden = !$('#new-map').hidden; });
  $('#new-map-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const sample = $('#nm-sample').value;
    submitMap(panes.a.space.index, {
      method: $('#nm-method').value, dims: Number($('#nm-dims').value),
      sample: sample ? Number(sample) : null, seed: Number($('#nm-seed').value || 0),
    }).catch(reportError);
  });
  document.addEventListener('click', (e) => {
    if (!$('#search-form').contains(e.target)) $('#search-results').hidden = true;
    if (!$('#user-form').contains(e.target)) $('#user-results').hidden = true;
  });
  document.addEventListener('keydown', (e) => {
    if (e.key !== 'Escape') return;
    $('#search-results').hidden = true;
    $('#user-results').hidden = true;
    if (state.focus && !['INPUT', 'SELECT'].includes(document.activeElement?.tagName)) clearFocus();
  });
}

async function setColumn(column) {
  state.column = column;
  $('#color').value = column;
  $('#trust-overlay').setAttribute('aria-pressed', String(column === ':trust'));
  for (const p of activePanes()) await p.colour(column);
  legend(panes.a);
  writeHash(viewState());
}

function fillColumns(space) {
  const cols = space.columns;
  fill($('#color'), option('', 'one colour', !state.column),
    ...cols.map((c) => option(c.name, c.label, c.name === state.column)));
}

const handlers = {
  hover(pane, index) {
    clearTimeout(hoverTimer);
    if (!pane.rows) return;
    const row = pane.rows[index];
    const cacheKey = `${pane.space.index}:${row}`;
    if (hoverCache.has(cacheKey)) { pane.hoverNeighbours(index, hoverCache.get(cacheKey)); return; }
    hoverTimer = setTimeout(async () => {
      try {
        const out = await getJSON(spaceUrl(pane.space.index, '/neighbors'), { row, k: 5 });
        hoverCache.set(cacheKey, out);
        pane.hoverNeighbours(index, out);
      } catch (err) { /* a tooltip is not worth an error message */ }
    }, 300);
  },
  pick(pane, index) { if (pane.ids) focusId(pane.idOf(index), { fly: false, from: pane }).catch(reportError); },
  lasso: onLasso,
  clear(pane) { if (state.focus) clearFocus(); },
  view() { writeHash(viewState()); },
};

async function main() {
  panes = { a: new Pane($('#pane-a'), handlers), b: new Pane($('#pane-b'), handlers) };
  bind();
  const out = await getJSON('/api/spaces');
  state.spaces = out.spaces;
  if (!webgl().webgl) {
    showNoWebGL(state.spaces);
    return;
  }
  if (state.spaces.length < 2) {
    $('#compare').disabled = true;
    $('#compare').parentElement.title = 'Serve two spaces to compare them: embspace serve a.space b.space';
  }
  const want = readHash();
  const s = Number.isInteger(want.s) && want.s >= 0 && want.s < state.spaces.length ? want.s : 0;
  fill($('#space'), ...state.spaces.map((sp) => option(String(sp.index), `${sp.name} (${int(sp.n)})`, sp.index === s)));
  if (want.k) { state.k = want.k; $('#k').value = String(want.k); }
  state.column = state.spaces[s].columns.some((c) => c.name === want.col) ? want.col : '';
  fillColumns(state.spaces[s]);
  itemsFor(state.spaces[s]);
  await openMap(panes.a, s, want.m || null);
  $('#color').value = state.column;
  $('#trust-overlay').setAttribute('aria-pressed', String(state.column === ':trust'));
  if (want.c) panes.a.plot.setCamera(want.c);
  if (want.cmp !== undefined) {
    $('#compare').checked = true;
    await startCompare(want.cmp, want.mb || null);
  }
  if (want.id) await focusId(want.id, { fly: !want.c, quiet: true }).catch(reportError);
  if (want.u && state.spaces[s].users) await showUser(want.u, { fit: !want.c }).catch(reportError);
  document.body.dataset.ready = 'true';
}

window.addEventListener('error', (e) => status(`error: ${e.message}`, true));
window.addEventListener('unhandledrejection', (e) => status(`error: ${e.reason && e.reason.message ? e.reason.message : e.reason}`, true));

window.embspace = {
  state,
  get panes() { return panes; },
  focusId: (id) => focusId(id),
  /** Page coordinates of `id` on the main map (for tests), or null. */
  screenOf(id) {
    const pane = panes.a;
    const row = pane.ids.indexOf(id);
    const i = pane.indexOfRow(row);
    const p = i >= 0 ? pane.plot.screen(i) : null;
    if (!p) return null;
    const r = pane.plotBox.getBoundingClientRect();
    return [r.left + p[0], r.top + p[1]];
  },
};
window.embspace.ready = main().catch((err) => {
  if (!webgl(true).webgl) { showNoWebGL(state.spaces); return; } // lost, or refused, after the first probe
  reportError(err);
  document.body.dataset.ready = 'error';
});
