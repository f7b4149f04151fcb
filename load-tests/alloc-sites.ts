import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

/** The part of a sampling heap profile (`HeapProfiler.stopSampling`'s `profile`) read here. */
export interface HeapProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: HeapProfileNode[];
}

export interface AllocationSite {
  /** `function file:line` (line from 1; the file's path shortened to what follows dist/ or node:). */
  site: string;
  /** Bytes allocated there per request: the site's sampled bytes ÷ `requests`. */
  bytesPerRequest: number;
}

/** Where a profile's bytes were allocated, per request, largest first (the function that allocated, not its callers). */
export function allocationSites(head: HeapProfileNode, requests: number): { totalPerRequest: number; sites: AllocationSite[] } {
  if (!(requests > 0)) throw new Error(`requests must be a positive number, got ${requests}`);
  const bytes = new Map<string, number>();
  let total = 0;
  const stack: HeapProfileNode[] = [head];
  for (let n = stack.pop(); n !== undefined; n = stack.pop()) {
    const f = n.callFrame;
    const where = f.url === '' ? '' : ` ${f.url.replace(/^.*?\/dist\//, '').replace(/^file:\/\//, '')}:${f.lineNumber + 1}`;
    const site = `${f.functionName === '' ? '(anonymous)' : f.functionName}${where}`;
    if (n.selfSize > 0) bytes.set(site, (bytes.get(site) ?? 0) + n.selfSize);
    total += n.selfSize;
    stack.push(...n.children);
  }
  const sites = [...bytes.entries()]
    .map(([site, b]) => ({ site, bytesPerRequest: b / requests }))
    .sort((a, b) => b.bytesPerRequest - a.bytesPerRequest);
  return { totalPerRequest: total / requests, sites };
}

/** `node dist/load-tests/alloc-sites.js <profile> <requests> [top=25]`: prints bytes per request by site. */
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [file, requests, top] = process.argv.slice(2);
  if (file === undefined || requests === undefined) {
    process.stderr.write('usage: node dist/load-tests/alloc-sites.js <profile.heapprofile> <requests> [top=25]\n');
    process.exit(2);
  }
  const profile = JSON.parse(readFileSync(file, 'utf8')) as { head: HeapProfileNode };
  const { totalPerRequest, sites } = allocationSites(profile.head, Number(requests));
  process.stdout.write(`${requests} requests: ${totalPerRequest.toFixed(0)} bytes allocated per request (sampled, 1 KiB interval)\n`);
  for (const s of sites.slice(0, Number(top ?? 25))) process.stdout.write(`${s.bytesPerRequest.toFixed(0).padStart(7)} B  ${s.site}\n`);
}
