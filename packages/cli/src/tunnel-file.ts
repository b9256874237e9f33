// Reads the tunnel's public parameters (tunnel.json, written by `netvault ingest`) and the key
// files they point to, into what `wg setconf` and the topology need.
import { readFileSync, statSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import { ConfigError } from './config.ts';

export interface TunnelPeer {
  publicKey: string;
  endpoint?: string;
  allowedIps: string[];
  persistentKeepalive?: number;
  presharedKeyFile?: string;
}

export interface Tunnel {
  source: string;
  addresses: string[];
  dns: string[];
  mtu?: number;
  listenPort?: number;
  privateKeyFile: string;
  peers: TunnelPeer[];
}

const base64Key = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;

export function parseTunnelJson(text: string, source: string): Tunnel {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(
      source,
      undefined,
      undefined,
      `expected JSON (${(error as Error).message})`,
    );
  }
  const fail = (key: string, expected: string): never => {
    throw new ConfigError(source, undefined, key, expected);
  };
  if (typeof raw !== 'object' || raw === null) fail('', 'expected an object');
  const list = (value: unknown, key: string, test: (v: string) => boolean, what: string) => {
    if (!Array.isArray(value)) fail(key, `expected a list of ${what}`);
    return (value as unknown[]).map((item, i) => {
      if (typeof item !== 'string' || !test(item)) fail(`${key}.${i}`, `expected ${what}`);
      return item as string;
    });
  };
  const cidr = (v: string) => {
    const [address, length] = v.split('/');
    return (isIPv4(address) || isIPv6(address)) && /^\d{1,3}$/.test(length ?? '');
  };
  const tunnel: Tunnel = {
    source,
    addresses: list(raw.addresses, 'addresses', cidr, 'addresses with a prefix length'),
    dns: list(
      raw.dns ?? [],
      'dns',
      (v) => isIPv4(v) || isIPv6(v) || /^[a-z0-9.-]+$/i.test(v),
      'resolver addresses or search domains',
    ),
    privateKeyFile:
      typeof raw.privateKeyFile === 'string' && raw.privateKeyFile.startsWith('/')
        ? raw.privateKeyFile
        : fail('privateKeyFile', 'expected an absolute path'),
    peers: [],
  };
  if (tunnel.addresses.length === 0) fail('addresses', 'expected at least one tunnel address');
  if (raw.mtu !== undefined) {
    if (!Number.isInteger(raw.mtu) || (raw.mtu as number) < 576 || (raw.mtu as number) > 9000) {
      fail('mtu', 'expected an MTU from 576 to 9000');
    }
    tunnel.mtu = raw.mtu as number;
  }
  if (raw.listenPort !== undefined) {
    if (
      !Number.isInteger(raw.listenPort) ||
      (raw.listenPort as number) < 0 ||
      (raw.listenPort as number) > 65535
    )
      fail('listenPort', 'expected a port from 0 to 65535');
    tunnel.listenPort = raw.listenPort as number;
  }
  if (!Array.isArray(raw.peers) || raw.peers.length === 0)
    fail('peers', 'expected at least one peer');
  tunnel.peers = (raw.peers as Record<string, unknown>[]).map((peer, i) => {
    const key = `peers.${i}`;
    if (typeof peer.publicKey !== 'string' || !base64Key.test(peer.publicKey)) {
      fail(`${key}.publicKey`, 'expected a base64 public key of 32 bytes');
    }
    const out: TunnelPeer = {
      publicKey: peer.publicKey as string,
      allowedIps: list(peer.allowedIps, `${key}.allowedIps`, cidr, 'prefixes'),
    };
    if (peer.endpoint !== undefined) {
      if (
        typeof peer.endpoint !== 'string' ||
        !/^(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):\d{1,5}$/.test(peer.endpoint)
      ) {
        fail(`${key}.endpoint`, 'expected host:port or [v6]:port');
      }
      out.endpoint = peer.endpoint as string;
    }
    if (peer.persistentKeepalive !== undefined)
      out.persistentKeepalive = Number(peer.persistentKeepalive);
    if (peer.presharedKeyFile !== undefined) out.presharedKeyFile = String(peer.presharedKeyFile);
    return out;
  });
  return tunnel;
}

export function loadTunnel(path: string): Tunnel {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(
      path,
      undefined,
      undefined,
      `cannot be read (${(error as NodeJS.ErrnoException).code}); ` +
        'run `netvault ingest PROVIDER.conf` first, or set tunnel.file',
    );
  }
  return parseTunnelJson(text, path);
}

/** Reads a key file, refusing one that others could read. The key never goes into a message. */
export function readKeyFile(path: string, what: string): string {
  let stat;
  try {
    stat = statSync(path);
  } catch (error) {
    throw new ConfigError(
      path,
      undefined,
      undefined,
      `the ${what} file cannot be read (${(error as NodeJS.ErrnoException).code})`,
    );
  }
  if ((stat.mode & 0o077) !== 0) {
    throw new ConfigError(
      path,
      undefined,
      undefined,
      `the ${what} file must not be readable by group or others (mode ${(stat.mode & 0o777).toString(8)})`,
    );
  }
  const key = readFileSync(path, 'utf8').trim();
  if (!base64Key.test(key)) {
    throw new ConfigError(path, undefined, undefined, `expected the ${what} as base64 of 32 bytes`);
  }
  return key;
}

export function tunnelHasIpv6(tunnel: Tunnel): boolean {
  return tunnel.addresses.some((a) => a.includes(':'));
}
