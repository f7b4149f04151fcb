/**
 * Reads metric values out of a Prometheus text exposition: for each wanted name, the sum of its series whose
 * labels contain every `match` label (e.g. one revision). Names absent from the text are absent from the result.
 */
export function sumSeries(text: string, names: readonly string[], match: Readonly<Record<string, string>> = {}): Map<string, number> {
  const wanted = new Set(names);
  const needles = Object.entries(match).map(([k, v]) => `${k}="${v}"`);
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const brace = line.indexOf('{');
    const space = line.lastIndexOf(' ');
    if (space <= 0) continue;
    const name = brace > 0 && brace < space ? line.slice(0, brace) : line.slice(0, line.indexOf(' '));
    if (!wanted.has(name)) continue;
    const labels = brace > 0 && brace < space ? line.slice(brace, line.lastIndexOf('}') + 1) : '';
    if (!needles.every((n) => labels.includes(`{${n}`) || labels.includes(`,${n}`))) continue;
    const value = Number(line.slice(space + 1));
    if (Number.isNaN(value)) continue;
    out.set(name, (out.get(name) ?? 0) + value);
  }
  return out;
}
