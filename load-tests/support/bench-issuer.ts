import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';

/** The JWT issuer of the auth benchmarks: a JWKS server in this process with one RS256 key, and a token it signed. */
export interface BenchIssuer {
  /** The issuer's `iss`. */
  issuer: string;
  /** Where its keys are served (http://127.0.0.1:<port>/jwks.json). */
  jwksUrl: string;
  /** A token for `sub: bench-client`, audience `https://bench-jwt.default.example.com`, valid 2 h. */
  token: string;
  close(): void;
}

export async function startBenchIssuer(): Promise<BenchIssuer> {
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'bench', alg: 'RS256' };
  const jwks: Server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] })));
  await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', r));
  const issuer = 'https://idp.bench.local';
  const token = await new SignJWT({ sub: 'bench-client' })
    .setProtectedHeader({ alg: 'RS256', kid: 'bench' })
    .setIssuer(issuer)
    .setAudience('https://bench-jwt.default.example.com')
    .setIssuedAt()
    .setExpirationTime('2h')
    .sign(privateKey);
  return {
    issuer,
    jwksUrl: `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json`,
    token,
    close: () => jwks.close(),
  };
}
