// The lasso selection as CSV: id, row, map coordinates and the colour column, safe for spreadsheets.

function cell(value) {
  let text = value === null || value === undefined ? '' : String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`; // a spreadsheet must not read it as a formula
  return `"${text.replace(/"/g, '""')}"`;
}

/** A Blob with one line per selected map point of `pane`. */
export function lassoCsv(pane, indices) {
  const axes = pane.dims === 3 ? ['x', 'y', 'z'] : ['x', 'y'];
  const header = ['id', 'row', ...axes.map((a) => `map_${a}`)];
  const lines = [header.map(cell).join(',')];
  const coords = pane.plot.coords || null;
  for (const i of indices) {
    const row = pane.rows[i];
    const xyz = axes.map((_, d) => {
      if (pane.dims === 3) return coords[3 * i + d];
      return d === 0 ? pane.plot.x[i] : pane.plot.y[i];
    });
    lines.push([cell(pane.ids[row]), row, ...xyz.map((v) => v.toFixed(6))].join(','));
  }
  return new Blob([`${lines.join('\r\n')}\r\n`], { type: 'text/csv;charset=utf-8' });
}
