import { describe, expect, it } from 'vitest';
import { flameGraphSvg, foldCpuProfile, foldedText, foldPerfScript, topSelf } from '../../load-tests/report/flame.js';

const frame = (functionName: string, url = '', lineNumber = 0) => ({ functionName, url, lineNumber });

describe('flame graphs', () => {
  it('folds a V8 cpuprofile: each node\'s own samples under its path from the root', () => {
    const folded = foldCpuProfile({
      nodes: [
        { id: 1, callFrame: frame('(root)'), children: [2, 4] },
        { id: 2, callFrame: frame('handle', 'file:///x/dist/gateway/gateway.js', 145), hitCount: 2, children: [3] },
        { id: 3, callFrame: frame('', 'file:///x/dist/gateway/forwarder.js', 9), hitCount: 5 },
        { id: 4, callFrame: frame('(idle)'), hitCount: 7 },
      ],
    });
    expect(Object.fromEntries(folded)).toEqual({
      'handle gateway.js:146': 2,
      'handle gateway.js:146;(anonymous) forwarder.js:10': 5,
      '(idle)': 7,
    });
  });

  it('folds perf script output leaf-last, the thread as the root, offsets dropped, unknown frames by their object', () => {
    const text = [
      'node 4242 [001] 100.000001:   1001001 cpu-clock:pppH: ',
      '\t    7f0001 __GI___writev+0x12 (/usr/lib/x86_64-linux-gnu/libc.so.6)',
      '\t    55aa02 JS:*Socket._writev node:net:964:36 (/tmp/perf-4242.map)',
      '\t    55aa03 [unknown] (/tmp/perf-4242.map)',
      '',
      'libuv-worker 4243 [000] 100.000002:   1001001 cpu-clock:pppH: ',
      '\t    7f0004 epoll_wait+0x4 (/usr/lib/libc.so.6)',
      '',
      'node 4242 [001] 100.000003:   1001001 cpu-clock:pppH: ',
      '\t    7f0001 __GI___writev+0x30 (/usr/lib/x86_64-linux-gnu/libc.so.6)',
      '\t    55aa02 JS:*Socket._writev node:net:964:36 (/tmp/perf-4242.map)',
      '\t    55aa03 [unknown] (/tmp/perf-4242.map)',
      '',
    ].join('\n');
    const folded = foldPerfScript(text);
    expect(Object.fromEntries(folded)).toEqual({
      'node;[perf-4242.map];JS:*Socket._writev node:net:964:36;__GI___writev': 2,
      'libuv-worker;epoll_wait': 1,
    });
    expect(foldedText(folded)).toContain('libuv-worker;epoll_wait 1\n');
    expect(topSelf(folded, 1)).toEqual([{ frame: '__GI___writev', samples: 2, share: 2 / 3 }]);
  });

  it('draws every frame as wide as its share, callees on their callers, and leaves out frames too narrow to see', () => {
    const folded = new Map([
      ['main;a;b', 60],
      ['main;a', 20],
      ['main;c', 20],
      ['main;tiny', 0.01],
    ]);
    const svg = flameGraphSvg(folded, { title: 'T <1>', width: 1010, minWidthPx: 1 });
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('T &lt;1&gt;');
    // plot width 990 px for 100.01 samples: a (80 samples) is ~792 px wide, b (60) ~594 px.
    const width = (name: string): number => Number(new RegExp(`<title>${name} \\(.*?</title><rect [^>]*width="([0-9.]+)"`).exec(svg)?.[1]);
    expect(width('a')).toBeCloseTo((80 / 100.01) * 990 - 0.2, 0);
    expect(width('b')).toBeCloseTo((60 / 100.01) * 990 - 0.2, 0);
    expect(svg).toContain('<title>c (20 samples, 20.00 %)</title>');
    expect(svg).not.toContain('<title>tiny');
    // b sits one row above a, which sits one row above main.
    const y = (name: string): number => Number(new RegExp(`<title>${name} \\(.*?</title><rect [^>]*y="([0-9]+)"`).exec(svg)?.[1]);
    expect(y('main') - y('a')).toBe(16);
    expect(y('a') - y('b')).toBe(16);
  });
});
