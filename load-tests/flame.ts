import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { flameGraphSvg, foldCpuProfile, foldedText, foldPerfScript, topSelf, type Folded } from './report/flame.js';

/**
 * Renders a flame graph from a profile of the gateway (load-tests/README.md "Flame graphs"):
 *   node dist/load-tests/flame.js cpuprofile <file.cpuprofile|dir> <out.svg> [title]
 *   node dist/load-tests/flame.js perf <perf.data> <out.svg> [title]
 * Writes the SVG, the folded stacks beside it (`<out>.folded`) and prints the 25 frames with the most samples of
 * their own. A directory of cpuprofiles is merged (every file in it).
 */
function main(argv: string[]): void {
  const [kind, input, out, title] = argv;
  if ((kind !== 'cpuprofile' && kind !== 'perf') || !input || !out) {
    process.stderr.write('usage: node dist/load-tests/flame.js cpuprofile|perf <input> <out.svg> [title]\n');
    process.exit(2);
  }
  const folded: Folded = new Map();
  let source: string;
  if (kind === 'cpuprofile') {
    const files = statSync(input).isDirectory()
      ? readdirSync(input).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(input, f))
      : [input];
    for (const f of files) foldCpuProfile(JSON.parse(readFileSync(f, 'utf8')) as Parameters<typeof foldCpuProfile>[0], folded);
    source = `V8 --cpu-prof, ${files.length} profile(s)`;
  } else {
    const text = execFileSync('perf', ['script', '-i', input], { encoding: 'utf8', maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'ignore'] });
    foldPerfScript(text, folded);
    source = 'perf record -g (node --perf-basic-prof)';
  }
  const total = [...folded.values()].reduce((a, b) => a + b, 0);
  writeFileSync(out, flameGraphSvg(folded, { title: title ?? 'Flame graph', subtitle: `${source}: ${total} samples` }));
  writeFileSync(`${out.replace(/\.svg$/, '')}.folded`, foldedText(folded));
  process.stdout.write(`${out}: ${total} samples\nself samples, top 25:\n`);
  for (const t of topSelf(folded, 25)) process.stdout.write(`${(t.share * 100).toFixed(1).padStart(5)} %  ${t.frame}\n`);
}

main(process.argv.slice(2));
