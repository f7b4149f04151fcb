/**
 * A small dependency-free SVG chart writer: grouped bar charts (throughput per system, latency percentiles)
 * and line charts (time series, optionally with a second y axis on the right and labelled vertical markers).
 * Output is a self-contained SVG string with a title, axes, ticks and legend.
 */

export interface BarSeries {
  name: string;
  /** one value per category; NaN draws no bar */
  values: readonly number[];
}

export interface BarChartSpec {
  title: string;
  yLabel: string;
  categories: readonly string[];
  series: readonly BarSeries[];
  /** logarithmic y axis (powers of ten), for latencies whose tails dwarf their medians */
  logScale?: boolean;
  width?: number;
  height?: number;
}

export interface LineSeries {
  name: string;
  points: ReadonlyArray<readonly [number, number]>;
  /** draw as a step function (the value holds until the next point), for counts such as replicas */
  step?: boolean;
}

/** A labelled vertical line at `x` (an event on the time axis). */
export interface ChartMarker {
  x: number;
  label: string;
}

export interface LineChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly LineSeries[];
  /** series scaled on their own axis on the right (e.g. replicas beside requests) */
  secondary?: { yLabel: string; series: readonly LineSeries[]; /** whole-number ticks (counts) */ integer?: boolean };
  markers?: readonly ChartMarker[];
  width?: number;
  height?: number;
}

const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
const MARGIN = { top: 40, right: 160, bottom: 70, left: 70 };

export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] ?? c);
}

/** Round tick values covering [0, max]: 1, 2 or 5 times a power of ten, about `count` of them. */
export function niceTicks(max: number, count = 5): number[] {
  if (!(max > 0) || !Number.isFinite(max)) return [0, 1];
  const raw = max / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 5, 10].find((m) => m * power >= raw) ?? 10) * power;
  const ticks: number[] = [];
  for (let v = 0; v < max + step * 0.999; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

function formatTick(v: number): string {
  if (v >= 10_000) return `${Number((v / 1000).toPrecision(4))}k`;
  return String(Number(v.toPrecision(4)));
}

function frame(title: string, width: number, height: number, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(title)}</text>`,
    ...body,
    '</svg>',
  ].join('\n');
}

/** Powers of ten from just below `min` to just above `max` (both > 0). */
export function logTicks(min: number, max: number): number[] {
  const lo = Math.floor(Math.log10(min > 0 ? min : 1));
  const hi = Math.max(lo + 1, Math.ceil(Math.log10(max > 0 ? max : 10)));
  return Array.from({ length: hi - lo + 1 }, (_, i) => Number((10 ** (lo + i)).toPrecision(12)));
}

/** Maps a value to 0..1 of the axis height. */
type Scale = (value: number) => number;

function linearScale(ticks: number[]): Scale {
  const max = ticks[ticks.length - 1] ?? 1;
  return (v) => v / max;
}

function logScale(ticks: number[]): Scale {
  const lo = Math.log10(ticks[0] ?? 1);
  const hi = Math.log10(ticks[ticks.length - 1] ?? 10);
  return (v) => Math.max(0, (Math.log10(Math.max(v, 10 ** lo)) - lo) / (hi - lo));
}

function yAxis(ticks: number[], scale: Scale, top: number, plotH: number, left: number, plotW: number, label: string): string[] {
  const out: string[] = [];
  for (const t of ticks) {
    const y = top + plotH - scale(t) * plotH;
    out.push(`<line x1="${left}" x2="${left + plotW}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" stroke="#e0e0e0"/>`);
    out.push(`<text x="${left - 6}" y="${(y + 4).toFixed(1)}" text-anchor="end">${formatTick(t)}</text>`);
  }
  const midY = top + plotH / 2;
  out.push(`<text x="16" y="${midY}" text-anchor="middle" transform="rotate(-90 16 ${midY})">${escapeXml(label)}</text>`);
  out.push(`<line x1="${left}" x2="${left}" y1="${top}" y2="${top + plotH}" stroke="#333"/>`);
  out.push(`<line x1="${left}" x2="${left + plotW}" y1="${top + plotH}" y2="${top + plotH}" stroke="#333"/>`);
  return out;
}

function legend(names: readonly string[], x: number, y: number, line: boolean): string[] {
  return names.flatMap((name, i) => {
    const colour = PALETTE[i % PALETTE.length];
    const rowY = y + i * 18;
    const mark = line
      ? `<line x1="${x}" x2="${x + 14}" y1="${rowY + 5}" y2="${rowY + 5}" stroke="${colour}" stroke-width="2"/>`
      : `<rect x="${x}" y="${rowY}" width="12" height="12" fill="${colour}"/>`;
    return [mark, `<text x="${x + 18}" y="${rowY + 10}">${escapeXml(name)}</text>`];
  });
}

export function barChart(spec: BarChartSpec): string {
  const width = spec.width ?? 760;
  const height = spec.height ?? 380;
  const plotW = width - MARGIN.left - MARGIN.right;
  const plotH = height - MARGIN.top - MARGIN.bottom;
  const finite = spec.series.flatMap((s) => s.values.filter((v) => Number.isFinite(v) && (!spec.logScale || v > 0)));
  const max = Math.max(0, ...finite);
  const ticks = spec.logScale ? logTicks(finite.length > 0 ? Math.min(...finite) : 1, max) : niceTicks(max);
  const scale = spec.logScale ? logScale(ticks) : linearScale(ticks);
  const body = yAxis(ticks, scale, MARGIN.top, plotH, MARGIN.left, plotW, spec.logScale ? `${spec.yLabel} (log scale)` : spec.yLabel);
  const groupW = plotW / Math.max(1, spec.categories.length);
  const barW = (groupW * 0.8) / Math.max(1, spec.series.length);
  spec.categories.forEach((category, c) => {
    const groupX = MARGIN.left + c * groupW + groupW * 0.1;
    spec.series.forEach((series, s) => {
      const value = series.values[c];
      if (value === undefined || !Number.isFinite(value)) return;
      const h = scale(value) * plotH;
      const x = groupX + s * barW;
      const y = MARGIN.top + plotH - h;
      body.push(
        `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${Math.max(1, barW - 1).toFixed(1)}" height="${h.toFixed(1)}" fill="${PALETTE[s % PALETTE.length]}"><title>${escapeXml(`${category} · ${series.name}: ${formatTick(value)}`)}</title></rect>`,
      );
    });
    const labelX = MARGIN.left + c * groupW + groupW / 2;
    const labelY = MARGIN.top + plotH + 14;
    body.push(
      `<text x="${labelX.toFixed(1)}" y="${labelY}" text-anchor="end" transform="rotate(-25 ${labelX.toFixed(1)} ${labelY})">${escapeXml(category)}</text>`,
    );
  });
  body.push(...legend(spec.series.map((s) => s.name), width - MARGIN.right + 14, MARGIN.top, false));
  return frame(spec.title, width, height, body);
}

/** Ticks covering the finite y values of `series` (0 to a round maximum). */
function seriesTicks(series: readonly LineSeries[], integer = false): number[] {
  const ys = series.flatMap((s) => s.points.map((p) => p[1])).filter(Number.isFinite);
  const max = Math.max(0, ...ys);
  // Counts get a step of at least 1: 0..3 replicas read 0, 1, 2, 3, not 0, 0.5, 1, ….
  return integer ? niceTicks(Math.max(1, max), Math.min(5, Math.max(1, Math.ceil(max)))) : niceTicks(max);
}

function linePath(series: LineSeries, px: (x: number) => number, py: (y: number) => number): string | null {
  const points = series.points.filter((p) => Number.isFinite(p[1]));
  if (points.length === 0) return null;
  const parts: string[] = [];
  points.forEach((p, j) => {
    const x = px(p[0]).toFixed(1);
    const y = py(p[1]).toFixed(1);
    if (j === 0) parts.push(`M${x},${y}`);
    else if (series.step) parts.push(`H${x} V${y}`);
    else parts.push(`L${x},${y}`);
  });
  return parts.join(' ');
}

export function lineChart(spec: LineChartSpec): string {
  const width = spec.width ?? 760;
  const height = spec.height ?? 380;
  const secondary = spec.secondary?.series ?? [];
  // A right axis needs room for its tick labels and its title before the legend.
  const right = spec.secondary ? MARGIN.right + 60 : MARGIN.right;
  const plotW = width - MARGIN.left - right;
  const plotH = height - MARGIN.top - MARGIN.bottom;
  const all = [...spec.series, ...secondary];
  const xs = all.flatMap((s) => s.points.map((p) => p[0])).concat((spec.markers ?? []).map((m) => m.x));
  const xMin = Math.min(0, ...xs);
  const xMax = Math.max(1, ...xs);
  const ticks = seriesTicks(spec.series);
  const yTop = ticks[ticks.length - 1] ?? 1;
  const body = yAxis(ticks, linearScale(ticks), MARGIN.top, plotH, MARGIN.left, plotW, spec.yLabel);
  const px = (x: number): number => MARGIN.left + ((x - xMin) / (xMax - xMin)) * plotW;
  const py = (y: number): number => MARGIN.top + plotH - (y / yTop) * plotH;
  for (const t of niceTicks(xMax - xMin, 8).filter((t) => t <= (xMax - xMin) * 1.0001)) {
    const x = px(xMin + t);
    body.push(`<text x="${x.toFixed(1)}" y="${MARGIN.top + plotH + 16}" text-anchor="middle">${formatTick(xMin + t)}</text>`);
  }
  body.push(
    `<text x="${MARGIN.left + plotW / 2}" y="${height - 20}" text-anchor="middle">${escapeXml(spec.xLabel)}</text>`,
  );
  (spec.markers ?? []).forEach((m, i) => {
    const x = px(m.x).toFixed(1);
    // Labels cycle through three rows so that close markers do not overprint each other.
    const labelY = MARGIN.top + 12 + (i % 3) * 13;
    body.push(`<line x1="${x}" x2="${x}" y1="${MARGIN.top}" y2="${MARGIN.top + plotH}" stroke="#999" stroke-dasharray="4 3"/>`);
    body.push(`<text x="${x}" y="${labelY}" dx="3" font-size="10" fill="#555">${escapeXml(m.label)}</text>`);
  });
  spec.series.forEach((series, i) => {
    const d = linePath(series, px, py);
    if (d) body.push(`<path d="${d}" fill="none" stroke="${PALETTE[i % PALETTE.length]}" stroke-width="2"><title>${escapeXml(series.name)}</title></path>`);
  });
  if (spec.secondary) {
    const ticks2 = seriesTicks(secondary, spec.secondary.integer);
    const top2 = ticks2[ticks2.length - 1] ?? 1;
    const py2 = (y: number): number => MARGIN.top + plotH - (y / top2) * plotH;
    const axisX = MARGIN.left + plotW;
    body.push(`<line x1="${axisX}" x2="${axisX}" y1="${MARGIN.top}" y2="${MARGIN.top + plotH}" stroke="#333"/>`);
    for (const t of ticks2) {
      body.push(`<text x="${axisX + 6}" y="${(py2(t) + 4).toFixed(1)}" text-anchor="start">${formatTick(t)}</text>`);
    }
    const labelX = axisX + 46;
    const midY = MARGIN.top + plotH / 2;
    body.push(`<text x="${labelX}" y="${midY}" text-anchor="middle" transform="rotate(90 ${labelX} ${midY})">${escapeXml(spec.secondary.yLabel)}</text>`);
    secondary.forEach((series, j) => {
      const d = linePath(series, px, py2);
      const colour = PALETTE[(spec.series.length + j) % PALETTE.length];
      if (d) body.push(`<path d="${d}" fill="none" stroke="${colour}" stroke-width="2" stroke-dasharray="6 3"><title>${escapeXml(`${series.name} (right axis)`)}</title></path>`);
    });
  }
  const names = [...spec.series.map((s) => s.name), ...secondary.map((s) => `${s.name} (right)`)];
  body.push(...legend(names, width - right + (spec.secondary ? 62 : 14), MARGIN.top, true));
  return frame(spec.title, width, height, body);
}
