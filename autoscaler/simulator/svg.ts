import type { SimReport, TimelinePoint } from './simulate.js';

const W = 1000;
const H = 440;
const PAD = { left: 60, right: 20, top: 76, bottom: 44 };

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function fmt(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toFixed(1);
}

/** Smallest "nice" step (1, 2, 5 × 10^k) giving at most `n` intervals over `max`. */
function niceStep(max: number, n: number): number {
  const raw = max / n;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  for (const m of [1, 2, 5, 10]) if (m * mag >= raw) return m * mag;
  return 10 * mag;
}

/**
 * Draws a simulation as a dependency-free SVG: demand (in replicas: in-flight ÷ target) as a grey area, desired
 * replicas as a blue step line, ready replicas as a green step line, held requests as a thin red line on the
 * same scale (÷ target), and the headline numbers in the title.
 */
export function renderSimulationSvg(report: SimReport): string {
  const pts = report.timeline;
  const tMax = Math.max(1, pts.length > 0 ? pts[pts.length - 1]!.t : 1);
  const yMaxRaw = Math.max(1, ...pts.map((p) => Math.max(p.demandReplicas, p.desired, p.ready)));
  const yStep = niceStep(yMaxRaw, 6);
  const yMax = Math.ceil(yMaxRaw / yStep) * yStep;
  const pw = W - PAD.left - PAD.right;
  const ph = H - PAD.top - PAD.bottom;
  const x = (t: number) => PAD.left + (t / tMax) * pw;
  const y = (v: number) => PAD.top + ph - (Math.min(v, yMax) / yMax) * ph;
  const step = (get: (p: TimelinePoint) => number) => {
    if (pts.length === 0) return '';
    let d = `M${x(pts[0]!.t).toFixed(1)},${y(get(pts[0]!)).toFixed(1)}`;
    for (let i = 1; i < pts.length; i++) {
      d += `H${x(pts[i]!.t).toFixed(1)}V${y(get(pts[i]!)).toFixed(1)}`;
    }
    return d;
  };
  const area = () => {
    if (pts.length === 0) return '';
    let d = `M${x(pts[0]!.t).toFixed(1)},${y(0).toFixed(1)}`;
    for (const p of pts) d += `L${x(p.t).toFixed(1)},${y(p.demandReplicas).toFixed(1)}`;
    d += `L${x(pts[pts.length - 1]!.t).toFixed(1)},${y(0).toFixed(1)}Z`;
    return d;
  };
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  const r = report;
  const title = `${r.label ? `${r.label}: ` : ''}${r.requests} requests, ${r.coldStarts} cold starts, wait p50/p95/p99 ${fmt(r.waitMs.p50)}/${fmt(r.waitMs.p95)}/${fmt(r.waitMs.p99)} ms, ${r.rejected} rejected`;
  const sub = `${fmt(r.replicaSeconds)} replica-s${r.gpuSeconds > 0 ? `, ${fmt(r.gpuSeconds)} GPU-s` : ''}, peak ${r.peakReplicas} replicas, target ${fmt(r.settings.target)}/replica, start-up ${fmt(r.settings.startupSeconds)} s, keep-warm ${r.settings.keepWarm}`;
  out.push(`<text x="${PAD.left}" y="20" font-size="14" font-weight="bold">${esc(title)}</text>`);
  out.push(`<text x="${PAD.left}" y="38" fill="#444">${esc(sub)}</text>`);
  // grid and axes
  for (let v = 0; v <= yMax + 1e-9; v += yStep) {
    out.push(`<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#eee"/>`);
    out.push(`<text x="${PAD.left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${fmt(v)}</text>`);
  }
  const tSec = tMax / 1000;
  const unit = tSec > 7200 ? 3600 : tSec > 300 ? 60 : 1;
  const unitName = unit === 3600 ? 'h' : unit === 60 ? 'min' : 's';
  const tStep = niceStep(tSec / unit, 10) * unit;
  for (let t = 0; t <= tSec + 1e-9; t += tStep) {
    const px = x(t * 1000).toFixed(1);
    out.push(`<line x1="${px}" x2="${px}" y1="${PAD.top}" y2="${PAD.top + ph}" stroke="#f3f3f3"/>`);
    out.push(`<text x="${px}" y="${PAD.top + ph + 16}" text-anchor="middle">${fmt(t / unit)}</text>`);
  }
  out.push(`<text x="${PAD.left + pw / 2}" y="${H - 8}" text-anchor="middle">time (${unitName})</text>`);
  out.push(`<text x="14" y="${PAD.top + ph / 2}" text-anchor="middle" transform="rotate(-90 14 ${PAD.top + ph / 2})">replicas</text>`);
  out.push(`<rect x="${PAD.left}" y="${PAD.top}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>`);
  // series
  out.push(`<path d="${area()}" fill="#ccc" fill-opacity="0.7" stroke="none"><title>demand (in-flight ÷ target)</title></path>`);
  out.push(`<path d="${step((p) => p.held / r.settings.target)}" fill="none" stroke="#d33" stroke-width="1" stroke-opacity="0.8"/>`);
  out.push(`<path d="${step((p) => p.desired)}" fill="none" stroke="#1f5fbf" stroke-width="2"/>`);
  out.push(`<path d="${step((p) => p.ready)}" fill="none" stroke="#2a9d3a" stroke-width="1.5" stroke-dasharray="4 2"/>`);
  // legend
  const legend: Array<[string, string, string]> = [
    ['#ccc', 'demand (in-flight ÷ target)', ''],
    ['#1f5fbf', 'desired replicas', ''],
    ['#2a9d3a', 'ready replicas', '4 2'],
    ['#d33', 'held requests ÷ target', ''],
  ];
  let lx = PAD.left;
  for (const [color, name, dash] of legend) {
    out.push(`<line x1="${lx}" x2="${lx + 18}" y1="56" y2="56" stroke="${color}" stroke-width="4"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`);
    out.push(`<text x="${lx + 22}" y="60">${esc(name)}</text>`);
    lx += 30 + name.length * 6.5;
  }
  out.push('</svg>');
  return out.join('\n') + '\n';
}
