import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpus } from 'node:os';
import { connect, createServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

/** A service the harness started as a child process; `stop()` ends it (SIGTERM, then SIGKILL after 3 s). */
export interface ChildService {
  pid: number;
  port: number;
  stop(): Promise<void>;
}

export interface SpawnOptions {
  command: string;
  args: string[];
  /** how readiness is seen: the child prints `LISTENING <port>`, or a TCP connect to `port` succeeds */
  ready: { kind: 'prints-port' } | { kind: 'accepts'; port: number };
  label: string;
  startTimeoutMs?: number;
  /** run it under harness/guard.js so it dies with the harness (for services that are not our Node scripts) */
  guarded?: boolean;
}

const guardScript = fileURLToPath(new URL('./guard.js', import.meta.url));

/** Asks the kernel for a free loopback port (a short race with other processes is accepted). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * Every child a run started, so that an interrupted run (SIGINT/SIGTERM) still ends them all. Node children
 * also exit by themselves when their stdin closes, which covers a harness killed outright.
 */
export class ChildRegistry {
  /**
   * @param cpus when set, what this registry spawns runs on these CPUs only (`taskset -c`; see `pinnedTo`).
   */
  constructor(
    readonly cpus: string | null = null,
    private readonly live = new Set<ChildProcess>(),
  ) {}

  /** The same registry (one set of children to stop), spawning on `cpus` only: `--pin`'s systems under test. */
  pinnedTo(cpus: string): ChildRegistry {
    return new ChildRegistry(cpus, this.live);
  }

  track(child: ChildProcess): void {
    this.live.add(child);
    child.once('exit', () => this.live.delete(child));
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.live].map((c) => stopChild(c)));
  }
}

/**
 * `--pin`: this process (every thread it has; threads and children it makes later inherit it) on `cpu` only; the
 * systems under test go on another (`ChildRegistry.pinnedTo`). Throws when there are not 2 CPUs or taskset fails.
 */
export function pinThisProcess(cpu: string): void {
  if (cpus().length < 2) throw new Error(`needs 2 CPUs, this machine has ${cpus().length}`);
  execFileSync('taskset', ['-a', '-p', '-c', cpu, String(process.pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** `command args` as run on `cpus` only (`taskset -c`), or as given when `cpus` is null. */
export function onCpus(cpus: string | null, command: string, args: readonly string[]): [string, string[]] {
  return cpus === null ? [command, [...args]] : ['taskset', ['-c', cpus, command, ...args]];
}

export async function spawnService(registry: ChildRegistry, options: SpawnOptions): Promise<ChildService> {
  const [given, givenArgs] = options.guarded
    ? [process.execPath, [guardScript, options.command, ...options.args]]
    : [options.command, options.args];
  const [command, args] = onCpus(registry.cpus, given, givenArgs);
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  registry.track(child);
  const stderr: string[] = [];
  child.stderr?.on('data', (chunk: Buffer) => {
    if (stderr.length < 50) stderr.push(chunk.toString());
  });
  const deadline = options.startTimeoutMs ?? 10_000;
  try {
    const port =
      options.ready.kind === 'prints-port'
        ? await printedPort(child, deadline)
        : await acceptsConnections(child, options.ready.port, deadline);
    child.stdout?.resume();
    return { pid: child.pid ?? -1, port, stop: () => stopChild(child) };
  } catch (err) {
    await stopChild(child);
    throw new Error(`${options.label} did not start: ${(err as Error).message}\n${stderr.join('')}`);
  }
}

function printedPort(child: ChildProcess, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`no LISTENING line within ${timeoutMs} ms`)), timeoutMs);
    child.once('exit', (code) => reject(new Error(`exited with ${code}`)));
    child.stdout?.on('data', function onData(chunk: Buffer) {
      seen += chunk.toString();
      const match = /LISTENING (\d+)/.exec(seen);
      if (match) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        resolve(Number(match[1]));
      }
    });
  });
}

async function acceptsConnections(child: ChildProcess, port: number, timeoutMs: number): Promise<number> {
  const started = Date.now();
  let exited: number | null | undefined;
  child.once('exit', (code) => {
    exited = code;
  });
  while (Date.now() - started < timeoutMs) {
    if (exited !== undefined) throw new Error(`exited with ${exited}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return port;
    await sleep(50);
  }
  throw new Error(`port ${port} not accepting within ${timeoutMs} ms`);
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), 3_000);
  await exited;
  clearTimeout(killer);
}
