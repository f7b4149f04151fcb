/**
 * HTTPS on the data and admin listeners from certificate and key files (made here with openssl), and a new
 * certificate served once the files are replaced, without a restart.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { get } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type PeerCertificate } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Embedded } from '../../cli/embedded.js';
import { startTestSluice } from '../support/embedded.js';
import { waitUntil } from '../support/wait.js';

/** A self-signed certificate for 127.0.0.1 with common name `cn`. */
function makeCert(dir: string, cn: string): { cert: string; key: string } {
  const cert = join(dir, `${cn}.crt`);
  const key = join(dir, `${cn}.key`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', `/CN=${cn}`, '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  return { cert, key };
}

function peer(url: string, ca: Buffer): Promise<PeerCertificate> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const s = connect({ host: u.hostname, port: Number(u.port), ca }, () => {
      const c = s.getPeerCertificate();
      s.end();
      resolve(c);
    });
    s.once('error', reject);
  });
}

function httpsGet(url: string, ca: Buffer, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get(url, { ca, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).once('error', reject);
  });
}

describe('TLS on the data and admin listeners', () => {
  let s: Embedded;
  const dir = mkdtempSync(join(tmpdir(), 'sluice-tls-'));
  const first = makeCert(dir, 'first');
  const second = makeCert(dir, 'second');
  const live = { cert: join(dir, 'live.crt'), key: join(dir, 'live.key') };

  beforeAll(async () => {
    writeFileSync(live.cert, readFileSync(first.cert));
    writeFileSync(live.key, readFileSync(first.key));
    s = await startTestSluice(null, { tlsCertFile: live.cert, tlsKeyFile: live.key, adminTlsCertFile: first.cert, adminTlsKeyFile: first.key });
  });

  afterAll(async () => {
    await s?.close();
  });

  it('serves HTTPS on both listeners (and the URLs say so)', async () => {
    expect(s.dataUrl).toMatch(/^https:\/\//);
    expect(s.adminUrl).toMatch(/^https:\/\//);
    const ca = readFileSync(first.cert);
    expect(await httpsGet(`${s.dataUrl}/v2/health/live`, ca)).toMatchObject({ status: 200 });
    expect(await httpsGet(`${s.adminUrl}/healthz`, ca)).toMatchObject({ status: 200 });
    expect((await peer(s.dataUrl, ca)).subject.CN).toBe('first');
  });

  it('serves the new certificate once the files are replaced, without a restart', async () => {
    // Replaced as rotation tools do: written aside, then renamed over the old files.
    writeFileSync(`${live.key}.tmp`, readFileSync(second.key));
    writeFileSync(`${live.cert}.tmp`, readFileSync(second.cert));
    renameSync(`${live.key}.tmp`, live.key);
    renameSync(`${live.cert}.tmp`, live.cert);
    const ca = readFileSync(second.cert);
    const cert = await waitUntil('the new certificate to be served', () => peer(s.dataUrl, ca).then((c) => c, () => undefined), 10_000, 200);
    expect(cert.subject.CN).toBe('second');
    expect(await httpsGet(`${s.dataUrl}/v2/health/live`, ca)).toMatchObject({ status: 200 });
  });

  it('refuses to start with only half a pair, naming the setting', async () => {
    await expect(startTestSluice(null, { tlsCertFile: first.cert })).rejects.toThrow('tlsCertFile is set but tlsKeyFile is not');
    await expect(startTestSluice(null, { tlsCertFile: first.cert, tlsKeyFile: join(dir, 'missing.key') })).rejects.toThrow(/cannot read tlsKeyFile .*missing\.key/);
  });
});
