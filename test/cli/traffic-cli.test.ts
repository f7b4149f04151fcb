import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Embedded } from '../../cli/embedded.js';
import { adminHeaders, cliTarget, configFolder, demoService, startTestSluice } from '../support/embedded.js';
import { waitUntil } from '../support/wait.js';
import { sluiceCli as sluice } from '../support/cli.js';

const R1 = 'walk-predictor-00001';
const R2 = 'walk-predictor-00002';

describe('sluice traffic / promote / rollback / revisions against a running server', () => {
  let s: Embedded;
  const at = (): string[] => cliTarget(s);
  const latestReady = async (): Promise<string | undefined> => {
    const r = await fetch(`${s.adminUrl}/apis/serving.kserve.io/v1beta1/namespaces/default/inferenceservices/walk`, { headers: adminHeaders(s) });
    return ((await r.json()) as { status?: { components?: { predictor?: { latestReadyRevision?: string } } } }).status?.components?.predictor?.latestReadyRevision;
  };

  const zero = { 'autoscaling.knative.dev/initial-scale': '0' };

  beforeAll(async () => {
    s = await startTestSluice(configFolder({}));
    const dir = mkdtempSync(join(tmpdir(), 'sluice-cli-'));
    // Traffic moves to a revision only once it has been ready: each one starts a replica at apply; wait for it.
    for (const [i, label] of ['v1', 'v2'].entries()) {
      const file = join(dir, `walk-${i}.yaml`);
      writeFileSync(file, demoService('walk', { env: { SLUICE_DEMO_LABEL: label } }));
      expect((await sluice(['apply', '-f', file, ...at()])).code).toBe(0);
      await waitUntil(`${label} ready`, async () => (await latestReady()) === [R1, R2][i], 20_000, 50);
    }
  });
  afterAll(async () => {
    await s?.close();
  });

  it('splits, refuses a bad split, tags, rolls back, promotes — and lists revisions', async () => {
    const split = await sluice(['traffic', 'walk', '--to-revisions', `${R1}=90,${R2}=10`, ...at()]);
    expect(split).toMatchObject({ code: 0, stderr: '', stdout: `inferenceservice.serving.kserve.io/walk traffic: ${R1}=90%, ${R2}=10%\n` });

    const bad = await sluice(['traffic', 'walk', '--to-revisions', `${R1}=90,${R2}=20`, ...at()]);
    expect(bad).toMatchObject({ code: 1, stdout: '', stderr: `error: percents must sum to 100, got 110 (${R1}=90,${R2}=20)\n` });
    const none = await sluice(['traffic', 'walk', ...at()]);
    expect(none.stderr).toBe('error: give exactly one of --to-revisions REV=P,…, --to-latest, --canary P, --tag TAG=REV, --remove-tag TAG\n');

    const tagged = await sluice(['traffic', 'walk', '--tag', `old=${R1}`, ...at()]);
    expect(tagged.stdout).toBe(`inferenceservice.serving.kserve.io/walk traffic: ${R1}=90%, ${R2}=10%, ${R1}=0% (tag old)\n`);

    const table = await sluice(['revisions', 'walk', ...at()]);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^REVISION\s+TRAFFIC\s+TAGS\s+READY\s+ROLLOUT\s+CREATED$/);
    // Both were started once and keep their replica until idle past the stable window and grace.
    expect(lines[1]).toMatch(new RegExp(`^${R2}\\s+10%\\s+-\\s+1/1\\s+rolled-out\\s+\\d+s$`));
    expect(lines[2]).toMatch(new RegExp(`^${R1}\\s+90%\\s+old\\s+1/1\\s+previous\\s+\\d+s$`));

    const back = await sluice(['rollback', 'walk', ...at()]);
    expect(back.stdout).toBe(`inferenceservice.serving.kserve.io/walk traffic: ${R2}=0%, ${R1}=100% (tag prev), ${R1}=0% (tag old)\n`);
    const promoted = await sluice(['promote', 'walk', ...at()]);
    expect(promoted.stdout).toBe(`inferenceservice.serving.kserve.io/walk traffic: ${R2}=100%, ${R1}=0% (tag old)\n`);

    const yaml = await sluice(['revisions', 'walk', '-o', 'yaml', ...at()]);
    expect(yaml.stdout).toMatch(/name: SLUICE_DEMO_LABEL\n\s+value: v1/);

    const wide = await sluice(['revisions', 'walk', '-o', 'wide', ...at()]);
    expect(wide).toMatchObject({ code: 0, stderr: '' });
    const wideLines = wide.stdout.trimEnd().split('\n');
    expect(wideLines[0]).toMatch(/^REVISION\s+TRAFFIC\s+TAGS\s+READY\s+ROLLOUT\s+CREATED\s+STARTING\s+RUNTIME\s+STORAGEURI\s+URL$/);
    expect(wideLines[2]).toMatch(new RegExp(`^${R1}\\s+0%\\s+old\\s.*\\ssluice-demo\\s+\\S+\\s+http://old-walk-predictor\\.default\\.example\\.com:\\d+$`));
    const getWide = await sluice(['get', 'isvc', 'walk', '-o', 'wide', ...at()]);
    expect(getWide.stdout.split('\n')[1]).toMatch(new RegExp(`\\s${R2}=100%\\s+${R1}=\\d+/\\d+,${R2}=\\d+/\\d+\\s+old=${R1}$`));
    const badFormat = await sluice(['get', 'isvc', '-o', 'table', ...at()]);
    expect(badFormat).toMatchObject({ code: 1, stderr: 'error: -o table: output format must be one of json, yaml, wide\n' });
  });

  it('refuses --canary on a service with one revision, with a non-zero exit and nothing changed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-cli-'));
    const file = join(dir, 'solo.yaml');
    writeFileSync(file, demoService('solo', { annotations: zero }));
    expect((await sluice(['apply', '-f', file, ...at()])).code).toBe(0);
    const r = await sluice(['traffic', 'solo', '--canary', '10', ...at()]);
    expect(r).toMatchObject({
      code: 1,
      stdout: '',
      stderr:
        'error: a canary needs a second revision to split with, and there is only solo-predictor-00001; ' +
        'change the predictor (its model, image or any serving field) to make a new revision, then set the canary percent\n',
    });
    const after = s.controller.get('default', 'solo') as unknown as { spec: { predictor: Record<string, unknown> } };
    expect(after.spec.predictor.canaryTrafficPercent).toBeUndefined();
  });
});
