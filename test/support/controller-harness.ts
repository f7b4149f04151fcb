/** A Controller wired to a FakeBackend, real autoscaler (never ticking) and activator, and a FakeClock. */
import { parse as parseYaml } from 'yaml';
import { Activator } from '../../activator/activator.js';
import { parseInferenceService, type InferenceService } from '../../api/inferenceservice.js';
import { Autoscaler } from '../../autoscaler/autoscaler.js';
import { FakeClock } from '../../core/clock.js';
import { silentLogger } from '../../core/log.js';
import { SluiceMetrics } from '../../core/metrics.js';
import { MemoryStore } from '../../core/store.js';
import { Controller, type ControllerDeps } from '../../deploy/controller.js';
import { builtinCatalogueDir, loadCatalogue } from '../../deploy/runtime-catalogue.js';
import { SnapshotHolder } from '../../gateway/data-plane.js';
import { buildRouteTable } from '../../gateway/route-table.js';
import { FakeBackend } from './fake-backend.js';

export interface Harness {
  clock: FakeClock;
  backend: FakeBackend;
  controller: Controller;
  snapshot: SnapshotHolder;
  autoscaler: Autoscaler;
  activator: Activator;
  metrics: SluiceMetrics;
  store: MemoryStore;
}

export function controllerHarness(extra: Partial<ControllerDeps> = {}): Harness {
  const clock = extra.clock instanceof FakeClock ? extra.clock : new FakeClock(Date.parse('2026-01-01T00:00:00Z'));
  const backend = new FakeBackend();
  const metrics = new SluiceMetrics();
  const logger = silentLogger();
  const store = new MemoryStore();
  const autoscaler = new Autoscaler({ clock, store, backend, metrics, logger });
  const activator = new Activator({
    clock,
    metrics,
    logger,
    limits: { maxHeldPerRevision: 100, maxHeldTotal: 1000, maxHeldBytesPerRevision: 1e6, maxHeldBytesTotal: 1e7, retryAfterSeconds: 1 },
    poke: () => undefined,
  });
  const snapshot = new SnapshotHolder({ routes: buildRouteTable([], 'example.com', 0), revisions: new Map() });
  const catalogue = loadCatalogue([builtinCatalogueDir()]);
  const controller = new Controller({
    clock,
    logger,
    backend,
    autoscaler,
    activator,
    snapshot,
    catalogue: () => catalogue,
    domain: 'example.com',
    urlPort: () => 80,
    ...extra,
  });
  controller.start();
  return { clock, backend, controller, snapshot, autoscaler, activator, metrics, store };
}

/** An sklearn InferenceService from YAML lines under `spec.predictor` (model block added). */
export function isvc(name: string, storageUri: string, predictorExtra = '', annotations: Record<string, string> = {}): InferenceService {
  const ann = Object.entries(annotations).map(([k, v]) => `    ${k}: "${v}"`).join('\n');
  const text = `apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: ${name}
${ann ? `  annotations:\n${ann}\n` : ''}spec:
  predictor:
${predictorExtra}    model:
      modelFormat:
        name: sklearn
      storageUri: ${storageUri}
`;
  return parseInferenceService(parseYaml(text)).object;
}
