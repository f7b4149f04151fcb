import { spawn } from 'node:child_process';

/**
 * `node guard.js <command> [args…]`: runs a non-Node service (nginx, HAProxy) so that it dies with the
 * harness: it ends the service when its own stdin closes (the harness went away, even by SIGKILL) or when it
 * is sent SIGTERM/SIGINT, and exits with the service.
 */
const [command, ...args] = process.argv.slice(2);
if (!command) {
  process.stderr.write('usage: guard.js <command> [args…]\n');
  process.exit(2);
}
const child = spawn(command, args, { stdio: ['ignore', 'inherit', 'inherit'] });
const end = (): void => {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
};
child.once('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
child.once('error', (err) => {
  process.stderr.write(`guard: ${err.message}\n`);
  process.exit(1);
});
process.once('SIGTERM', end);
process.once('SIGINT', end);
process.stdin.on('end', end);
process.stdin.resume();
