import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../core/log.js';
import { AttributeKey, Exchange } from './exchange.js';
import { Pipeline } from './pipeline.js';
import type { Stage } from './stage.js';

const exchange = (p: Pipeline): Exchange => new Exchange({ headers: {} } as IncomingMessage, {} as ServerResponse, 0, 0, p);

describe('Pipeline: stages composed once into one array per hook', () => {
  it('flags exactly the hooks some stage has, so the gateway skips the others without a call', () => {
    const empty = new Pipeline([], silentLogger());
    expect([empty.hasArrival, empty.hasRouted, empty.hasAdmitted, empty.hasDone, empty.observesForward]).toEqual([false, false, false, false, false]);
    const p = new Pipeline([{ name: 'a', onRouted: () => undefined }, { name: 'b', onResponseStart: () => undefined }], silentLogger());
    expect([p.hasArrival, p.hasRouted, p.hasAdmitted, p.hasDone, p.observesForward]).toEqual([false, true, false, false, true]);
  });

  it("wants an exchange's response start when some stage with onResponseStart wants it (a stage without wantsResponseStart wants every one)", () => {
    const ex = (p: Pipeline): Exchange => exchange(p);
    const onResponseStart = (): void => undefined;
    const none = new Pipeline([{ name: 'a', onRouted: () => undefined }], silentLogger());
    expect(none.wantsResponseStart(ex(none))).toBe(false);
    let cold = false;
    const picky = new Pipeline([{ name: 'a', onResponseStart, wantsResponseStart: () => cold }, { name: 'b', onResponseStart, wantsResponseStart: () => false }], silentLogger());
    expect(picky.wantsResponseStart(ex(picky))).toBe(false);
    cold = true;
    expect(picky.wantsResponseStart(ex(picky))).toBe(true);
    const always = new Pipeline([{ name: 'a', onResponseStart, wantsResponseStart: () => false }, { name: 'b', onResponseStart }], silentLogger());
    expect(always.wantsResponseStart(ex(always))).toBe(true);
  });

  it('stops at the first refusal, in composition order, and awaits only stages that answer with a promise', async () => {
    const calls: string[] = [];
    const stage = (name: string, answer: () => ReturnType<NonNullable<Stage['onRouted']>>): Stage => ({
      name,
      onRouted: () => {
        calls.push(name);
        return answer();
      },
    });
    const sync = new Pipeline([stage('a', () => undefined), stage('b', () => ({ status: 429, message: 'slow down' })), stage('c', () => undefined)], silentLogger());
    expect(sync.runRouted(exchange(sync))).toEqual({ status: 429, message: 'slow down' });
    expect(calls).toEqual(['a', 'b']);

    calls.length = 0;
    const async = new Pipeline([stage('a', () => Promise.resolve(undefined)), stage('b', () => undefined), stage('c', () => Promise.resolve({ status: 401, message: 'who?' }))], silentLogger());
    const answer = async.runRouted(exchange(async));
    expect(answer).toBeInstanceOf(Promise);
    expect(await answer).toEqual({ status: 401, message: 'who?' });
    expect(calls).toEqual(['a', 'b', 'c']);

    const none = new Pipeline([stage('a', () => undefined)], silentLogger());
    expect(none.runRouted(exchange(none))).toBeUndefined();
  });

  it('runs every onDone hook even when one throws', () => {
    const done: string[] = [];
    const p = new Pipeline(
      [
        { name: 'a', onDone: () => void done.push('a') },
        { name: 'b', onDone: () => { throw new Error('broken stage'); } },
        { name: 'c', onDone: () => void done.push('c') },
      ],
      silentLogger(),
    );
    p.runDone(exchange(p));
    expect(done).toEqual(['a', 'c']);
  });

  it('refuses a stage composed twice, by name', () => {
    expect(() => new Pipeline([{ name: 'auth' }, { name: 'auth' }], silentLogger())).toThrow('gateway stage "auth" is composed twice');
  });
});

describe('Exchange attributes: what one stage attaches for the stages after it', () => {
  it('keeps each key to its own value, replaces a value set again, and reads a key never set as undefined', () => {
    const ex = exchange(new Pipeline([], silentLogger()));
    const subject = new AttributeKey<string>('subject');
    const keyId = new AttributeKey<string>('key id');
    const sampled = new AttributeKey<boolean>('sampled');
    expect(ex.get(subject)).toBeUndefined();
    ex.set(subject, 'apikey:bench');
    ex.set(keyId, 'abcd');
    ex.set(sampled, false);
    expect([ex.get(subject), ex.get(keyId), ex.get(sampled)]).toEqual(['apikey:bench', 'abcd', false]);
    ex.set(keyId, 'efgh');
    expect([ex.get(subject), ex.get(keyId), ex.get(sampled)]).toEqual(['apikey:bench', 'efgh', false]);
    // two keys with the same name are still two keys
    const other = new AttributeKey<string>('subject');
    expect(ex.get(other)).toBeUndefined();
    ex.set(other, 'jwt:alice');
    expect([ex.get(subject), ex.get(other)]).toEqual(['apikey:bench', 'jwt:alice']);
  });
});
