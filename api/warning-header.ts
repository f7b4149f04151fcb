/**
 * The admin API's warnings travel as the Kubernetes API server sends them: one `Warning: 299 - "<text>"` header
 * value each (RFC 7234 §5.5 syntax, code 299 "miscellaneous persistent warning", no agent). The server formats,
 * the CLI parses and prints them as kubectl does (`Warning: <text>` on stderr).
 */

/** Most warnings sent with one answer; the rest are summarised in one last warning. */
export const MAX_WARNINGS = 20;
/** Longest warning text sent (longer ones are cut, ending in `...`). */
export const MAX_WARNING_CHARS = 512;

/** Header values for `texts`: bounded in count and length, printable ASCII only (others become `?`), quoted. */
export function warningHeaderValues(texts: readonly string[]): string[] {
  const kept = texts.length > MAX_WARNINGS ? [...texts.slice(0, MAX_WARNINGS - 1), `${texts.length - MAX_WARNINGS + 1} more warnings not shown`] : texts;
  return kept.map((t) => {
    const printable = t.replace(/[^\x20-\x7e]/g, '?');
    const cut = printable.length > MAX_WARNING_CHARS ? `${printable.slice(0, MAX_WARNING_CHARS - 3)}...` : printable;
    return `299 - "${cut.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
  });
}

/**
 * The texts of a `Warning` header as a client receives it (values joined by `, `, as fetch joins them). Values
 * that do not parse are skipped; a comma inside a quoted text does not split it.
 */
export function parseWarningHeader(header: string | null): string[] {
  if (!header) return [];
  const out: string[] = [];
  let i = 0;
  const n = header.length;
  while (i < n) {
    // warn-code SP warn-agent SP warn-text [SP warn-date]
    const m = /^[\s,]*(\d{3}) +(\S+) +"/.exec(header.slice(i));
    if (!m) break;
    i += m[0].length;
    let text = '';
    while (i < n && header[i] !== '"') {
      if (header[i] === '\\' && i + 1 < n) i++;
      text += header[i];
      i++;
    }
    i++; // the closing quote
    out.push(text);
    // An optional quoted date, then up to the next value.
    while (i < n && header[i] !== ',') {
      if (header[i] === '"') {
        i++;
        while (i < n && header[i] !== '"') i += header[i] === '\\' ? 2 : 1;
      }
      i++;
    }
  }
  return out;
}
