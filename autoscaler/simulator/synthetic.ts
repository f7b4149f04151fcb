import type { TraceRequest } from './trace.js';

/** A small seeded PRNG (mulberry32): the same seed gives the same trace on every machine. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function normal(rand: () => number): number {
  const u = Math.max(1e-12, rand());
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

function exponential(rand: () => number, rate: number): number {
  return -Math.log(1 - rand()) / rate;
}

function lognormal(rand: () => number, median: number, sigma: number): number {
  return median * Math.exp(sigma * normal(rand));
}

/** Poisson arrivals with a time-varying rate (per second), by thinning against `maxRate`. */
function poisson(rand: () => number, seconds: number, maxRate: number, rate: (t: number) => number, duration: () => number): TraceRequest[] {
  const out: TraceRequest[] = [];
  let t = 0;
  for (;;) {
    t += exponential(rand, maxRate);
    if (t >= seconds) break;
    if (rand() * maxRate <= rate(t)) out.push({ arrivalMs: Math.round(t * 1000), durationMs: Math.max(1, Math.round(duration())) });
  }
  return out;
}

/** 30 min of Poisson arrivals at 10 rps, service times log-normal around 300 ms. */
export function steadyTrace(seed = 1): TraceRequest[] {
  const rand = seededRandom(seed);
  return poisson(rand, 1800, 10, () => 10, () => lognormal(rand, 300, 0.5));
}

/** A day compressed into one hour: rate rises from 0.5 to 15.5 rps and back (sin²), service ~300 ms. */
export function diurnalTrace(seed = 2): TraceRequest[] {
  const rand = seededRandom(seed);
  const T = 3600;
  return poisson(rand, T, 15.5, (t) => 0.5 + 15 * Math.sin((Math.PI * t) / T) ** 2, () => lognormal(rand, 300, 0.5));
}

/** 30 min at 1 rps with a 20-second burst at 40 rps every 4–6 minutes, service ~300 ms. */
export function burstyTrace(seed = 3): TraceRequest[] {
  const rand = seededRandom(seed);
  const bursts: number[] = [];
  for (let t = 60 + rand() * 60; t < 1740; t += 240 + rand() * 120) bursts.push(t);
  const inBurst = (t: number) => bursts.some((b) => t >= b && t < b + 20);
  return poisson(rand, 1800, 41, (t) => (inBurst(t) ? 41 : 1), () => lognormal(rand, 300, 0.5));
}

/**
 * 8 hours of short sessions (1–4 requests a few seconds apart, ~800 ms each) separated by idle gaps: 90 % around
 * 5 minutes (σ 1 min, at least 2 min), 10 % between 10 and 20 minutes. The shape adaptive keep-warm learns.
 */
export function sparseTrace(seed = 4): TraceRequest[] {
  const rand = seededRandom(seed);
  const out: TraceRequest[] = [];
  let t = 30;
  while (t < 8 * 3600) {
    const n = 1 + Math.floor(rand() * 4);
    let at = t;
    for (let i = 0; i < n; i++) {
      out.push({ arrivalMs: Math.round(at * 1000), durationMs: Math.max(1, Math.round(lognormal(rand, 800, 0.3))) });
      at += exponential(rand, 1 / 3);
    }
    const gap = rand() < 0.9 ? Math.max(120, 300 + 60 * normal(rand)) : 600 + rand() * 600;
    t = at + gap;
  }
  return out;
}

export const SYNTHETIC_TRACES = { steady: steadyTrace, diurnal: diurnalTrace, bursty: burstyTrace, sparse: sparseTrace } as const;
