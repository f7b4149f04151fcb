/**
 * Cluster mode API keys through a real Redis this test starts: two gateways' key directories and the CLI
 * (`sluice auth keys … --redis-url`). A key made by the CLI is seen by both within one poll; a revoked one is
 * gone from both within one poll (the documented bound: apiKeyPollSeconds plus a Redis round trip).
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashApiKey } from '../../api/api-keys.js';
import { FakeClock } from '../../core/clock.js';
import { silentLogger } from '../../core/log.js';
import { RedisApiKeys } from '../../deploy/auth/redis-api-keys.js';
import { SLUICE_ROOT } from '../support/paths.js';
import { startRedis } from '../support/redis-server.js';

const run = promisify(execFile);

describe('API keys shared through Redis (cluster mode)', () => {
  let redis: Awaited<ReturnType<typeof startRedis>>;
  const clock = new FakeClock(Date.parse('2026-01-01T00:00:00Z'));
  let a: RedisApiKeys;
  let b: RedisApiKeys;

  beforeAll(async () => {
    redis = await startRedis();
    a = new RedisApiKeys({ url: redis.url, clock, logger: silentLogger(), pollMs: 2000, max: 100 });
    b = new RedisApiKeys({ url: redis.url, clock, logger: silentLogger(), pollMs: 2000, max: 100 });
    await Promise.all([a.start(), b.start()]);
  });

  afterAll(async () => {
    await a?.close();
    await b?.close();
    await redis?.stop();
  });

  const cli = (args: string[]): Promise<{ stdout: string; stderr: string }> => run(process.execPath, [join(SLUICE_ROOT, 'dist', 'cli', 'main.js'), ...args], { cwd: SLUICE_ROOT });

  /** One poll period on the injected clock, and the polls it started. */
  async function onePoll(): Promise<void> {
    clock.advance(2000);
    await Promise.all([a.poll(), b.poll()]);
  }

  it('a key made with the CLI reaches every gateway within one poll, and a revoked one leaves every gateway within one poll', async () => {
    const made = await cli(['auth', 'keys', 'create', 'batch-job', '--scope', 'default/iris', '--redis-url', redis.url]);
    const key = made.stdout.trim();
    const hash = hashApiKey(key);
    expect(a.byHash(hash)).toBeUndefined();
    await onePoll();
    expect(a.byHash(hash)).toMatchObject({ name: 'batch-job', scopes: [{ namespace: 'default', service: 'iris' }] });
    expect(b.byHash(hash)).toMatchObject({ name: 'batch-job' });

    const listed = await cli(['auth', 'keys', 'list', '-o', 'json', '--redis-url', redis.url]);
    const items = (JSON.parse(listed.stdout) as { items: Array<Record<string, unknown>> }).items;
    expect(items).toEqual([{ id: a.byHash(hash)!.id, name: 'batch-job', scopes: ['default/iris'], createdAt: expect.any(String) }]);
    expect(listed.stdout).not.toContain(key);

    await cli(['auth', 'keys', 'revoke', a.byHash(hash)!.id, '--redis-url', redis.url]);
    await onePoll();
    expect(a.byHash(hash)).toBeUndefined();
    expect(b.byHash(hash)).toBeUndefined();
  });

  it('keeps the last set read while Redis is down (revocations wait for it to come back)', async () => {
    const { key } = await a.create('survivor', [{ namespace: '*' }]);
    await onePoll();
    await redis.stop();
    clock.advance(2000);
    await a.poll().catch(() => {});
    expect(a.byHash(hashApiKey(key))).toMatchObject({ name: 'survivor' });
    redis = await startRedis(redis.port);
  });
});
