// The leak the veth could open: a default route via the host (10.200.1.1) forced into the vault,
// the tunnel gone, and forwarding switched on in the host namespace. With netvault's layers
// lifted, the vault's probes get out and the provider's meter counts them (the positive control);
// with both layers nothing gets out, and with the vault's own table gone too the host's table
// still drops every packet, counting them.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { NetnsHandle } from '@netvault/netns';
import { privilegedTest } from '@netvault/netns/testing';
import { deleteInterface } from '@netvault/wg';
import { deleteTable, readCounters } from '../src/firewall.ts';
import { tableName, up } from '../src/topology.ts';
import {
  CANARY,
  HOST_VETH,
  answered,
  buildStandIns,
  countersDelta,
  meterDelta,
  nonZero,
  plaintext,
  probeMatrix,
  runProbes,
  settle,
  upAndConnect,
  type StandIns,
} from './fixtures/topology.ts';

const it = privilegedTest(test, 'CLI leak tests (forced route via the host)');

/**
 * The tunnel deleted, `default via 10.200.1.1` in the vault, forwarding switched on in the host
 * the way an administrator (or a container runtime) does: writing ip_forward, which the kernel
 * copies to every interface, veth-host included, undoing `up`'s forwarding=0 there.
 */
async function forceLeakPath(world: StandIns, vault: NetnsHandle): Promise<void> {
  await deleteInterface(
    { name: world.config.tunnel.interface, namespace: vault },
    { missingOk: true },
  );
  await vault.routeReplace({ destination: 'default', gateway: HOST_VETH });
  world.host.handle.sysctlSet('net.ipv4.ip_forward', 0);
  world.host.handle.sysctlSet('net.ipv4.ip_forward', 1);
}

it("a default route via the host, forwarding on: no leak, the host's drop counter rises", async () => {
  const world = await buildStandIns('fwd');
  const hostTable = tableName(world.config, 'host');
  let vault: NetnsHandle | undefined;
  const probes = probeMatrix([CANARY]);
  // A table that is gone counts nothing.
  const vaultCounters = () => readCounters(vault!, 'netvault').catch(() => ({}));
  const hostCounters = () => readCounters(world.host.handle, hostTable).catch(() => ({}));
  const run = async () => {
    const before = {
      meter: await world.meter(),
      vault: await vaultCounters(),
      host: await hostCounters(),
    };
    const results = await runProbes(vault!, probes);
    await settle();
    return {
      results,
      meter: meterDelta(before.meter, await world.meter()),
      vault: countersDelta(before.vault, await vaultCounters()),
      host: countersDelta(before.host, await hostCounters()),
    };
  };
  try {
    vault = await upAndConnect(world);

    // Positive control: both netvault tables removed, the path forced open: the probes get out
    // through the host, unmasqueraded, and the provider counts them as plaintext.
    await forceLeakPath(world, vault);
    await deleteTable(vault, 'inet', 'netvault');
    await deleteTable(world.host.handle, 'inet', hostTable);
    const open = await run();
    assert.is(
      answered(open.results).length,
      probes.length,
      `the leak path is real: ${JSON.stringify(open.results.filter((r) => !r.ok))}`,
    );
    assert.ok(open.meter.plainOther >= probes.length, `counted: ${nonZero(open.meter)}`);

    // `up` repairs everything (tables, tunnel, routes, veth forwarding off); then force it again.
    await up(world.config, () => {});
    assert.is(
      world.host.handle.sysctlGet(`net.ipv4.conf.${world.config.veth.host}.forwarding`),
      '0',
    );
    await forceLeakPath(world, vault);
    assert.is(
      world.host.handle.sysctlGet(`net.ipv4.conf.${world.config.veth.host}.forwarding`),
      '1',
      'ip_forward=1 switched forwarding on for veth-host too',
    );

    const both = await run();
    assert.equal(answered(both.results), [], 'nothing answers');
    assert.is(plaintext(both.meter), 0, `plaintext: ${nonZero(both.meter)}`);
    assert.ok(both.vault.leak_veth > 0, `the vault drops them: ${nonZero(both.vault)}`);

    // The vault's table lost as well: the host's table alone holds, and counts.
    await deleteTable(vault, 'inet', 'netvault');
    const hostOnly = await run();
    assert.equal(answered(hostOnly.results), [], 'nothing answers');
    assert.is(plaintext(hostOnly.meter), 0, `plaintext: ${nonZero(hostOnly.meter)}`);
    assert.ok(hostOnly.meter.vaultNew > 0, 'the packets reached the host');
    assert.ok(
      hostOnly.host.leak_forward >= hostOnly.meter.vaultNew,
      `the host drops what it would forward: ${nonZero(hostOnly.host)}`,
    );

    console.log(
      `  forced route: control (layers lifted): ${answered(open.results).length}/${probes.length}` +
        ` answered, plaintext ${plaintext(open.meter)} pkts (from 10.200.1.2: ${open.meter.plainOther})`,
    );
    console.log(
      `  forced route: both layers: ${probes.length} probes, 0 answered, plaintext` +
        ` ${plaintext(both.meter)}; vault drops: ${nonZero(both.vault)}; host drops: ${nonZero(both.host)}`,
    );
    console.log(
      `  forced route: host layer only: ${probes.length} probes, 0 answered, plaintext` +
        ` ${plaintext(hostOnly.meter)}; new flows into host ${hostOnly.meter.vaultNew};` +
        ` host drops: ${nonZero(hostOnly.host)}`,
    );
  } finally {
    world.host.handle.sysctlSet('net.ipv4.ip_forward', 0);
    vault?.close();
    await world.dispose();
  }
});

test.run();
