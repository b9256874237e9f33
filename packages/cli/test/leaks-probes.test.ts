// Leaks counted in packets: probes from the vault over TCP, UDP and ICMP (and IPv6) to the
// canary in the provider and to the host, with the provider's and the host's meters as the
// judge (see fixtures/topology.ts). Each test first shows the meter rising for the same probe
// where it is allowed, so a probe that silently sends nothing cannot pass.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { NetnsHandle } from '@netvault/netns';
import { privilegedTest } from '@netvault/netns/testing';
import { deleteInterface } from '@netvault/wg';
import { readCounters } from '../src/firewall.ts';
import { probe } from '../src/probes.ts';
import { tableName, up } from '../src/topology.ts';
import {
  CANARY,
  CANARY6,
  HOST_UNDERLAY,
  HOST_UNDERLAY6,
  HOST_VETH,
  RESOLVER,
  addVethIngressMeter,
  answered,
  buildStandIns,
  countersDelta,
  insertAccept,
  meterDelta,
  nonZero,
  plaintext,
  probeMatrix,
  runProbes,
  settle,
  upAndConnect,
  type StandIns,
} from './fixtures/topology.ts';

const it = privilegedTest(test, 'CLI leak tests (probes)');

/** What the vault's and the host's own tables counted while `run` ran. */
async function counted<T>(world: StandIns, vault: NetnsHandle, run: () => Promise<T>) {
  const hostTable = tableName(world.config, 'host');
  const before = {
    meter: await world.meter(),
    vault: await readCounters(vault, 'netvault'),
    host: await readCounters(world.host.handle, hostTable),
  };
  const result = await run();
  await settle();
  return {
    result,
    meter: meterDelta(before.meter, await world.meter()),
    vault: countersDelta(before.vault, await readCounters(vault, 'netvault')),
    host: countersDelta(before.host, await readCounters(world.host.handle, hostTable)),
  };
}

it('TCP, UDP and ICMP from the vault leave it only inside the tunnel', async () => {
  const world = await buildStandIns('pr');
  let vault: NetnsHandle | undefined;
  try {
    vault = await upAndConnect(world);
    const toCanary = probeMatrix([CANARY]);
    const toHost = probeMatrix([HOST_VETH, HOST_UNDERLAY]);
    const everything = [...toCanary, ...toHost];

    // Positive control 1: the same probes from the host namespace reach the canary in plaintext,
    // and the provider's meter counts them.
    const fromHost = await counted(world, vault, () => runProbes(world.host.handle, everything));
    assert.is(
      answered(fromHost.result).length,
      everything.length,
      `every probe answers from the host: ${JSON.stringify(fromHost.result.filter((r) => !r.ok))}`,
    );
    assert.ok(
      fromHost.meter.plainHost >= toCanary.length,
      `plaintext counted: ${nonZero(fromHost.meter)}`,
    );

    // Positive control 2: from the vault, the canary answers through the tunnel (53 only at the
    // tunnel's resolver), and the provider counts it on its WireGuard interface, not as plaintext.
    const allowed = [
      ...toCanary.filter((p) => p.port !== 53),
      { kind: 'udp' as const, target: RESOLVER, port: 53 },
      { kind: 'tcp' as const, target: RESOLVER, port: 53 },
    ];
    const tunnelled = await counted(world, vault, () => runProbes(vault!, allowed));
    assert.is(
      answered(tunnelled.result).length,
      allowed.length,
      `answered through the tunnel: ${JSON.stringify(tunnelled.result.filter((r) => !r.ok))}`,
    );
    assert.ok(tunnelled.meter.tunnelled >= allowed.length, nonZero(tunnelled.meter));
    assert.is(plaintext(tunnelled.meter), 0, 'the tunnel carries them, not the underlay');

    // Positive control 3: with both firewall layers lifted for a moment, the vault's probes to
    // the host get through and the host's meter counts new flows from the vault.
    const lifted = [
      await insertAccept(vault, 'netvault', 'output', 'oifname veth-vault'),
      await insertAccept(world.host.handle, tableName(world.config, 'host'), 'input_vault', ''),
    ];
    const opened = await counted(world, vault, () => runProbes(vault!, probeMatrix([HOST_VETH])));
    for (const undo of lifted) await undo();
    assert.is(
      answered(opened.result).length,
      probeMatrix([HOST_VETH]).length,
      `the host answers once allowed: ${JSON.stringify(opened.result.filter((r) => !r.ok))}`,
    );
    assert.ok(opened.meter.vaultNew >= probeMatrix([HOST_VETH]).length, nonZero(opened.meter));

    // The probes with the killswitch in place and the tunnel up: nothing in plaintext, no new
    // flow into the host; the canary answers only through the tunnel, never on port 53.
    const held = await counted(world, vault, () => runProbes(vault!, everything));
    assert.is(plaintext(held.meter), 0, `plaintext: ${nonZero(held.meter)}`);
    assert.is(held.meter.vaultNew, 0, 'no new flow from the vault into the host');
    const reached = answered(held.result);
    assert.equal(
      reached.filter((r) => !r.includes(CANARY) || r.endsWith(':53')),
      [],
      'nothing but the canary (not at 53) answered',
    );
    assert.ok(held.vault.leak_veth > 0 && held.vault.leak_dns > 0, nonZero(held.vault));

    // The tunnel gone: every probe fails, nothing in plaintext.
    await deleteInterface({ name: world.config.tunnel.interface, namespace: vault });
    const gone = await counted(world, vault, () => runProbes(vault!, everything));
    assert.equal(answered(gone.result), [], 'nothing answers without the tunnel');
    assert.is(plaintext(gone.meter), 0, `plaintext: ${nonZero(gone.meter)}`);
    assert.is(gone.meter.vaultNew, 0, 'no new flow from the vault into the host');

    console.log(
      `  probes v4: controls: host→canary ${answered(fromHost.result).length}/${everything.length}` +
        ` answered, plaintext ${plaintext(fromHost.meter)} pkts; vault→canary via tunnel` +
        ` ${answered(tunnelled.result).length}/${allowed.length}, tunnelled ${tunnelled.meter.tunnelled} pkts;` +
        ` layers lifted vault→host ${answered(opened.result).length}/${probeMatrix([HOST_VETH]).length},` +
        ` new flows ${opened.meter.vaultNew} pkts`,
    );
    console.log(
      `  probes v4: tunnel up: ${everything.length} probes, ${reached.length} answered in the` +
        ` tunnel; plaintext ${plaintext(held.meter)}, new flows into host ${held.meter.vaultNew},` +
        ` tunnelled ${held.meter.tunnelled}; vault drops: ${nonZero(held.vault)};` +
        ` host drops: ${nonZero(held.host)}`,
    );
    console.log(
      `  probes v4: tunnel deleted: ${everything.length} probes, 0 answered; plaintext` +
        ` ${plaintext(gone.meter)}, new flows into host ${gone.meter.vaultNew}; vault drops:` +
        ` ${nonZero(gone.vault)}; host drops: ${nonZero(gone.host)}`,
    );
  } finally {
    vault?.close();
    await world.dispose();
  }
});

/** The link-local address SLAAC derives from a MAC address (modified EUI-64). */
function linkLocalOf(mac: string): string {
  const bytes = mac.split(':').map((part) => parseInt(part, 16));
  bytes[0] ^= 0x02;
  const words = [
    (bytes[0] << 8) | bytes[1],
    (bytes[2] << 8) | 0xff,
    (0xfe << 8) | bytes[3],
    (bytes[4] << 8) | bytes[5],
  ];
  return `fe80::${words.map((word) => word.toString(16)).join(':')}`;
}

it("IPv6 to the host's link-local address and to the canary fails", async () => {
  const world = await buildStandIns('v6');
  let vault: NetnsHandle | undefined;
  try {
    vault = await upAndConnect(world);
    const onTheVeth = await addVethIngressMeter(world);
    const { host: vethHost, vault: vethVault } = world.config.veth;
    const hostLink = await world.host.handle.linkGet(vethHost);
    assert.ok(hostLink.mac, 'veth-host has a MAC address');
    const linkLocal = `${linkLocalOf(hostLink.mac!)}%${vethVault}`;
    const toCanary = probeMatrix([CANARY6]);
    const toHost = probeMatrix([linkLocal, HOST_UNDERLAY6]);

    // Positive control 1: the host reaches the canary over IPv6 in plaintext, and it is counted.
    const fromHost = await counted(world, vault, () => runProbes(world.host.handle, toCanary));
    assert.is(
      answered(fromHost.result).length,
      toCanary.length,
      JSON.stringify(fromHost.result.filter((r) => !r.ok)),
    );
    assert.ok(fromHost.meter.plainHost >= toCanary.length, nonZero(fromHost.meter));

    // Positive control 2: IPv6 switched on for both veth ends and let through both tables: the
    // vault reaches the host's link-local address, and the host's meter counts it.
    for (const [ns, link] of [
      [world.host.handle, vethHost],
      [vault, vethVault],
    ] as const) {
      ns.sysctlSet(`net.ipv6.conf.${link}.accept_dad`, 0);
      ns.sysctlSet(`net.ipv6.conf.${link}.disable_ipv6`, 0);
    }
    await insertAccept(vault, 'netvault', 'output', 'meta nfproto ipv6');
    await insertAccept(vault, 'netvault', 'input', 'meta nfproto ipv6');
    await insertAccept(
      world.host.handle,
      tableName(world.config, 'host'),
      'input_vault',
      'meta nfproto ipv6',
    );
    const present = (await world.host.handle.addrList({ link: vethHost, family: 6 })).map(
      (a) => a.cidr,
    );
    assert.ok(
      present.includes(`${linkLocal.split('%')[0]}/64`),
      `the link-local address is ${present}`,
    );
    const lifted = probeMatrix([linkLocal]);
    const openedWire = await onTheVeth();
    const opened = await counted(world, vault, () => runProbes(vault!, lifted));
    const openedIpv6 = (await onTheVeth()).ipv6 - openedWire.ipv6;
    assert.is(
      answered(opened.result).length,
      lifted.length,
      JSON.stringify(opened.result.filter((r) => !r.ok)),
    );
    assert.ok(opened.meter.vaultIpv6 >= lifted.length, nonZero(opened.meter));
    assert.ok(openedIpv6 >= lifted.length, `seen at veth-host's ingress: ${openedIpv6}`);

    // `up` repairs what the control changed: IPv6 off on the veth, both tables as written.
    await up(world.config, () => {});
    assert.is(vault.sysctlGet(`net.ipv6.conf.${vethVault}.disable_ipv6`), '1');
    assert.is(world.host.handle.sysctlGet(`net.ipv6.conf.${vethHost}.disable_ipv6`), '1');

    const heldWire = await onTheVeth();
    const held = await counted(world, vault, () => runProbes(vault!, [...toCanary, ...toHost]));
    const heldIpv6 = (await onTheVeth()).ipv6 - heldWire.ipv6;
    assert.equal(answered(held.result), [], 'no IPv6 probe answers');
    assert.is(plaintext(held.meter), 0, `plaintext: ${nonZero(held.meter)}`);
    assert.is(
      held.meter.vaultIpv6 + held.meter.vaultNew,
      0,
      `into the host: ${nonZero(held.meter)}`,
    );
    assert.is(heldIpv6, 0, 'no IPv6 frame on the veth');
    const reasons = [
      ...new Set(
        held.result.map((r) =>
          r.kind === 'icmp' ? `ping ${r.target.replace(/%.*/, '')}: ${r.detail}` : r.detail,
        ),
      ),
    ];

    console.log(
      `  probes v6: controls: host→canary ${answered(fromHost.result).length}/${toCanary.length},` +
        ` plaintext ${plaintext(fromHost.meter)} pkts; layers lifted vault→${linkLocal}` +
        ` ${answered(opened.result).length}/${lifted.length}, IPv6 into host ${opened.meter.vaultIpv6} pkts` +
        ` (${openedIpv6} frames at veth-host's ingress)`,
    );
    console.log(
      `  probes v6: killswitch: ${held.result.length} probes, 0 answered; plaintext` +
        ` ${plaintext(held.meter)}, IPv6 into host ${held.meter.vaultIpv6}, IPv6 frames at veth-host's` +
        ` ingress ${heldIpv6}; vault drops:` +
        ` ${nonZero(held.vault)}; failures: ${reasons.join('; ')}`,
    );
  } finally {
    vault?.close();
    await world.dispose();
  }
});

it('the reverse-proxy path works: the host reaches a server in the vault at 10.200.1.2', async () => {
  const world = await buildStandIns('rp');
  let vault: NetnsHandle | undefined;
  try {
    vault = await upAndConnect(world);
    const server = vault.spawn(
      process.execPath,
      [
        '-e',
        "require('node:http').createServer((q, r) => r.end('vault')).listen(8989, '10.200.1.2', " +
          "() => console.log('ready'))",
      ],
      { stdout: 'pipe', stdin: 'ignore', reject: false },
    );
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('the vault server did not start')), 10_000);
        server.stdout!.once('data', () => {
          clearTimeout(timer);
          resolve();
        });
      });
      const before = await world.meter();
      const results = [];
      for (let i = 0; i < 10; i += 1) {
        results.push(
          await probe(world.host.handle, 'http', 'http://10.200.1.2:8989/', { timeoutMs: 3000 }),
        );
      }
      await settle();
      const delta = meterDelta(before, await world.meter());
      assert.equal(
        results.filter((r) => !r.ok || r.detail !== 'vault'),
        [],
        'every request is answered',
      );
      assert.ok(delta.vaultAll > 0, 'the answers came over veth-host');
      assert.is(delta.vaultNew, 0, 'answers are not new flows');
      assert.is(plaintext(delta), 0);
      console.log(
        `  reverse proxy: ${results.length}/10 requests answered from 10.200.1.2:8989;` +
          ` ${delta.vaultAll} pkts from the vault on veth-host, ${delta.vaultNew} of them new flows`,
      );
    } finally {
      server.kill('SIGKILL');
    }
  } finally {
    vault?.close();
    await world.dispose();
  }
});

test.run();
