/**
 * The admin API is closed to everyone but holders of its token (issue 12 item 1), and answers its body limit with
 * 413 rather than a reset (issue 13): real sockets, raw HTTP where a browser or a misbehaving client is imitated.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { Agent, request, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { Embedded } from '../../cli/embedded.js';
import { cliTarget, configFolder, demoService, startTestSluice } from '../support/embedded.js';
import { SLUICE_ROOT } from '../support/paths.js';

const run = promisify(execFile);
const CLI = join(SLUICE_ROOT, 'dist', 'cli', 'main.js');
const COLLECTION = '/apis/serving.kserve.io/v1beta1/namespaces/default/inferenceservices';
const MIB = 1024 * 1024;
type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

interface RawAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Obj;
  /** `100 Continue` was received. */
  continued: boolean;
  /** The server closed the connection after answering. */
  closed: boolean;
}

/**
 * One request on its own connection with exactly these headers (Host included). `body`: a whole body; or
 * `{ declared, sent }`: declare a length but send only `sent` bytes; or `{ chunked }`: chunks until answered.
 */
function raw(
  url: string,
  method: string,
  headers: Record<string, string>,
  body?: string | { declared: number; sent: number } | { chunked: number },
): Promise<RawAnswer> {
  const u = new URL(url);
  // A keep-alive agent, so that a closed connection is the server's doing.
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  return new Promise<RawAnswer>((resolve, reject) => {
    let continued = false;
    const req = request({ host: u.hostname, port: u.port, path: u.pathname, method, headers, agent, setHost: false }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => {
        const answer = { status: res.statusCode!, headers: res.headers, body: text ? (JSON.parse(text) as Obj) : {}, continued };
        if (res.headers.connection !== 'close') return resolve({ ...answer, closed: false });
        if (res.socket.destroyed) return resolve({ ...answer, closed: true });
        res.socket.once('close', () => resolve({ ...answer, closed: true }));
      });
    });
    req.on('continue', () => {
      continued = true;
      if (typeof body === 'string') req.end(body);
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      // Writing the rest of a body the server will not read fails once it has answered and closed.
      if (err.code !== 'EPIPE' && err.code !== 'ECONNRESET') reject(err);
    });
    if (body === undefined) req.end();
    else if (typeof body === 'string') {
      if (/100-continue/i.test(headers.expect ?? '')) req.flushHeaders();
      else req.end(body);
    } else if ('declared' in body) {
      if (body.sent > 0) req.write('x'.repeat(body.sent));
      else req.flushHeaders();
    } else {
      const chunk = 'x'.repeat(64 * 1024);
      for (let i = 0; i < body.chunked; i++) req.write(chunk);
    }
  }).finally(() => agent.destroy());
}

describe('the admin API is closed to all but holders of its token', () => {
  let s: Embedded;
  let port: string;
  const host = (): string => `127.0.0.1:${port}`;
  const spec = (name: string): string => JSON.stringify(parse(demoService(name, { annotations: { 'autoscaling.knative.dev/initial-scale': '0' } })));
  const api = (): string => `${s.adminUrl}${COLLECTION}`;
  const bearer = (): string => `Bearer ${s.adminToken}`;

  beforeAll(async () => {
    s = await startTestSluice(configFolder({}));
    port = new URL(s.adminUrl).port;
  });
  afterAll(async () => {
    await s?.close();
  });

  it('refuses a browser-style cross-site POST (text/plain, Origin of another site, no token) and creates nothing', async () => {
    const r = await raw(api(), 'POST', { host: host(), origin: 'http://evil.example', 'content-type': 'text/plain;charset=UTF-8' }, spec('evil'));
    expect(r.status).toBe(403);
    expect(r.body).toMatchObject({ kind: 'Status', reason: 'Forbidden' });
    expect(r.body.message).toMatch(/Origin "http:\/\/evil.example"/);
    // Each check holds by itself: the Origin with the right token, and text/plain with the token and no Origin.
    expect((await raw(api(), 'POST', { host: host(), origin: 'http://evil.example', authorization: bearer(), 'content-type': 'application/json' }, spec('evil'))).status).toBe(403);
    const plain = await raw(api(), 'POST', { host: host(), authorization: bearer(), 'content-type': 'text/plain' }, spec('evil'));
    expect(plain.status).toBe(415);
    expect(s.controller.get('default', 'evil')).toBeNull();
  });

  it('accepts only JSON and YAML bodies: form-encoded and a missing Content-Type get 415 naming the accepted types', async () => {
    const form = await raw(api(), 'POST', { host: host(), authorization: bearer(), 'content-type': 'application/x-www-form-urlencoded' }, `a=${encodeURIComponent(spec('form'))}`);
    expect(form.status).toBe(415);
    expect(form.body).toMatchObject({ reason: 'UnsupportedMediaType' });
    expect(form.body.message).toMatch(/application\/json, application\/yaml/);
    const none = await raw(api(), 'POST', { host: host(), authorization: bearer() }, spec('form'));
    expect(none.status).toBe(415);
    expect(none.body.message).toMatch(/no Content-Type/);
    expect(s.controller.get('default', 'form')).toBeNull();
  });

  it('needs the bearer token on every /apis request: missing or wrong 401, right 201; health stays open', async () => {
    const json = { host: host(), 'content-type': 'application/json' };
    const missing = await raw(api(), 'POST', json, spec('t'));
    expect(missing.status).toBe(401);
    expect(missing.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(missing.body.reason).toBe('Unauthorized');
    const wrong = await raw(api(), 'POST', { ...json, authorization: `Bearer ${'x'.repeat(s.adminToken.length)}` }, spec('t'));
    expect(wrong.status).toBe(401);
    expect((await raw(api(), 'GET', { host: host() }, undefined)).status).toBe(401);
    expect(s.controller.get('default', 't')).toBeNull();
    const right = await raw(api(), 'POST', { ...json, authorization: bearer() }, spec('t'));
    expect(right.status).toBe(201);
    // An accepted request keeps its keep-alive connection; only refusals before the body was read close it.
    expect(right.closed).toBe(false);
    expect(s.controller.get('default', 't')).not.toBeNull();
    expect((await raw(`${s.adminUrl}/healthz`, 'GET', { host: host() })).status).toBe(200);
    expect((await raw(`${s.adminUrl}/readyz`, 'GET', { host: 'attacker.example' })).status).toBe(200);
  });

  it('refuses a Host that is not its own or loopback (DNS rebinding); accepts localhost:PORT', async () => {
    const evil = await raw(api(), 'GET', { host: `attacker.example:${port}`, authorization: bearer() });
    expect(evil.status).toBe(403);
    expect(evil.body.message).toMatch(/Host "attacker.example:\d+".*DNS rebinding/);
    expect((await raw(api(), 'GET', { host: `localhost:${port}`, authorization: bearer() })).status).toBe(200);
    expect((await raw(api(), 'GET', { host: 'localhost', authorization: bearer() })).status).toBe(200);
    // A page on another local port is another origin.
    expect((await raw(api(), 'GET', { host: `localhost:${port}`, origin: 'http://localhost:3000', authorization: bearer() })).status).toBe(403);
    expect((await raw(api(), 'GET', { host: `localhost:${port}`, origin: `http://localhost:${port}`, authorization: bearer() })).status).toBe(200);
  });

  it('answers to a DNS name only once adminAllowedHosts names it', async () => {
    const other = await startTestSluice(null, { adminAllowedHosts: 'sluice.internal' });
    try {
      const p = new URL(other.adminUrl).port;
      const url = `${other.adminUrl}${COLLECTION}`;
      const auth = { authorization: `Bearer ${other.adminToken}` };
      expect((await raw(url, 'GET', { ...auth, host: `sluice.internal:${p}` })).status).toBe(200);
      expect((await raw(url, 'GET', { ...auth, host: `Sluice.Internal` })).status).toBe(200);
      expect((await raw(url, 'GET', { ...auth, host: `other.internal:${p}` })).status).toBe(403);
      // The first instance does not know the name.
      expect((await raw(api(), 'GET', { authorization: bearer(), host: `sluice.internal:${port}` })).status).toBe(403);
    } finally {
      await other.close();
    }
  });

  it('answers a body over the limit with 413 naming it, without reading it, and closes the connection', async () => {
    const headers = { host: host(), authorization: bearer(), 'content-type': 'application/json' };
    // Content-Length says 2 MiB; only 1 KiB is sent: the answer must not wait for the rest.
    const declared = await raw(`${s.adminUrl}${COLLECTION}/big`, 'PUT', { ...headers, 'content-length': String(2 * MIB) }, { declared: 2 * MIB, sent: 1024 });
    expect(declared.status).toBe(413);
    expect(declared.body).toMatchObject({ kind: 'Status', reason: 'RequestEntityTooLarge', code: 413 });
    expect(declared.body.message).toMatch(/\(2097152 bytes\) is larger than the admin API's limit of 1048576 bytes \(1 MiB\)/);
    expect(declared.closed).toBe(true);
    // Chunked: no length up front; refused once 1 MiB is passed, then closed.
    const chunked = await raw(`${s.adminUrl}${COLLECTION}/big`, 'PUT', { ...headers, 'transfer-encoding': 'chunked' }, { chunked: 40 });
    expect(chunked.status).toBe(413);
    expect(chunked.body.message).toMatch(/grew past the admin API's limit of 1048576 bytes/);
    expect(chunked.closed).toBe(true);
    expect(s.controller.get('default', 'big')).toBeNull();
  });

  it('Expect: 100-continue: a too-large Content-Length gets 413 and no 100; a fitting one gets 100 and is served', async () => {
    const headers = { host: host(), authorization: bearer(), 'content-type': 'application/json', expect: '100-continue' };
    const big = await raw(`${s.adminUrl}${COLLECTION}/big`, 'PUT', { ...headers, 'content-length': String(2 * MIB) }, { declared: 2 * MIB, sent: 0 });
    expect(big.status).toBe(413);
    expect(big.continued).toBe(false);
    expect(big.body.message).toMatch(/limit of 1048576 bytes/);
    // A refusal for another reason also comes before the 100.
    const noToken = await raw(`${s.adminUrl}${COLLECTION}/c`, 'PUT', { ...headers, authorization: 'Bearer nope-nope-nope-nope', 'content-length': '10' }, { declared: 10, sent: 0 });
    expect(noToken).toMatchObject({ status: 401, continued: false });
    const body = spec('c');
    const ok = await raw(`${s.adminUrl}${COLLECTION}/c`, 'PUT', { ...headers, 'content-length': String(Buffer.byteLength(body)) }, body);
    expect(ok).toMatchObject({ status: 201, continued: true });
  });

  it('the CLI prints what the server said about the limit, not "cannot reach"', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-cli-'));
    const file = join(dir, 'big.yaml');
    writeFileSync(file, demoService('huge', { annotations: { 'sluice.dev/note': 'a'.repeat(2 * MIB) } }));
    const r = await run(process.execPath, [CLI, 'apply', '-f', file, ...cliTarget(s)], { cwd: SLUICE_ROOT }).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: the request body \(\d+ bytes\) is larger than the admin API's limit of 1048576 bytes \(1 MiB\), the setting adminMaxBodyBytes\n$/);
  });
});
