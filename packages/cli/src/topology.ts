// The media-vault topology: bring it up (idempotent, transactional, repairing), take it down,
// and read what is there. Order of `up`: namespace, firewall, DNS, veth, tunnel, routes, and
// only then any link in the vault goes up, so no packet can leave before the rules exist.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import {
  createNamespace,
  currentNamespace,
  deleteNamespace,
  namespaceExists,
  openNamespace,
  type NetnsHandle,
} from '@netvault/netns';
import {
  configureInterface,
  createInterface,
  deleteInterface,
  showInterface,
  syncConfig,
  type WgStatus,
} from '@netvault/wg';
import { Transaction, type Reporter } from './changes.ts';
import { handshakeProblem } from './health.ts';
import type { VaultConfig } from './config.ts';
import { applyRuleset, deleteTable, listedFingerprint, readTable } from './firewall.ts';
import { hostRuleset, vaultRuleset } from './firewall-ruleset.ts';
import { loadTunnel, readKeyFile, tunnelHasIpv6, type Tunnel } from './tunnel-file.ts';

export const MARK = 'netvault';

export function linkAlias(config: VaultConfig): string {
  return `${MARK}:${config.vault}`;
}

export function tableName(config: VaultConfig, role: 'vault' | 'host'): string {
  return role === 'vault' ? 'netvault' : `netvault-${config.vault}`;
}

export function resolvConfPath(config: VaultConfig): string {
  return `/etc/netns/${config.vault}/resolv.conf`;
}

export function openHost(config: VaultConfig): NetnsHandle {
  return config.hostNamespace ? openNamespace({ name: config.hostNamespace }) : currentNamespace();
}

const hostIp = (config: VaultConfig) => config.veth.hostAddress.split('/')[0];
const vaultIp = (config: VaultConfig) => config.veth.vaultAddress.split('/')[0];

function rulesets(config: VaultConfig, tunnel: Tunnel) {
  const dnsServers = tunnel.dns.filter(
    (entry) => /^[0-9a-f:.]+$/i.test(entry) && /[.:]/.test(entry),
  );
  return {
    vault: vaultRuleset({
      vaultName: config.vault,
      tableName: tableName(config, 'vault'),
      tunnelInterface: config.tunnel.interface,
      vethInterface: config.veth.vault,
      hostVethAddress: hostIp(config),
      vaultVethAddress: vaultIp(config),
      dnsServers,
      tunnelHasIpv6: tunnelHasIpv6(tunnel),
      servicePorts: config.firewall.servicePorts,
    }),
    host: hostRuleset({
      vaultName: config.vault,
      tableName: tableName(config, 'host'),
      vethInterface: config.veth.host,
      hostVethAddress: hostIp(config),
      vaultVethAddress: vaultIp(config),
    }),
  };
}

function resolvConf(tunnel: Tunnel): string {
  const servers = tunnel.dns.filter((entry) => /^[0-9a-f:.]+$/i.test(entry) && /[.:]/.test(entry));
  const domains = tunnel.dns.filter((entry) => !servers.includes(entry));
  return [
    "# written by netvault: the tunnel's resolvers only",
    ...servers.map((server) => `nameserver ${server}`),
    ...(domains.length > 0 ? [`search ${domains.join(' ')}`] : []),
    'options edns0',
    '',
  ].join('\n');
}

async function ensureAddress(
  tx: Transaction,
  handle: NetnsHandle,
  link: string,
  cidr: string,
  where: string,
) {
  const present = (await handle.addrList({ link })).some((a) => a.cidr === cidr);
  if (present) {
    tx.note('=', `addr ${cidr} dev ${link} (${where})`);
    return;
  }
  await handle.addrReplace(link, cidr);
  tx.note('+', `addr add ${cidr} dev ${link} (${where})`);
}

function ensureSysctl(
  tx: Transaction,
  handle: NetnsHandle,
  key: string,
  value: string,
  where: string,
) {
  if (handle.sysctlGet(key) === value) return;
  handle.sysctlSet(key, value);
  tx.note('~', `sysctl ${key}=${value} (${where})`);
}

/**
 * What `up` last installed, kept in /run/netvault/VAULT.json (root only, gone at reboot like
 * the vault): the hash of each firewall script and of the table it produced. A later `up`
 * whose script and table are both unchanged leaves the table alone, counters included.
 */
interface UpState {
  tables: Partial<Record<'vault' | 'host', { script: string; table: string }>>;
}

export const STATE_DIR = '/run/netvault';

function statePath(config: VaultConfig): string {
  return `${STATE_DIR}/${config.vault}.json`;
}

function readState(config: VaultConfig): UpState {
  try {
    return JSON.parse(readFileSync(statePath(config), 'utf8')) as UpState;
  } catch {
    return { tables: {} };
  }
}

function writeState(config: VaultConfig, state: UpState): void {
  mkdirSync(STATE_DIR, { recursive: true, mode: 0o700 });
  writeFileSync(statePath(config), JSON.stringify(state), { mode: 0o600 });
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

async function ensureTable(
  tx: Transaction,
  handle: NetnsHandle,
  table: string,
  script: string,
  where: string,
  state: UpState,
  role: 'vault' | 'host',
): Promise<void> {
  const before = await listedFingerprint(handle, 'inet', table);
  const known = state.tables[role];
  if (before !== undefined && known?.script === sha256(script) && known.table === before) {
    tx.note('=', `nft table inet ${table} (${where})`);
    return;
  }
  await applyRuleset(handle, script);
  const after = await listedFingerprint(handle, 'inet', table);
  state.tables[role] = { script: sha256(script), table: after ?? '' };
  if (before === undefined) {
    tx.created(
      `nft table inet ${table} (${where})`,
      `nft delete table inet ${table} (${where})`,
      () => deleteTable(handle, 'inet', table).then(() => undefined),
    );
  } else {
    tx.note(after === before ? '=' : '~', `nft table inet ${table} (${where})`);
  }
}

export interface UpResult {
  changed: boolean;
  implementation?: string;
}

/** `netvault up`: builds or repairs the topology; on failure removes what this run created. */
export async function up(config: VaultConfig, report: Reporter): Promise<UpResult> {
  const tunnel = loadTunnel(config.tunnel.file);
  const privateKey = readKeyFile(tunnel.privateKeyFile, 'private key');
  const peers = tunnel.peers.map((peer) => ({
    publicKey: peer.publicKey,
    allowedIps: peer.allowedIps,
    endpoint: peer.endpoint,
    persistentKeepalive: peer.persistentKeepalive,
    presharedKey: peer.presharedKeyFile
      ? readKeyFile(peer.presharedKeyFile, 'preshared key')
      : undefined,
  }));
  const scripts = rulesets(config, tunnel);
  const state = readState(config);
  const tx = new Transaction(report);
  const host = openHost(config);
  let vault: NetnsHandle | undefined;
  let implementation: string | undefined;
  const vaultWhere = config.vault;
  const hostWhere = config.hostNamespace ?? 'host';
  try {
    await tx.step('namespace', async () => {
      if (namespaceExists(config.vault)) {
        tx.note('=', `netns ${config.vault}`);
      } else {
        createNamespace(config.vault);
        tx.created(`netns add ${config.vault}`, `netns del ${config.vault}`, () =>
          deleteNamespace(config.vault),
        );
      }
      vault = openNamespace({ name: config.vault });
    });
    const v = vault!;

    await tx.step('vault sysctls', async () => {
      ensureSysctl(tx, v, 'net.ipv4.ip_forward', '0', vaultWhere);
      const ipv6Off = tunnelHasIpv6(tunnel) ? '0' : '1';
      ensureSysctl(tx, v, 'net.ipv6.conf.all.disable_ipv6', ipv6Off, vaultWhere);
      ensureSysctl(tx, v, 'net.ipv6.conf.default.disable_ipv6', ipv6Off, vaultWhere);
      ensureSysctl(tx, v, 'net.ipv4.conf.all.arp_ignore', '1', vaultWhere);
      ensureSysctl(tx, v, 'net.ipv4.conf.all.rp_filter', '1', vaultWhere);
    });

    // The two tables live in different namespaces and do not depend on each other: nft runs
    // for both at once. Both are in place before the veth pair exists.
    await tx.step('firewall', async () => {
      await Promise.all([
        ensureTable(tx, v, tableName(config, 'vault'), scripts.vault, vaultWhere, state, 'vault'),
        ensureTable(tx, host, tableName(config, 'host'), scripts.host, hostWhere, state, 'host'),
      ]);
    });

    await tx.step('vault DNS', async () => {
      const path = resolvConfPath(config);
      const text = resolvConf(tunnel);
      const existed = existsSync(path);
      if (existed && readFileSync(path, 'utf8') === text) {
        tx.note('=', `file ${path}`);
        return;
      }
      mkdirSync(`/etc/netns/${config.vault}`, { recursive: true, mode: 0o755 });
      writeFileSync(path, text, { mode: 0o644 });
      if (existed) tx.note('~', `file ${path}`);
      else
        tx.created(`file ${path}`, `rm ${path}`, () =>
          rmSync(`/etc/netns/${config.vault}`, { recursive: true, force: true }),
        );
    });

    await tx.step('veth pair', async () => {
      const hostEnd = await host.linkFind(config.veth.host);
      const vaultEnd = await v.linkFind(config.veth.vault);
      if (hostEnd && vaultEnd && hostEnd.kind === 'veth' && hostEnd.peerIndex === vaultEnd.index) {
        tx.note('=', `link ${config.veth.host} ⇄ ${config.veth.vault}`);
      } else {
        if (hostEnd) {
          if (hostEnd.alias !== linkAlias(config)) {
            throw new Error(
              `${config.veth.host} exists in ${hostWhere} and is not netvault's; refusing to touch it`,
            );
          }
          await host.linkDelete(config.veth.host);
          tx.note('-', `link del ${config.veth.host} (${hostWhere}, stale)`);
        }
        if (vaultEnd) {
          await v.linkDelete(config.veth.vault);
          tx.note('-', `link del ${config.veth.vault} (${vaultWhere}, stale)`);
        }
        await host.vethAdd({
          name: config.veth.host,
          peerName: config.veth.vault,
          peerNamespace: v,
        });
        tx.created(
          `link add ${config.veth.host} type veth peer ${config.veth.vault} netns ${config.vault}`,
          `link del ${config.veth.host}`,
          () => host.linkDelete(config.veth.host),
        );
        await host.linkSetAlias(config.veth.host, linkAlias(config));
        await v.linkSetAlias(config.veth.vault, linkAlias(config));
      }
      ensureSysctl(tx, v, `net.ipv4.conf.${config.veth.vault}.arp_ignore`, '1', vaultWhere);
      ensureSysctl(tx, v, `net.ipv6.conf.${config.veth.vault}.disable_ipv6`, '1', vaultWhere);
      ensureSysctl(tx, host, `net.ipv4.conf.${config.veth.host}.forwarding`, '0', hostWhere);
      ensureSysctl(tx, host, `net.ipv4.conf.${config.veth.host}.arp_ignore`, '1', hostWhere);
      ensureSysctl(tx, host, `net.ipv6.conf.${config.veth.host}.disable_ipv6`, '1', hostWhere);
      await ensureAddress(tx, host, config.veth.host, config.veth.hostAddress, hostWhere);
      await ensureAddress(tx, v, config.veth.vault, config.veth.vaultAddress, vaultWhere);
    });

    await tx.step('tunnel', async () => {
      const name = config.tunnel.interface;
      const inVault = await v.linkFind(name);
      const inHost = inVault ? undefined : await host.linkFind(name);
      if (inHost && inHost.alias !== linkAlias(config)) {
        throw new Error(
          `${name} exists in ${hostWhere} and is not netvault's; refusing to touch it`,
        );
      }
      if (!inVault && !inHost) {
        const made = await createInterface({
          name,
          namespace: host,
          implementation: config.tunnel.implementation,
        });
        implementation = made.implementation;
        tx.created(
          `link add ${name} type wireguard (${hostWhere}, ${made.implementation})`,
          `link del ${name}`,
          async () => {
            await deleteInterface({ name, namespace: (await v.linkFind(name)) ? v : host });
          },
        );
        await host.linkSetAlias(name, linkAlias(config));
      }
      const where = inVault ? v : host;
      const device = { privateKey, listenPort: tunnel.listenPort, fwMark: 0, peers };
      if (inVault) {
        // syncconf keeps live sessions: a repeated `up` must not drop the handshake.
        await syncConfig({ name, namespace: where }, device);
        tx.note('=', `wg syncconf ${name} (keys from ${tunnel.privateKeyFile})`);
      } else {
        await configureInterface({ name, namespace: where }, device);
        tx.note('~', `wg setconf ${name} (keys from ${tunnel.privateKeyFile})`);
      }
      if (!inVault) {
        await host.linkSetNamespace(name, v);
        tx.note(
          '~',
          `link set ${name} netns ${config.vault} (its UDP socket stays in ${hostWhere})`,
        );
      }
      for (const address of tunnel.addresses) await ensureAddress(tx, v, name, address, vaultWhere);
      if (tunnel.mtu !== undefined) {
        const link = await v.linkGet(name);
        if (link.mtu !== tunnel.mtu) {
          await v.linkSetMtu(name, tunnel.mtu);
          tx.note('~', `link set ${name} mtu ${tunnel.mtu} (${vaultWhere})`);
        }
      }
    });

    await tx.step('routes', async () => {
      const routes = await v.routeList({ table: 'main' });
      const tunnelIndex = (await v.linkGet(config.tunnel.interface)).index;
      const families: (4 | 6)[] = tunnelHasIpv6(tunnel) ? [4, 6] : [4];
      for (const family of [4, 6] as const) {
        const fallback = routes.some(
          (r) =>
            r.family === family &&
            r.destination === 'default' &&
            r.type === 'unreachable' &&
            r.metric === config.fallbackMetric,
        );
        if (fallback) {
          tx.note(
            '=',
            `route unreachable default metric ${config.fallbackMetric} (IPv${family}, ${vaultWhere})`,
          );
        } else {
          await v.routeReplace({
            destination: 'default',
            family,
            type: 'unreachable',
            metric: config.fallbackMetric,
          });
          tx.note(
            '+',
            `route add unreachable default metric ${config.fallbackMetric} (IPv${family}, ${vaultWhere})`,
          );
        }
      }
      for (const family of families) {
        const pinned = routes.some(
          (r) =>
            r.family === family &&
            r.destination === 'default' &&
            r.type === 'unicast' &&
            r.deviceIndex === tunnelIndex &&
            r.metric === 0,
        );
        if (pinned) {
          tx.note(
            '=',
            `route default dev ${config.tunnel.interface} (IPv${family}, ${vaultWhere})`,
          );
        }
      }
      // The pinned defaults are added once the tunnel is up, below.
    });

    await tx.step('links up', async () => {
      for (const [handle, link, where] of [
        [v, 'lo', vaultWhere],
        [v, config.veth.vault, vaultWhere],
        [host, config.veth.host, hostWhere],
        [v, config.tunnel.interface, vaultWhere],
      ] as const) {
        if ((await handle.linkGet(link)).up) continue;
        await handle.linkSetUp(link);
        tx.note('~', `link set ${link} up (${where})`);
      }
      const routes = await v.routeList({ table: 'main' });
      const tunnelIndex = (await v.linkGet(config.tunnel.interface)).index;
      for (const family of (tunnelHasIpv6(tunnel) ? [4, 6] : [4]) as (4 | 6)[]) {
        const pinned = routes.some(
          (r) =>
            r.family === family &&
            r.destination === 'default' &&
            r.type === 'unicast' &&
            r.deviceIndex === tunnelIndex,
        );
        if (pinned) continue;
        await v.routeReplace({ destination: 'default', family, device: config.tunnel.interface });
        tx.note(
          '+',
          `route add default dev ${config.tunnel.interface} (IPv${family}, ${vaultWhere})`,
        );
      }
    });
  } catch (error) {
    const failures = await tx.rollback();
    vault?.close();
    host.close();
    if (failures.length > 0) {
      (error as Error).message += `; undoing also failed for: ${failures.join('; ')}`;
    }
    throw error;
  }
  vault?.close();
  host.close();
  writeState(config, state);
  return { changed: tx.changed, implementation };
}

/** `netvault down`: removes everything netvault made for this vault; idempotent. */
export async function down(config: VaultConfig, report: Reporter): Promise<{ changed: boolean }> {
  const tx = new Transaction(report);
  const host = openHost(config);
  const hostWhere = config.hostNamespace ?? 'host';
  try {
    const name = config.tunnel.interface;
    const vault = namespaceExists(config.vault) ? openNamespace({ name: config.vault }) : undefined;
    // The host table goes in a process of its own while the links are deleted here: the vault's
    // own table still stands until its namespace is deleted last.
    const hostTable = deleteTable(host, 'inet', tableName(config, 'host'));
    hostTable.catch(() => undefined); // awaited below; an early throw must not leave it unhandled
    try {
      if (vault && (await vault.linkFind(name))) {
        await deleteInterface({ name, namespace: vault });
        tx.note('-', `link del ${name} (${config.vault})`);
      } else {
        const inHost = await host.linkFind(name);
        if (inHost && inHost.alias === linkAlias(config)) {
          await deleteInterface({ name, namespace: host });
          tx.note('-', `link del ${name} (${hostWhere})`);
        } else {
          // A userspace process whose interface vanished with a crashed namespace.
          const removed = await deleteInterface({ name, namespace: host }).then(
            () => true,
            () => false,
          );
          if (removed) tx.note('-', `wireguard-go ${name} stopped`);
        }
      }
      const hostEnd = await host.linkFind(config.veth.host);
      if (hostEnd && hostEnd.alias === linkAlias(config)) {
        await host.linkDelete(config.veth.host);
        tx.note('-', `link del ${config.veth.host} (${hostWhere})`);
      }
      if (await hostTable) {
        tx.note('-', `nft delete table inet ${tableName(config, 'host')} (${hostWhere})`);
      }
    } finally {
      vault?.close();
    }
    if (namespaceExists(config.vault)) {
      deleteNamespace(config.vault);
      tx.note('-', `netns del ${config.vault}`);
    }
    rmSync(statePath(config), { force: true });
    try {
      rmdirSync(STATE_DIR); // only when no other vault keeps its state there
    } catch {
      // not empty, or already gone
    }
    if (existsSync(`/etc/netns/${config.vault}`)) {
      rmSync(`/etc/netns/${config.vault}`, { recursive: true, force: true });
      tx.note('-', `rm /etc/netns/${config.vault}`);
    }
  } finally {
    host.close();
  }
  if (!tx.changed) tx.note('=', `nothing of vault ${config.vault} was left`);
  return { changed: tx.changed };
}

export interface TopologyStatus {
  vault: string;
  namespace: boolean;
  veth: {
    host?: { name: string; address?: string; up: boolean };
    vault?: { name: string; address?: string; up: boolean };
  };
  tunnel?: { name: string; up: boolean; addresses: string[]; wg?: WgStatus; error?: string };
  routes: { family: 4 | 6; type: string; destination: string; device?: string; metric: number }[];
  firewall: { vault: boolean; host: boolean };
  dns: string[];
  hostForwarding: string;
  healthy: boolean;
  problems: string[];
}

/** `netvault status`: what is there now, and whether it is what `up` makes. */
export async function status(config: VaultConfig): Promise<TopologyStatus> {
  const host = openHost(config);
  const problems: string[] = [];
  const result: TopologyStatus = {
    vault: config.vault,
    namespace: namespaceExists(config.vault),
    veth: {},
    routes: [],
    firewall: { vault: false, host: false },
    dns: [],
    hostForwarding: '?',
    healthy: false,
    problems,
  };
  try {
    // Writing net.ipv4.ip_forward sets every interface's forwarding flag, ours included; the
    // host table's forward drop holds either way, and this shows both.
    const vethForwarding = (await host.linkFind(config.veth.host))
      ? host.sysctlGet(`net.ipv4.conf.${config.veth.host}.forwarding`)
      : '-';
    result.hostForwarding = `${host.sysctlGet('net.ipv4.ip_forward')}, ${config.veth.host} ${vethForwarding}`;
    result.firewall.host = (await readTable(host, 'inet', tableName(config, 'host'))) !== undefined;
    const hostEnd = await host.linkFind(config.veth.host);
    if (hostEnd) {
      const address = (await host.addrList({ link: hostEnd.index, family: 4 }))[0]?.cidr;
      result.veth.host = { name: hostEnd.name, address, up: hostEnd.up };
    }
    if (!result.namespace) {
      problems.push(`namespace ${config.vault} is missing`);
      return result;
    }
    const vault = openNamespace({ name: config.vault });
    try {
      result.firewall.vault =
        (await readTable(vault, 'inet', tableName(config, 'vault'))) !== undefined;
      const links = await vault.linkList();
      const byIndex = new Map(links.map((l) => [l.index, l.name]));
      const vaultEnd = links.find((l) => l.name === config.veth.vault);
      if (vaultEnd) {
        const address = (await vault.addrList({ link: vaultEnd.index, family: 4 }))[0]?.cidr;
        result.veth.vault = { name: vaultEnd.name, address, up: vaultEnd.up };
      }
      const tunnelLink = links.find((l) => l.name === config.tunnel.interface);
      if (tunnelLink) {
        const addresses = (await vault.addrList({ link: tunnelLink.index }))
          .filter((a) => a.scope === 'global')
          .map((a) => a.cidr);
        result.tunnel = { name: tunnelLink.name, up: tunnelLink.up, addresses };
        try {
          result.tunnel.wg = await showInterface({ name: tunnelLink.name, namespace: vault });
        } catch (error) {
          result.tunnel.error = (error as Error).message;
        }
      }
      for (const route of await vault.routeList({ table: 'all' })) {
        if (route.destination !== 'default') continue;
        result.routes.push({
          family: route.family,
          type: String(route.type),
          destination: route.destination,
          device: route.deviceIndex === undefined ? undefined : byIndex.get(route.deviceIndex),
          metric: route.metric,
        });
      }
    } finally {
      vault.close();
    }
    try {
      const text = readFileSync(resolvConfPath(config), 'utf8');
      result.dns = [...text.matchAll(/^nameserver\s+(\S+)/gm)].map((m) => m[1]);
    } catch {
      problems.push(`${resolvConfPath(config)} is missing`);
    }
  } finally {
    host.close();
  }
  if (!result.tunnel) problems.push(`tunnel ${config.tunnel.interface} is not in the vault`);
  else if (!result.tunnel.up) problems.push(`tunnel ${config.tunnel.interface} is down`);
  if (!result.veth.host || !result.veth.vault) problems.push('the veth pair is incomplete');
  if (!result.firewall.vault) problems.push('the vault firewall table is missing');
  if (!result.firewall.host) problems.push('the host firewall table is missing');
  const outs = result.routes.filter((r) => r.type === 'unicast');
  if (outs.some((r) => r.device !== config.tunnel.interface))
    problems.push('a default route bypasses the tunnel');
  if (
    !result.routes.some((r) => r.type === 'unreachable' && r.family === 4) ||
    !result.routes.some((r) => r.type === 'unreachable' && r.family === 6)
  ) {
    problems.push('an unreachable fallback route is missing');
  }
  const handshake = result.tunnel?.wg && handshakeProblem(result.tunnel.wg.peers[0]);
  if (handshake) problems.push(handshake);
  result.healthy = problems.length === 0;
  return result;
}
