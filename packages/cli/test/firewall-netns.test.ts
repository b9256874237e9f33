// The firewall layers against the real kernel, as root, in namespaces each test makes: the
// rulesets are applied, then traffic is sent with the named counters as the leak meter, and
// every blocked path is shown to be real by a positive control (the same probe succeeding once
// the layers are lifted). Traffic goes only to addresses assigned here:
//
//   host (throwaway)                    vault                            provider
//   veth-host 10.200.1.1/30, fe80::1 ⇄ veth-vault 10.200.1.2/30, fe80::2
//                                       privado 198.18.0.2/30       ⇄    tun-peer 198.18.0.1/30
//                                               2001:2::2/64                  2001:2::1/64
//   uplink 198.19.0.1/30      ⇄─────────────────────────────────────⇄    home-peer 198.19.0.2/30
//                                                                   lo: 198.18.1.1 (web),
//                                                                       198.18.1.53 (resolver),
//                                                                       198.18.1.99, 2001:2:1::1
//
// `privado` is a veth standing in for the WireGuard link; `uplink` is the host's home line.
import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { NetnsHandle } from '@netvault/netns';
import {
  createTestNamespace,
  privilegedSkipReason,
  sweepTestNamespaces,
  type TestNamespace,
} from '@netvault/netns/testing';
import {
  FirewallError,
  applyRuleset,
  deleteTable,
  expectedFingerprint,
  hostRuleset,
  listNetvaultTables,
  readCounters,
  readTable,
  rulesetFingerprint,
  vaultRuleset,
  type HostRulesetOptions,
  type VaultRulesetOptions,
} from '../src/firewall.ts';

const skip = privilegedSkipReason();
if (skip) console.log(`firewall kernel tests skipped: ${skip}`);
const it = skip ? test.skip : test;

const TABLE = 'netvault-media-vault';
const PROBE_WAIT_MS = 1500;

function vaultOptions(patch: Partial<VaultRulesetOptions> = {}): VaultRulesetOptions {
  return {
    vaultName: 'media-vault',
    tunnelInterface: 'privado',
    vethInterface: 'veth-vault',
    hostVethAddress: '10.200.1.1',
    vaultVethAddress: '10.200.1.2',
    dnsServers: ['198.18.1.53'],
    tunnelHasIpv6: false,
    servicePorts: [8080],
    ...patch,
  };
}

function hostOptions(patch: Partial<HostRulesetOptions> = {}): HostRulesetOptions {
  return {
    vaultName: 'media-vault',
    vethInterface: 'veth-host',
    hostVethAddress: '10.200.1.1',
    vaultVethAddress: '10.200.1.2',
    ...patch,
  };
}

// ---- probes and servers (plain Node, run inside a namespace) ------------------------------

const PROBE = `
const [kind, host, port, wait] = process.argv.slice(1);
const done = (result) => { process.stdout.write(JSON.stringify(result)); process.exit(0); };
setTimeout(() => done({ ok: false, error: 'timeout' }), Number(wait));
if (kind === 'tcp') {
  const socket = require('node:net').connect({ host, port: Number(port) });
  socket.on('connect', () => done({ ok: true }));
  socket.on('error', (error) => done({ ok: false, error: error.code }));
} else {
  const socket = require('node:dgram').createSocket(host.includes(':') ? 'udp6' : 'udp4');
  socket.on('message', () => done({ ok: true }));
  socket.on('error', (error) => done({ ok: false, error: error.code }));
  socket.send('probe', Number(port), host);
}`;

// TCP listens on `::` (dual stack) and answers "hello"; UDP binds the one address it is given,
// so that a reply leaves from the address the probe wrote to and conntrack matches it.
const SERVE = `
const specs = JSON.parse(process.argv[1]);
let waiting = specs.length;
const ready = () => { waiting -= 1; if (waiting === 0) process.stdout.write('ready\\n'); };
for (const { proto, port, host } of specs) {
  if (proto === 'tcp') {
    require('node:net').createServer((socket) => {
      socket.on('error', () => {});
      socket.end('hello\\n');
    }).listen({ host: '::', port, ipv6Only: false }, ready);
  } else {
    const socket = require('node:dgram').createSocket(host.includes(':') ? 'udp6' : 'udp4');
    socket.on('message', (message, from) => socket.send(message, from.port, from.address));
    socket.bind(port, host, ready);
  }
}`;

type Kind = 'tcp' | 'udp' | 'icmp';

interface ProbeResult {
  ok: boolean;
  error?: string;
}

async function probe(from: NetnsHandle, kind: Kind, host: string, port = 0): Promise<ProbeResult> {
  if (kind === 'icmp') {
    const ping = await from.exec('ping', ['-c', '1', '-W', String(PROBE_WAIT_MS / 1000), host]);
    return ping.exitCode === 0 ? { ok: true } : { ok: false, error: `ping exit ${ping.exitCode}` };
  }
  const run = await from.exec(process.execPath, [
    '-e',
    PROBE,
    kind,
    host,
    String(port),
    String(PROBE_WAIT_MS),
  ]);
  assert.is(run.exitCode, 0, run.stderr);
  return JSON.parse(run.stdout) as ProbeResult;
}

/** A running server. Boxed: the subprocess is a thenable that settles only when it exits. */
type Server = { subprocess: ReturnType<NetnsHandle['spawn']> };

type ServerSpec = { proto: 'tcp'; port: number } | { proto: 'udp'; port: number; host: string };

/** Starts echo servers (see SERVE) and waits until all of them listen. */
async function serve(where: NetnsHandle, specs: ServerSpec[]): Promise<Server> {
  const server = where.spawn(process.execPath, ['-e', SERVE, JSON.stringify(specs)], {
    stdout: 'pipe',
    stderr: 'pipe',
    reject: false,
  });
  await new Promise<void>((resolve, reject) => {
    let text = '';
    server.stdout!.on('data', (chunk) => {
      text += String(chunk);
      if (text.includes('ready')) resolve();
    });
    void server.then((exit) => reject(new Error(`server exited early: ${String(exit.stderr)}`)));
  });
  return { subprocess: server };
}

// ---- the topology ---------------------------------------------------------------------------

interface Topology {
  host: NetnsHandle;
  vault: NetnsHandle;
  provider: NetnsHandle;
}

const METER = `
table inet nvtest_meter {
	counter via_home { }
	counter via_tunnel { }
	chain prerouting {
		type filter hook prerouting priority raw; policy accept;
		iifname "home-peer" ip saddr 10.200.1.0/30 counter name via_home
		iifname "tun-peer" counter name via_tunnel
	}
}
`;

async function build(host: NetnsHandle, vault: NetnsHandle, provider: NetnsHandle) {
  const step = (s: string) => process.stderr.write(`[build] ${s}\n`);
  for (const ns of [host, vault, provider]) {
    // Keep the kernel's own IPv6 chatter (router solicitations, addresses it makes up) off the
    // links, so the counters move only for the probes.
    for (const scope of ['all', 'default']) {
      ns.sysctlSet(`net.ipv6.conf.${scope}.router_solicitations`, 0);
      ns.sysctlSet(`net.ipv6.conf.${scope}.addr_gen_mode`, 1);
    }
    await ns.linkSetUp('lo');
  }

  await host.vethAdd({ name: 'veth-host', peerName: 'veth-vault', peerNamespace: vault });
  await host.addrAdd('veth-host', '10.200.1.1/30');
  await host.addrAdd('veth-host', 'fe80::1/64');
  await vault.addrAdd('veth-vault', '10.200.1.2/30');
  await vault.addrAdd('veth-vault', 'fe80::2/64');

  await vault.vethAdd({ name: 'privado', peerName: 'tun-peer', peerNamespace: provider });
  await vault.addrAdd('privado', '198.18.0.2/30');
  await vault.addrAdd('privado', '2001:2::2/64');
  await provider.addrAdd('tun-peer', '198.18.0.1/30');
  await provider.addrAdd('tun-peer', '2001:2::1/64');

  await host.vethAdd({ name: 'uplink', peerName: 'home-peer', peerNamespace: provider });
  await host.addrAdd('uplink', '198.19.0.1/30');
  await provider.addrAdd('home-peer', '198.19.0.2/30');

  for (const address of ['198.18.1.1/32', '198.18.1.53/32', '198.18.1.99/32', '2001:2:1::1/128']) {
    await provider.addrAdd('lo', address);
  }
  for (const [ns, link] of [
    [host, 'veth-host'],
    [host, 'uplink'],
    [vault, 'veth-vault'],
    [vault, 'privado'],
    [provider, 'tun-peer'],
    [provider, 'home-peer'],
  ] as const) {
    await ns.linkSetUp(link);
  }

  await vault.routeAdd({ destination: 'default', gateway: '198.18.0.1', device: 'privado' });
  await vault.routeAdd({
    destination: 'default',
    family: 6,
    gateway: '2001:2::1',
    device: 'privado',
  });
  await provider.routeAdd({ destination: '10.200.1.0/30', gateway: '198.19.0.1' });
  await host.routeAdd({ destination: '198.18.1.0/24', gateway: '198.19.0.2' });

  const meter = await provider.exec('nft', ['-f', '-'], { input: METER });
  assert.is(meter.exitCode, 0, meter.stderr);
}

function icmp6Sent(ns: NetnsHandle): number {
  const stats = ns.run(() => readFileSync('/proc/thread-self/net/snmp6', 'utf8'));
  return Number(/^Icmp6OutMsgs\s+(\d+)$/m.exec(stats)?.[1] ?? 0);
}

/**
 * Waits until the kernel has finished announcing the new IPv6 addresses (MLD reports, sent
 * again within a second of the first), so that those do not show up on the leak meter.
 */
async function settleIpv6(namespaces: NetnsHandle[]): Promise<void> {
  let last = -1;
  let quietReads = 0;
  for (let read = 0; read < 40 && quietReads < 5; read += 1) {
    const sent = namespaces.reduce((sum, ns) => sum + icmp6Sent(ns), 0);
    quietReads = sent === last ? quietReads + 1 : 0;
    last = sent;
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}

/** Builds the topology with its servers, runs `fn`, and always removes all of it. */
async function withTopology(fn: (t: Topology) => Promise<void>): Promise<void> {
  const made: TestNamespace[] = [];
  const servers: Server[] = [];
  try {
    for (const tag of ['fwh', 'fwv', 'fwp']) made.push(createTestNamespace(tag));
    const [host, vault, provider] = made.map((ns) => ns.handle);
    await build(host, vault, provider);
    servers.push(
      await serve(vault, [
        { proto: 'tcp', port: 8080 },
        { proto: 'tcp', port: 8081 },
      ]),
    );
    servers.push(
      await serve(host, [
        { proto: 'tcp', port: 2222 },
        { proto: 'tcp', port: 53 },
        { proto: 'udp', port: 53, host: '10.200.1.1' },
      ]),
    );
    servers.push(
      await serve(provider, [
        { proto: 'tcp', port: 80 },
        { proto: 'tcp', port: 53 },
        { proto: 'tcp', port: 853 },
        { proto: 'udp', port: 53, host: '198.18.1.53' },
        { proto: 'udp', port: 53, host: '198.18.1.99' },
      ]),
    );
    await settleIpv6([host, vault, provider]);
    await fn({ host, vault, provider });
  } finally {
    for (const { subprocess } of servers) {
      subprocess.kill();
      await subprocess;
    }
    for (const ns of made.reverse()) ns.dispose();
  }
}

// ---- the leak meter -------------------------------------------------------------------------

type Counts = Record<string, number>;

async function packets(handle: NetnsHandle, table: string): Promise<Counts> {
  try {
    const counters = await readCounters(handle, table);
    return Object.fromEntries(Object.entries(counters).map(([name, c]) => [name, c.packets]));
  } catch (error) {
    if (error instanceof FirewallError && error.isNotFound()) return {};
    throw error;
  }
}

/** Every counter of the vault, host and meter tables, prefixed by where it is. */
async function meterReading(t: Topology): Promise<Counts> {
  const [vault, host, provider] = await Promise.all([
    packets(t.vault, TABLE),
    packets(t.host, TABLE),
    packets(t.provider, 'nvtest_meter'),
  ]);
  const prefixed = (where: string, counts: Counts) =>
    Object.entries(counts).map(([name, n]) => [`${where}.${name}`, n] as const);
  return Object.fromEntries([
    ...prefixed('vault', vault),
    ...prefixed('host', host),
    ...prefixed('provider', provider),
  ]);
}

/** What rose during `fn`, as `{ 'vault.leak_veth': 2, … }` (only counters that moved). */
async function rise(t: Topology, fn: () => Promise<unknown>): Promise<Counts> {
  const before = await meterReading(t);
  await fn();
  const after = await meterReading(t);
  const moved: Counts = {};
  for (const [name, value] of Object.entries(after)) {
    const delta = value - (before[name] ?? 0);
    if (delta !== 0) moved[name] = delta;
  }
  return moved;
}

const observed: string[] = [];

/** Runs one probe, records what the meter saw, and returns both. */
async function measure(
  t: Topology,
  label: string,
  from: NetnsHandle,
  kind: Kind,
  host: string,
  port?: number,
): Promise<{ result: ProbeResult; moved: Counts }> {
  let result: ProbeResult = { ok: false };
  const moved = await rise(t, async () => {
    result = await probe(from, kind, host, port);
  });
  const figures =
    Object.entries(moved)
      .map(([name, n]) => `${name} +${n}`)
      .join(', ') || 'none';
  observed.push(`${label}: ${result.ok ? 'passed' : `blocked (${result.error})`}; ${figures}`);
  return { result, moved };
}

function blocked(outcome: { result: ProbeResult; moved: Counts }, counter: string, label: string) {
  assert.not.ok(outcome.result.ok, `${label} must fail`);
  assert.ok(
    (outcome.moved[counter] ?? 0) > 0,
    `${label}: ${counter} must rise, saw ` + JSON.stringify(outcome.moved),
  );
}

function passed(outcome: { result: ProbeResult; moved: Counts }, label: string) {
  assert.ok(outcome.result.ok, `${label} must pass, got ${outcome.result.error}`);
  const leaks = Object.keys(outcome.moved).filter((name) => !name.startsWith('provider.'));
  assert.equal(leaks, [], `${label}: no drop counter may move`);
}

async function applyBoth(t: Topology, vault: Partial<VaultRulesetOptions> = {}) {
  await applyRuleset(t.vault, vaultRuleset(vaultOptions(vault)));
  await applyRuleset(t.host, hostRuleset(hostOptions()));
}

test.before(() => {
  if (!skip) sweepTestNamespaces();
});

test.after(() => {
  if (observed.length > 0) console.log(`\nleak meter:\n  ${observed.join('\n  ')}`);
});

// ---- the tests ------------------------------------------------------------------------------

it("(a) the host reaches the vault's service ports over the veth, and nothing else", async () => {
  await withTopology(async (t) => {
    await applyBoth(t);
    passed(
      await measure(t, 'a host→vault tcp 8080 (service)', t.host, 'tcp', '10.200.1.2', 8080),
      'the reverse-proxy path',
    );
    blocked(
      await measure(t, 'a host→vault tcp 8081 (no service)', t.host, 'tcp', '10.200.1.2', 8081),
      'vault.drop_in',
      'a port that is no service',
    );
  });
});

it('(b) the vault opens no new TCP, UDP or ICMP to the host, at either layer', async () => {
  await withTopology(async (t) => {
    const probes: Array<[Kind, number?]> = [['tcp', 2222], ['udp', 53], ['icmp']];
    await applyBoth(t);
    for (const [kind, port] of probes) {
      blocked(
        await measure(t, `b vault→host ${kind} (both layers)`, t.vault, kind, '10.200.1.1', port),
        'vault.leak_veth',
        `vault→host ${kind}`,
      );
    }

    assert.ok(await deleteTable(t.vault, 'inet', TABLE));
    for (const [kind, port] of probes) {
      blocked(
        await measure(
          t,
          `b vault→host ${kind} (host layer only)`,
          t.vault,
          kind,
          '10.200.1.1',
          port,
        ),
        'host.leak_input',
        `vault→host ${kind} with the host layer only`,
      );
    }

    assert.ok(await deleteTable(t.host, 'inet', TABLE));
    for (const [kind, port] of probes) {
      passed(
        await measure(
          t,
          `b vault→host ${kind} (no layer, control)`,
          t.vault,
          kind,
          '10.200.1.1',
          port,
        ),
        `vault→host ${kind} without the firewall`,
      );
    }
  });
});

it('(c) out through the tunnel only: a default route via the host leaks nothing', async () => {
  await withTopology(async (t) => {
    t.host.sysctlSet('net.ipv4.ip_forward', 1);
    await applyBoth(t);

    const tunnel = await measure(
      t,
      'c vault→provider tcp 80 via tunnel',
      t.vault,
      'tcp',
      '198.18.1.1',
      80,
    );
    passed(tunnel, 'the tunnel path');
    assert.ok(tunnel.moved['provider.via_tunnel'] > 0);
    assert.is(tunnel.moved['provider.via_home'], undefined);

    await t.vault.routeReplace({
      destination: 'default',
      gateway: '10.200.1.1',
      device: 'veth-vault',
    });
    for (const kind of ['tcp', 'icmp'] as const) {
      const both = await measure(
        t,
        `c vault→provider ${kind} via veth (both layers)`,
        t.vault,
        kind,
        '198.18.1.1',
        80,
      );
      blocked(both, 'vault.leak_veth', `${kind} via the veth`);
      assert.is(both.moved['provider.via_home'], undefined, 'nothing reaches the provider');
    }

    assert.ok(await deleteTable(t.vault, 'inet', TABLE));
    for (const kind of ['tcp', 'icmp'] as const) {
      const hostOnly = await measure(
        t,
        `c vault→provider ${kind} via veth (host layer only)`,
        t.vault,
        kind,
        '198.18.1.1',
        80,
      );
      blocked(hostOnly, 'host.leak_forward', `${kind} via the veth with the host layer only`);
      assert.is(hostOnly.moved['provider.via_home'], undefined, 'nothing reaches the provider');
    }

    assert.ok(await deleteTable(t.host, 'inet', TABLE));
    const open = await measure(
      t,
      'c vault→provider tcp 80 via veth (no layer, control)',
      t.vault,
      'tcp',
      '198.18.1.1',
      80,
    );
    passed(open, 'the veth path without the firewall');
    assert.ok(open.moved['provider.via_home'] > 0, 'the meter sees the leak when it is open');
  });
});

it("(d) name resolution goes only to the tunnel's resolver", async () => {
  await withTopology(async (t) => {
    await applyBoth(t);

    for (const [kind, port] of [
      ['udp', 53],
      ['tcp', 53],
      ['tcp', 853],
    ] as const) {
      passed(
        await measure(
          t,
          `d vault→resolver ${kind} ${port} via tunnel`,
          t.vault,
          kind,
          '198.18.1.53',
          port,
        ),
        `the resolver over ${kind} ${port}`,
      );
      blocked(
        await measure(
          t,
          `d vault→other ${kind} ${port} via tunnel`,
          t.vault,
          kind,
          '198.18.1.99',
          port,
        ),
        'vault.leak_dns',
        `another address over ${kind} ${port}`,
      );
    }
    passed(
      await measure(
        t,
        'd vault→other tcp 80 via tunnel (control)',
        t.vault,
        'tcp',
        '198.18.1.99',
        80,
      ),
      'the same address on a port that is not DNS',
    );

    for (const kind of ['udp', 'tcp'] as const) {
      blocked(
        await measure(t, `d vault→host ${kind} 53`, t.vault, kind, '10.200.1.1', 53),
        'vault.leak_veth',
        `DNS to the host over ${kind}`,
      );
    }
  });
});

it('(e) IPv6 fails closed without it on the tunnel; link-local never reaches the host', async () => {
  await withTopology(async (t) => {
    const linkLocal = 'fe80::1%veth-vault';
    await applyBoth(t, { tunnelHasIpv6: false });

    blocked(
      await measure(
        t,
        'e vault→provider tcp6 (no v6 on tunnel)',
        t.vault,
        'tcp',
        '2001:2:1::1',
        80,
      ),
      'vault.leak_ipv6',
      'IPv6 through a tunnel without IPv6',
    );
    blocked(
      await measure(
        t,
        'e vault→host link-local tcp (both layers)',
        t.vault,
        'tcp',
        linkLocal,
        2222,
      ),
      'vault.leak_ipv6',
      'link-local to the host',
    );

    await applyRuleset(t.vault, vaultRuleset(vaultOptions({ tunnelHasIpv6: true })));
    passed(
      await measure(
        t,
        'e vault→provider tcp6 (v6 on tunnel, control)',
        t.vault,
        'tcp',
        '2001:2:1::1',
        80,
      ),
      'IPv6 through a tunnel that has it',
    );
    blocked(
      await measure(
        t,
        'e vault→host link-local tcp (v6 on tunnel)',
        t.vault,
        'tcp',
        linkLocal,
        2222,
      ),
      'vault.leak_veth',
      'link-local to the host with IPv6 on the tunnel',
    );

    assert.ok(await deleteTable(t.vault, 'inet', TABLE));
    blocked(
      await measure(
        t,
        'e vault→host link-local tcp (host layer only)',
        t.vault,
        'tcp',
        linkLocal,
        2222,
      ),
      'host.leak_ipv6',
      'link-local to the host with the host layer only',
    );

    assert.ok(await deleteTable(t.host, 'inet', TABLE));
    passed(
      await measure(
        t,
        'e vault→host link-local tcp (no layer, control)',
        t.vault,
        'tcp',
        linkLocal,
        2222,
      ),
      'link-local without the firewall',
    );
  });
});

it('(f) a script nft refuses leaves the previous table in place', async () => {
  const ns = createTestNamespace('fwf');
  try {
    const good = vaultRuleset(vaultOptions());
    await applyRuleset(ns.handle, good);
    const before = await rulesetFingerprint(ns.handle, 'inet', TABLE);
    assert.ok(before);

    // Valid syntax the kernel refuses (a counter that does not exist), and a plain typo.
    const unknownCounter = vaultRuleset(vaultOptions({ servicePorts: [9090] })).replace(
      'counter name leak_dns drop',
      'counter name no_such_counter drop',
    );
    const typo = vaultRuleset(vaultOptions({ servicePorts: [9090] })).replace(
      'policy drop;',
      'policy dorp;',
    );
    for (const broken of [unknownCounter, typo]) {
      try {
        await applyRuleset(ns.handle, broken);
        assert.unreachable('a broken script must be refused');
      } catch (error) {
        assert.instance(error, FirewallError);
        const failure = error as FirewallError;
        assert.is(failure.op, 'nft apply');
        assert.is(failure.table, `inet ${TABLE}`);
        assert.ok(failure.exitCode !== 0);
        assert.ok(failure.line !== undefined && failure.line > 0, failure.message);
        assert.ok(failure.lineText && broken.split('\n').includes(failure.lineText));
      }
      assert.is(await rulesetFingerprint(ns.handle, 'inet', TABLE), before);
    }

    // The transaction itself is all or nothing, also without the check.
    const direct = await ns.handle.exec('nft', ['-f', '-'], { input: unknownCounter });
    assert.is.not(direct.exitCode, 0);
    assert.is(await rulesetFingerprint(ns.handle, 'inet', TABLE), before);

    const table = await readTable(ns.handle, 'inet', TABLE);
    assert.equal(table?.mark, { vault: 'media-vault', role: 'vault' });
    assert.ok(JSON.stringify(table?.objects).includes('8080'));
  } finally {
    ns.dispose();
  }
});

it("(g) re-applying is idempotent and matches the script's own fingerprint", async () => {
  const ns = createTestNamespace('fwg');
  try {
    const script = vaultRuleset(vaultOptions());
    await applyRuleset(ns.handle, script);
    const first = await rulesetFingerprint(ns.handle, 'inet', TABLE);
    await applyRuleset(ns.handle, script);
    const second = await rulesetFingerprint(ns.handle, 'inet', TABLE);
    assert.ok(first);
    assert.is(second, first);
    assert.is(await expectedFingerprint(ns.handle, script), first);

    const other = vaultRuleset(vaultOptions({ dnsServers: ['198.18.1.54'] }));
    assert.is.not(await expectedFingerprint(ns.handle, other), first);

    const hostScript = hostRuleset(hostOptions({ tableName: 'netvault-host' }));
    await applyRuleset(ns.handle, hostScript);
    assert.is(
      await rulesetFingerprint(ns.handle, 'inet', 'netvault-host'),
      await expectedFingerprint(ns.handle, hostScript),
    );

    const foreign = await ns.handle.exec('nft', ['add', 'table', 'inet', 'someone_else']);
    assert.is(foreign.exitCode, 0, foreign.stderr);
    const tables = await listNetvaultTables(ns.handle);
    assert.equal(tables.map((found) => `${found.name} ${found.mark.role}`).sort(), [
      'netvault-host host',
      `${TABLE} vault`,
    ]);

    const counters = await readCounters(ns.handle, TABLE);
    assert.equal(Object.keys(counters).sort(), [
      'drop_in',
      'leak_dns',
      'leak_forward',
      'leak_ipv6',
      'leak_out',
      'leak_veth',
    ]);

    assert.is(await deleteTable(ns.handle, 'inet', TABLE), true);
    assert.is(await deleteTable(ns.handle, 'inet', TABLE), false);
    assert.is(await readTable(ns.handle, 'inet', TABLE), undefined);
    assert.is(await rulesetFingerprint(ns.handle, 'inet', TABLE), undefined);
    const left = await listNetvaultTables(ns.handle);
    assert.equal(
      left.map((found) => found.name),
      ['netvault-host'],
    );
    assert.ok(await readTable(ns.handle, 'inet', 'someone_else'), 'a foreign table is left alone');
  } finally {
    ns.dispose();
  }
});

test.run();
