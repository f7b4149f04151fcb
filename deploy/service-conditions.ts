/**
 * The conditions of an InferenceService, read as KServe reads a Knative service: a configuration half (is the
 * latest revision ready?) and a route half (can traffic be served?), combined into PredictorReady and Ready.
 * Plus Sluice's RolloutSucceeded while a rollout policy drives the canary. Pure.
 */
import type { RolloutState } from './rollout-state.js';

export type ConditionStatus = 'True' | 'False' | 'Unknown';
export type ConditionValue = readonly [ConditionStatus, string?, string?];

export interface ConditionInput {
  service: string;
  latestCreated: string | null;
  latestReady: string | null;
  /** Why the latest created revision failed (it could not become ready), if it did. */
  failure: string | undefined;
  /** How the latest created revision's start goes while it is not ready (e.g. replicas that exited), or null. */
  starting?: string | null;
  /** The latest created revision is a first revision at initial-scale 0 that no request has started yet. */
  waitsAtZero?: boolean;
  /** Why the latest revision gets less than asked (from assignTraffic). */
  holdReason: string | null;
  /** The resolved traffic has at least one target. */
  routed: boolean;
  rollout: RolloutState | null;
}

/** Condition type → [status, reason?, message?]; `RolloutSucceeded` is absent without a rollout. */
export function serviceConditions(x: ConditionInput): Array<[string, ConditionValue]> {
  const config: ConditionValue =
    x.latestCreated !== null && x.latestReady === x.latestCreated
      ? ['True']
      : x.failure
        ? ['False', 'RevisionFailed', `revision ${x.latestCreated} failed to become ready: ${x.failure}${x.latestReady ? `; traffic stays on ${x.latestReady}` : ''}`]
        : x.waitsAtZero
          ? ['Unknown', 'RevisionNotStarted', `revision ${x.latestCreated} has not run yet: it starts on the first request (initial-scale 0), which waits for it`]
          : ['Unknown', 'RevisionNotReady', `${x.holdReason ?? `revision ${x.latestCreated} is not ready yet`}${x.starting ? `; ${x.starting}` : ''}`];
  // The route the spec asks for (its latest revision) cannot be served when that revision failed.
  const route: ConditionValue = x.failure
    ? config
    : x.routed
      ? ['True']
      : ['Unknown', 'RevisionMissing', `no ready revision of ${x.service} can take traffic yet`];
  // The configuration's reason is the more telling one whenever the latest revision is not ready.
  const ready: ConditionValue = config[0] === 'True' && route[0] === 'True' ? ['True'] : config[0] !== 'True' ? config : route;
  const out: Array<[string, ConditionValue]> = [
    ['IngressReady', ['True']],
    ['PredictorConfigurationReady', config],
    ['PredictorRouteReady', route],
    ['LatestDeploymentReady', config[0] === 'True' ? ['True'] : [config[0], 'PredictorConfigurationReady not ready']],
    ['RoutesReady', route[0] === 'True' ? ['True'] : route[0] === 'False' ? route : [route[0], 'PredictorRouteReady not ready']],
    ['PredictorReady', ready],
    ['Ready', ready[0] === 'True' ? ['True'] : ready[0] === 'False' ? ready : [ready[0], 'PredictorNotReady', ready[2]]],
  ];
  const r = x.rollout;
  if (r) out.push(['RolloutSucceeded', [r.phase === 'Succeeded' ? 'True' : r.phase === 'RolledBack' ? 'False' : 'Unknown', r.phase, r.message]]);
  return out;
}
