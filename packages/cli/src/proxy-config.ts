// Reverse-proxy configuration for the services in the vault: Traefik's dynamic configuration
// (file provider) and a Caddyfile, both with the allow-list in front of every service.
// nix/units.nix builds the same Traefik configuration for NixOS; a test keeps the two equal.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import { CidrError, LOCAL_RANGES, loadCidrSet } from '@netvault/cidr';
import type { Reporter } from './changes.ts';
import type { VaultConfig } from './config.ts';

export interface ProxyService {
  name: string;
  port: number;
}

export const DEFAULT_PROXY_SERVICES: readonly ProxyService[] = Object.freeze([
  { name: 'sonarr', port: 8989 },
  { name: 'radarr', port: 7878 },
  { name: 'prowlarr', port: 9696 },
  { name: 'sabnzbd', port: 8080 },
]);

/** The allow-list when none is given: the local preset of @netvault/cidr. */
export const DEFAULT_ALLOW_LIST: readonly string[] = LOCAL_RANGES.map((range) => range.cidr);

/** Name of the allow-list middleware in Traefik's configuration. */
export const ALLOW_MIDDLEWARE = 'netvault-allowlist';

export interface ProxyOptions {
  services: readonly ProxyService[];
  /** The vault's address (veth.vaultAddress without the prefix length). */
  upstream: string;
  /** Client ranges let through; everything else gets 403. */
  allowList: readonly string[];
  /** `home.lan` routes Host(`sonarr.home.lan`); without it, Host(`sonarr`). */
  domain?: string;
  /** Traefik's entry point. */
  entryPoint: string;
  /** Caddy's listening address, `[ADDR]:PORT`; an address adds `bind`. */
  listen: string;
}

export class ProxyUsageError extends Error {
  constructor(message: string) {
    super(`netvault proxy-config: ${message}`);
    this.name = 'ProxyUsageError';
  }
}

const label = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;

/** `sonarr=8989` → { name: 'sonarr', port: 8989 }. */
export function parseServiceOption(text: string): ProxyService {
  const match = /^([^=]+)=(\d{1,5})$/.exec(text.trim());
  const port = match ? Number(match[2]) : 0;
  if (!match || !label.test(match[1]) || port < 1 || port > 65535) {
    throw new ProxyUsageError(
      `--service takes NAME=PORT with NAME a host name label, like ` + `sonarr=8989, got "${text}"`,
    );
  }
  return { name: match[1].toLowerCase(), port };
}

function hostOf(options: ProxyOptions, service: ProxyService): string {
  return options.domain ? `${service.name}.${options.domain}` : service.name;
}

function check(options: ProxyOptions): void {
  if (!isIPv4(options.upstream) && !isIPv6(options.upstream)) {
    throw new ProxyUsageError(
      `the vault's address must be an IP address, got ` + `"${options.upstream}"`,
    );
  }
  const domainLabels = options.domain?.split('.') ?? [];
  if (!domainLabels.every((part) => label.test(part))) {
    throw new ProxyUsageError(`--domain takes a DNS name like home.lan, got "${options.domain}"`);
  }
  if (!/^[A-Za-z0-9_-]+$/.test(options.entryPoint)) {
    throw new ProxyUsageError(
      `--entrypoint takes an entry point name like web, got ` + `"${options.entryPoint}"`,
    );
  }
  const names = new Set<string>();
  for (const service of options.services) {
    if (!label.test(service.name)) throw new ProxyUsageError(`bad service name "${service.name}"`);
    if (names.has(service.name)) throw new ProxyUsageError(`service "${service.name}" given twice`);
    names.add(service.name);
  }
  if (options.allowList.length === 0) throw new ProxyUsageError('the allow-list is empty');
  for (const entry of options.allowList) {
    if (/[\s`"'{}]/.test(entry) || entry === '') {
      throw new ProxyUsageError(`allow-list entry "${entry}" is not an address or CIDR`);
    }
  }
}

function url(options: ProxyOptions, service: ProxyService): string {
  const host = isIPv6(options.upstream) ? `[${options.upstream}]` : options.upstream;
  return `http://${host}:${service.port}`;
}

/** The parts of Traefik's dynamic configuration (v3, file provider) that netvault writes. */
export interface TraefikDynamicConfig {
  http: {
    middlewares: Record<string, { ipAllowList: { sourceRange: string[] } }>;
    routers: Record<
      string,
      {
        rule: string;
        entryPoints: string[];
        middlewares: string[];
        service: string;
      }
    >;
    services: Record<string, { loadBalancer: { servers: { url: string }[] } }>;
  };
}

/** Routers and services named after each service, all behind one ipAllowList middleware. */
export function traefikDynamicConfig(options: ProxyOptions): TraefikDynamicConfig {
  check(options);
  const config: TraefikDynamicConfig = {
    http: {
      middlewares: { [ALLOW_MIDDLEWARE]: { ipAllowList: { sourceRange: [...options.allowList] } } },
      routers: {},
      services: {},
    },
  };
  for (const service of options.services) {
    config.http.routers[service.name] = {
      rule: `Host(\`${hostOf(options, service)}\`)`,
      entryPoints: [options.entryPoint],
      middlewares: [ALLOW_MIDDLEWARE],
      service: service.name,
    };
    config.http.services[service.name] = {
      loadBalancer: { servers: [{ url: url(options, service) }] },
    };
  }
  return config;
}

/** The Traefik configuration as YAML, for a file in the file provider's directory. */
export async function formatTraefikYaml(options: ProxyOptions): Promise<string> {
  const { stringify } = await import('yaml');
  const head = [
    '# Traefik dynamic configuration (file provider, Traefik v3): the services in the vault,',
    '# reachable only from the allow-list. Generated by `netvault proxy-config traefik`.',
  ];
  return `${head.join('\n')}\n${stringify(traefikDynamicConfig(options))}`;
}

function splitListen(listen: string): { address?: string; port: number } {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([0-9.]*)):(\d{1,5})$/.exec(listen);
  const port = match ? Number(match[3]) : 0;
  const address = match?.[1] ?? (match?.[2] || undefined);
  const badAddress = address !== undefined && !isIPv4(address) && !isIPv6(address);
  if (!match || port < 1 || port > 65535 || badAddress) {
    throw new ProxyUsageError(
      `--listen takes [ADDRESS]:PORT, like :80 or 192.168.2.73:80, ` + `got "${listen}"`,
    );
  }
  return { address, port };
}

/**
 * A Caddyfile with one plain-HTTP site per service: clients outside the allow-list get 403,
 * the rest is proxied into the vault. The admin API and automatic HTTPS are off, so Caddy
 * opens no other socket and asks no certificate authority for anything.
 */
export function caddyfile(options: ProxyOptions): string {
  check(options);
  const { address, port } = splitListen(options.listen);
  const lines = [
    '# Caddyfile: the services in the vault, reachable only from the allow-list.',
    '# Generated by `netvault proxy-config caddy`.',
    '{',
    '\tadmin off',
    '\tauto_https off',
    '}',
  ];
  for (const service of options.services) {
    lines.push(
      '',
      `http://${hostOf(options, service)}:${port} {`,
      ...(address ? [`\tbind ${address}`] : []),
      `\t@refused not remote_ip ${options.allowList.join(' ')}`,
      '\trespond @refused 403',
      `\treverse_proxy ${url(options, service).slice('http://'.length)}`,
      '}',
    );
  }
  return `${lines.join('\n')}\n`;
}

export interface ProxyCommandValues {
  service?: string[];
  domain?: string;
  entrypoint?: string;
  listen?: string;
  list?: string;
  out?: string;
}

/**
 * `netvault proxy-config traefik|caddy`: prints the configuration, or writes it to `--out FILE`
 * with a change line. Returns the exit code (2 for bad usage).
 */
export async function proxyConfigCommand(
  kind: string | undefined,
  values: ProxyCommandValues,
  config: VaultConfig,
  report: Reporter,
  out: (text: string) => void,
): Promise<number> {
  let text: string;
  try {
    if (kind !== 'traefik' && kind !== 'caddy') {
      const got = kind === undefined ? 'nothing' : `"${kind}"`;
      throw new ProxyUsageError(`give "traefik" or "caddy", got ${got}`);
    }
    const options: ProxyOptions = {
      services: values.service?.length
        ? values.service.map(parseServiceOption)
        : DEFAULT_PROXY_SERVICES,
      upstream: config.veth.vaultAddress.split('/')[0],
      allowList: values.list ? (await loadCidrSet(values.list)).toCidrs() : DEFAULT_ALLOW_LIST,
      domain: values.domain,
      entryPoint: values.entrypoint ?? 'web',
      listen: values.listen ?? ':80',
    };
    text = kind === 'traefik' ? await formatTraefikYaml(options) : caddyfile(options);
    const open = config.firewall.servicePorts;
    for (const service of options.services) {
      if (open.length > 0 && !open.includes(service.port)) {
        process.stderr.write(
          `netvault proxy-config: ${service.name}'s port ${service.port} is ` +
            `not in firewall.servicePorts of ${config.source}: the vault's firewall refuses it\n`,
        );
      }
    }
  } catch (error) {
    if (!(error instanceof ProxyUsageError || error instanceof CidrError)) throw error;
    process.stderr.write(`${error.message}\n`);
    return 2;
  }
  if (!values.out) {
    out(text.trimEnd());
    return 0;
  }
  const before = existsSync(values.out) ? readFileSync(values.out, 'utf8') : undefined;
  if (before === text) {
    report({ sign: '=', text: `file ${values.out}` });
    return 0;
  }
  writeFileSync(values.out, text, { mode: 0o644 });
  report({ sign: before === undefined ? '+' : '~', text: `file ${values.out}` });
  return 0;
}

export const proxyConfigHelp = `netvault proxy-config traefik|caddy [-c FILE] [--service NAME=PORT]…
    [--domain DOMAIN] [--entrypoint NAME] [--listen [ADDR]:PORT] [--list FILE] [--out FILE] [-q]
Prints (or writes to --out) reverse-proxy configuration for the services in the vault, at
veth.vaultAddress of the config: one route per service, Host(\`NAME.DOMAIN\`) (or Host(\`NAME\`)),
behind the allow-list (--list FILE, one CIDR a line; default the local ranges).
  traefik  dynamic configuration for the file provider (Traefik v3 ipAllowList), entry point
           --entrypoint (default web)
  caddy    a Caddyfile on --listen (default :80), admin API and automatic HTTPS off
Services default to ${DEFAULT_PROXY_SERVICES.map((s) => `${s.name}=${s.port}`).join(' ')};
any --service replaces them.`;
