// Whether this browser can draw the maps: the 2-D maps need WebGL (regl-scatterplot), the 3-D maps
// WebGL 2 (three.js). Without it the page says so and points to the maps that need none.
import { $, fill } from './dom.js';

export const FILE_MAPS = 'embspace map SPACE -o map.html (an interactive page that needs no WebGL) or -o map.png';

let found = null;

function can(kind) {
  try {
    const gl = document.createElement('canvas').getContext(kind);
    if (!gl) return false;
    const lose = gl.getExtension('WEBGL_lose_context');
    if (lose) lose.loseContext(); // hand the context back: a page gets only a few at once
    return true;
  } catch (e) {
    return false;
  }
}

/** {webgl, webgl2}: what this browser can draw with (probed once, or again when `again`). */
export function webgl(again = false) {
  if (!found || again) found = { webgl: can('webgl'), webgl2: can('webgl2') };
  return found;
}

export class NoWebGL extends Error {}

/** The error to show when drawing a map of `dims` failed with `err`: the WebGL it lacks, if that
 * is why (the library's own message, e.g. about getExtension of null, says nothing useful). */
export function explainDrawingError(err, dims) {
  const now = webgl(true);
  if (!now.webgl) return new NoWebGL(`this browser cannot draw with WebGL; draw the map to a file instead: ${FILE_MAPS}`);
  if (dims === 3 && !now.webgl2) {
    return new NoWebGL('3-D maps need WebGL 2, which this browser lacks; pick a 2-D map, or draw this one to a file: ' +
      'embspace map SPACE --dims 3 -o map.html');
  }
  return err;
}

/** Replace the explorer by a notice that says it needs WebGL and what to do instead. */
export function showNoWebGL(spaces) {
  document.body.classList.add('no-webgl');
  $('#no-webgl').hidden = false;
  const names = (spaces || []).map((s) => s.name);
  fill($('#no-webgl-spaces'), names.length ? `This explorer serves: ${names.join(', ')}.` : '');
  document.body.dataset.ready = 'no-webgl';
}
