// Saving what is on screen: the lasso selection as CSV (safe for spreadsheets) and the view as PNG.

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

/** One PNG of the views side by side (canvases from each plot's snapshot()). */
export function snapshot(canvases) {
  const out = document.createElement('canvas');
  out.width = canvases.reduce((s, c) => s + c.width, 0);
  out.height = Math.max(...canvases.map((c) => c.height));
  const ctx = out.getContext('2d');
  let x = 0;
  for (const c of canvases) {
    ctx.drawImage(c, x, 0);
    x += c.width;
  }
  return new Promise((resolve, reject) => out.toBlob((blob) => (blob ? resolve(blob) : reject(new Error('the PNG could not be made'))), 'image/png'));
}
