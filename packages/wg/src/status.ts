// The state of a WireGuard interface as `wg show IF dump` prints it, parsed into typed values,
// and a text form of it for people. The dump's first line starts with the interface's private
// key: the parser reads past it and keeps only whether there is one. Nothing here can print a
// private or preshared key.

import { WgError } from './errors.js';

/** One peer of a running interface. */
export interface WgPeerStatus {
  publicKey: string;
  /** Whether a preshared key is set; the key itself is never kept. */
  hasPresharedKey: boolean;
  /** `host:port` or `[v6]:port` of the last packet seen or the configured endpoint. */
  endpoint: string | undefined;
  /** CIDR strings as `wg` prints them. */
  allowedIps: string[];
  /** Time of the latest completed handshake; undefined when there has been none. */
  latestHandshake: Date | undefined;
  /** Whole seconds between the latest handshake and the moment the status was read. */
  handshakeAgeSeconds: number | undefined;
  rxBytes: number;
  txBytes: number;
  /** Seconds, 0 = off. */
  persistentKeepalive: number;
}

/** A running interface: `wg show IF dump` without the private key. */
export interface WgStatus {
  interfaceName: string;
  /** Undefined when no private key is set. */
  publicKey: string | undefined;
  hasPrivateKey: boolean;
  /** The UDP port in use; `wg` picks one when none was configured. */
  listenPort: number;
  /** 0 means off. */
  fwMark: number;
  peers: WgPeerStatus[];
}

export interface ParseDumpOptions {
  /** Name to report in the status and in errors. */
  interfaceName?: string;
  /** The moment handshake ages are measured from; default now. */
  now?: Date;
}

const none = '(none)';

function parseFailure(interfaceName: string, line: number, what: string): WgError {
  // The line itself is never quoted: the first one holds the private key.
  return new WgError(`wg: cannot parse \`wg show ${interfaceName} dump\` line ${line}: ${what}`, {
    op: 'parseDump',
  });
}

function count(text: string, interfaceName: string, line: number, field: string): number {
  if (!/^\d+$/.test(text)) {
    throw parseFailure(interfaceName, line, `${field} is not a non-negative integer`);
  }
  return Number(text);
}

function optional(text: string): string | undefined {
  return text === none ? undefined : text;
}

/** Whole seconds from `since` to `now`, never negative; undefined when `since` is. */
export function handshakeAge(since: Date | undefined, now: Date = new Date()): number | undefined {
  if (since === undefined) return undefined;
  return Math.max(0, Math.floor((now.getTime() - since.getTime()) / 1000));
}

/**
 * Parses the output of `wg show IF dump` (one interface, not `wg show all dump`). The
 * interface line is `private-key public-key listen-port fwmark`, each peer line is
 * `public-key preshared-key endpoint allowed-ips latest-handshake rx tx keepalive`, tab
 * separated. Throws WgError (op `parseDump`) on anything else, without quoting the text.
 */
export function parseDump(text: string, options: ParseDumpOptions = {}): WgStatus {
  const interfaceName = options.interfaceName ?? '';
  const now = options.now ?? new Date();
  const lines = text.split('\n').filter((line) => line !== '');

  if (lines.length === 0) throw parseFailure(interfaceName, 1, 'the output is empty');

  const head = lines[0].split('\t');
  if (head.length !== 4) {
    throw parseFailure(interfaceName, 1, `expected 4 fields, found ${head.length}`);
  }

  const status: WgStatus = {
    interfaceName,
    publicKey: optional(head[1]),
    hasPrivateKey: head[0] !== none,
    listenPort: count(head[2], interfaceName, 1, 'the listen port'),
    fwMark: head[3] === 'off' ? 0 : Number(head[3]),
    peers: [],
  };
  if (!Number.isInteger(status.fwMark) || status.fwMark < 0) {
    throw parseFailure(interfaceName, 1, 'the fwmark is neither off nor a number');
  }

  for (let index = 1; index < lines.length; index += 1) {
    const line = index + 1;
    const fields = lines[index].split('\t');
    if (fields.length !== 8) {
      throw parseFailure(interfaceName, line, `expected 8 fields, found ${fields.length}`);
    }

    const [publicKey, presharedKey, endpoint, allowedIps, handshake, rx, tx, keepalive] = fields;
    const handshakeSeconds = count(handshake, interfaceName, line, 'the latest handshake');
    const latestHandshake = handshakeSeconds === 0 ? undefined : new Date(handshakeSeconds * 1000);

    status.peers.push({
      publicKey,
      hasPresharedKey: presharedKey !== none,
      endpoint: optional(endpoint),
      allowedIps: allowedIps === none ? [] : allowedIps.split(','),
      latestHandshake,
      handshakeAgeSeconds: handshakeAge(latestHandshake, now),
      rxBytes: count(rx, interfaceName, line, 'the received byte count'),
      txBytes: count(tx, interfaceName, line, 'the sent byte count'),
      persistentKeepalive:
        keepalive === 'off' ? 0 : count(keepalive, interfaceName, line, 'the persistent keepalive'),
    });
  }

  return status;
}

function plural(value: number, unit: string): string {
  return `${value} ${unit}${value === 1 ? '' : 's'}`;
}

/** `1 hour, 2 minutes, 5 seconds`, the way `wg show` words a duration. */
export function formatDuration(seconds: number): string {
  const parts: string[] = [];
  const units: [number, string][] = [
    [86400, 'day'],
    [3600, 'hour'],
    [60, 'minute'],
    [1, 'second'],
  ];
  let left = Math.max(0, Math.floor(seconds));

  for (const [size, unit] of units) {
    const amount = Math.floor(left / size);
    left -= amount * size;
    if (amount > 0) parts.push(plural(amount, unit));
  }

  return parts.length === 0 ? plural(0, 'second') : parts.join(', ');
}

function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(2)} ${units[unit]}`;
}

/**
 * The status as text in the layout of `wg show IF`: public keys, endpoints, allowed IPs,
 * handshake age and transfer. Private and preshared keys appear only as `(hidden)`.
 */
export function formatStatus(status: WgStatus, options: { now?: Date } = {}): string {
  const now = options.now ?? new Date();
  const lines = [`interface: ${status.interfaceName}`];

  if (status.publicKey !== undefined) lines.push(`  public key: ${status.publicKey}`);
  lines.push(`  private key: ${status.hasPrivateKey ? '(hidden)' : '(none)'}`);
  if (status.listenPort !== 0) lines.push(`  listening port: ${status.listenPort}`);
  if (status.fwMark !== 0) lines.push(`  fwmark: 0x${status.fwMark.toString(16)}`);

  for (const peer of status.peers) {
    lines.push('', `peer: ${peer.publicKey}`);
    if (peer.hasPresharedKey) lines.push('  preshared key: (hidden)');
    if (peer.endpoint !== undefined) lines.push(`  endpoint: ${peer.endpoint}`);
    const allowed = peer.allowedIps.length === 0 ? '(none)' : peer.allowedIps.join(', ');
    lines.push(`  allowed ips: ${allowed}`);

    const age = handshakeAge(peer.latestHandshake, now);
    if (age !== undefined) {
      lines.push(`  latest handshake: ${age === 0 ? 'just now' : `${formatDuration(age)} ago`}`);
    }
    if (peer.rxBytes > 0 || peer.txBytes > 0) {
      const received = formatBytes(peer.rxBytes);
      lines.push(`  transfer: ${received} received, ${formatBytes(peer.txBytes)} sent`);
    }
    if (peer.persistentKeepalive > 0) {
      lines.push(`  persistent keepalive: every ${formatDuration(peer.persistentKeepalive)}`);
    }
  }

  return `${lines.join('\n')}\n`;
}
