// `netvault verify`: an active self-test of the live system. Static checks first (routes,
// firewall tables, DNS, host forwarding), then probes from inside the vault: one that must get
// through the tunnel (the positive control), several that must not leave, and the exit address.
import { readFileSync } from 'node:fs';
import { namespaceExists, openNamespace } from '@netvault/netns';
import { showInterface } from '@netvault/wg';
import type { VaultConfig } from './config.ts';
import { expectedFingerprint, readCounters, rulesetFingerprint } from './firewall.ts';
import { hostRuleset, vaultRuleset } from './firewall-ruleset.ts';
import { handshakeProblem } from './health.ts';
import { probe, type ProbeResult } from './probes.ts';
import { openHost, resolvConfPath, tableName } from './topology.ts';
import { loadTunnel, tunnelHasIpv6 } from './tunnel-file.ts';

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export interface VerifyReport {
  vault: string;
  ok: boolean;
  checks: Check[];
  probes: (ProbeResult & { expect: 'reach' | 'blocked'; pass: boolean })[];
  counters: Record<string, Record<string, { packets: number; bytes: number }>>;
}

function isIp(text: string): boolean {
  return /^[0-9a-f:.]+$/i.test(text) && /[.:]/.test(text);
}

export async function verify(config: VaultConfig): Promise<VerifyReport> {
  const report: VerifyReport = {
    vault: config.vault,
    ok: false,
    checks: [],
    probes: [],
    counters: {},
  };
  const check = (name: string, ok: boolean, detail: string) =>
    report.checks.push({ name, ok, detail });
  const tunnel = loadTunnel(config.tunnel.file);
  if (!namespaceExists(config.vault)) {
    check('namespace', false, `${config.vault} does not exist: run netvault up`);
    return report;
  }
  const host = openHost(config);
  const vault = openNamespace({ name: config.vault });
  try {
    const links = await vault.linkList();
    const tunnelLink = links.find((l) => l.name === config.tunnel.interface);
    const routes = (await vault.routeList({ table: 'all' })).filter(
      (r) => r.destination === 'default',
    );
    for (const family of [4, 6] as const) {
      const out = routes.filter((r) => r.family === family && r.type === 'unicast');
      const fallback = routes.some((r) => r.family === family && r.type === 'unreachable');
      const onlyTunnel = out.every((r) => r.deviceIndex === tunnelLink?.index && !r.gateway);
      const wantsOut = family === 4 || tunnelHasIpv6(tunnel);
      check(
        `IPv${family} default routes`,
        onlyTunnel && fallback && (!wantsOut || out.length > 0),
        `${out.length} via the tunnel, unreachable fallback ${fallback ? 'present' : 'MISSING'}` +
          (onlyTunnel ? '' : '; a default route bypasses the tunnel'),
      );
    }
    const rules = await vault.ruleList();
    const custom = rules.filter((r) => ![0, 32766, 32767].includes(r.priority));
    check(
      'policy rules',
      custom.length === 0,
      custom.length === 0
        ? 'none besides the defaults'
        : `${custom.length} extra rule(s) could route around the tunnel`,
    );

    const scripts = {
      vault: vaultRuleset({
        vaultName: config.vault,
        tableName: tableName(config, 'vault'),
        tunnelInterface: config.tunnel.interface,
        vethInterface: config.veth.vault,
        hostVethAddress: config.veth.hostAddress.split('/')[0],
        vaultVethAddress: config.veth.vaultAddress.split('/')[0],
        dnsServers: tunnel.dns.filter(isIp),
        tunnelHasIpv6: tunnelHasIpv6(tunnel),
        servicePorts: config.firewall.servicePorts,
      }),
      host: hostRuleset({
        vaultName: config.vault,
        tableName: tableName(config, 'host'),
        vethInterface: config.veth.host,
        hostVethAddress: config.veth.hostAddress.split('/')[0],
        vaultVethAddress: config.veth.vaultAddress.split('/')[0],
      }),
    };
    for (const [role, handle] of [
      ['vault', vault],
      ['host', host],
    ] as const) {
      const table = tableName(config, role);
      const installed = await rulesetFingerprint(handle, 'inet', table);
      const expected = await expectedFingerprint(handle, scripts[role]);
      check(
        `${role} firewall`,
        installed === expected,
        installed === undefined
          ? `table inet ${table} is MISSING`
          : installed === expected
            ? `table inet ${table} in place and unchanged`
            : `table inet ${table} differs from what netvault installs`,
      );
    }

    let nameservers: string[] = [];
    try {
      nameservers = [
        ...readFileSync(resolvConfPath(config), 'utf8').matchAll(/^nameserver\s+(\S+)/gm),
      ].map((m) => m[1]);
    } catch {
      // reported below
    }
    const tunnelDns = tunnel.dns.filter(isIp);
    check(
      'DNS',
      nameservers.length > 0 && nameservers.every((n) => tunnelDns.includes(n)),
      nameservers.length === 0
        ? `${resolvConfPath(config)} is missing or empty`
        : `resolv.conf names ${nameservers.join(', ')}; the tunnel's resolvers are ${tunnelDns.join(', ')}`,
    );

    const forwarding = host.sysctlGet(`net.ipv4.conf.${config.veth.host}.forwarding`);
    check(
      'host forwarding',
      forwarding === '0',
      `net.ipv4.conf.${config.veth.host}.forwarding=${forwarding} ` +
        `(global ip_forward=${host.sysctlGet('net.ipv4.ip_forward')}; ` +
        'the host table drops forwarded vault traffic either way)',
    );

    if (tunnelLink) {
      try {
        const status = await showInterface({ name: config.tunnel.interface, namespace: vault });
        const problem = handshakeProblem(status.peers[0]);
        check(
          'tunnel handshake',
          problem === undefined,
          problem ?? `latest handshake ${status.peers[0]?.handshakeAgeSeconds} s ago`,
        );
      } catch (error) {
        check('tunnel handshake', false, (error as Error).message);
      }
    } else {
      check('tunnel', false, `${config.tunnel.interface} is not in the vault`);
    }

    // Probes. The positive control goes to the tunnel's first resolver (it is only reachable
    // through the tunnel); everything netvault knows to be outside must stay unreachable.
    const control = tunnelDns.find((d) => d.includes('.')) ?? tunnelDns[0];
    if (control) {
      const result = await probe(vault, 'icmp', control);
      report.probes.push({ ...result, expect: 'reach', pass: result.ok });
    }
    const hostIp = config.veth.hostAddress.split('/')[0];
    const blocked: [Parameters<typeof probe>[1], string, number?][] = [
      ['tcp', hostIp, 53],
      ['udp', hostIp, 53],
      ['tcp', hostIp, 80],
      ['tcp', hostIp, 22],
      ['icmp', hostIp],
    ];
    for (const peer of tunnel.peers) {
      const match = peer.endpoint?.match(/^\[?([^\]]+?)\]?:(\d+)$/);
      if (match && isIp(match[1]))
        blocked.push(['udp', match[1], Number(match[2])], ['icmp', match[1]]);
    }
    for (const address of config.verify.mustNotReach)
      blocked.push(['tcp', address, 443], ['icmp', address]);
    // A target beyond the host may answer through the tunnel (that is the tunnel working);
    // it must never be reached any other way, so an answer passes only when the vault's
    // route to it is the tunnel. The host's own veth address must not answer at all.
    const tunnelDevice = async (target: string) => {
      const route = await vault.exec('ip', ['-j', 'route', 'get', target]);
      try {
        return JSON.parse(route.stdout)[0]?.dev === config.tunnel.interface;
      } catch {
        return false;
      }
    };
    for (const [kind, target, port] of blocked) {
      const result = await probe(vault, kind, target, { port, timeoutMs: 1500 });
      const viaTunnel = result.ok && target !== hostIp && (await tunnelDevice(target));
      report.probes.push({
        ...result,
        expect: 'blocked',
        pass: !result.ok || viaTunnel,
        detail: viaTunnel ? `${result.detail}; only through the tunnel` : result.detail,
      });
    }
    if (config.verify.ipEchoUrl) {
      const fromVault = await probe(vault, 'http', config.verify.ipEchoUrl, { timeoutMs: 5000 });
      const fromHost = await probe(host, 'http', config.verify.ipEchoUrl, { timeoutMs: 5000 });
      check(
        'exit address',
        fromVault.ok && (!fromHost.ok || fromVault.detail !== fromHost.detail),
        `the vault is seen as ${fromVault.ok ? fromVault.detail : `(${fromVault.detail})`}, ` +
          `the host as ${fromHost.ok ? fromHost.detail : `(${fromHost.detail})`}`,
      );
    }
    report.counters.vault = await readCounters(vault, tableName(config, 'vault'));
    report.counters.host = await readCounters(host, tableName(config, 'host'));
  } finally {
    vault.close();
    host.close();
  }
  report.ok = report.checks.every((c) => c.ok) && report.probes.every((p) => p.pass);
  return report;
}

export function formatVerify(report: VerifyReport): string {
  const lines = [`netvault verify: vault ${report.vault}`];
  for (const c of report.checks) lines.push(`  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}`);
  for (const p of report.probes) {
    const must = p.expect === 'reach' ? 'get through' : 'not leave';
    lines.push(
      `  ${p.pass ? 'ok  ' : 'FAIL'} probe ${p.kind} ${p.target} must ${must}: ` +
        `${p.ok ? 'reached' : 'blocked'} (${p.detail}, ${Math.round(p.ms)} ms)`,
    );
  }
  const drops = Object.entries(report.counters).flatMap(([role, counters]) =>
    Object.entries(counters).map(([name, value]) => `${role}/${name}=${value.packets}`),
  );
  if (drops.length > 0) lines.push(`  drop counters: ${drops.join(' ')}`);
  lines.push(report.ok ? 'result: the killswitch holds' : 'result: PROBLEMS FOUND');
  return lines.join('\n');
}
