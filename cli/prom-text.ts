/**
 * A small reader of Prometheus' text exposition format (what `GET /metrics` answers), for `sluice top`: each
 * sample line becomes `{ name, labels, value }`. Comment lines (`# HELP`, `# TYPE`) and blank lines are skipped;
 * timestamps after the value are ignored. Only the metrics the caller asks for are kept, so a large scrape costs
 * no more than a scan.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export function parsePrometheusText(text: string, keep: (name: string) => boolean = () => true): Sample[] {
  const out: Sample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const brace = line.indexOf('{');
    const space = line.indexOf(' ');
    const nameEnd = brace !== -1 && (space === -1 || brace < space) ? brace : space;
    if (nameEnd <= 0) continue;
    const name = line.slice(0, nameEnd);
    if (!keep(name)) continue;
    let labels: Record<string, string> = {};
    let rest = line.slice(nameEnd);
    if (rest.startsWith('{')) {
      const parsed = parseLabels(rest);
      if (!parsed) continue;
      labels = parsed.labels;
      rest = rest.slice(parsed.end);
    }
    const valueText = rest.trim().split(/\s+/)[0] ?? '';
    const value = valueText === '+Inf' ? Infinity : valueText === '-Inf' ? -Infinity : Number(valueText);
    if (Number.isNaN(value) && valueText !== 'NaN') continue;
    out.push({ name, labels, value });
  }
  return out;
}

/** `{a="x",b="y\"z"}` → labels and the index after `}`; undefined when malformed. */
function parseLabels(s: string): { labels: Record<string, string>; end: number } | undefined {
  const labels: Record<string, string> = {};
  let i = 1;
  while (i < s.length) {
    while (s[i] === ' ' || s[i] === ',') i++;
    if (s[i] === '}') return { labels, end: i + 1 };
    const eq = s.indexOf('=', i);
    if (eq === -1 || s[eq + 1] !== '"') return undefined;
    const key = s.slice(i, eq).trim();
    let j = eq + 2;
    let value = '';
    while (j < s.length && s[j] !== '"') {
      if (s[j] === '\\' && j + 1 < s.length) {
        const next = s[j + 1];
        value += next === 'n' ? '\n' : next;
        j += 2;
      } else {
        value += s[j];
        j++;
      }
    }
    if (j >= s.length) return undefined;
    labels[key] = value;
    i = j + 1;
  }
  return undefined;
}
