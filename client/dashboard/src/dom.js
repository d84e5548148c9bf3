// A tiny DOM builder: h('td', {class: 'num', dataset: {n: 3}}, 'text', childNode, [more]).
// Text always goes in as text nodes (labels come from grid files: never parsed as HTML).

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k === 'style' && typeof v === 'object') Object.assign(el.style, v);
      else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (k in el && typeof v !== 'string') el[k] = v; // checked, value, selected, disabled
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replaces the children of `el`. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A <select> over [value, text] pairs (or plain strings) with `value` selected. */
export function select(options, value, onChange, attrs = {}) {
  return h(
    'select',
    { ...attrs, onchange: (e) => onChange(e.target.value) },
    options.map((o) => {
      const [v, t] = Array.isArray(o) ? o : [o, o];
      return h('option', { value: v, selected: v === value }, t);
    }),
  );
}

/** A labelled control: <label class="ctl"><span>Metric</span>control</label>. */
export function labelled(text, control) {
  return h('label', { class: 'ctl' }, h('span', null, text), control);
}
