/**
 * Strict field parsing shared by the device data readers: a number is a plain decimal
 * (optional sign, digits, optional fraction and exponent), nothing else. `Number()` alone
 * would read '' and ' ' as 0, '0x1f' as 31 and 'Infinity' as a value.
 */
const STRICT_NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const CANONICAL_INTEGER = /^(0|[1-9]\d*)$/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/** The number `text` spells (surrounding blanks allowed), or `NaN`; finite by construction but for overflow. */
export function parseStrictNumber(text: string): number {
  const t = text.trim();
  return STRICT_NUMBER.test(t) ? Number(t) : NaN;
}

/** A time field: a strict number, or an ISO 8601 date / date-time (milliseconds since the epoch); else `NaN`. */
export function parseTime(text: string): number {
  const t = text.trim();
  if (STRICT_NUMBER.test(t)) return Number(t);
  return ISO_DATE.test(t) ? Date.parse(t) : NaN;
}

/** `0`, `1`, `42`: a label that is its own class index. */
export function isCanonicalInteger(text: string): boolean {
  return CANONICAL_INTEGER.test(text);
}

/**
 * The documented order of ids (device ids, class names): numerically when every id is a
 * strict number (so motes 2 < 10), otherwise by UTF-16 code units (`Array.prototype.sort`),
 * which does not depend on the locale.
 */
export function sortIds(ids: Iterable<string>): string[] {
  const list = [...ids];
  if (list.every((id) => STRICT_NUMBER.test(id))) {
    return list.sort((a, b) => Number(a) - Number(b) || (a < b ? -1 : a > b ? 1 : 0));
  }
  return list.sort();
}

/**
 * Splits one CSV line into fields (RFC 4180 quoting: `"a,b"`, `""` for a quote). Returns a
 * string when the line is malformed. A quoted field spanning lines is refused: rows are read
 * line by line so that a large file never sits in memory.
 */
export function splitCsvLine(text: string, delimiter: string): string[] | string {
  if (!text.includes('"')) return text.split(delimiter);
  const fields: string[] = [];
  let i = 0;
  while (true) {
    while (text[i] === ' ' || text[i] === '\t') i++;
    if (text[i] === '"') {
      let field = '';
      i++;
      while (true) {
        const close = text.indexOf('"', i);
        if (close < 0) return 'a quoted field does not end on its line (fields spanning lines are not supported)';
        field += text.slice(i, close);
        if (text[close + 1] === '"') {
          field += '"';
          i = close + 2;
        } else {
          i = close + 1;
          break;
        }
      }
      while (text[i] === ' ' || text[i] === '\t') i++;
      fields.push(field);
      if (i >= text.length) return fields;
      if (text[i] !== delimiter) return `unexpected ${JSON.stringify(text[i])} after a quoted field at character ${i + 1}`;
      i++;
    } else {
      const next = text.indexOf(delimiter, i);
      const end = next < 0 ? text.length : next;
      const field = text.slice(i, end);
      if (field.includes('"')) return `a quote inside an unquoted field at character ${i + field.indexOf('"') + 1}`;
      fields.push(field);
      if (next < 0) return fields;
      i = next + 1;
    }
  }
}
