import { describe, expect, it } from 'vitest';
import { checkEgress, egressMatches } from './egress.js';

describe('egress allowlist', () => {
  const allow = ['https://models.example.com/team-a/', 's3://bucket/', '*.blob.example.net', 'jwks.example.org'];

  it('allows what an entry covers', () => {
    for (const url of [
      'https://models.example.com/team-a/iris.joblib',
      's3://bucket/anything/deep',
      'https://acct.blob.example.net/c/m',
      'https://blob.example.net/x',
      'https://jwks.example.org/.well-known/jwks.json',
    ])
      expect(() => checkEgress(url, 'f', allow), url).not.toThrow();
  });

  it('refuses the rest, naming the field and the setting', () => {
    expect(() => checkEgress('https://models.example.com/team-b/x', 'spec.predictor.model.storageUri', allow)).toThrow(
      'spec.predictor.model.storageUri: https://models.example.com/team-b/x is not allowed by egressAllow',
    );
    expect(egressMatches('https://models.example.com.evil/team-a/x', 'https://models.example.com/team-a/')).toBe(false);
    expect(egressMatches('http://models.example.com/team-a/x', 'https://models.example.com/team-a/')).toBe(false);
    expect(egressMatches('https://notblob.example.net/x', '*.blob.example.net')).toBe(false);
    expect(egressMatches('s3://bucket-2/x', 's3://bucket/')).toBe(false);
    expect(egressMatches('https://h/models-old', 'https://h/models')).toBe(false);
  });

  it('allows anything with an empty list, and never checks local paths or volumes', () => {
    expect(() => checkEgress('https://anywhere.example/x', 'f', [])).not.toThrow();
    for (const url of ['/models/iris', 'file:///models/iris', 'pvc://claim/models']) expect(() => checkEgress(url, 'f', allow)).not.toThrow();
  });
});
