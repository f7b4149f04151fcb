import type { ChildRegistry } from '../harness/child-process.js';
import type { Settings } from '../harness/settings.js';

export interface ScenarioContext {
  /** The scenario's name (`Scenario.name`), for choices made by name (its default upstream). */
  scenario: string;
  settings: Settings;
  children: ChildRegistry;
  log(line: string): void;
}

/** A chart written beside the report as `<scenario>-<name>.svg`. */
export interface Chart {
  name: string;
  svg: string;
}

export interface ScenarioOutput {
  /** the report's body (the runner adds the title, machine and command) */
  markdown: string;
  charts: Chart[];
}

/**
 * One benchmark scenario. `systems` are the names it compares (from systems/catalogue.ts); `needs` are those
 * without which it means nothing — when one of them is unavailable the scenario is reported as skipped.
 */
export interface Scenario {
  name: string;
  title: string;
  systems: readonly string[];
  needs: readonly string[];
  run(ctx: ScenarioContext): Promise<ScenarioOutput>;
}
