/**
 * Sluice extensions to the predictor spec (documented in docs/traffic.md as extensions, not KServe fields):
 * `traffic` — an explicit Cloud Run style split or extra tags — and `rollout` — a progressive delivery policy.
 */
import { z } from 'zod';
import { dns1123Label, strictObject } from './schema-parts.js';

/** Tags KServe's canary rollout writes itself; a user tag may not take them. */
export const RESERVED_TAGS = ['latest', 'prev'] as const;

export const trafficTarget = strictObject({
  revisionName: z.string().min(1).optional(),
  latestRevision: z.boolean().optional(),
  percent: z.number().int().min(0).max(100),
  tag: dns1123Label.optional(),
});

export type TrafficTargetSpec = z.output<typeof trafficTarget>;

export const trafficList = z.array(trafficTarget).max(64).superRefine((list, ctx) => {
  const tags = new Set<string>();
  list.forEach((t, i) => {
    const latest = t.latestRevision === true;
    if (latest === (t.revisionName !== undefined))
      ctx.addIssue({ code: 'custom', path: [i], message: 'set exactly one of revisionName or latestRevision: true' });
    if (t.tag !== undefined) {
      if ((RESERVED_TAGS as readonly string[]).includes(t.tag))
        ctx.addIssue({ code: 'custom', path: [i, 'tag'], message: `tag "${t.tag}" is reserved for KServe's canary rollout; choose another name` });
      if (tags.has(t.tag)) ctx.addIssue({ code: 'custom', path: [i, 'tag'], message: `tag "${t.tag}" is used twice` });
      tags.add(t.tag);
    }
  });
  const sum = list.reduce((s, t) => s + t.percent, 0);
  if (sum !== 0 && sum !== 100)
    ctx.addIssue({ code: 'custom', message: `percents must sum to 100 (or all be 0 for tag-only entries), got ${sum}` });
  if (sum === 0 && list.some((t) => t.tag === undefined))
    ctx.addIssue({ code: 'custom', message: 'entries at 0 % need a tag (a tag-only entry); otherwise give the split percents summing to 100' });
});

export const rolloutPolicy = strictObject({
  /** Canary percents in order, strictly increasing, each 1..100; after the last one passes, the canary is promoted. */
  steps: z
    .array(z.number().int().min(1).max(100))
    .min(1)
    .max(20)
    .refine((s) => s.every((v, i) => i === 0 || v > s[i - 1]!), { message: 'steps must be strictly increasing' }),
  /** Seconds each step lasts at least (and until minRequests have been seen). */
  dwellSeconds: z.number().min(0).default(60),
  /** Most the canary's error rate may exceed the stable revision's, as a fraction (0.05 = 5 points). */
  maxErrorRateDelta: z.number().min(0).max(1).default(0.05),
  /** Most the canary's p99 model latency may be, as a multiple of the stable revision's. */
  maxP99Ratio: z.number().min(1).default(1.5),
  /** Canary requests needed in a step before it is judged at all. */
  minRequests: z.number().int().min(1).default(50),
});

export type RolloutPolicy = z.output<typeof rolloutPolicy>;
