// Number and time formatting. Every missing value (NaN, +-Infinity, undefined) reads "–".

export const DASH = '\u2013';

export function finite(v) {
  return typeof v === 'number' && Number.isFinite(v);
}

/** `digits` significant digits, without exponents for ordinary magnitudes. */
export function sig(v, digits = 4) {
  if (!finite(v)) return DASH;
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 10 ** digits) return Math.round(v).toLocaleString('en-US');
  if (a < 1e-3) return v.toExponential(Math.max(0, digits - 1)).replace('e-', 'e\u2212');
  return v.toPrecision(digits);
}

/** A count (int32 or int64 decoded to a number). */
export function int(v) {
  return finite(v) ? Math.round(v).toLocaleString('en-US') : DASH;
}

/** "[low, high]" with `digits` significant digits. */
export function ci(low, high, digits = 4) {
  if (!finite(low) || !finite(high)) return DASH;
  return `[${sig(low, digits)}, ${sig(high, digits)}]`;
}

/** A p-value: "< 1e−300" style exponents for tiny ones, 3 decimals otherwise. */
export function pval(p) {
  if (!finite(p)) return DASH;
  if (p === 0) return '< 1e\u2212300';
  if (p < 1e-3) return p.toExponential(1).replace('e-', 'e\u2212');
  return p.toFixed(3);
}

/** Share in [0, 1] as a percentage ("97%"). */
export function percent(fraction) {
  if (!finite(fraction)) return DASH;
  const p = fraction * 100;
  return `${p >= 99.95 || p === 0 ? p.toFixed(0) : p.toFixed(1)}%`;
}

/** Local date and time, minutes precision: "2026-11-25 17:56". */
export function dateTime(ms) {
  if (!finite(ms) || ms <= 0) return DASH;
  const d = new Date(ms);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** "12 s ago", "3 min ago", ... */
export function ago(ms) {
  if (!finite(ms) || ms <= 0) return DASH;
  const s = Math.max(0, (Date.now() - ms) / 1000);
  if (s < 60) return `${Math.round(s)} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return dateTime(ms);
}
