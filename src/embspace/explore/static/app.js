// The explorer page: wires the controls, the panes, the side panels and the address bar together.
import { ApiError, getJSON, postJSON, spaceUrl } from './api.js';
import { $, download, fill, fmt, h, int } from './dom.js';
import { autoStyle, coloursFor } from './palette.js';
import { Pane, describeMap } from './pane.js';
import { readHash, writeHash } from './state.js';
import { lassoCsv } from './csv.js';

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
};

const hoverCache = new Map();
let panes;
let hoverTimer = null;

function status(text, isError = false) {
  const node = $('#status');
  fill(node, text || '');
  node.classList.toggle('error', Boolean(isError));
  if (text && !isError) setTimeout(() => { if (node.textContent === text) fill(node, ''); }, 4000);
}

function reportError(err) {
  console.error(err);
  status(err instanceof ApiError || err instanceof Error ? err.message : String(err), true);
}

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

function trustBadge(info) {
  const badge = $('#trust-badge');
  const t = info && info.trust;
  if (!t) { fill(badge, ''); return; }
  const tw = t.trustworthiness;
  badge.className = `badge ${tw >= 0.9 ? 'good' : tw >= 0.75 ? 'ok' : 'poor'}`;
  const kept = 100 * t.knn_recall;
  fill(badge, `trust ${fmt(tw, 2)} · keeps ${kept < 10 ? kept.toFixed(1) : Math.round(kept)}% of ${t.k}-NN`);
  badge.title = `Trustworthiness ${fmt(tw, 4)} (1 = no false neighbours on the map) and mean recall of each point's ` +
    `${t.k} nearest neighbours among its ${t.k} nearest on the map: ${fmt(t.knn_recall, 4)}; ` +
    `measured on ${int(t.sample)} points.`;
}

function legend(pane) {
  const list = $('#legend');
  const lg = pane.legend;
  if (!lg) {
    fill(list, h('li', { className: 'muted' }, 'one colour; pick a column to colour by'));
    return;
  }
  const colours = coloursFor(lg);
  const items = lg.labels.map((label, i) => {
    const sw = h('span', { className: 'swatch' });
    sw.style.background = colours[i];
    return h('li', {}, sw, h('span', {}, label), h('span', { className: 'count' }, int(lg.counts[i])));
  });
  if (lg.other) {
    const sw = h('span', { className: 'swatch' });
    sw.style.background = colours[colours.length - 1];
    items.push(h('li', {}, sw, h('span', {}, lg.other_label), h('span', { className: 'count' }, int(lg.other))));
  }
  if (lg.scale === 'trust' && lg.other && pane.info.trust.point_trust !== 'all') {
    const m = pane.info;
    items.push(h('li', {}, h('button', {
      type: 'button', title: 'Find the true 10 nearest neighbours of every point of the map (a background job)',
      onClick: () => submitMap(pane.space.index, {
        method: m.method, dims: m.dims, sample: m.sample, seed: m.seed, params: m.params, point_trust: 'all',
      }, pane).catch(reportError),
    }, `measure all ${int(pane.n)} points`)));
  }
  fill(list, h('li', { className: 'muted' }, lg.name), ...items);
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
  if (results.has(panes.a)) await showSelection(panes.a, results.get(panes.a));
  else if (!only) showMissing(id, panes.a);
  if (comparing() && (!only || only === panes.b)) showSecondList(id, results.get(panes.b));
  writeHash(viewState());
}

function neighbourItems(result, pane, shared = null) {
  return result.neighbors.map((nb) => {
    let tag;
    if (nb.near_on_map === true) tag = h('span', { className: 'tag near', title: `${nb.map_rank}th nearest on the map` }, `map #${nb.map_rank}`);
    else if (nb.near_on_map === false) tag = h('span', { className: 'tag far', title: `far on the map: ${nb.map_rank}th nearest there` }, `far · map #${int(nb.map_rank)}`);
    else tag = h('span', { className: 'tag' }, 'not on map');
    const both = shared && shared.has(nb.id) ? h('span', { className: 'tag', title: 'a neighbour in both spaces' }, 'both') : null;
    return h('li', { dataset: { id: nb.id } },
      h('button', { className: 'go', type: 'button', onClick: () => focusId(nb.id, { from: pane }).catch(reportError) }, nb.id),
      h('span', { className: 'score' }, fmt(nb.score, 3)), tag, both);
  });
}

async function showSelection(pane, result) {
  const point = await getJSON(spaceUrl(pane.space.index, `/point/${result.query.row}`));
  fill($('#sel-id'), result.query.id);
  const meta = [['row', int(point.row)], ['vector length', fmt(point.norm, 3)]];
  for (const [k, v] of Object.entries(point.meta)) meta.push([k, v === null ? '–' : String(v)]);
  fill($('#sel-meta'), ...meta.flatMap(([k, v]) => [h('span', { className: 'k' }, k), h('span', { className: 'v' }, v)]));
  const measured = result.neighbors.filter((n) => n.near_on_map !== null);
  fill($('#sel-kept'), measured.length === 0 ? 'not on this map'
    : `${measured.filter((n) => n.near_on_map).length} of ${measured.length} are among its ${result.k} nearest on the map`);
  state.lastA = result;
  fill($('#neighbors'), ...neighbourItems(result, pane));
  $('#sel-hint').hidden = true;
}

function showMissing(id, pane) {
  fill($('#sel-id'), id);
  fill($('#sel-meta'), h('span', { className: 'k' }, 'not in'), h('span', { className: 'v' }, pane.space.name));
  fill($('#neighbors'));
  fill($('#sel-kept'), '');
  state.lastA = null;
}

function showSecondList(id, result) {
  const title = $('#nb-b-title');
  title.hidden = false;
  if (!result) {
    fill(title, `${id} is not in ${panes.b.space.name}`);
    fill($('#neighbors-b'));
    return;
  }
  const inA = new Set((state.lastA ? state.lastA.neighbors : []).map((n) => n.id));
  const shared = result.neighbors.filter((n) => inA.has(n.id)).length;
  fill(title, `in ${panes.b.space.name}: ${shared} of ${result.neighbors.length} shared`);
  fill($('#neighbors-b'), ...neighbourItems(result, panes.b, inA));
}

function clearFocus() {
  state.focus = null;
  fill($('#sel-id'), '');
  fill($('#sel-meta'));
  fill($('#neighbors'));
  fill($('#neighbors-b'));
  $('#nb-b-title').hidden = true;
  fill($('#sel-kept'), '');
  $('#sel-hint').hidden = false;
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
  const box = $('#search-results');
  if (mode === 'exact' && out.results.length === 1) {
    box.hidden = true;
    await focusId(out.results[0].id);
    return;
  }
  const entries = out.results.map((r) => h('button', {
    type: 'button', onClick: () => { box.hidden = true; focusId(r.id).catch(reportError); },
  }, r.id, r.map_index === null ? ' (not on map)' : ''));
  let head = `${int(out.total)} match${out.total === 1 ? '' : 'es'}${out.total > out.results.length ? `, first ${out.results.length}` : ''}`;
  if (!out.total && out.suggestions.length) head = 'no such id; did you mean:';
  const sugg = out.suggestions.map((s) => h('button', { type: 'button', onClick: () => { box.hidden = true; focusId(s).catch(reportError); } }, s));
  fill(box, h('div', { className: 'total' }, head), ...entries, ...sugg);
  box.hidden = false;
  if (out.results.length) panes.a.showHits(out.results);
}

// ---- analogy ---------------------------------------------------------------------------------------------
async function analogy(event) {
  event.preventDefault();
  const [a, b, c] = ['#an-a', '#an-b', '#an-c'].map((s) => $(s).value.trim() || $(s).placeholder);
  const pane = panes.a;
  const out = await getJSON(spaceUrl(pane.space.index, '/analogy'), { a, b, c, k: 10, method: $('#an-method').value, map: pane.key });
  fill($('#analogy-answers'), ...out.answers.map((ans) => h('li', {},
    h('button', { className: 'go', type: 'button', onClick: () => focusId(ans.id).catch(reportError) }, ans.id),
    h('span', { className: 'score' }, fmt(ans.score, 3)),
    ans.map_index === null ? h('span', { className: 'tag' }, 'not on map') : null)));
  pane.showAnalogy(out);
  const shown = [out.a, out.b, out.c, ...out.answers.slice(0, 1)].map((x) => x.map_index ?? -1);
  pane.plot.fit(shown);
}

// ---- compare ---------------------------------------------------------------------------------------------
const comparing = () => $('#compare').checked && !panes.b.root.hidden;
const other = (pane) => (pane === panes.a ? panes.b : panes.a);
const activePanes = () => (comparing() ? [panes.a, panes.b] : [panes.a]);

let compareRun = 0;

async function startCompare(bIndex, bKey) {
  const run = ++compareRun; // a later call (another space chosen) wins over this one
  if (state.spaces.length < 2) {
    $('#compare').checked = false;
    status('compare needs two spaces: start the explorer with two, e.g. embspace serve a.space b.space', true);
    return;
  }
  const a = panes.a.space.index;
  if (bIndex === undefined || bIndex === null || bIndex === a) bIndex = state.spaces.findIndex((s) => s.index !== a);
  fill($('#space-b'), ...state.spaces.filter((s) => s.index !== a).map((s) => option(String(s.index), s.name, s.index === bIndex)));
  $('#space-b').disabled = false;
  $('#map-b').disabled = false;
  $('#space-b').hidden = false;
  $('#map-b').hidden = false;
  panes.b.root.hidden = false;
  $('#compare-panel').hidden = false;
  await openMap(panes.b, bIndex, bKey);
  if (run !== compareRun) return;
  fill($('#compare-summary'), 'comparing neighbourhoods…');
  fill($('#compare-list'));
  const out = await getJSON('/api/compare', { a, b: bIndex, k: 10, sample: 2000, worst: 50 });
  if (run !== compareRun) return;
  state.compare = out;
  fill($('#compare-summary'), `${int(out.shared)} shared ids; over the first ${int(out.compared)}, the ${out.k} nearest ` +
    `neighbours agree ${Math.round(100 * out.mean)}% on average (median ${Math.round(100 * out.median)}%).`);
  fill($('#compare-list'), ...out.most_different.map((d) => h('li', {},
    h('button', { className: 'go', type: 'button', onClick: () => focusId(d.id).catch(reportError) }, d.id),
    h('span', { className: 'score' }, `${Math.round(100 * d.overlap)}% shared`),
    h('div', { className: 'diff' }, `only in ${out.a_name}: ${d.a_only.slice(0, 5).join(', ')}`),
    h('div', { className: 'diff' }, `only in ${out.b_name}: ${d.b_only.slice(0, 5).join(', ')}`))));
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
  $('#lasso-panel').hidden = false;
  fill($('#lasso-summary'), `${int(indices.length)} points selected on ${pane.space.name}`);
  fill($('#lasso-list'), ...indices.slice(0, 30).map((i) => h('li', {}, pane.idOf(i))),
    indices.length > 30 ? h('li', {}, `… and ${int(indices.length - 30)} more`) : null);
  $('#export-csv').disabled = indices.length === 0;
}

function exportCsv() {
  if (!state.lasso) return;
  const { pane, indices } = state.lasso;
  download(lassoCsv(pane, indices), `${pane.space.name}-${pane.key}-selection.csv`);
}

function exportPng() {
  const shots = activePanes().map((p) => p.plot.snapshot());
  const out = h('canvas', {});
  out.width = shots.reduce((s, c) => s + c.width, 0);
  out.height = Math.max(...shots.map((c) => c.height));
  const ctx = out.getContext('2d');
  let x = 0;
  for (const c of shots) { ctx.drawImage(c, x, 0); x += c.width; }
  out.toBlob((blob) => download(blob, `${panes.a.space.name}-${panes.a.key}.png`), 'image/png');
}

// ---- view state in the address bar ------------------------------------------------------------------------
function viewState() {
  const s = { s: panes.a.space?.index, m: panes.a.key, k: state.k };
  if (state.focus) s.id = state.focus.id;
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
  });
  document.addEventListener('keydown', (e) => {
    if (e.key !== 'Escape') return;
    $('#search-results').hidden = true;
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
  await openMap(panes.a, s, want.m || null);
  $('#color').value = state.column;
  $('#trust-overlay').setAttribute('aria-pressed', String(state.column === ':trust'));
  if (want.c) panes.a.plot.setCamera(want.c);
  if (want.cmp !== undefined) {
    $('#compare').checked = true;
    await startCompare(want.cmp, want.mb || null);
  }
  if (want.id) await focusId(want.id, { fly: !want.c, quiet: true }).catch(reportError);
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
window.embspace.ready = main().catch((err) => { reportError(err); document.body.dataset.ready = 'error'; });
