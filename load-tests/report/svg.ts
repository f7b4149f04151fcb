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

export interface LineChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly LineSeries[];
  /** vertical dashed lines across the plot (e.g. "promote" at 20 s) */
  markers?: readonly Marker[];
  /** fixed top of the y axis (e.g. 100 for a percentage); default: a round tick above the data */
  yMax?: number;
  width?: number;
  height?: number;
}

/** A labelled vertical line at `x` (an event: promote, a replica kill, the load stopping). */
export interface Marker {
  x: number;
  label: string;
  /** default grey */
  colour?: string;
}

/** A shaded x range drawn behind the lines (e.g. a warm-up), labelled in the top panel. */
export interface Band {
  from: number;
  to: number;
  label: string;
}

/** One panel of a stacked chart: its own y axis, series and legend, sharing the x axis with the others. */
export interface Panel {
  yLabel: string;
  series: readonly LineSeries[];
  yMax?: number;
  /** whole-number ticks (counts such as replicas) */
  integer?: boolean;
}

/** Panels stacked top to bottom over one x axis, so series of different units line up in time. */
export interface StackedChartSpec {
  title: string;
  xLabel: string;
  panels: readonly Panel[];
  markers?: readonly Marker[];
  bands?: readonly Band[];
  width?: number;
  /** plot height of each panel (default 170) */
  panelHeight?: number;
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
  const plotH = height - MARGIN.top - MARGIN.bottom;
  const xRange = xExtent([spec.series]);
  const body = linePanel({ yLabel: spec.yLabel, series: spec.series, yMax: spec.yMax }, MARGIN.top, plotH, width, xRange, spec.markers ?? []);
  body.push(...xAxis(xRange, MARGIN.top + plotH, width, spec.xLabel, height - 20));
  return frame(spec.title, width, height, body);
}

export function stackedLineChart(spec: StackedChartSpec): string {
  const width = spec.width ?? 760;
  const plotH = spec.panelHeight ?? 170;
  const gap = 28;
  const height = MARGIN.top + spec.panels.length * plotH + (spec.panels.length - 1) * gap + MARGIN.bottom;
  const xRange = xExtent(spec.panels.map((p) => p.series), (spec.markers ?? []).map((m) => m.x));
  const body: string[] = [];
  spec.panels.forEach((panel, i) => {
    const top = MARGIN.top + i * (plotH + gap);
    for (const band of spec.bands ?? []) {
      const x1 = xPixel(Math.max(xRange.min, band.from), xRange, width);
      const x2 = xPixel(Math.min(xRange.max, band.to), xRange, width);
      body.push(`<rect x="${x1.toFixed(1)}" y="${top}" width="${Math.max(0, x2 - x1).toFixed(1)}" height="${plotH}" fill="#f2f2f2"/>`);
      if (i === 0) body.push(`<text x="${(x1 + 4).toFixed(1)}" y="${top + 14}" fill="#777">${escapeXml(band.label)}</text>`);
    }
    body.push(...linePanel(panel, top, plotH, width, xRange, spec.markers ?? [], i === 0));
  });
  const bottom = MARGIN.top + spec.panels.length * plotH + (spec.panels.length - 1) * gap;
  body.push(...xAxis(xRange, bottom, width, spec.xLabel, height - 20));
  return frame(spec.title, width, height, body);
}

type XRange = { min: number; max: number };

function xExtent(seriesSets: ReadonlyArray<readonly LineSeries[]>, extra: readonly number[] = []): XRange {
  const xs = [...seriesSets.flatMap((set) => set.flatMap((s) => s.points.map((p) => p[0]))), ...extra];
  const min = Math.min(0, ...xs);
  return { min, max: Math.max(min + 1, ...xs) };
}

function xPixel(x: number, range: XRange, width: number): number {
  const plotW = width - MARGIN.left - MARGIN.right;
  return MARGIN.left + ((x - range.min) / (range.max - range.min)) * plotW;
}

function xAxis(range: XRange, axisY: number, width: number, label: string, labelY: number): string[] {
  const out: string[] = [];
  for (const t of niceTicks(range.max - range.min, 8)) {
    if (range.min + t > range.max + 1e-9) break;
    const x = xPixel(range.min + t, range, width);
    out.push(`<text x="${x.toFixed(1)}" y="${axisY + 16}" text-anchor="middle">${formatTick(range.min + t)}</text>`);
  }
  const plotW = width - MARGIN.left - MARGIN.right;
  out.push(`<text x="${MARGIN.left + plotW / 2}" y="${labelY}" text-anchor="middle">${escapeXml(label)}</text>`);
  return out;
}

/** One y axis with its series, markers and legend; `labelMarkers` writes the markers' labels above it. */
function linePanel(panel: Panel, top: number, plotH: number, width: number, range: XRange, markers: readonly Marker[], labelMarkers = true): string[] {
  const plotW = width - MARGIN.left - MARGIN.right;
  const ticks = panel.yMax !== undefined ? niceTicks(panel.yMax) : seriesTicks(panel.series, panel.integer);
  const yTop = ticks[ticks.length - 1] ?? 1;
  const body = yAxis(ticks, linearScale(ticks), top, plotH, MARGIN.left, plotW, panel.yLabel);
  const py = (y: number): number => top + plotH - (Math.min(y, yTop) / yTop) * plotH;
  markers.forEach((m, i) => {
    const x = xPixel(m.x, range, width).toFixed(1);
    const colour = m.colour ?? '#555';
    body.push(`<line x1="${x}" x2="${x}" y1="${top}" y2="${top + plotH}" stroke="${colour}" stroke-dasharray="4 3"><title>${escapeXml(`${m.label} at ${formatTick(m.x)}`)}</title></line>`);
    // Labels cycle through three rows inside the plot so that close markers do not overprint each other.
    if (labelMarkers) body.push(`<text x="${x}" y="${top + 12 + (i % 3) * 13}" dx="3" font-size="10" fill="${colour}">${escapeXml(m.label)}</text>`);
  });
  panel.series.forEach((series, i) => {
    const d = linePath(series, (x) => xPixel(x, range, width), py);
    if (d) body.push(`<path d="${d}" fill="none" stroke="${PALETTE[i % PALETTE.length]}" stroke-width="2"><title>${escapeXml(series.name)}</title></path>`);
  });
  body.push(...legend(panel.series.map((s) => s.name), width - MARGIN.right + 14, top, true));
  return body;
}
