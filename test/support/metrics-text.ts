/**
 * Reading one value out of Prometheus' text exposition format, for tests: compare numbers, not regexes
 * (`/\} 1/` also matches 10, 12 and 1.5).
 */

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/**
 * The value of the one series of metric `name` whose labels include every entry of `labels` (other labels may
 * be present), or undefined when no series matches. Throws when more than one series matches: name more labels.
 */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const matches: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const sample = parseSample(line);
    if (sample.name !== name) continue; // a longer name with this prefix
    if (Object.entries(labels).every(([k, v]) => sample.labels[k] === v)) matches.push(sample);
  }
  if (matches.length > 1) {
    const seen = matches.map((m) => JSON.stringify(m.labels)).join(', ');
    throw new Error(`metricValue: ${matches.length} series of ${name} match ${JSON.stringify(labels)} (${seen}); name more labels`);
  }
  return matches[0]?.value;
}

/** One sample line: `name{label="value",…} value [timestamp]`, label values with `\\`, `\"` and `\n` escapes. */
function parseSample(line: string): Sample {
  let i = 0;
  while (i < line.length && line[i] !== '{' && line[i] !== ' ') i++;
  const name = line.slice(0, i);
  const labels: Record<string, string> = {};
  if (line[i] === '{') {
    i++;
    while (i < line.length && line[i] !== '}') {
      const eq = line.indexOf('=', i);
      if (eq < 0 || line[eq + 1] !== '"') throw new Error(`metricValue: cannot parse labels in: ${line}`);
      const key = line.slice(i, eq).trim();
      let value = '';
      let j = eq + 2;
      for (; j < line.length && line[j] !== '"'; j++) {
        if (line[j] === '\\') {
          j++;
          value += line[j] === 'n' ? '\n' : (line[j] ?? '');
        } else value += line[j];
      }
      if (j >= line.length) throw new Error(`metricValue: unterminated label value in: ${line}`);
      labels[key] = value;
      i = j + 1;
      if (line[i] === ',') i++;
    }
    i++; // '}'
  }
  const token = line.slice(i).trim().split(/\s+/)[0] ?? '';
  return { name, labels, value: parseValue(token, line) };
}

function parseValue(token: string, line: string): number {
  if (token === '+Inf') return Infinity;
  if (token === '-Inf') return -Infinity;
  if (token === 'NaN') return NaN;
  const v = Number(token);
  if (token === '' || Number.isNaN(v)) throw new Error(`metricValue: cannot parse the value in: ${line}`);
  return v;
}
