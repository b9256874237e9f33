// The nftables scripts of the killswitch's firewall layers, as pure functions of the topology:
// one table inside the vault (deny by default, out only through the tunnel) and one table in
// the host namespace (the vault's veth is never forwarded and opens nothing on the host).
// Every name and address is checked against a strict pattern before it is written into the
// script, so no option can carry nft syntax.
import { parseAddress } from '@netvault/netns';
import { invalidOption } from './firewall-error.ts';

/** Ports that carry name resolution: DNS, DNS over TLS, mDNS, LLMNR (each TCP and UDP). */
export const DNS_PORTS: readonly number[] = [53, 853, 5353, 5355];

/** The named counters of the vault table; each counts packets that the rule next to it drops. */
export const VAULT_COUNTERS = {
  /** Output that would leave through anything but the tunnel (and is no veth reply). */
  out: 'leak_out',
  /** Output on the veth that is not a reply to a connection the host opened. */
  veth: 'leak_veth',
  /** Name resolution to an address that is not one of the tunnel's resolvers. */
  dns: 'leak_dns',
  /** IPv6 output while the tunnel has no IPv6 address. */
  ipv6: 'leak_ipv6',
  /** Anything the vault would route between its interfaces. */
  forward: 'leak_forward',
  /** Input nobody asked for (not a leak: counted so `verify` can show it). */
  input: 'drop_in',
} as const;

/** The named counters of the host table. */
export const HOST_COUNTERS = {
  /** Packets the host would forward from or to the vault's veth. */
  forward: 'leak_forward',
  /** New IPv4 connections from the vault to the host (and spoofed sources on the veth). */
  input: 'leak_input',
  /** IPv6 from the vault's veth, link-local included. */
  ipv6: 'leak_ipv6',
} as const;

export type FirewallRole = 'vault' | 'host';

/** What a netvault table's comment says: `netvault:vault=NAME,role=ROLE`. */
export interface TableMark {
  vault: string;
  role: FirewallRole;
}

const MARK_PREFIX = 'netvault:';

export function formatTableMark(mark: TableMark): string {
  return `${MARK_PREFIX}vault=${mark.vault},role=${mark.role}`;
}

/** Reads a table comment written by formatTableMark; undefined for any other comment. */
export function parseTableMark(comment: string | undefined): TableMark | undefined {
  if (comment === undefined || !comment.startsWith(MARK_PREFIX)) return undefined;
  const fields = new Map<string, string>();
  for (const pair of comment.slice(MARK_PREFIX.length).split(',')) {
    const equals = pair.indexOf('=');
    if (equals > 0) fields.set(pair.slice(0, equals), pair.slice(equals + 1));
  }
  const vault = fields.get('vault');
  const role = fields.get('role');
  if (!vault || (role !== 'vault' && role !== 'host')) return undefined;
  return { vault, role };
}

/** True for a comment that marks a table as netvault's, whatever the vault. */
export function isNetvaultMark(comment: string | undefined): boolean {
  return parseTableMark(comment) !== undefined;
}

interface CommonOptions {
  /** The vault's name (its namespace's name): letters, digits, `_` and `-`, at most 48. */
  vaultName: string;
  /** The nft table's name; `netvault-VAULTNAME` when omitted. */
  tableName?: string;
  /** The host's end of the veth pair, e.g. `10.200.1.1` (a `/len` suffix is ignored). */
  hostVethAddress: string;
  /** The vault's end of the veth pair, e.g. `10.200.1.2`. */
  vaultVethAddress: string;
}

export interface VaultRulesetOptions extends CommonOptions {
  /** The tunnel interface inside the vault (`privado`): the only way out. */
  tunnelInterface: string;
  /** The vault's end of the veth pair (`veth-vault`). */
  vethInterface: string;
  /** The tunnel's resolvers, IPv4 and IPv6; name resolution to anything else is dropped. */
  dnsServers: string[];
  /** Whether the tunnel has an IPv6 address; without one, all IPv6 except on lo is dropped. */
  tunnelHasIpv6: boolean;
  /**
   * TCP ports the host may open on the vault's veth address. Empty or undefined: any TCP port,
   * still only from the host's veth address.
   */
  servicePorts?: number[];
}

export interface HostRulesetOptions extends CommonOptions {
  /** The host's end of the veth pair (`veth-host`). */
  vethInterface: string;
  /** TCP ports on the host's veth address the vault may open connections to; none by default. */
  hostTcpPorts?: number[];
  /** UDP ports on the host's veth address the vault may send to; none by default. */
  hostUdpPorts?: number[];
}

const VAULT_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,47}$/;
const TABLE_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
// A subset of what Linux accepts: enough for wg0, privado, veth-host, eth0.100, and no quote,
// backslash or `*` (a wildcard inside an nft interface name).
const INTERFACE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.@+-]{0,14}$/;

function checkVaultName(name: string): string {
  if (typeof name !== 'string' || !VAULT_NAME.test(name)) {
    throw invalidOption(
      'vault name',
      name,
      'expected 1 to 48 letters, digits, "_" or "-", starting with a letter or digit',
    );
  }
  return name;
}

function tableNameOf(options: CommonOptions): string {
  const name = options.tableName ?? `netvault-${options.vaultName}`;
  if (typeof name !== 'string' || !TABLE_NAME.test(name)) {
    throw invalidOption(
      'table name',
      name,
      'expected 1 to 64 letters, digits, "_" or "-", starting with a letter',
    );
  }
  return name;
}

function checkInterface(what: string, name: string): string {
  if (typeof name !== 'string' || !INTERFACE_NAME.test(name) || name === '..') {
    throw invalidOption(
      what,
      name,
      'expected an interface name of 1 to 15 letters, digits, "_", ".", "@", "+" or "-"',
    );
  }
  if (name === 'lo') throw invalidOption(what, name, 'the loopback interface cannot be used here');
  return name;
}

/** A canonical IPv4 or IPv6 address, or the refusal to use the text. */
function checkAddress(what: string, text: string, family?: 4 | 6): { family: 4 | 6; text: string } {
  const bare = typeof text === 'string' && family === 4 ? text.replace(/\/\d{1,2}$/, '') : text;
  let parsed;
  try {
    parsed = parseAddress(bare, 'firewall');
  } catch (error) {
    throw invalidOption(what, text, 'expected an IP address', error);
  }
  if (family !== undefined && parsed.family !== family) {
    throw invalidOption(what, text, `expected an IPv${family} address`);
  }
  return { family: parsed.family, text: parsed.text };
}

function checkPorts(what: string, ports: number[] | undefined): number[] {
  if (ports === undefined) return [];
  if (!Array.isArray(ports)) throw invalidOption(what, ports, 'expected a list of port numbers');
  for (const port of ports) {
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw invalidOption(what, port, 'a port is an integer from 1 to 65535');
    }
  }
  return [...new Set(ports)].sort((a, b) => a - b);
}

function checkVethAddresses(options: CommonOptions): { host: string; vault: string } {
  const host = checkAddress('host veth address', options.hostVethAddress, 4).text;
  const vault = checkAddress('vault veth address', options.vaultVethAddress, 4).text;
  if (host === vault) {
    throw invalidOption(
      'vault veth address',
      options.vaultVethAddress,
      'must differ from the host veth address',
    );
  }
  return { host, vault };
}

const quote = (text: string) => `"${text}"`;
const list = (items: readonly (string | number)[]) => `{ ${items.join(', ')} }`;

/**
 * The header that makes a script replace its table atomically: declaring the table (a no-op
 * when it exists) lets the delete succeed either way, and the body re-creates it, all inside
 * the one transaction `nft -f` commits or refuses as a whole. Counters start again from zero.
 */
function replaceTableHeader(table: string): string[] {
  return [`table inet ${table} { }`, `delete table inet ${table}`];
}

function counterBlock(counters: Record<string, string>): string[] {
  return Object.entries(counters).map(
    ([name, comment]) => `\tcounter ${name} { comment ${quote(comment)}; }`,
  );
}

/**
 * The vault's table, as an nft script (`nft -f -`) that creates or replaces it atomically.
 *
 * - input: lo; replies on the tunnel; on the veth only the host's veth address opening TCP
 *   connections to the vault's veth address (to `servicePorts` when given) and what follows
 *   from them. Everything else is dropped (counter `drop_in`).
 * - output: lo; on the veth only replies to connections the host opened (`leak_veth`);
 *   name resolution (TCP and UDP 53, 853, 5353, 5355) only to `dnsServers` through the tunnel
 *   (`leak_dns`); everything else only through the tunnel (`leak_out`). Without IPv6 on the
 *   tunnel, all IPv6 except on lo is dropped first (`leak_ipv6`).
 * - forward: nothing (`leak_forward`).
 *
 * The tunnel's own encrypted UDP socket lives in the host namespace, so it is not seen here.
 */
export function vaultRuleset(options: VaultRulesetOptions): string {
  const vault = checkVaultName(options.vaultName);
  const table = tableNameOf(options);
  const tunnel = checkInterface('tunnel interface', options.tunnelInterface);
  const veth = checkInterface('veth interface', options.vethInterface);
  if (tunnel === veth) {
    throw invalidOption('tunnel interface', tunnel, 'must differ from the veth interface');
  }
  const addresses = checkVethAddresses(options);
  if (!Array.isArray(options.dnsServers)) {
    throw invalidOption('DNS servers', options.dnsServers, 'expected a list of addresses');
  }
  const dns = options.dnsServers.map((server) => checkAddress('DNS server', server));
  const dns4 = [...new Set(dns.filter((a) => a.family === 4).map((a) => a.text))];
  const dns6 = [...new Set(dns.filter((a) => a.family === 6).map((a) => a.text))];
  if (typeof options.tunnelHasIpv6 !== 'boolean') {
    throw invalidOption('tunnelHasIpv6', options.tunnelHasIpv6, 'expected true or false');
  }
  const ports = checkPorts('service ports', options.servicePorts);
  const c = VAULT_COUNTERS;
  const fromHost = `ip saddr ${addresses.host} ip daddr ${addresses.vault}`;
  const toHost = `ip saddr ${addresses.vault} ip daddr ${addresses.host}`;
  const services = ports.length > 0 ? `tcp dport ${list(ports)}` : 'meta l4proto tcp';
  const set = (name: string, type: string, elements: string[]) =>
    elements.length > 0
      ? `\tset ${name} { type ${type}; elements = ${list(elements)}; }`
      : `\tset ${name} { type ${type}; }`;

  return [
    `# netvault: firewall inside the vault "${vault}"; applied as one nft transaction`,
    ...replaceTableHeader(table),
    `table inet ${table} {`,
    `\tcomment ${quote(formatTableMark({ vault, role: 'vault' }))}`,
    ...counterBlock({
      [c.out]: 'output not through the tunnel',
      [c.veth]: 'output on the veth that is no reply to the host',
      [c.dns]: 'name resolution not to a tunnel resolver',
      [c.ipv6]: 'IPv6 while the tunnel has none',
      [c.forward]: 'forwarded by the vault',
      [c.input]: 'input nobody asked for',
    }),
    set('dns_v4', 'ipv4_addr', dns4),
    set('dns_v6', 'ipv6_addr', dns6),
    '',
    '\tchain input {',
    '\t\ttype filter hook input priority filter; policy drop;',
    '\t\tiifname "lo" accept',
    `\t\tct state invalid counter name ${c.input} drop`,
    `\t\tiifname ${quote(veth)} jump input_veth`,
    `\t\tiifname ${quote(tunnel)} ct state established,related accept`,
    // Neighbour discovery is untracked; a tunnel on a link layer needs it for IPv6.
    ...(options.tunnelHasIpv6
      ? [
          `\t\tiifname ${quote(tunnel)} icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } ` +
            'ip6 hoplimit 255 accept',
        ]
      : []),
    `\t\tcounter name ${c.input} drop`,
    '\t}',
    '',
    '\tchain input_veth {',
    `\t\t${fromHost} ct state established,related accept`,
    `\t\t${fromHost} ${services} ct state new accept`,
    `\t\tcounter name ${c.input} drop`,
    '\t}',
    '',
    '\tchain output {',
    '\t\ttype filter hook output priority filter; policy drop;',
    '\t\toifname "lo" accept',
    ...(options.tunnelHasIpv6 ? [] : [`\t\tmeta nfproto ipv6 counter name ${c.ipv6} drop`]),
    `\t\toifname ${quote(veth)} jump output_veth`,
    `\t\tmeta l4proto { tcp, udp } th dport ${list(DNS_PORTS)} jump output_dns`,
    `\t\toifname ${quote(tunnel)} accept`,
    `\t\tcounter name ${c.out} drop`,
    '\t}',
    '',
    '\tchain output_veth {',
    `\t\t${toHost} ct direction reply ct state established,related accept`,
    `\t\tcounter name ${c.veth} drop`,
    '\t}',
    '',
    '\tchain output_dns {',
    `\t\toifname ${quote(tunnel)} ip daddr @dns_v4 accept`,
    `\t\toifname ${quote(tunnel)} ip6 daddr @dns_v6 accept`,
    `\t\tcounter name ${c.dns} drop`,
    '\t}',
    '',
    '\tchain forward {',
    '\t\ttype filter hook forward priority filter; policy drop;',
    `\t\tcounter name ${c.forward} drop`,
    '\t}',
    '}',
    '',
  ].join('\n');
}

/**
 * The host's table for one vault, as an nft script that creates or replaces it atomically.
 * Its base chains run at `filter - 10` with policy accept, so they only ever add drops to
 * whatever firewall the host already has (a drop in any base chain is final).
 *
 * - forward: everything in or out of the veth is dropped, whatever `ip_forward` says
 *   (`leak_forward`).
 * - input from the veth: IPv6 dropped, link-local included (`leak_ipv6`); IPv4 only from the
 *   vault's veth address to the host's, and only replies to connections the host opened, plus
 *   new connections to `hostTcpPorts`/`hostUdpPorts` (none by default); the rest is dropped
 *   (`leak_input`).
 */
export function hostRuleset(options: HostRulesetOptions): string {
  const vault = checkVaultName(options.vaultName);
  const table = tableNameOf(options);
  const veth = checkInterface('veth interface', options.vethInterface);
  const addresses = checkVethAddresses(options);
  const tcp = checkPorts('host TCP ports', options.hostTcpPorts);
  const udp = checkPorts('host UDP ports', options.hostUdpPorts);
  const c = HOST_COUNTERS;
  const fromVault = `ip saddr ${addresses.vault} ip daddr ${addresses.host}`;

  return [
    `# netvault: host firewall for the vault "${vault}"; applied as one nft transaction`,
    ...replaceTableHeader(table),
    `table inet ${table} {`,
    `\tcomment ${quote(formatTableMark({ vault, role: 'host' }))}`,
    ...counterBlock({
      [c.forward]: 'forwarded from or to the vault veth',
      [c.input]: 'new connections from the vault to the host',
      [c.ipv6]: 'IPv6 from the vault veth',
    }),
    '',
    '\tchain forward {',
    '\t\ttype filter hook forward priority filter - 10; policy accept;',
    `\t\tiifname ${quote(veth)} counter name ${c.forward} drop`,
    `\t\toifname ${quote(veth)} counter name ${c.forward} drop`,
    '\t}',
    '',
    '\tchain input {',
    '\t\ttype filter hook input priority filter - 10; policy accept;',
    `\t\tiifname ${quote(veth)} jump input_vault`,
    '\t}',
    '',
    '\tchain input_vault {',
    `\t\tmeta nfproto ipv6 counter name ${c.ipv6} drop`,
    `\t\t${fromVault} ct state established,related accept`,
    ...(tcp.length > 0 ? [`\t\t${fromVault} tcp dport ${list(tcp)} ct state new accept`] : []),
    ...(udp.length > 0 ? [`\t\t${fromVault} udp dport ${list(udp)} ct state new accept`] : []),
    `\t\tcounter name ${c.input} drop`,
    '\t}',
    '}',
    '',
  ].join('\n');
}

/** The family and name of the table a script (re)creates: its last `table F NAME {` line. */
export function scriptTable(script: string): { family: string; name: string } | undefined {
  const matches = [...script.matchAll(/^table (\w+) ([A-Za-z][A-Za-z0-9_.-]*) \{\s*$/gm)];
  const last = matches.at(-1);
  return last ? { family: last[1], name: last[2] } : undefined;
}
