/** Writes a kubeconfig for the test API server: plain HTTP, insecure-skip-tls-verify, a bearer token. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';

export function kubeconfigText(server: string, token: string, namespace = 'default'): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'sluice-test', cluster: { server, 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'sluice-test', user: { token } }],
    contexts: [{ name: 'sluice-test', context: { cluster: 'sluice-test', user: 'sluice-test', namespace } }],
    'current-context': 'sluice-test',
    preferences: {},
  });
}

/** Returns the directory (to remove on close) and the kubeconfig path inside it. */
export function writeKubeconfig(server: string, token: string): { dir: string; path: string } {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-kube-'));
  const path = join(dir, 'kubeconfig');
  writeFileSync(path, kubeconfigText(server, token), { mode: 0o600 });
  return { dir, path };
}
