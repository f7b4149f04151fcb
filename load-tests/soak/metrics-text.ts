/**
 * Reading Prometheus' text exposition format, as much as the soak needs: the sum of every series of one
 * metric (all label sets), or undefined when the metric has no series.
 */
export function sumOfSeries(text: string, name: string): number | undefined {
  let sum: number | undefined;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const next = line.charAt(name.length);
    if (next !== '{' && next !== ' ') continue; // a longer name with this prefix
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(value)) sum = (sum ?? 0) + value;
  }
  return sum;
}
