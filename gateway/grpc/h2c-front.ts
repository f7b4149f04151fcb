import type { Server } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { createServer as createH2Server, type Http2Server, type IncomingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';

/**
 * What the TLS data port offers by ALPN, in its order of preference: gRPC clients ask for `h2`, HTTP/1.1 clients
 * for `http/1.1` or nothing. Given to the HTTPS server when it is made (a secure context swap keeps it).
 */
export const TLS_ALPN_PROTOCOLS: readonly string[] = ['h2', 'http/1.1'];

/** The start of the HTTP/2 connection preface (RFC 9113 §3.4); no HTTP/1.x method begins with `PRI `. */
const PREFACE_START = Buffer.from('PRI ');

export interface H2cOptions {
  /** SETTINGS_MAX_CONCURRENT_STREAMS per client connection (grpcMaxConcurrentStreams). */
  maxConcurrentStreams: number;
  /** A connection that has not told its protocol within this is closed (headerTimeoutSeconds). */
  sniffTimeoutMs: number;
  onStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void;
}

/**
 * HTTP/2 cleartext with prior knowledge (what gRPC clients send) on the HTTP/1.1 data port, and HTTP/2 by ALPN
 * `h2` on the HTTPS one (`attachTls`). Cleartext: the connection's
 * first bytes decide. The HTTP/1 server's own connection handler is taken off its `connection` event and called
 * for every connection that does not start with the HTTP/2 preface, with the bytes read put back; the others go
 * to an HTTP/2 server (`node:http2`). The decision costs one read per connection and nothing per request:
 * the first chunk of every real client decides at once (4 bytes). A connection that sends nothing, or stalls
 * inside them, is closed after `sniffTimeoutMs`; one whose client hangs up first is closed at once.
 */
export class H2cFront {
  readonly h2: Http2Server;
  private readonly sessions = new Set<ServerHttp2Session>();
  private draining = false;

  constructor(o: H2cOptions) {
    this.h2 = createH2Server({
      settings: { maxConcurrentStreams: o.maxConcurrentStreams, enablePush: false },
      maxSessionMemory: 64,
    });
    this.h2.on('stream', o.onStream);
    // Small frames (a unary call's answer) must not wait for Nagle's algorithm (40 ms with delayed ACKs): set on
    // every connection, those of the gRPC-only port and those handed over from the data port alike.
    this.h2.prependListener('connection', (socket: Socket) => socket.setNoDelay(true));
    this.h2.on('session', (s: ServerHttp2Session) => {
      this.sessions.add(s);
      s.on('close', () => this.sessions.delete(s));
      s.on('error', () => {
        // Session errors end its streams; each call answers its own.
      });
      if (this.draining) s.close();
    });
    this.sniffTimeoutMs = o.sniffTimeoutMs;
  }

  private readonly sniffTimeoutMs: number;

  /** Makes `server` (the HTTP/1 data port) also take HTTP/2 cleartext. Call before anything else listens on it. */
  attach(server: Server): void {
    const http1 = server.listeners('connection')[0] as ((socket: Socket) => void) | undefined;
    if (!http1) throw new Error('the HTTP server has no connection handler to hand HTTP/1.1 connections to');
    server.removeListener('connection', http1);
    server.prependListener('connection', (socket: Socket) => this.sniff(socket, () => http1.call(server, socket)));
    this.closeSessionsWith(server);
  }

  /**
   * Makes `server` (the HTTPS data port, made with ALPNProtocols TLS_ALPN_PROTOCOLS) also take gRPC: a
   * connection whose TLS handshake chose `h2` goes to the HTTP/2 server, any other (`http/1.1`, or a client
   * that offered no ALPN) to the HTTPS server's own handler. The handshake decides, so nothing is sniffed.
   */
  attachTls(server: HttpsServer): void {
    const http1 = server.listeners('secureConnection')[0] as ((socket: TLSSocket) => void) | undefined;
    if (!http1) throw new Error('the HTTPS server has no secureConnection handler to hand HTTP/1.1 connections to');
    server.removeListener('secureConnection', http1);
    server.prependListener('secureConnection', (socket: TLSSocket) => {
      if (socket.alpnProtocol === 'h2') this.h2.emit('connection', socket);
      else http1.call(server, socket);
    });
    this.closeSessionsWith(server);
  }

  /**
   * For a data port served by Sluice's own HTTP/1.1 connections (gateway/http1/), which tell HTTP/2 apart
   * themselves on a connection's first read and hand it to `takeOver` (Http1Options.onPreface): no listener of
   * its own on `server`, and nothing per connection here; the drain's close reaches the HTTP/2 sessions.
   */
  adopt(server: Server): void {
    this.closeSessionsWith(server);
  }

  /** A cleartext connection that began with the HTTP/2 preface: the HTTP/2 server reads `bytes` again, then the rest. */
  takeOver(socket: Socket, bytes: Buffer): void {
    // Paused so that the bytes put back wait for the HTTP/2 session, which reads them itself (on its next tick).
    socket.pause();
    socket.unshift(bytes);
    this.h2.emit('connection', socket);
  }

  /** The drain's last step closes every connection of `server`: its HTTP/2 ones too. */
  private closeSessionsWith(server: Server | HttpsServer): void {
    const closeAll = server.closeAllConnections.bind(server);
    server.closeAllConnections = () => {
      closeAll();
      for (const s of this.sessions) s.destroy();
    };
  }

  /** Client HTTP/2 connections open now. */
  get openSessions(): number {
    return this.sessions.size;
  }

  /** GOAWAY to every client connection: no new calls, the open ones finish (graceful shutdown). */
  goAway(): void {
    this.draining = true;
    for (const s of this.sessions) s.close();
  }

  private sniff(socket: Socket, toHttp1: () => void): void {
    let buf: Buffer | null = null;
    let timer: NodeJS.Timeout | null = null;
    const decide = (h2: boolean): void => {
      socket.removeListener('data', onData);
      socket.removeListener('end', onEnd);
      socket.removeListener('close', onClose);
      if (timer) clearTimeout(timer);
      // HTTP/2 is decided only on the preface's four bytes, so `buf` holds them.
      if (h2 && buf) {
        this.takeOver(socket, buf);
        return;
      }
      socket.pause();
      if (buf) socket.unshift(buf);
      toHttp1();
      socket.resume();
    };
    const onData = (chunk: Buffer): void => {
      buf = buf ? Buffer.concat([buf, chunk]) : chunk;
      const n = Math.min(buf.length, PREFACE_START.length);
      if (buf.compare(PREFACE_START, 0, n, 0, n) !== 0) return decide(false);
      if (n === PREFACE_START.length) return decide(true);
    };
    // Neither server has the socket yet, so nothing else closes it: a client that hangs up before its first bytes
    // would leave it half-open (CLOSE-WAIT) for good, and one that sends nothing would hold a connection past every
    // timeout. Both end here: at the client's FIN, or at sniffTimeoutMs (the header timeout) without a decision.
    const onEnd = (): void => {
      if (timer) clearTimeout(timer);
      socket.destroy();
    };
    const onClose = (): void => {
      if (timer) clearTimeout(timer);
    };
    timer = setTimeout(() => socket.destroy(), this.sniffTimeoutMs);
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('close', onClose);
  }
}
