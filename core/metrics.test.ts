import { describe, expect, it } from 'vitest';
import { SluiceMetrics } from './metrics.js';

describe('SluiceMetrics', () => {
  it("exports Node's process and runtime metrics under their standard names, once prefixed by nothing", async () => {
    const text = await new SluiceMetrics({ defaultMetrics: true }).registry.metrics();
    const names = new Set(text.split('\n').filter((l) => l.startsWith('# TYPE ')).map((l) => l.split(' ')[2]!));
    expect(names).toContain('process_cpu_user_seconds_total');
    expect(names).toContain('process_resident_memory_bytes');
    expect(names).toContain('nodejs_eventloop_lag_p99_seconds');
    expect(names).toContain('nodejs_heap_size_used_bytes');
    expect(names).toContain('sluice_requests_total');
    // Only Sluice's own metrics carry its prefix; nothing is prefixed twice.
    for (const n of names) expect(n).toMatch(/^(sluice_(?!process_)|process_(?!process_)|nodejs_)/);
  });
});
