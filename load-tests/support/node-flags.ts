/**
 * The Node flags Sluice runs with (the `sluice` bin's shebang, `npm start` and the Dockerfile set the same):
 * a 64 MiB young generation, which cut the gateway's CPU per request by about 10 % at saturation (fewer
 * scavenges; docs/forwarder.md). The load tests start Sluice with them so they measure what users run.
 * `SLUICE_BENCH_NODE_FLAGS="--max-semi-space-size=16"` (space-separated; empty for none) measures others.
 */
const override = process.env['SLUICE_BENCH_NODE_FLAGS'];

export const SLUICE_NODE_FLAGS: readonly string[] =
  override === undefined ? ['--max-semi-space-size=64'] : override.split(' ').filter((f) => f !== '');
