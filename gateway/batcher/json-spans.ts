/**
 * Where the values of a JSON text are, without building them: the batcher splices the raw text of `instances`
 * and `data` arrays (parsing a large tensor into numbers and printing it again costs ~28 ms per MB here; one
 * scan over the characters costs a fraction of that, see load-tests/scenarios/batching.ts). The scan checks the
 * whole grammar (RFC 8259), so a text it accepts is JSON and a splice of accepted pieces is JSON too.
 */

/** The text is not JSON (or nests deeper than MAX_DEPTH): the request is sent alone, the runtime answers it. */
export class NotJson extends Error {}

const MAX_DEPTH = 64;

/** A value's span: `text.slice(start, end)` is the value's JSON text. */
export interface Span {
  start: number;
  end: number;
}

/** A member of an object: its decoded key and its value's span. */
export interface Member extends Span {
  key: string;
  /** Where the member begins (its key's opening quote). */
  memberStart: number;
}

function ws(s: string, i: number): number {
  for (;;) {
    const c = s.charCodeAt(i);
    if (c === 32 || c === 10 || c === 13 || c === 9) i++;
    else return i;
  }
}

function fail(i: number, what: string): never {
  throw new NotJson(`${what} at ${i}`);
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function scanString(s: string, i: number): number {
  // s[i] is '"'
  i++;
  for (;;) {
    const c = s.charCodeAt(i);
    if (c === 34) return i + 1;
    if (c === 92) {
      const e = s.charCodeAt(i + 1);
      if (e === 117) {
        for (let k = 2; k < 6; k++) {
          const h = s.charCodeAt(i + k);
          if (!((h >= 48 && h <= 57) || (h >= 65 && h <= 70) || (h >= 97 && h <= 102))) fail(i, 'bad \\u escape');
        }
        i += 6;
      } else if (e === 34 || e === 92 || e === 47 || e === 98 || e === 102 || e === 110 || e === 114 || e === 116) i += 2;
      else fail(i, 'bad escape');
    } else if (c < 32 || Number.isNaN(c)) fail(i, 'unterminated string');
    else i++;
  }
}

function scanNumber(s: string, i: number): number {
  if (s.charCodeAt(i) === 45) i++;
  let c = s.charCodeAt(i);
  if (c === 48) i++;
  else if (c >= 49 && c <= 57) while (isDigit(s.charCodeAt(i))) i++;
  else fail(i, 'bad number');
  if (s.charCodeAt(i) === 46) {
    i++;
    if (!isDigit(s.charCodeAt(i))) fail(i, 'bad fraction');
    while (isDigit(s.charCodeAt(i))) i++;
  }
  c = s.charCodeAt(i);
  if (c === 101 || c === 69) {
    i++;
    c = s.charCodeAt(i);
    if (c === 43 || c === 45) i++;
    if (!isDigit(s.charCodeAt(i))) fail(i, 'bad exponent');
    while (isDigit(s.charCodeAt(i))) i++;
  }
  return i;
}

function literal(s: string, i: number, word: string): number {
  if (!s.startsWith(word, i)) fail(i, 'unexpected character');
  return i + word.length;
}

/** The end of the value starting at `i` (after whitespace), checked. */
export function scanValue(s: string, i: number, depth = 0): number {
  i = ws(s, i);
  const c = s.charCodeAt(i);
  if (c === 34) return scanString(s, i);
  if (c === 123 || c === 91) {
    if (depth >= MAX_DEPTH) fail(i, 'nested too deep');
    const close = c === 123 ? 125 : 93;
    i = ws(s, i + 1);
    if (s.charCodeAt(i) === close) return i + 1;
    for (;;) {
      if (c === 123) {
        if (s.charCodeAt(i) !== 34) fail(i, 'expected a key');
        i = ws(s, scanString(s, i));
        if (s.charCodeAt(i) !== 58) fail(i, "expected ':'");
        i++;
      }
      i = ws(s, scanValue(s, i, depth + 1));
      const d = s.charCodeAt(i);
      if (d === close) return i + 1;
      if (d !== 44) fail(i, "expected ',' or a close");
      i = ws(s, i + 1);
    }
  }
  if (c === 116) return literal(s, i, 'true');
  if (c === 102) return literal(s, i, 'false');
  if (c === 110) return literal(s, i, 'null');
  return scanNumber(s, i);
}

/**
 * The members of the object at `start` (after whitespace), and where it ends. Throws NotJson. `scan`, when given,
 * may scan a member's value itself (returning its end) so a value is read once; undefined lets the default scan it.
 */
export function objectMembers(s: string, start: number, scan?: (key: string, start: number) => number | undefined): { members: Member[]; end: number } {
  let i = ws(s, start);
  if (s.charCodeAt(i) !== 123) fail(i, 'expected an object');
  const members: Member[] = [];
  i = ws(s, i + 1);
  if (s.charCodeAt(i) === 125) return { members, end: i + 1 };
  for (;;) {
    if (s.charCodeAt(i) !== 34) fail(i, 'expected a key');
    const keyEnd = scanString(s, i);
    const key = JSON.parse(s.slice(i, keyEnd)) as string;
    const memberStart = i;
    i = ws(s, keyEnd);
    if (s.charCodeAt(i) !== 58) fail(i, "expected ':'");
    const vStart = ws(s, i + 1);
    const vEnd = scan?.(key, vStart) ?? scanValue(s, vStart, 1);
    members.push({ key, memberStart, start: vStart, end: vEnd });
    i = ws(s, vEnd);
    const d = s.charCodeAt(i);
    if (d === 125) return { members, end: i + 1 };
    if (d !== 44) fail(i, "expected ',' or '}'");
    i = ws(s, i + 1);
  }
}

/** The elements of the array at `start` (after whitespace), and where it ends. Throws NotJson. */
export function arrayElements(s: string, start: number): { items: Span[]; end: number } {
  let i = ws(s, start);
  if (s.charCodeAt(i) !== 91) fail(i, 'expected an array');
  const items: Span[] = [];
  i = ws(s, i + 1);
  if (s.charCodeAt(i) === 93) return { items, end: i + 1 };
  for (;;) {
    const end = scanValue(s, i, 1);
    items.push({ start: i, end });
    i = ws(s, end);
    const d = s.charCodeAt(i);
    if (d === 93) return { items, end: i + 1 };
    if (d !== 44) fail(i, "expected ',' or ']'");
    i = ws(s, i + 1);
  }
}

/** A whole text that is one object: its members. Throws NotJson when anything but whitespace follows. */
export function topMembers(s: string, scan?: (key: string, start: number) => number | undefined): Member[] {
  const { members, end } = objectMembers(s, 0, scan);
  if (ws(s, end) !== s.length) fail(end, 'text after the object');
  return members;
}

/** The text between two elements of an array (`, ` for Python's json), to join slices as the runtime did. */
export function separatorOf(s: string, items: readonly Span[]): string {
  return items.length > 1 ? s.slice(items[0]!.end, items[1]!.start) : ',';
}

/** `[a, b, …]`: the elements `from` to `to` (exclusive) of `items`, one slice of the text with its own separators. */
export function sliceArray(s: string, items: readonly Span[], from: number, to: number): string {
  return to > from ? `[${s.slice(items[from]!.start, items[to - 1]!.end)}]` : '[]';
}

/** The elements of an array, without its brackets: one slice of the text. */
export function innerOf(s: string, items: readonly Span[]): string {
  return items.length > 0 ? s.slice(items[0]!.start, items[items.length - 1]!.end) : '';
}

/** `text` with spans replaced (spans in any order, not overlapping). */
export function replaceSpans(text: string, edits: ReadonlyArray<{ span: Span; with: string }>): string {
  const sorted = [...edits].sort((a, b) => a.span.start - b.span.start);
  let out = '';
  let at = 0;
  for (const e of sorted) {
    out += text.slice(at, e.span.start) + e.with;
    at = e.span.end;
  }
  return out + text.slice(at);
}
