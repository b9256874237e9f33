// The landing zone: a small web page, served by netvault on an internal port, where the
// operator drops the provider's WireGuard `.conf`.
//
//   GET  /         the page (HTML, CSS and a few lines of plain JavaScript)
//   POST /upload   the file as the raw body (application/octet-stream), one file a request
//
// Every request, in this order: rate limit per client address (429), access by address
// (403, see landing-guard.ts), `Host` check (403), route. An upload then: cross-site check
// (403), type (415), size (413, from Content-Length before reading, or while reading), parse
// in memory: a file that is not a wg-quick file with a private key is refused with the line and
// key (422) and never written. A good one is written into the landing folder atomically (0600,
// a name chosen here, see landing-write.ts) and ingested right away, synchronously, by this
// process: the page shows the result of that ingest. The server also runs the landing
// watcher on the folder, so a file dropped there by hand is ingested too; both run in this
// one thread, so they never ingest at the same time.
//
// The library never logs: every request decision and every watcher event goes to `log`.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isValidAddress, splitHostPort } from '@netvault/cidr';
import {
  ingest,
  ingestMaxBytes,
  parseConfig,
  watchLandingZone,
  type IngestOptions,
  type IngestResult,
  type LandingWatcher,
  type TunnelParams,
  type WatchLandingOptions,
} from '@netvault/wg';
import {
  LandingAccess,
  crossSiteRefusal,
  displayName,
  hostOf,
  isAcceptedHost,
  type AccessOptions,
} from './landing-guard.ts';
import { RateLimiter, type RateLimitOptions } from './landing-limit.ts';
import { landingPage, pagePolicy } from './landing-page.ts';
import { prepareLandingFolder, writeUpload } from './landing-write.ts';

export const defaultLandingListen = '127.0.0.1:10023';

export interface LandingZoneOptions extends AccessOptions {
  /** `ADDR:PORT` (`[::]:10023` for IPv6) or the parts; port 0 picks one.
   * Default 127.0.0.1:10023. */
  listen?: string | { host: string; port: number };
  /** Where uploads are written; created 0700 when missing. */
  landingDir: string;
  /** Passed to `ingest`: where the key files go. */
  keyDir: string;
  /** Passed to `ingest`: where tunnel.json and tunnel.nix go. */
  configDir: string;
  /** Interface name for the key files. Default `privado`. */
  name?: string;
  /** Host names the page is served under besides IP literals and `localhost`. */
  hosts?: readonly string[];
  /** Largest upload in bytes. Default 65536, the ingest limit. */
  maxBytes?: number;
  /** Token bucket per client address; `false` turns it off. */
  rateLimit?: RateLimitOptions | false;
  /** Also watch the folder for files dropped by hand (default true), with these timings. */
  watch?: boolean | Pick<WatchLandingOptions, 'settleMs' | 'rescanMs' | 'checkWriters'>;
  /** Receives one entry per request decision and per watcher event. */
  log?: (entry: LandingLogEntry) => void;
}

export type LandingOutcome =
  'page' | 'ingested' | 'refused' | 'forbidden' | 'limited' | 'rejected' | 'failed' | 'not-found';

/** One request and what was decided about it. */
export interface LandingRequestEntry {
  kind: 'request';
  method: string;
  path: string;
  status: number;
  outcome: LandingOutcome;
  /** The socket's peer address. */
  peer: string | undefined;
  /** The client address the decision was made on (from X-Forwarded-For when proxied). */
  client: string | undefined;
  proxied: boolean;
  /** Set when X-Forwarded-For came from a peer that is not a trusted proxy and was ignored. */
  forwardedIgnored?: true;
  /** Why, for anything but a served page or an ingested file. */
  reason?: string;
  /** The client's file name, cleaned, only ever shown. */
  name?: string;
  /** The file the server wrote. */
  file?: string;
}

/** A file the watcher took from the folder (dropped by hand), or an error it met. */
export interface LandingWatchEntry {
  kind: 'watch';
  file: string | undefined;
  result?: IngestResult;
  error?: Error;
}

export type LandingLogEntry = LandingRequestEntry | LandingWatchEntry;

export interface LandingZone {
  /** `http://HOST:PORT/` as bound (a wildcard host stays as it is). */
  url: string;
  host: string;
  port: number;
  /** The token the page carries and uploads must send in `X-Netvault-Token`. */
  token: string;
  /** Stops listening, drops open connections, stops the watcher. */
  close(): Promise<void>;
}

/** What `POST /upload` answers with as JSON (200 or 422). */
export type UploadAnswer =
  | {
      status: 'ingested';
      name: string;
      tunnel: PublicTunnel;
      keyFile: string;
      configFiles: string[];
      ignored: string[];
    }
  | {
      status: 'refused';
      name: string;
      code: string;
      reason: string;
      line?: number;
      key?: string;
      /** Where ingest moved a file it refused after it was written (it may hold a key). */
      keptAt?: string;
    };

/** The public parameters shown on the page: no key, no key file path of a peer. */
export interface PublicTunnel {
  name: string;
  addresses: string[];
  dns: string[];
  mtu?: number;
  listenPort?: number;
  peers: {
    publicKey: string;
    endpoint?: string;
    allowedIps: string[];
    persistentKeepalive?: number;
    presharedKey: boolean;
  }[];
}

/** Splits `ADDR:PORT`; the address must be an IP literal, the port 0 to 65535. */
export function parseListen(text: string): { host: string; port: number } {
  const wrong = new RangeError(
    'listen address must be ADDR:PORT like 127.0.0.1:10023 or [::]:10023, ' +
      `got ${JSON.stringify(text)}`,
  );
  let host: string;
  let port: string;
  try {
    ({ host, port } = splitHostPort(text));
  } catch {
    throw wrong;
  }
  if (!isValidAddress(host) || !/^\d{1,5}$/.test(port) || Number(port) > 65535) throw wrong;
  return { host, port: Number(port) };
}

function urlOf(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}/`;
}

function publicTunnel(tunnel: TunnelParams): PublicTunnel {
  return {
    name: tunnel.name,
    addresses: tunnel.addresses,
    dns: tunnel.dns,
    mtu: tunnel.mtu,
    listenPort: tunnel.listenPort,
    peers: tunnel.peers.map((peer) => ({
      publicKey: peer.publicKey,
      endpoint: peer.endpoint,
      allowedIps: peer.allowedIps,
      persistentKeepalive: peer.persistentKeepalive,
      presharedKey: peer.presharedKeyFile !== undefined,
    })),
  };
}

const commonHeaders = {
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

type BodyRead = { body: Buffer } | { tooLarge: true };

/** Reads at most `limit` bytes of the body; past that, stops keeping what arrives. */
function readBody(request: IncomingMessage, limit: number): Promise<BodyRead> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    const wipe = () => {
      for (const chunk of chunks) chunk.fill(0);
      chunks.length = 0;
    };

    request.on('data', (chunk: Buffer) => {
      if (over) return;
      size += chunk.length;
      if (size > limit) {
        over = true;
        chunk.fill(0);
        wipe();
        resolve({ tooLarge: true });
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => {
      if (over) return;
      const body = Buffer.concat(chunks, size);
      wipe();
      resolve({ body });
    });
    request.on('error', (error) => {
      wipe();
      reject(error);
    });
    request.on('close', () => {
      if (request.complete) return;
      wipe();
      reject(new Error('upload aborted by the client'));
    });
  });
}

/** Starts the landing page server; resolves once it listens (and the watcher is ready). */
export async function startLandingZone(options: LandingZoneOptions): Promise<LandingZone> {
  const listen =
    typeof options.listen === 'object'
      ? options.listen
      : parseListen(options.listen ?? defaultLandingListen);
  const maxBytes = options.maxBytes ?? ingestMaxBytes;
  const hosts = options.hosts ?? [];
  const log = options.log ?? (() => {});
  const access = new LandingAccess(options);
  const limiter = options.rateLimit === false ? undefined : new RateLimiter(options.rateLimit);
  const landing = prepareLandingFolder(options.landingDir);
  const ingestOptions: IngestOptions = {
    keyDir: options.keyDir,
    configDir: options.configDir,
    name: options.name,
    maxBytes,
  };
  const token = randomBytes(24).toString('base64url');

  const handle = async (request: IncomingMessage, response: ServerResponse, expects: boolean) => {
    const decision = access.decide(request);
    const method = request.method ?? 'GET';
    const path = (request.url ?? '/').split('?')[0];
    const base = {
      kind: 'request' as const,
      method,
      path: path.slice(0, 200),
      peer: decision.peer,
      client: decision.client,
      proxied: decision.proxied,
      ...(decision.forwardedIgnored ? { forwardedIgnored: true as const } : {}),
    };
    let extra: Pick<LandingRequestEntry, 'name' | 'file'> = {};

    const send = (
      status: number,
      outcome: LandingOutcome,
      body: string,
      more: { json?: boolean; headers?: Record<string, string>; reason?: string } = {},
    ) => {
      response.writeHead(status, {
        ...commonHeaders,
        'Content-Type': more.json ? 'application/json; charset=utf-8' : 'text/plain; charset=utf-8',
        'Content-Length': Buffer.byteLength(body),
        ...more.headers,
      });
      response.end(method === 'HEAD' ? undefined : body);
      const reason = more.reason === undefined ? {} : { reason: more.reason };
      log({ ...base, ...extra, status, outcome, ...reason });
    };
    // A refused upload whose body was not read ends the connection: what the client still
    // sends must not be taken for the next request.
    let bodyPending = method === 'POST';
    const refuse = (
      status: number,
      outcome: LandingOutcome,
      reason: string,
      headers: Record<string, string> = {},
    ) => {
      const close: Record<string, string> = bodyPending ? { Connection: 'close' } : {};
      send(status, outcome, `${status} ${reasonPhrase(status)}: ${reason}\n`, {
        headers: { ...close, ...headers },
        reason,
      });
    };
    const answer = (status: number, value: UploadAnswer) =>
      send(status, value.status, JSON.stringify(value), {
        json: true,
        reason: value.status === 'refused' ? value.reason : undefined,
      });

    const receive = (body: Buffer, name: string) => {
      if (body.length === 0) return refuse(400, 'rejected', 'the upload is empty');

      // Checked in memory first: a file that cannot be ingested never reaches the disk.
      let config;
      try {
        config = parseConfig(body.toString('utf8'), { source: name });
      } catch (error) {
        const { line, key } = error as { line?: number; key?: string };
        const reason = (error as Error).message;
        return answer(422, { status: 'refused', name, code: 'parse-error', reason, line, key });
      }
      if (!config.interface.privateKey) {
        const reason = `${name} has no PrivateKey in [Interface]`;
        return answer(422, { status: 'refused', name, code: 'no-private-key', reason });
      }

      let result: IngestResult;
      try {
        const file = writeUpload(landing, body);
        extra = { ...extra, file };
        result = ingest(file, ingestOptions);
      } catch (error) {
        return refuse(500, 'failed', (error as Error).message);
      }

      if (result.status === 'refused') {
        const reason = result.reason.split(result.source).join(name);
        return answer(422, {
          status: 'refused',
          name,
          code: result.code,
          reason,
          keptAt: result.movedTo,
        });
      }
      return answer(200, {
        status: 'ingested',
        name,
        tunnel: publicTunnel(result.tunnel),
        keyFile: result.files.privateKey,
        configFiles: [result.files.json, result.files.nix],
        ignored: result.ignored,
      });
    };

    if (limiter !== undefined) {
      const rate = limiter.take(decision.client ?? decision.peer ?? 'unknown');
      if (!rate.allowed) {
        const wait = String(rate.retryAfterSeconds);
        const who = decision.client ?? decision.peer;
        return refuse(429, 'limited', `too many requests from ${who}; try again in ${wait} s`, {
          'Retry-After': wait,
        });
      }
    }
    if (!decision.allowed) return refuse(403, 'forbidden', decision.reason);
    if (!isAcceptedHost(request.headers.host, hosts)) {
      const host = hostOf(request.headers.host) ?? String(request.headers.host ?? '');
      return refuse(
        403,
        'forbidden',
        `host name ${JSON.stringify(host.slice(0, 100))} is not ` +
          'served here; use an IP address or a name configured with --host',
      );
    }

    if (path === '/') {
      if (method !== 'GET' && method !== 'HEAD') {
        return refuse(405, 'rejected', `${method} is not allowed here`, { Allow: 'GET, HEAD' });
      }
      const nonce = randomBytes(16).toString('base64');
      const page = landingPage({ token, nonce, maxBytes, host: request.headers.host! });
      response.writeHead(200, {
        ...commonHeaders,
        'Content-Type': 'text/html; charset=utf-8',
        'Content-Length': Buffer.byteLength(page),
        'Content-Security-Policy': pagePolicy(nonce),
      });
      response.end(method === 'HEAD' ? undefined : page);
      log({ ...base, status: 200, outcome: 'page' });
      return;
    }

    if (path !== '/upload') return refuse(404, 'not-found', 'nothing here; the page is at /');
    if (method !== 'POST') {
      return refuse(405, 'rejected', `${method} is not allowed here`, { Allow: 'POST' });
    }
    const sentName = request.headers['x-netvault-filename'];
    if (sentName !== undefined) extra = { name: displayName(sentName) };

    const crossSite = crossSiteRefusal(request.headers, token);
    if (crossSite !== undefined) return refuse(403, 'forbidden', crossSite);

    const type = (request.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    if (type !== 'application/octet-stream') {
      return refuse(
        415,
        'rejected',
        'send one file as the request body with Content-Type ' +
          `application/octet-stream (got ${JSON.stringify(type.slice(0, 60) || 'none')}); ` +
          'multipart forms are not accepted',
      );
    }

    const length = request.headers['content-length'];
    const tooLarge = `larger than ${maxBytes} bytes (a WireGuard .conf is a few hundred)`;
    if (length !== undefined && Number(length) > maxBytes) {
      return refuse(413, 'rejected', tooLarge);
    }

    if (expects) response.writeContinue();
    const read = await readBody(request, maxBytes);
    bodyPending = false;
    if ('tooLarge' in read) return refuse(413, 'rejected', tooLarge, { Connection: 'close' });

    const body = read.body;
    try {
      receive(body, extra.name ?? displayName(undefined));
    } finally {
      body.fill(0);
    }
  };

  // Loaded here, not at the top: node:http costs every other netvault command start-up time.
  const { createServer } = await import('node:http');
  const server = createServer({ requestTimeout: 30_000, headersTimeout: 10_000 });
  const serve = (expects: boolean) => (request: IncomingMessage, response: ServerResponse) => {
    handle(request, response, expects).catch((error: Error) => {
      if (!response.headersSent) {
        response.writeHead(500, { ...commonHeaders, 'Content-Type': 'text/plain; charset=utf-8' });
        response.end(`500 internal error: ${error.message}\n`);
      } else {
        response.destroy();
      }
      log({
        kind: 'request',
        method: request.method ?? '',
        path: request.url ?? '',
        status: 500,
        outcome: 'failed',
        peer: request.socket.remoteAddress,
        client: undefined,
        proxied: false,
        reason: error.message,
      });
    });
  };
  server.on('request', serve(false));
  server.on('checkContinue', serve(true));

  let watcher: LandingWatcher | undefined;
  if (options.watch !== false) {
    const timings = typeof options.watch === 'object' ? options.watch : {};
    watcher = watchLandingZone(landing, { ...ingestOptions, ...timings }, (event) => {
      log(
        event.type === 'result'
          ? { kind: 'watch', file: event.file, result: event.result }
          : { kind: 'watch', file: event.file, error: event.error },
      );
    });
  }

  try {
    await watcher?.ready;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: listen.host, port: listen.port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    watcher?.close();
    throw error;
  }

  const bound = server.address() as AddressInfo;
  return {
    url: urlOf(listen.host, bound.port),
    host: listen.host,
    port: bound.port,
    token,
    close: () =>
      new Promise<void>((resolve) => {
        watcher?.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function reasonPhrase(status: number): string {
  switch (status) {
    case 400:
      return 'bad request';
    case 403:
      return 'forbidden';
    case 404:
      return 'not found';
    case 405:
      return 'method not allowed';
    case 413:
      return 'too large';
    case 415:
      return 'unsupported media type';
    case 422:
      return 'refused';
    case 429:
      return 'too many requests';
    case 500:
      return 'internal error';
    default:
      return 'error';
  }
}
