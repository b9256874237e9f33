// The tunnel lost in the middle of traffic: its interface deleted, or its wireguard-go process
// killed, while one long-lived process in the vault fires well over 1000 probes (TCP connects
// and UDP send-and-wait, short timeouts) and a ping runs beside it. Nothing may reach the
// provider in plaintext, and once the tunnel is gone the vault's probes must be refused by the
// kernel at once (no route: the unreachable fallback), not left to time out.
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { NetnsHandle } from '@netvault/netns';
import { privilegedTest } from '@netvault/netns/testing';
import { deleteInterface } from '@netvault/wg';
import {
  CANARY,
  HOST_VETH,
  RESOLVER,
  buildStandIns,
  meterDelta,
  nonZero,
  pingCount,
  plaintext,
  runProbes,
  settle,
  startProbeLoop,
  upAndConnect,
  type LoopSummary,
  type LoopTarget,
  type StandIns,
} from './fixtures/topology.ts';

const it = privilegedTest(test, 'CLI leak tests (tunnel loss)');

const TARGETS: LoopTarget[] = [
  { kind: 'tcp', host: CANARY, port: 80 },
  { kind: 'udp', host: CANARY, port: 47913 },
  { kind: 'tcp', host: CANARY, port: 47913 },
  { kind: 'udp', host: RESOLVER, port: 53 },
  { kind: 'udp', host: CANARY, port: 53 },
  { kind: 'udp', host: HOST_VETH, port: 80 },
];
const PROBES = 1500;
const CUT_AFTER = 400;
/** Errors the kernel returns at once: no route (the fallback), or the firewall's drop. */
const REFUSALS = ['EHOSTUNREACH', 'ENETUNREACH', 'EPERM', 'EACCES'];

/** The pid of `wireguard-go -f NAME`, found through /proc. */
function wireguardGoPid(name: string): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter(Boolean);
      if (argv[0]?.endsWith('wireguard-go') && argv.at(-1) === name) return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

/** Waits until the tunnel's link is gone from the vault (its routes go with it). */
async function waitUntilGone(vault: NetnsHandle, name: string): Promise<void> {
  for (let i = 0; i < 2000 && (await vault.linkFind(name)); i += 1) await settle(2);
  assert.is(await vault.linkFind(name), undefined, `${name} is gone from the vault`);
}

function describe(summary: LoopSummary): string {
  return Object.entries(summary.phases)
    .map(([phase, tally]) => {
      const ms = tally.failMs
        ? ` fail ms p50 ${tally.failMs.p50} p90 ${tally.failMs.p90}` +
          ` p99 ${tally.failMs.p99} max ${tally.failMs.max}`
        : '';
      return `${phase}: ${tally.probes} probes, ${tally.ok} ok, ${nonZero(tally.codes)}${ms}`;
    })
    .join(' | ');
}

async function loseTunnelUnderLoad(
  world: StandIns,
  how: string,
  cut: (vault: NetnsHandle) => Promise<void>,
): Promise<void> {
  const vault = await upAndConnect(world);
  try {
    // Positive control: the host's own probe to the canary is counted as plaintext.
    const before = await world.meter();
    const control = await runProbes(world.host.handle, [{ kind: 'tcp', target: CANARY, port: 80 }]);
    await settle();
    const controlled = meterDelta(before, await world.meter());
    assert.ok(
      control[0].ok && controlled.plainHost > 0,
      `the meter counts: ${nonZero(controlled)}`,
    );

    const start = await world.meter();
    const loop = startProbeLoop(vault, {
      targets: TARGETS,
      count: PROBES,
      timeoutMs: 250,
      deadlineMs: 60_000,
      progressEvery: 100,
      intervalMs: 2,
    });
    const ping = pingCount(vault, CANARY, 300, 0.01);
    await loop.waitFor(new RegExp(`^progress ${CUT_AFTER}$`), 30_000);
    loop.send('phase cutting');
    const cutting = cut(vault);
    await waitUntilGone(vault, world.config.tunnel.interface);
    loop.send('phase gone');
    await cutting;
    const summary = await loop.result({ stop: false });
    const pinged = await ping;
    await settle();
    const delta = meterDelta(start, await world.meter());

    const { start: up, gone } = summary.phases;
    assert.ok(summary.probes >= 1000, `${summary.probes} probes`);
    assert.ok(up.ok > 0 && delta.tunnelled > 0, 'the canary answered through the tunnel first');
    assert.is(plaintext(delta), 0, `plaintext: ${nonZero(delta)}`);
    assert.is(delta.vaultNew, 0, 'no new flow from the vault into the host');
    assert.ok(gone && gone.probes > 0, 'probes ran after the tunnel was gone');
    assert.is(gone.ok, 0, 'nothing answers once the tunnel is gone');
    const slow = Object.keys(gone.codes).filter((code) => !REFUSALS.includes(code));
    assert.equal(slow, [], `refused at once, not timed out: ${nonZero(gone.codes)}`);
    assert.ok(pinged.transmitted + pinged.errors > 0, pinged.text);

    const routes = (await vault.routeList({ table: 'main' })).filter(
      (r) => r.destination === 'default',
    );
    assert.equal(
      routes.map((r) => `IPv${r.family} ${r.type} ${r.metric}`).sort(),
      ['IPv4 unreachable 4242', 'IPv6 unreachable 4242'],
      'only the unreachable fallbacks are left',
    );

    console.log(`  tunnel ${how}: ${summary.probes} probes; ${describe(summary)}`);
    console.log(
      `  tunnel ${how}: plaintext ${plaintext(delta)} pkts, new flows into host` +
        ` ${delta.vaultNew}, tunnelled ${delta.tunnelled}, host ICMP errors ${delta.hostIcmpErrors};` +
        ` ping: ${pinged.text}; control: ${controlled.plainHost} plaintext pkts from the host`,
    );
  } finally {
    vault.close();
  }
}

it('the tunnel deleted during 1500 probes: no leak, and the probes fail fast', async () => {
  const world = await buildStandIns('del');
  try {
    await loseTunnelUnderLoad(world, 'deleted', async (vault) => {
      await deleteInterface({ name: world.config.tunnel.interface, namespace: vault });
    });
  } finally {
    await world.dispose();
  }
});

it('wireguard-go killed during 1500 probes: no leak, and the probes fail fast', async () => {
  const world = await buildStandIns('kill');
  try {
    await loseTunnelUnderLoad(world, 'process killed', async () => {
      const pid = wireguardGoPid(world.config.tunnel.interface);
      assert.ok(pid, "the tunnel's wireguard-go runs");
      process.kill(pid!, 'SIGKILL');
    });
  } finally {
    await world.dispose();
  }
});

test.run();
