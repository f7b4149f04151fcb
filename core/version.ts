/** Sluice's version, as `package.json` says (core/version.test.ts keeps them equal). */
export const SLUICE_VERSION = '0.1.0';
