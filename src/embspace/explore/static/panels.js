// The side panel and the bar: what the page writes about a map, a point, its neighbours, an
// analogy, a comparison and a lasso selection. Every text goes in through textContent (dom.js).
import { ApiError } from './api.js';
import { $, fill, fmt, h, int } from './dom.js';
import { USER_COLOURS, coloursFor } from './palette.js';

export function status(text, isError = false) {
  const node = $('#status');
  fill(node, text || '');
  node.classList.toggle('error', Boolean(isError));
  if (text && !isError) setTimeout(() => { if (node.textContent === text) fill(node, ''); }, 4000);
}

export function reportError(err) {
  console.error(err);
  status(err instanceof ApiError || err instanceof Error ? err.message : String(err), true);
}

/** The map's trust as a badge: trustworthiness and the share of 10-NN it keeps. */
export function trustBadge(info) {
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

function swatch(colour) {
  const node = h('span', { className: 'swatch' });
  node.style.background = colour;
  return node;
}

/** The colours of `pane`; `onMeasure` (or null) offers to measure every point's trust. */
export function renderLegend(pane, onMeasure) {
  const list = $('#legend');
  const lg = pane.legend;
  if (!lg) {
    fill(list, h('li', { className: 'muted' }, 'one colour; pick a column to colour by'));
    return;
  }
  const colours = coloursFor(lg);
  const items = lg.labels.map((label, i) => h('li', {}, swatch(colours[i]), h('span', {}, label),
    h('span', { className: 'count' }, int(lg.counts[i]))));
  if (lg.other) {
    items.push(h('li', {}, swatch(colours[colours.length - 1]), h('span', {}, lg.other_label),
      h('span', { className: 'count' }, int(lg.other))));
  }
  if (lg.scale === 'trust' && lg.other && pane.info.trust.point_trust !== 'all' && onMeasure) {
    items.push(h('li', {}, h('button', {
      type: 'button', title: 'Find the true 10 nearest neighbours of every point of the map (a background job)',
      onClick: onMeasure,
    }, `measure all ${int(pane.n)} points`)));
  }
  const note = lg.note ? h('li', { className: 'muted note' }, lg.note) : null;
  fill(list, h('li', { className: 'muted' }, lg.name), note, ...items);
}

/** A button that selects `id`: its title (where the space has titles) with the id beside it, or the id. */
function goButton(id, onGo, title = null) {
  const text = title ? [title, h('span', { className: 'id-tag' }, id)] : [id];
  return h('button', { className: 'go', type: 'button', title: title ? `id ${id}` : null, onClick: () => onGo(id) }, ...text);
}

const NEIGHBOUR_THUMB = 40; // CSS px of the pictures beside neighbours
const SELECTED_THUMB = 128;

/** List items of a /neighbors result; `shared` (a Set of ids) tags the ones both spaces have;
 * `thumbs` (a space of images) puts each neighbour's picture beside it. */
export function neighbourItems(result, onGo, shared = null, thumbs = null) {
  return result.neighbors.map((nb) => {
    let tag;
    if (nb.near_on_map === true) tag = h('span', { className: 'tag near', title: `${nb.map_rank}th nearest on the map` }, `map #${nb.map_rank}`);
    else if (nb.near_on_map === false) tag = h('span', { className: 'tag far', title: `far on the map: ${nb.map_rank}th nearest there` }, `far · map #${int(nb.map_rank)}`);
    else tag = h('span', { className: 'tag' }, 'not on map');
    const both = shared && shared.has(nb.id) ? h('span', { className: 'tag', title: 'a neighbour in both spaces' }, 'both') : null;
    const picture = thumbs ? thumbs.element(nb.row, NEIGHBOUR_THUMB, 'thumb nb-thumb') : null;
    return h('li', { dataset: { id: nb.id }, className: picture ? 'with-thumb' : null }, picture, goButton(nb.id, onGo, nb.title),
      h('span', { className: 'score' }, fmt(nb.score, 3)), tag, both);
  });
}

/** The selected point (a /point answer) and its neighbours (a /neighbors answer); `thumbs` (a
 * space of images) shows its picture and theirs. */
export function renderSelection(point, result, onGo, thumbs = null) {
  fill($('#sel-id'), ...(result.query.title ? [result.query.title, h('span', { className: 'id-tag' }, result.query.id)] : [result.query.id]));
  fill($('#sel-thumb'), thumbs ? thumbs.element(point.row, SELECTED_THUMB, 'thumb sel-thumb') : null);
  const meta = [['row', int(point.row)], ['vector length', fmt(point.norm, 3)]];
  for (const [k, v] of Object.entries(point.meta)) meta.push([k, v === null ? '–' : String(v)]);
  fill($('#sel-meta'), ...meta.flatMap(([k, v]) => [h('span', { className: 'k' }, k), h('span', { className: 'v' }, v)]));
  const measured = result.neighbors.filter((n) => n.near_on_map !== null);
  fill($('#sel-kept'), measured.length === 0 ? 'not on this map'
    : `${measured.filter((n) => n.near_on_map).length} of ${measured.length} are among its ${result.k} nearest on the map`);
  fill($('#neighbors'), ...neighbourItems(result, onGo, null, thumbs));
  $('#sel-hint').hidden = true;
}

export function renderMissing(id, spaceName) {
  fill($('#sel-id'), id);
  fill($('#sel-thumb'));
  fill($('#sel-meta'), h('span', { className: 'k' }, 'not in'), h('span', { className: 'v' }, spaceName));
  fill($('#neighbors'));
  fill($('#sel-kept'), '');
}

/** The neighbours of the same id in the second space, tagged where the first space agrees. */
export function renderSecondList(id, result, spaceName, firstIds, onGo, thumbs = null) {
  const title = $('#nb-b-title');
  title.hidden = false;
  if (!result) {
    fill(title, `${id} is not in ${spaceName}`);
    fill($('#neighbors-b'));
    return;
  }
  const shared = result.neighbors.filter((n) => firstIds.has(n.id)).length;
  fill(title, `in ${spaceName}: ${shared} of ${result.neighbors.length} shared`);
  fill($('#neighbors-b'), ...neighbourItems(result, onGo, firstIds, thumbs));
}

export function clearSelection() {
  for (const sel of ['#sel-id', '#sel-thumb', '#sel-meta', '#neighbors', '#neighbors-b', '#sel-kept']) fill($(sel));
  $('#nb-b-title').hidden = true;
  $('#sel-hint').hidden = false;
}

/** The search dropdown: matches (or close spellings) to pick from, with their pictures in a space of images. */
export function renderSearch(out, onGo, thumbs = null) {
  const box = $('#search-results');
  const pick = (id) => { box.hidden = true; onGo(id); };
  const entries = out.results.map((r) => h('button', { type: 'button', onClick: () => pick(r.id) },
    thumbs ? thumbs.element(r.row, 24, 'thumb search-thumb') : null, r.title ? [r.title, h('span', { className: 'id-tag' }, r.id)] : r.id,
    r.map_index === null ? ' (not on map)' : ''));
  let head = `${int(out.total)} match${out.total === 1 ? '' : 'es'}${out.total > out.results.length ? `, first ${out.results.length}` : ''}`;
  if (!out.total && out.suggestions.length) head = 'no such id; did you mean:';
  const suggestions = out.suggestions.map((s) => h('button', { type: 'button', onClick: () => pick(s) }, s));
  fill(box, h('div', { className: 'total' }, head), ...entries, ...suggestions);
  box.hidden = false;
}

export function renderAnalogy(out, onGo) {
  fill($('#analogy-answers'), ...out.answers.map((ans) => h('li', {}, goButton(ans.id, onGo, ans.title),
    h('span', { className: 'score' }, fmt(ans.score, 3)),
    ans.map_index === null ? h('span', { className: 'tag' }, 'not on map') : null)));
}

/** A /api/compare answer: the agreement, then the ids whose neighbourhoods differ most. */
export function renderCompare(out, onGo) {
  fill($('#compare-summary'), `${int(out.shared)} shared ids; over the first ${int(out.compared)}, the ${out.k} nearest ` +
    `neighbours agree ${Math.round(100 * out.mean)}% on average (median ${Math.round(100 * out.median)}%).`);
  fill($('#compare-list'), ...out.most_different.map((d) => h('li', {}, goButton(d.id, onGo),
    h('span', { className: 'score' }, `${Math.round(100 * d.overlap)}% shared`),
    h('div', { className: 'diff' }, `only in ${out.a_name}: ${d.a_only.slice(0, 5).join(', ')}`),
    h('div', { className: 'diff' }, `only in ${out.b_name}: ${d.b_only.slice(0, 5).join(', ')}`))));
}

export function renderLasso(pane, indices) {
  $('#lasso-panel').hidden = false;
  fill($('#lasso-summary'), `${int(indices.length)} points selected on ${pane.space.name}`);
  fill($('#lasso-list'), ...indices.slice(0, 30).map((i) => h('li', {}, pane.labelOf(i))),
    indices.length > 30 ? h('li', {}, `… and ${int(indices.length - 30)} more`) : null);
  $('#export-csv').disabled = indices.length === 0;
}

// ---- users of a space of items ---------------------------------------------------------------------------
const HISTORY_LISTED = 50; // the panel lists this many of a history (the map shows all that came)

/** The user picker's dropdown: the users found (a /users answer), each with their count of interactions. */
export function renderUsers(out, onPick) {
  const box = $('#user-results');
  const pick = (id) => { box.hidden = true; onPick(id); };
  const head = out.total === 0 ? `no user id contains ${out.q}`
    : `${int(out.total)} user${out.total === 1 ? '' : 's'}${out.total > out.results.length ? `, first ${out.results.length}` : ''}`;
  fill(box, h('div', { className: 'total' }, head), ...out.results.map((u) => h('button', {
    type: 'button', dataset: { user: u.id }, onClick: () => pick(u.id),
  }, u.id, h('span', { className: 'count' }, ` · ${int(u.interactions)} interactions`))));
  box.hidden = false;
}

function ring(colour) {
  const node = h('span', { className: 'swatch ring' });
  node.style.borderColor = colour;
  return node;
}

/** A user's history and recommendations (a /user answer) in the user panel, with the legend of their rings. */
export function renderUser(out, onGo) {
  fill($('#user-id'), out.user);
  const hidden = (list) => list.filter((x) => x.map_index === null).length;
  const offMap = hidden(out.history) + hidden(out.recommendations);
  fill($('#user-legend'),
    h('li', {}, ring(USER_COLOURS.history), h('span', {}, 'history (had in training)'), h('span', { className: 'count' }, int(out.interactions))),
    h('li', {}, ring(USER_COLOURS.recommended), h('span', {}, 'recommended'), h('span', { className: 'count' }, int(out.recommendations.length))),
    out.interactions > out.history.length
      ? h('li', { className: 'muted' }, `the map shows the ${int(out.history.length)} most recent of the history`) : null,
    offMap ? h('li', { className: 'muted' }, `${int(offMap)} of them are not on this map`) : null);
  fill($('#user-recs-title'), `Recommended (${out.recommendations.length})`);
  fill($('#user-recs'), ...out.recommendations.map((rec) => h('li', { dataset: { id: rec.id } },
    goButton(rec.id, onGo, rec.title), h('span', { className: 'score' }, fmt(rec.score, 3)),
    rec.because.length ? h('div', { className: 'because' }, 'because: ', ...rec.because.flatMap((b, j) => [
      j ? ', ' : null, goButton(b.id, onGo, b.title)])) : null)));
  if (out.note) fill($('#user-note'), out.note);
  else fill($('#user-note'));
  const shown = out.history.slice(0, HISTORY_LISTED);
  fill($('#user-history-title'), `History (${int(out.interactions)}, most recent first)`);
  fill($('#user-history'), ...shown.map((item) => h('li', { dataset: { id: item.id } }, goButton(item.id, onGo, item.title))),
    out.interactions > shown.length ? h('li', { className: 'muted more' }, `… and ${int(out.interactions - shown.length)} more`) : null);
  $('#user-view').hidden = false;
}

export function clearUser() {
  for (const sel of ['#user-id', '#user-legend', '#user-recs', '#user-history', '#user-note']) fill($(sel));
  $('#user-view').hidden = true;
}
