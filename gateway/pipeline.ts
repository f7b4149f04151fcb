import type { Logger } from '../core/log.js';
import type { Dispatch } from './dispatch.js';
import type { Exchange } from './exchange.js';
import type { PassedHead } from './forward-headers.js';
import type { Admission, HeaderBag, Stage } from './stage.js';

type AdmissionHook = (stage: Stage, ex: Exchange) => Admission | Promise<Admission>;
const arrivalHook: AdmissionHook = (s, ex) => s.onArrival!(ex);
const routedHook: AdmissionHook = (s, ex) => s.onRouted!(ex);

/**
 * The stages of the gateway, composed once (at wiring time) into one array per hook, keeping their order. A hook
 * no stage has is skipped by a flag read once per request (`hasArrival`, …), so it costs no call and no loop;
 * a hook that runs costs one call per stage that has it, and allocates nothing unless a stage is asynchronous.
 */
export class Pipeline {
  readonly stages: readonly Stage[];
  readonly hasArrival: boolean;
  readonly hasRouted: boolean;
  readonly hasAdmitted: boolean;
  readonly hasDone: boolean;
  /** Some stage may take requests over before the dispatch (`onDispatch`). */
  readonly hasDispatch: boolean;
  /** Some stage watches the forward (upstream headers, response start, bodies): the forwarder is told to call back. */
  readonly observesForward: boolean;
  private readonly arrival: Stage[];
  private readonly routed: Stage[];
  private readonly admitted: Stage[];
  private readonly upstream: Stage[];
  private readonly response: Stage[];
  private readonly responseHeadStages: Stage[];
  private readonly done: Stage[];
  private readonly hold: Stage[];
  private readonly holdEnd: Stage[];
  private readonly attemptEnd: Stage[];
  private readonly dispatchers: Stage[];
  private readonly requestBodies: Stage[];
  private readonly responseBodies: Stage[];

  constructor(
    stages: readonly Stage[],
    private readonly logger: Logger,
  ) {
    const names = new Set<string>();
    for (const s of stages) {
      if (names.has(s.name)) throw new Error(`gateway stage "${s.name}" is composed twice`);
      names.add(s.name);
    }
    this.stages = Object.freeze([...stages]);
    this.arrival = stages.filter((s) => s.onArrival);
    this.routed = stages.filter((s) => s.onRouted);
    this.admitted = stages.filter((s) => s.onAdmitted);
    this.upstream = stages.filter((s) => s.onUpstreamHeaders);
    this.response = stages.filter((s) => s.onResponseStart);
    this.responseHeadStages = stages.filter((s) => s.onResponseHead);
    this.done = stages.filter((s) => s.onDone);
    this.hold = stages.filter((s) => s.onHold);
    this.holdEnd = stages.filter((s) => s.onHoldEnd);
    this.attemptEnd = stages.filter((s) => s.onAttemptEnd);
    this.dispatchers = stages.filter((s) => s.onDispatch);
    this.hasDispatch = this.dispatchers.length > 0;
    this.requestBodies = stages.filter((s) => s.onRequestBody);
    this.responseBodies = stages.filter((s) => s.onResponseBody);
    this.hasArrival = this.arrival.length > 0;
    this.hasRouted = this.routed.length > 0;
    this.hasAdmitted = this.admitted.length > 0;
    this.hasDone = this.done.length > 0;
    this.observesForward = this.upstream.length + this.response.length + this.responseHeadStages.length + this.requestBodies.length + this.responseBodies.length > 0;
  }

  /** The first refusal of an `onArrival` hook (or a promise of it, once a stage answered with a promise). */
  runArrival(ex: Exchange): Admission | Promise<Admission> {
    return admit(this.arrival, arrivalHook, ex, 0);
  }

  /** The first refusal of an `onRouted` hook (or a promise of it, once a stage answered with a promise). */
  runRouted(ex: Exchange): Admission | Promise<Admission> {
    return admit(this.routed, routedHook, ex, 0);
  }

  runAdmitted(ex: Exchange): void {
    const a = this.admitted;
    for (let i = 0; i < a.length; i++) a[i]!.onAdmitted!(ex);
  }

  upstreamHeaders(ex: Exchange, headers: HeaderBag): void {
    const a = this.upstream;
    for (let i = 0; i < a.length; i++) a[i]!.onUpstreamHeaders!(ex, headers);
  }

  /** Whether some stage's `onUpstreamHeaders` has anything to do for `ex` (see Stage.wantsUpstreamHeaders). */
  wantsUpstreamHeaders(ex: Exchange): boolean {
    const a = this.upstream;
    for (let i = 0; i < a.length; i++) {
      const s = a[i]!;
      if (s.wantsUpstreamHeaders === undefined || s.wantsUpstreamHeaders(ex)) return true;
    }
    return false;
  }

  /** Whether some stage's `onResponseStart` has anything to do for `ex` (see Stage.wantsResponseStart). */
  wantsResponseStart(ex: Exchange): boolean {
    const a = this.response;
    for (let i = 0; i < a.length; i++) {
      const s = a[i]!;
      if (s.wantsResponseStart === undefined || s.wantsResponseStart(ex)) return true;
    }
    return false;
  }

  /** The replica's head goes on as it came (no stage wanted its start): stages' `onResponseHead`. */
  responseHead(ex: Exchange, head: PassedHead): void {
    const a = this.responseHeadStages;
    for (let i = 0; i < a.length; i++) a[i]!.onResponseHead!(ex, head);
  }

  responseStart(ex: Exchange, status: number, headers: HeaderBag): void {
    const a = this.response;
    for (let i = 0; i < a.length; i++) a[i]!.onResponseStart!(ex, status, headers);
  }

  held(ex: Exchange): void {
    const a = this.hold;
    for (let i = 0; i < a.length; i++) a[i]!.onHold!(ex);
  }

  holdEnded(ex: Exchange, err?: unknown): void {
    const a = this.holdEnd;
    for (let i = 0; i < a.length; i++) a[i]!.onHoldEnd!(ex, err);
  }

  attemptEnded(ex: Exchange, err?: unknown): void {
    const a = this.attemptEnd;
    for (let i = 0; i < a.length; i++) a[i]!.onAttemptEnd!(ex, err);
  }

  /** The answer of the first stage that takes the request over, or undefined: the normal dispatch serves it. */
  runDispatch(ex: Exchange, dispatch: Dispatch): Promise<void> | undefined {
    const a = this.dispatchers;
    for (let i = 0; i < a.length; i++) {
      const taken = a[i]!.onDispatch!(ex, dispatch);
      if (taken) return taken;
    }
    return undefined;
  }

  requestBody(ex: Exchange, chunk: Buffer): void {
    const a = this.requestBodies;
    for (let i = 0; i < a.length; i++) a[i]!.onRequestBody!(ex, chunk);
  }

  responseBody(ex: Exchange, chunk: Buffer): void {
    const a = this.responseBodies;
    for (let i = 0; i < a.length; i++) a[i]!.onResponseBody!(ex, chunk);
  }

  /** Every `onDone` hook runs, even when one before it throws (accounting must not be skipped). */
  runDone(ex: Exchange): void {
    const a = this.done;
    for (let i = 0; i < a.length; i++) {
      try {
        a[i]!.onDone!(ex);
      } catch (err) {
        this.logger.error({ err, stage: a[i]!.name }, 'gateway stage failed when the request was done');
      }
    }
  }
}

function admit(stages: Stage[], hook: AdmissionHook, ex: Exchange, from: number): Admission | Promise<Admission> {
  for (let i = from; i < stages.length; i++) {
    const answer = hook(stages[i]!, ex);
    if (answer instanceof Promise) return answer.then((a) => (a ? a : admit(stages, hook, ex, i + 1)));
    if (answer) return answer;
  }
  return undefined;
}
