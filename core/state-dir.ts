/**
 * The state directory's default, apart from the configuration schema so the CLI can find the admin token without
 * loading the schema library (`sluice get` stays fast).
 */
export const DEFAULT_STATE_DIR = '.sluice';
