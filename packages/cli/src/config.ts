// netvault's configuration: one JSON file (comments allowed) whose defaults are the media-vault
// topology. Every error names the file, the line and the key, and says what was expected.
import { readFileSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import {
  findNodeAtLocation,
  parse,
  parseTree,
  printParseErrorCode,
  type Node,
  type ParseError,
} from 'jsonc-parser';

export const DEFAULT_CONFIG_PATH = '/etc/netvault/netvault.json';

export interface VaultConfig {
  /** Name of the vault's network namespace, under /run/netns. */
  vault: string;
  /**
   * The namespace that plays "host": where the veth's host end and the tunnel's UDP socket live.
   * Absent: the namespace netvault runs in. A name under /run/netns otherwise (tests, the demo).
   */
  hostNamespace?: string;
  veth: { host: string; vault: string; hostAddress: string; vaultAddress: string };
  tunnel: {
    /** WireGuard interface name. */
    interface: string;
    /** The public parameters written by `netvault ingest` (tunnel.json). */
    file: string;
    implementation: 'auto' | 'kernel' | 'userspace';
  };
  firewall: {
    /** TCP ports of the services that the host (the reverse proxy) may open; empty: any. */
    servicePorts: number[];
  };
  /** Metric of the `unreachable` default routes behind the tunnel's. */
  fallbackMetric: number;
  verify: {
    /** Extra addresses that probes from the vault must not reach. */
    mustNotReach: string[];
    /** An IP-echo URL reached through the tunnel; its answer must differ from the host's. */
    ipEchoUrl?: string;
  };
  /** Where the config was read from, for messages. */
  source: string;
}

export const DEFAULTS: Omit<VaultConfig, 'source'> = {
  vault: 'media-vault',
  veth: {
    host: 'veth-host',
    vault: 'veth-vault',
    hostAddress: '10.200.1.1/30',
    vaultAddress: '10.200.1.2/30',
  },
  tunnel: { interface: 'privado', file: '/var/lib/netvault/tunnel.json', implementation: 'auto' },
  firewall: { servicePorts: [] },
  fallbackMetric: 4242,
  verify: { mustNotReach: [] },
};

export class ConfigError extends Error {
  readonly file: string;
  readonly line: number | undefined;
  readonly key: string | undefined;
  readonly expected: string;

  constructor(file: string, line: number | undefined, key: string | undefined, expected: string) {
    const where = `${file}${line === undefined ? '' : `:${line}`}`;
    super(`netvault config ${where}: ${key === undefined ? '' : `${key}: `}${expected}`);
    this.name = 'ConfigError';
    this.file = file;
    this.line = line;
    this.key = key;
    this.expected = expected;
  }
}

const linkName = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$/;
const namespaceName = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;

function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i += 1) if (text.charCodeAt(i) === 10) line += 1;
  return line;
}

function isCidr(value: string, family?: 4 | 6): boolean {
  const [address, length, extra] = value.split('/');
  if (extra !== undefined || length === undefined || !/^(0|[1-9]\d{0,2})$/.test(length))
    return false;
  if (isIPv4(address)) return family !== 6 && Number(length) <= 32;
  if (isIPv6(address)) return family !== 4 && Number(length) <= 128;
  return false;
}

/** Checks a parsed document against the schema; `located` maps a key path to its line. */
export function validateConfig(
  raw: unknown,
  source: string,
  located: (path: (string | number)[]) => number | undefined,
): VaultConfig {
  const fail = (path: (string | number)[], expected: string): never => {
    throw new ConfigError(source, located(path), path.join('.') || undefined, expected);
  };
  const object = (value: unknown, path: (string | number)[], keys: string[]) => {
    if (value === undefined) return {} as Record<string, unknown>;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      fail(path, 'expected an object');
    }
    for (const key of Object.keys(value as object)) {
      if (!keys.includes(key))
        fail([...path, key], `unknown key; expected one of ${keys.join(', ')}`);
    }
    return value as Record<string, unknown>;
  };
  const string = (
    value: unknown,
    path: (string | number)[],
    fallback: string,
    test: (v: string) => boolean,
    expected: string,
  ): string => {
    if (value === undefined) return fallback;
    if (typeof value !== 'string' || !test(value))
      fail(path, `expected ${expected}, got ${JSON.stringify(value)}`);
    return value as string;
  };

  const top = object(
    raw,
    [],
    ['$schema', 'vault', 'hostNamespace', 'veth', 'tunnel', 'firewall', 'fallbackMetric', 'verify'],
  );
  const veth = object(top.veth, ['veth'], ['host', 'vault', 'hostAddress', 'vaultAddress']);
  const tunnel = object(top.tunnel, ['tunnel'], ['interface', 'file', 'implementation']);
  const firewall = object(top.firewall, ['firewall'], ['servicePorts']);
  const verify = object(top.verify, ['verify'], ['mustNotReach', 'ipEchoUrl']);
  const nameRule = 'an interface name of 1-15 letters, digits, "_", "." or "-"';

  const config: VaultConfig = {
    source,
    vault: string(
      top.vault,
      ['vault'],
      DEFAULTS.vault,
      (v) => namespaceName.test(v),
      'a namespace name of letters, digits, "_", "." or "-" (at most 64)',
    ),
    veth: {
      host: string(
        veth.host,
        ['veth', 'host'],
        DEFAULTS.veth.host,
        (v) => linkName.test(v),
        nameRule,
      ),
      vault: string(
        veth.vault,
        ['veth', 'vault'],
        DEFAULTS.veth.vault,
        (v) => linkName.test(v),
        nameRule,
      ),
      hostAddress: string(
        veth.hostAddress,
        ['veth', 'hostAddress'],
        DEFAULTS.veth.hostAddress,
        (v) => isCidr(v, 4),
        'an IPv4 address with a prefix length, like 10.200.1.1/30',
      ),
      vaultAddress: string(
        veth.vaultAddress,
        ['veth', 'vaultAddress'],
        DEFAULTS.veth.vaultAddress,
        (v) => isCidr(v, 4),
        'an IPv4 address with a prefix length, like 10.200.1.2/30',
      ),
    },
    tunnel: {
      interface: string(
        tunnel.interface,
        ['tunnel', 'interface'],
        DEFAULTS.tunnel.interface,
        (v) => linkName.test(v),
        nameRule,
      ),
      file: string(
        tunnel.file,
        ['tunnel', 'file'],
        DEFAULTS.tunnel.file,
        (v) => v.startsWith('/'),
        'an absolute path to the tunnel.json written by `netvault ingest`',
      ),
      implementation: string(
        tunnel.implementation,
        ['tunnel', 'implementation'],
        DEFAULTS.tunnel.implementation,
        (v) => ['auto', 'kernel', 'userspace'].includes(v),
        '"auto", "kernel" or "userspace"',
      ) as VaultConfig['tunnel']['implementation'],
    },
    firewall: { servicePorts: [] },
    fallbackMetric: DEFAULTS.fallbackMetric,
    verify: { mustNotReach: [] },
  };
  if (top.hostNamespace !== undefined) {
    config.hostNamespace = string(
      top.hostNamespace,
      ['hostNamespace'],
      '',
      (v) => namespaceName.test(v),
      'a namespace name under /run/netns',
    );
  }
  if (firewall.servicePorts !== undefined) {
    if (!Array.isArray(firewall.servicePorts))
      fail(['firewall', 'servicePorts'], 'expected a list of TCP ports');
    config.firewall.servicePorts = (firewall.servicePorts as unknown[]).map((port, i) => {
      if (!Number.isInteger(port) || (port as number) < 1 || (port as number) > 65535) {
        fail(
          ['firewall', 'servicePorts', i],
          `expected a port from 1 to 65535, got ${JSON.stringify(port)}`,
        );
      }
      return port as number;
    });
  }
  if (top.fallbackMetric !== undefined) {
    const metric = top.fallbackMetric;
    if (!Number.isInteger(metric) || (metric as number) < 1 || (metric as number) > 0xffffffff) {
      fail(['fallbackMetric'], 'expected a route metric from 1 to 4294967295');
    }
    config.fallbackMetric = metric as number;
  }
  if (verify.mustNotReach !== undefined) {
    if (!Array.isArray(verify.mustNotReach))
      fail(['verify', 'mustNotReach'], 'expected a list of addresses');
    config.verify.mustNotReach = (verify.mustNotReach as unknown[]).map((address, i) =>
      string(
        address,
        ['verify', 'mustNotReach', i],
        '',
        (v) => isIPv4(v) || isIPv6(v),
        'an IP address',
      ),
    );
  }
  if (verify.ipEchoUrl !== undefined) {
    config.verify.ipEchoUrl = string(
      verify.ipEchoUrl,
      ['verify', 'ipEchoUrl'],
      '',
      (v) => /^https?:\/\/[^\s]+$/.test(v),
      'an http:// or https:// URL',
    );
  }
  const [hostIp, hostLength] = config.veth.hostAddress.split('/');
  const [vaultIp, vaultLength] = config.veth.vaultAddress.split('/');
  if (hostIp === vaultIp || hostLength !== vaultLength) {
    fail(
      ['veth', 'vaultAddress'],
      'expected a different address in the same subnet as veth.hostAddress',
    );
  }
  if (config.veth.host === config.veth.vault || config.tunnel.interface === config.veth.vault) {
    fail(
      ['tunnel', 'interface'],
      'expected the tunnel and the two veth ends to have different names',
    );
  }
  return config;
}

/** Parses config text (JSON with comments); an empty text gives the defaults. */
export function parseConfigText(text: string, source: string): VaultConfig {
  const errors: ParseError[] = [];
  const raw = text.trim() === '' ? {} : parse(text, errors, { allowTrailingComma: true });
  if (errors.length > 0) {
    const first = errors[0];
    throw new ConfigError(
      source,
      lineOf(text, first.offset),
      undefined,
      `expected valid JSON (${printParseErrorCode(first.error)})`,
    );
  }
  const tree = parseTree(text, [], { allowTrailingComma: true });
  const located = (path: (string | number)[]) => {
    if (!tree) return undefined;
    let node: Node | undefined;
    for (let depth = path.length; depth >= 0 && !node; depth -= 1) {
      node = findNodeAtLocation(tree, path.slice(0, depth));
    }
    const keyNode = node?.parent?.type === 'property' ? node.parent : node;
    return keyNode ? lineOf(text, keyNode.offset) : undefined;
  };
  return validateConfig(raw, source, located);
}

/** Reads the config file; a missing file at the default path gives the defaults. */
export function loadConfig(path: string | undefined): VaultConfig {
  const file = path ?? DEFAULT_CONFIG_PATH;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' && path === undefined) {
      return { ...structuredClone(DEFAULTS), source: `${file} (absent: defaults)` };
    }
    throw new ConfigError(
      file,
      undefined,
      undefined,
      `cannot be read: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
    );
  }
  return parseConfigText(text, file);
}
