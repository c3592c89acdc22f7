/**
 * Text from the network made safe to print on a terminal. A device id, topic, error message,
 * capability or payload string may hold control characters: `ESC ] 0 ; ... BEL` retitles the
 * terminal, `ESC [ 2 J` clears it, other sequences move the cursor, hide text or (on some
 * terminals) answer back. Every printer of the monitor (the terminal view, `--topics`, `--json`)
 * and the command line's lines about remote clients go through here.
 *
 * C0 controls (U+0000-U+001F), DEL (U+007F) and C1 controls (U+0080-U+009F) become visible
 * escapes (`\x1b`); so do the Unicode bidirectional controls (U+061C, U+200E, U+200F,
 * U+202A-U+202E, U+2066-U+2069), which reorder what is shown ("Trojan Source"). Everything else
 * is left as it is; a string without any of these is returned unchanged.
 */

// eslint-disable-next-line no-control-regex
const UNPRINTABLE = /[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
// eslint-disable-next-line no-control-regex
const UNPRINTABLE_TEST = /[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

function escape(c: string): string {
  const code = c.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** `text` with every control character written as a visible escape (`\x1b`, `\u202e`). */
export function printable(text: string): string {
  return UNPRINTABLE_TEST.test(text) ? text.replace(UNPRINTABLE, escape) : text;
}

/**
 * A value with every string in it (keys too) made {@link printable}; objects and arrays are
 * copied only where something changed, so a clean snapshot costs one walk and no copy.
 */
export function printableDeep<T>(value: T): T {
  return deep(value) as T;
}

function deep(value: unknown): unknown {
  if (typeof value === 'string') return printable(value);
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const v = deep(value[i]);
      if (v !== value[i]) (out ??= value.slice())[i] = v;
    }
    return out ?? value;
  }
  if (typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype) {
    let changed = false;
    const entries = Object.entries(value).map(([k, v]) => {
      const [pk, pv] = [printable(k), deep(v)];
      if (pk !== k || pv !== v) changed = true;
      return [pk, pv] as const;
    });
    return changed ? Object.fromEntries(entries) : value;
  }
  return value;
}

// JSON.stringify escapes C0 already; these it leaves raw.
const JSON_UNPRINTABLE = /[\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/**
 * JSON.stringify whose output holds no control character: DEL, C1 and bidirectional controls
 * are written as `\u00XX` escapes too, so the JSON parses back to exactly the same strings.
 */
export function printableJson(value: unknown, space?: number): string {
  const json = JSON.stringify(value, null, space) as string | undefined;
  return (json ?? 'null').replace(JSON_UNPRINTABLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
