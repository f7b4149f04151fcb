import { escapeXml } from './svg.js';

/**
 * Flame graphs without a dependency: profiles are folded into stacks (`root;caller;callee` → samples, the format
 * Brendan Gregg's flamegraph tools read), and folded stacks are drawn as one self-contained SVG. Two sources:
 * V8's `--cpu-prof` profiles (JavaScript and the runtime's own frames as V8 sees them) and `perf script` text
 * from `perf record -g` (the whole process: kernel, libuv, V8's C++ and, with node's `--perf-basic-prof`, the
 * JIT-compiled JavaScript by name).
 */
export type Folded = Map<string, number>;

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

/** Folds a V8 `.cpuprofile` (JSON): every node's own samples under its path from the root. */
export function foldCpuProfile(profile: { nodes: CpuProfileNode[] }, into: Folded = new Map()): Folded {
  const byId = new Map<number, CpuProfileNode>();
  const parent = new Map<number, number>();
  for (const n of profile.nodes) byId.set(n.id, n);
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const names = new Map<number, string>();
  const nameOf = (n: CpuProfileNode): string => {
    let s = names.get(n.id);
    if (s === undefined) {
      const { functionName, url, lineNumber } = n.callFrame;
      const file = url === '' ? '' : ` ${url.slice(url.lastIndexOf('/') + 1)}:${lineNumber + 1}`;
      s = `${functionName === '' ? '(anonymous)' : functionName}${file}`.replaceAll(';', ':');
      names.set(n.id, s);
    }
    return s;
  };
  for (const n of profile.nodes) {
    const hits = n.hitCount ?? 0;
    if (hits === 0) continue;
    const path: string[] = [];
    for (let id: number | undefined = n.id; id !== undefined; id = parent.get(id)) {
      const node = byId.get(id)!;
      if (node.callFrame.functionName === '(root)') break;
      path.push(nameOf(node));
    }
    const key = path.reverse().join(';');
    into.set(key, (into.get(key) ?? 0) + hits);
  }
  return into;
}

/**
 * Folds `perf script` output (samples separated by blank lines; a header line naming the thread, then one frame
 * per line, leaf first). The thread's name is the root frame, so the main thread and libuv's or V8's helper
 * threads stand apart. A frame is its symbol without the offset, or `[dso]` when perf could not name it.
 */
export function foldPerfScript(text: string, into: Folded = new Map()): Folded {
  let frames: string[] = [];
  let thread = '';
  const flush = (): void => {
    if (thread === '' && frames.length === 0) return;
    const key = [thread, ...frames.reverse()].join(';');
    into.set(key, (into.get(key) ?? 0) + 1);
    frames = [];
    thread = '';
  };
  for (const line of text.split('\n')) {
    if (line.trim() === '') {
      flush();
      continue;
    }
    if (!/^\s/.test(line)) {
      flush();
      // "node 1234 [001] 123.456: 1010101 cpu-clock:pppH:" — the thread name may hold spaces; the pid follows it.
      const m = /^(.*?)\s+\d+(\/\d+)?\s/.exec(line);
      thread = (m?.[1] ?? line.split(/\s/)[0] ?? '?').trim().replaceAll(';', ':');
      continue;
    }
    // "\t    7f12a3 Builtin:CallFunction+0x12 (/tmp/perf-1234.map)"
    const m = /^\s*[0-9a-f]+\s+(.*?)\s+\(([^)]*)\)\s*$/.exec(line);
    if (!m) continue;
    let sym = m[1]!;
    const dso = m[2]!;
    if (sym === '[unknown]') sym = `[${dso.slice(dso.lastIndexOf('/') + 1)}]`;
    else sym = sym.replace(/\+0x[0-9a-f]+$/, '');
    frames.push(sym.replaceAll(';', ':'));
  }
  flush();
  return into;
}

/** `stack count` lines, the interchange format of folded stacks. */
export function foldedText(folded: Folded): string {
  return [...folded.entries()].map(([k, v]) => `${k} ${v}`).join('\n') + '\n';
}

/** The `n` frames with the most samples of their own (the leaf of a stack), with their share of all samples. */
export function topSelf(folded: Folded, n: number): Array<{ frame: string; samples: number; share: number }> {
  const self = new Map<string, number>();
  let total = 0;
  for (const [stack, count] of folded) {
    const leaf = stack.slice(stack.lastIndexOf(';') + 1);
    self.set(leaf, (self.get(leaf) ?? 0) + count);
    total += count;
  }
  return [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([frame, samples]) => ({ frame, samples, share: samples / Math.max(1, total) }));
}

interface FrameNode {
  name: string;
  total: number;
  children: Map<string, FrameNode>;
}

/** A colour per kind of frame: the kernel blue, JavaScript warm, native code red-brown; lightness from the name. */
function colourOf(name: string): string {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;
  const v = h % 30;
  if (/^\[?k\]|kallsyms|^(__x64_|entry_SYSCALL|do_syscall|tcp_|sock_|__sys_|ip_|net_|__netif|skb_|_raw_spin)/.test(name))
    return `hsl(210, 60%, ${55 + (v % 20)}%)`;
  if (/\.(js|mjs|cjs):\d+$|^(JS|LazyCompile|Function|Builtin|Interpreted|Baseline|Maglev|Turbofan):|^\(garbage collector\)$/.test(name))
    return `hsl(${25 + v}, 85%, ${55 + (v % 15)}%)`;
  return `hsl(${v % 12}, 65%, ${55 + (v % 15)}%)`;
}

/**
 * One self-contained SVG flame graph: the root at the bottom, each frame as wide as its share of the samples,
 * callees stacked on their callers, siblings sorted by name (as flamegraph.pl does). Frames narrower than
 * `minWidthPx` are left out (their samples still count in their callers). Hovering shows name, samples and share.
 */
export function flameGraphSvg(folded: Folded, o: { title: string; subtitle?: string; width?: number; minWidthPx?: number }): string {
  const width = o.width ?? 1200;
  const minWidth = o.minWidthPx ?? 0.3;
  const root: FrameNode = { name: 'all', total: 0, children: new Map() };
  for (const [stack, count] of folded) {
    root.total += count;
    let node = root;
    for (const frame of stack.split(';')) {
      let child = node.children.get(frame);
      if (!child) node.children.set(frame, (child = { name: frame, total: 0, children: new Map() }));
      child.total += count;
      node = child;
    }
  }
  const rowH = 16;
  const pad = 10;
  const plotW = width - 2 * pad;
  const scale = root.total === 0 ? 0 : plotW / root.total;
  const rects: Array<{ x: number; depth: number; w: number; node: FrameNode }> = [];
  let maxDepth = 0;
  const place = (node: FrameNode, x: number, depth: number): void => {
    rects.push({ x, depth, w: node.total * scale, node });
    maxDepth = Math.max(maxDepth, depth);
    let cx = x;
    for (const child of [...node.children.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const w = child.total * scale;
      if (w >= minWidth) place(child, cx, depth + 1);
      cx += w;
    }
  };
  place(root, pad, 0);
  const top = o.subtitle ? 56 : 40;
  const height = top + (maxDepth + 1) * rowH + pad;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Verdana, sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="#fdfdf6"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(o.title)}</text>`,
  ];
  if (o.subtitle) out.push(`<text x="${width / 2}" y="40" text-anchor="middle" fill="#555">${escapeXml(o.subtitle)}</text>`);
  for (const r of rects) {
    const y = height - pad - (r.depth + 1) * rowH;
    const pct = ((r.node.total / Math.max(1, root.total)) * 100).toFixed(2);
    const label = `${r.node.name} (${r.node.total} samples, ${pct} %)`;
    const fill = r.depth === 0 ? '#ccc' : colourOf(r.node.name);
    out.push(
      `<g><title>${escapeXml(label)}</title><rect x="${r.x.toFixed(2)}" y="${y}" width="${Math.max(0.1, r.w - 0.2).toFixed(2)}" height="${rowH - 1}" fill="${fill}" rx="1"/>`,
    );
    const chars = Math.floor((r.w - 6) / 6.6);
    if (chars >= 3) {
      const text = r.node.name.length <= chars ? r.node.name : `${r.node.name.slice(0, chars - 2)}..`;
      out.push(`<text x="${(r.x + 3).toFixed(2)}" y="${y + rowH - 4}">${escapeXml(text)}</text>`);
    }
    out.push('</g>');
  }
  out.push('</svg>');
  return out.join('\n') + '\n';
}
