/**
 * The data plane's auth stage from the settings (`dataAuth`, `jwt*`, `jwks*`): the gateway-wide default policy,
 * the JWKS cache and the verified-token cache, for embedded and cluster mode alike.
 */
import { join } from 'node:path';
import type { Registry } from 'prom-client';
import type { ApiKeyRecord } from '../api/api-keys.js';
import { DEFAULT_JWT_ALGORITHMS, jwtPolicyKey, kubernetesPolicy, type AuthPolicy, type JwtRules } from '../api/auth-policy.js';
import type { Clock } from '../core/clock.js';
import type { ServeConfig } from '../core/config.js';
import type { Logger } from '../core/log.js';
import { AuthStage, type ApiKeyDirectory } from '../gateway/stages/auth/auth-stage.js';
import { JwksCache, type JwksFetch } from '../gateway/stages/auth/jwks.js';
import { JwtVerifier } from '../gateway/stages/auth/jwt-verifier.js';
import { clientNodeReviews, KubeAuth, type KubeReviewApi } from '../gateway/stages/auth/kube-reviews.js';
import type { KubeConfig } from '@kubernetes/client-node';
import type { AdminTokenRecord } from '../deploy/auth/admin-roles.js';
import { CredentialFile } from '../deploy/auth/credential-file.js';
import type { DurableFiles } from '../deploy/state/durable-files.js';
import { errorMessage } from '../core/errors.js';

/** `<stateDir>/api-keys.json` and `<stateDir>/admin-tokens.json`, read (a bad file stops the start, naming it). */
export function credentialFiles(
  cfg: Pick<ServeConfig, 'maxApiKeys'>,
  stateDir: string,
  files: DurableFiles | null,
): { apiKeys: CredentialFile<ApiKeyRecord>; adminTokens: CredentialFile<AdminTokenRecord> } {
  const open = <R extends ApiKeyRecord | AdminTokenRecord>(name: string, what: string): CredentialFile<R> => {
    try {
      return new CredentialFile<R>({ path: join(stateDir, name), files, max: cfg.maxApiKeys, what }).load();
    } catch (err) {
      throw new Error(`cannot read the state directory ${stateDir}: ${errorMessage(err)} (move the file away, or reset the state: docs/state.md)`);
    }
  };
  return { apiKeys: open<ApiKeyRecord>('api-keys.json', 'API key'), adminTokens: open<AdminTokenRecord>('admin-tokens.json', 'admin token') };
}

type AuthSettings = Pick<
  ServeConfig,
  | 'dataAuth'
  | 'jwtIssuer'
  | 'jwtJwksUrl'
  | 'jwtAudiences'
  | 'jwtClockSkewSeconds'
  | 'jwksRefreshSeconds'
  | 'jwksMaxStaleSeconds'
  | 'jwtCacheSize'
  | 'kubernetesAudiences'
  | 'domain'
>;

/** The policy of services without a `sluice.dev/auth` annotation; throws naming the setting that is missing. */
export function defaultAuthPolicy(cfg: AuthSettings): AuthPolicy {
  // (Its audiences, the `kubernetesAudiences` setting, are filled in by the stage, as for annotated services naming none.)
  if (cfg.dataAuth === 'kubernetes') return kubernetesPolicy([]);
  if (cfg.dataAuth !== 'jwt') return { mode: cfg.dataAuth, key: cfg.dataAuth };
  if (!cfg.jwtIssuer) throw new Error('dataAuth is "jwt" but jwtIssuer is empty: name the issuer tokens must come from (--jwt-issuer / SLUICE_JWT_ISSUER)');
  if (!cfg.jwtJwksUrl) throw new Error('dataAuth is "jwt" but jwtJwksUrl is empty: give the URL of the issuer\'s JWKS (SLUICE_JWT_JWKS_URL)');
  // Empty audiences: each service's own URLs (the auth stage fills them in per service).
  const jwt: JwtRules = {
    issuer: cfg.jwtIssuer,
    audiences: cfg.jwtAudiences,
    algorithms: DEFAULT_JWT_ALGORITHMS,
    requiredClaims: [],
    jwksUrl: cfg.jwtJwksUrl,
  };
  return { mode: 'jwt', key: jwtPolicyKey(jwt), jwt };
}

/**
 * Embedded mode (and its workers) has no Kubernetes API server to review tokens: `dataAuth: kubernetes` there
 * would answer 503 to every service without its own sluice.dev/auth, so the start is refused, naming the setting.
 */
export function refuseKubernetesDefault(cfg: Pick<ServeConfig, 'dataAuth'>): void {
  if (cfg.dataAuth === 'kubernetes')
    throw new Error(
      'dataAuth is "kubernetes", which needs a Kubernetes API server to review tokens (TokenReview, SubjectAccessReview): only cluster mode has one; in embedded mode (sluice serve) set dataAuth (--data-auth, SLUICE_DATA_AUTH) to api-key or jwt (docs/security.md)',
    );
}

export interface DataAuth {
  stage: AuthStage;
  jwks: JwksCache;
  verifier: JwtVerifier;
  /** Kubernetes token reviews (cluster mode only). */
  kube: KubeAuth | null;
  close(): void;
}

/** Cluster mode: where `sluice.dev/auth: kubernetes` tokens are reviewed (the gateway's kubeconfig) and which CRD group. */
export interface KubeAuthWiring {
  kubeConfig?: KubeConfig;
  /** Instead of kubeConfig (tests). */
  api?: KubeReviewApi;
  group: string;
}

export function dataAuth(
  cfg: AuthSettings,
  o: { clock: Clock; logger: Logger; registry?: Registry; keys: ApiKeyDirectory; fetchJwks?: JwksFetch; kubernetes?: KubeAuthWiring },
): DataAuth {
  if (o.kubernetes === undefined) refuseKubernetesDefault(cfg);
  const jwks = new JwksCache({
    clock: o.clock,
    logger: o.logger,
    refreshMs: cfg.jwksRefreshSeconds * 1000,
    maxStaleMs: cfg.jwksMaxStaleSeconds * 1000,
    registry: o.registry,
    ...(o.fetchJwks ? { fetch: o.fetchJwks } : {}),
  });
  const verifier = new JwtVerifier({ clock: o.clock, jwks, clockSkewSeconds: cfg.jwtClockSkewSeconds, maxEntries: cfg.jwtCacheSize });
  const k = o.kubernetes;
  const api = k ? (k.api ?? (k.kubeConfig ? clientNodeReviews(k.kubeConfig) : null)) : null;
  const kube = k && api ? new KubeAuth({ api, clock: o.clock, group: k.group, registry: o.registry }) : null;
  const stage = new AuthStage({
    defaultPolicy: defaultAuthPolicy(cfg),
    keys: o.keys,
    jwt: verifier,
    kube,
    kubernetesAudiences: cfg.kubernetesAudiences,
    registry: o.registry,
    domain: cfg.domain,
  });
  return { stage, jwks, verifier, kube, close: () => jwks.close() };
}
