/** The two `--upstream URL` arguments every floor proxy takes (primary, then canary), as the load tests' Sluice does. */
export function upstreamArgs(argv: readonly string[]): [string, string] {
  const ups: string[] = [];
  for (let i = 0; i < argv.length; i++) if (argv[i] === '--upstream' && argv[i + 1]) ups.push(argv[++i]!);
  if (ups.length !== 2) throw new Error(`give two --upstream URL arguments (primary, canary), not ${ups.length}`);
  return [ups[0]!, ups[1]!];
}

/** 90/10 as the load tests' split: the tenth of every ten goes to the canary. */
export function splitter(primary: string, canary: string): () => string {
  let n = 0;
  return () => (++n % 10 === 0 ? canary : primary);
}
