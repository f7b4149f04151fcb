import { SETTINGS } from './config-table.js';

/**
 * The state directory's default (the configuration table's `stateDir`), for the CLI, which finds the admin token
 * there. The table loads no schema library, so `sluice get` stays fast.
 */
export const DEFAULT_STATE_DIR: string = SETTINGS.stateDir.default;
