// The `wg` tool (wireguard-tools) run through execa, inside the namespace an interface is in.
//
// Keys never go on a command line, where any user can read them in /proc/PID/cmdline: private
// and preshared keys are written to the tool's standard input (`wg setconf IF /dev/stdin`,
// `wg set IF private-key /dev/stdin`). `wg` echoes a bad line or key in its own messages, so
// its stderr is scrubbed of every key-shaped text before it goes into an error.
//
// `wg` reaches a userspace interface through its socket file, which is the same from every
// namespace, and a kernel interface over generic netlink in the namespace the interface is in
// now; running it in that namespace works for both.

import { execa } from 'execa';
import { closeSync } from 'node:fs';
import { memoryFile, type NetnsHandle } from '@netvault/netns';

import { formatConfig } from './config.js';
import type { WgPeerSection, WgQuickConfig } from './config-types.js';
import { WgError, WgKeyError } from './errors.js';
import { isValidKey } from './keys.js';
import { parseDump, type WgStatus } from './status.js';

/** An interface by name, in the namespace it is in now (the current one when omitted). */
export interface WgTarget {
  readonly name: string;
  readonly namespace?: NetnsHandle;
}

/** The part of a configuration `wg setconf` reads: no addresses, DNS, MTU or hooks. */
export interface WgDeviceConfig {
  /** Base64 of 32 bytes. Secret. */
  privateKey?: string;
  listenPort?: number;
  /** 0 means off. */
  fwMark?: number;
  peers?: WgPeerSection[];
}

/** A change to one peer, `wg set IF peer KEY …`; fields left out keep their value. */
export interface WgPeerUpdate {
  publicKey: string;
  /** A new preshared key (secret), or null to remove it. */
  presharedKey?: string | null;
  /** `host:port` or `[v6]:port`. */
  endpoint?: string;
  /** Replaces the peer's whole list; an empty list removes every allowed IP. */
  allowedIps?: string[];
  /** Seconds, 0 = off. */
  persistentKeepalive?: number;
}

/** Interface settings for `wg set IF …`; fields left out keep their value. */
export interface WgInterfaceUpdate {
  /** Base64 of 32 bytes. Secret. */
  privateKey?: string;
  listenPort?: number;
  /** 0 means off. */
  fwMark?: number;
}

export interface WgRunOptions {
  /** Give up on the command after this long; default 15000 ms. */
  timeoutMs?: number;
}

export interface WgToolErrorDetails {
  op: string;
  /** The command as run, e.g. `wg setconf wg0 /dev/stdin`. Never holds a secret. */
  command: string;
  interfaceName: string;
  /** Where it ran: a namespace label, or `current namespace`. */
  namespace: string;
  exitCode: number | undefined;
  signal?: string;
  /** The tool's error output with every key-shaped text replaced. */
  stderr: string;
  cause?: unknown;
}

/**
 * A `wg` or `wireguard-go` command that failed. Carries the command as run, the exit code or
 * signal and the tool's error output; none of them ever contains key material.
 */
export class WgToolError extends WgError {
  readonly command: string;
  readonly interfaceName: string;
  readonly namespace: string;
  readonly exitCode: number | undefined;
  readonly signal: string | undefined;
  readonly stderr: string;

  constructor(details: WgToolErrorDetails) {
    const how =
      details.exitCode !== undefined
        ? `exited with code ${details.exitCode}`
        : details.signal !== undefined
          ? `was killed by ${details.signal}`
          : 'could not run';
    const said = details.stderr.trim().split('\n').filter(Boolean).join('; ');
    super(`wg: \`${details.command}\` in ${details.namespace} ${how}${said ? `: ${said}` : ''}`, {
      op: details.op,
      cause: details.cause,
    });
    this.name = 'WgToolError';
    this.command = details.command;
    this.interfaceName = details.interfaceName;
    this.namespace = details.namespace;
    this.exitCode = details.exitCode;
    this.signal = details.signal;
    this.stderr = details.stderr;
  }
}

// 40 or more base64 characters in a row: a key, or most of one.
const keyShaped = /[A-Za-z0-9+/]{40,}={0,2}/g;

/**
 * Replaces the given secrets, and anything else shaped like a key, with `(redacted)`. `wg`
 * quotes what it cannot read (`Line unrecognized: \`PrivateKey=…'`, `Key is not the correct
 * length or format: \`…'`), so on a line that mentions a key every quoted span goes as a whole.
 */
export function redactSecrets(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length > 0) out = out.split(secret).join('(redacted)');
  }
  out = out
    .split('\n')
    .map((line) => (/key/i.test(line) ? line.replace(/`[^`'\n]*'/g, "`(redacted)'") : line))
    .join('\n');
  return out.replace(keyShaped, '(redacted)');
}

function where(target: WgTarget): string {
  return target.namespace?.label ?? 'current namespace';
}

/**
 * Runs `wg ARGS…` in the target's namespace with `input` on stdin and returns its stdout.
 * `secrets` are the values written to stdin; they are scrubbed from any error.
 */
async function runWg(
  target: WgTarget,
  op: string,
  args: string[],
  options: WgRunOptions & { input?: string; secrets?: string[] } = {},
): Promise<string> {
  const command = ['wg', ...args].join(' ');
  const timeout = options.timeoutMs ?? 15_000;
  let exitCode: number | undefined;
  let signal: string | undefined;
  let stdout: string;
  let stderr: string;
  let cause: unknown;

  // Secrets reach `wg` as its stdin, an anonymous in-memory file it opens as /dev/stdin (Node
  // would give it a socket, which cannot be opened that way). Nothing touches a disk.
  const stdin = options.input === undefined ? undefined : memoryFile('netvault-wg', options.input);
  try {
    if (target.namespace) {
      const result = await target.namespace.execInNetwork('wg', args, {
        stdin,
        timeoutMs: timeout,
      });
      ({ exitCode, signal, stdout, stderr } = result);
    } else {
      const result = await execa('wg', args, {
        stdin: (stdin ?? 'ignore') as never,
        timeout,
        reject: false,
        stripFinalNewline: false,
      });
      exitCode = result.exitCode;
      signal = result.signal;
      stdout = String(result.stdout ?? '');
      stderr = String(result.stderr ?? '');
      // Only the spawn error itself: execa's result also holds the output, which may hold a key.
      cause = result.failed && result.exitCode === undefined ? result.cause : undefined;
    }
  } finally {
    if (stdin !== undefined) closeSync(stdin);
  }

  if (exitCode === 0) return stdout;
  throw new WgToolError({
    op,
    command,
    interfaceName: target.name,
    namespace: where(target),
    exitCode,
    signal,
    stderr: redactSecrets(stderr, options.secrets),
    cause,
  });
}

function checkPublicKey(key: string, op: string): void {
  // A wrong value here may be a private key pasted into the wrong field: never echo it.
  if (!isValidKey(key)) {
    throw new WgKeyError(`wg: ${op}: the peer's public key is not base64 of 32 bytes`, { op });
  }
}

function checkSecretKey(key: string, op: string, what: string): void {
  if (isValidKey(key)) return;
  throw new WgKeyError(`wg: ${op}: the ${what} is not base64 of 32 bytes`, { op });
}

function asQuickConfig(config: WgQuickConfig | WgDeviceConfig): WgQuickConfig {
  if ('interface' in config) return config;
  return {
    interface: {
      privateKey: config.privateKey,
      listenPort: config.listenPort,
      fwMark: config.fwMark,
      addresses: [],
      dns: [],
      preUp: [],
      postUp: [],
      preDown: [],
      postDown: [],
    },
    peers: config.peers ?? [],
  };
}

function secretsOf(config: WgQuickConfig): string[] {
  const secrets = config.peers.map((peer) => peer.presharedKey);
  secrets.push(config.interface.privateKey);
  return secrets.filter((secret): secret is string => secret !== undefined);
}

/**
 * The text `wg setconf` reads for a configuration: a parsed wg-quick file (its wg-quick-only
 * keys are left out) or just the device part.
 */
export function setconfText(config: WgQuickConfig | WgDeviceConfig): string {
  return formatConfig(asQuickConfig(config), { wgQuickKeys: false });
}

/**
 * Replaces the interface's whole configuration: keys, port, fwmark and peers; peers not in
 * `config` are removed. `wg setconf IF /dev/stdin`. Addresses, DNS and MTU of a wg-quick file
 * are the caller's to apply (they are link settings, not WireGuard ones).
 */
export async function configureInterface(
  target: WgTarget,
  config: WgQuickConfig | WgDeviceConfig,
  options: WgRunOptions = {},
): Promise<void> {
  const quick = asQuickConfig(config);
  await runWg(target, 'wg setconf', ['setconf', target.name, '/dev/stdin'], {
    ...options,
    input: setconfText(quick),
    secrets: secretsOf(quick),
  });
}

/**
 * Like configureInterface, but changes only what differs, so sessions with unchanged peers
 * keep their handshake. `wg syncconf IF /dev/stdin`.
 */
export async function syncConfig(
  target: WgTarget,
  config: WgQuickConfig | WgDeviceConfig,
  options: WgRunOptions = {},
): Promise<void> {
  const quick = asQuickConfig(config);
  await runWg(target, 'wg syncconf', ['syncconf', target.name, '/dev/stdin'], {
    ...options,
    input: setconfText(quick),
    secrets: secretsOf(quick),
  });
}

/**
 * Changes the private key, listen port or fwmark.
 * `wg set IF [listen-port N] [fwmark M] [private-key /dev/stdin]`.
 */
export async function setInterface(
  target: WgTarget,
  update: WgInterfaceUpdate,
  options: WgRunOptions = {},
): Promise<void> {
  const args = ['set', target.name];
  if (update.listenPort !== undefined) args.push('listen-port', String(update.listenPort));
  if (update.fwMark !== undefined) {
    args.push('fwmark', update.fwMark === 0 ? 'off' : `0x${update.fwMark.toString(16)}`);
  }
  if (update.privateKey !== undefined) {
    checkSecretKey(update.privateKey, 'wg set', 'private key');
    args.push('private-key', '/dev/stdin');
  }

  const secrets = update.privateKey === undefined ? [] : [update.privateKey];
  await runWg(target, 'wg set', args, { ...options, input: update.privateKey, secrets });
}

/**
 * Adds a peer or changes one.
 * `wg set IF peer KEY [preshared-key /dev/stdin] [endpoint E] [persistent-keepalive N]
 * [allowed-ips A,B]`.
 */
export async function setPeer(
  target: WgTarget,
  peer: WgPeerUpdate,
  options: WgRunOptions = {},
): Promise<void> {
  checkPublicKey(peer.publicKey, 'wg set peer');
  const args = ['set', target.name, 'peer', peer.publicKey];
  let input: string | undefined;

  if (peer.presharedKey === null) args.push('preshared-key', '/dev/null');
  if (typeof peer.presharedKey === 'string') {
    checkSecretKey(peer.presharedKey, 'wg set peer', 'preshared key');
    args.push('preshared-key', '/dev/stdin');
    input = peer.presharedKey;
  }
  if (peer.endpoint !== undefined) args.push('endpoint', peer.endpoint);
  if (peer.persistentKeepalive !== undefined) {
    args.push(
      'persistent-keepalive',
      peer.persistentKeepalive === 0 ? 'off' : String(peer.persistentKeepalive),
    );
  }
  if (peer.allowedIps !== undefined) args.push('allowed-ips', peer.allowedIps.join(','));

  await runWg(target, 'wg set peer', args, {
    ...options,
    input,
    secrets: input === undefined ? [] : [input],
  });
}

/** `wg set IF peer KEY remove`. */
export async function removePeer(
  target: WgTarget,
  publicKey: string,
  options: WgRunOptions = {},
): Promise<void> {
  checkPublicKey(publicKey, 'wg set peer remove');
  await runWg(
    target,
    'wg set peer remove',
    ['set', target.name, 'peer', publicKey, 'remove'],
    options,
  );
}

/**
 * The interface's state: public key, port, fwmark and per peer the endpoint, allowed IPs,
 * latest handshake and its age, transfer counters, keepalive. `wg show IF dump`; the private
 * key in that output is dropped while parsing.
 */
export async function showInterface(
  target: WgTarget,
  options: WgRunOptions = {},
): Promise<WgStatus> {
  const stdout = await runWg(target, 'wg show', ['show', target.name, 'dump'], options);
  return parseDump(stdout, { interfaceName: target.name });
}
