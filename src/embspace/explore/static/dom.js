// Building the page's elements. Text is only ever set with textContent: ids and metadata come from
// the data and must never be parsed as HTML.

/**
 * Make an element. `props`: className, title, type, value, disabled, hidden, placeholder, ariaLabel,
 * dataset (object), onX (event handlers). `children`: nodes, or strings/numbers added as text.
 */
export function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      node.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === 'dataset') {
      Object.assign(node.dataset, value);
    } else if (key === 'className' || key === 'title' || key === 'type' || key === 'value' ||
               key === 'disabled' || key === 'hidden' || key === 'placeholder' || key === 'checked' ||
               key === 'min' || key === 'max' || key === 'step' || key === 'name') {
      node[key] = value;
    } else if (key === 'ariaLabel') {
      node.setAttribute('aria-label', String(value));
    } else {
      throw new Error(`h(): unsupported property ${key}`);
    }
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace the children of `node`. */
export function fill(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

export const $ = (selector, root = document) => root.querySelector(selector);

export function fmt(x, digits = 3) {
  return x === null || x === undefined || Number.isNaN(x) ? '–' : Number(x).toFixed(digits);
}

export function int(x) {
  return Number(x).toLocaleString('en-US');
}

/** Offer `blob` as a download called `name`. */
export function download(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = h('a', {});
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
