import { readFileSync, unwatchFile, watchFile, type Stats } from 'node:fs';
import type { Server as HttpsServer } from 'node:https';
import type { Logger } from './log.js';

/** How often the certificate and key files are checked for changes (a stat each; rotation tools rename files). */
const CHECK_INTERVAL_MS = 1000;

/**
 * A listener's certificate and key, read from files named by settings (e.g. `tlsCertFile`/`tlsKeyFile`), and read
 * again when either file changes: the listener's secure context is replaced (`setSecureContext`), so new
 * connections get the new certificate and open ones keep theirs. A change that does not read or parse (a
 * half-written pair) is logged and the previous certificate stays; the next change is tried again.
 * Files are polled by stat (1 s), which sees atomic renames (cert-manager, certbot) that a file watch misses.
 */
export class TlsFiles {
  private servers: HttpsServer[] = [];
  private watching = false;
  private readonly onChange = (cur: Stats, prev: Stats): void => {
    if (cur.mtimeMs === prev.mtimeMs && cur.size === prev.size && cur.ino === prev.ino) return;
    this.reload();
  };

  constructor(
    readonly certFile: string,
    readonly keyFile: string,
    /** The settings that name the files, for errors: `tlsCertFile`/`tlsKeyFile`. */
    private readonly names: { cert: string; key: string },
    private readonly logger?: Logger,
  ) {}

  /** Reads both files now; throws an error naming the setting when one cannot be read. */
  options(): { cert: Buffer; key: Buffer } {
    return { cert: read(this.certFile, this.names.cert), key: read(this.keyFile, this.names.key) };
  }

  /** Reloads `server`'s certificate when the files change, until it closes. */
  attach(server: HttpsServer): void {
    this.servers.push(server);
    server.once('close', () => {
      this.servers = this.servers.filter((s) => s !== server);
      if (this.servers.length === 0) this.stop();
    });
    if (this.watching) return;
    this.watching = true;
    watchFile(this.certFile, { interval: CHECK_INTERVAL_MS, persistent: false }, this.onChange);
    watchFile(this.keyFile, { interval: CHECK_INTERVAL_MS, persistent: false }, this.onChange);
  }

  /** Reads the files and swaps every attached listener's certificate; false (logged) when they do not load. */
  reload(): boolean {
    try {
      const opts = this.options();
      for (const s of this.servers) s.setSecureContext(opts);
      this.logger?.info({ cert: this.certFile }, 'TLS certificate reloaded');
      return true;
    } catch (err) {
      this.logger?.error({ err: err instanceof Error ? err.message : String(err) }, 'TLS certificate not reloaded; the previous one stays in use');
      return false;
    }
  }

  stop(): void {
    if (!this.watching) return;
    this.watching = false;
    unwatchFile(this.certFile, this.onChange);
    unwatchFile(this.keyFile, this.onChange);
  }
}

function read(file: string, setting: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new Error(`cannot read ${setting} ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** The pair named by two settings, both or neither (an error names the one missing); null when neither is set. */
export function tlsFilesFrom(cert: string, key: string, names: { cert: string; key: string }, logger?: Logger): TlsFiles | null {
  if (cert === '' && key === '') return null;
  if (cert === '') throw new Error(`${names.key} is set but ${names.cert} is not: HTTPS needs both a certificate and its key`);
  if (key === '') throw new Error(`${names.cert} is set but ${names.key} is not: HTTPS needs both a certificate and its key`);
  const files = new TlsFiles(cert, key, names, logger);
  files.options(); // fail at start, naming the setting
  return files;
}
