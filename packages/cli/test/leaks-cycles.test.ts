// 50 `up`/`down` cycles under a probe loop. Each cycle a probe process enters the vault as soon
// as its namespace exists (while `up` is still building it), keeps probing through the time the
// vault is up and through `down`, and a little after, in the namespace `down` let go of. The
// provider's meter must count no plaintext over all cycles, the host's no new flow.
import { statSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { namespaceExists } from '@netvault/netns';
import { privilegedTest } from '@netvault/netns/testing';
import { readCounters } from '../src/firewall.ts';
import { down, tableName, up } from '../src/topology.ts';
import {
  CANARY,
  HOST_VETH,
  RESOLVER,
  buildStandIns,
  meterDelta,
  nonZero,
  plaintext,
  runProbes,
  settle,
  startProbeLoop,
  type LoopTarget,
  type PhaseTally,
} from './fixtures/topology.ts';

const it = privilegedTest(test, 'CLI leak tests (up/down cycles)');

const CYCLES = 50;
const TARGETS: LoopTarget[] = [
  { kind: 'tcp', host: CANARY, port: 80 },
  { kind: 'udp', host: CANARY, port: 47913 },
  { kind: 'udp', host: RESOLVER, port: 53 },
  { kind: 'udp', host: HOST_VETH, port: 53 },
  { kind: 'tcp', host: CANARY, port: 47913 },
];

/** True once /run/netns/NAME is a mount of a namespace, not a plain file of /run. */
function mounted(name: string): boolean {
  try {
    return statSync(`/run/netns/${name}`).dev !== statSync('/run/netns').dev;
  } catch {
    return false;
  }
}

function add(into: Record<string, PhaseTally>, phases: Record<string, PhaseTally>): void {
  for (const [phase, tally] of Object.entries(phases)) {
    const sum = (into[phase] ??= { probes: 0, ok: 0, codes: {}, okTargets: {} });
    sum.probes += tally.probes;
    sum.ok += tally.ok;
    for (const [code, n] of Object.entries(tally.codes))
      sum.codes[code] = (sum.codes[code] ?? 0) + n;
  }
}

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

it(`${CYCLES} up/down cycles under a probe loop: no leak`, async () => {
  const world = await buildStandIns('cyc');
  const { config } = world;
  try {
    // Positive control: the host's own probe to the canary is counted as plaintext.
    const before = await world.meter();
    const control = await runProbes(world.host.handle, [
      { kind: 'udp', target: CANARY, port: 47913 },
    ]);
    await settle();
    const controlled = meterDelta(before, await world.meter());
    assert.ok(
      control[0].ok && controlled.plainHost > 0,
      `the meter counts: ${nonZero(controlled)}`,
    );

    const start = await world.meter();
    const phases: Record<string, PhaseTally> = {};
    const timings = { up: [] as number[], down: [] as number[], cycle: [] as number[] };
    for (let cycle = 0; cycle < CYCLES; cycle += 1) {
      const began = performance.now();
      let upDone = false;
      const building = up(config, () => {}).finally(() => {
        upDone = true;
      });
      while (!mounted(config.vault) && !upDone) await settle(1);
      const loop = startProbeLoop(
        { path: `/run/netns/${config.vault}` },
        {
          targets: TARGETS,
          count: 4000,
          timeoutMs: 150,
          deadlineMs: 20_000,
          progressEvery: 5,
          intervalMs: 2,
        },
      );
      try {
        await building;
        timings.up.push(performance.now() - began);
        loop.send('phase up');
        // The loop prints a line every 5 probes: 20 more while the vault is up, 10 after down.
        const reached = (lines: number) =>
          loop.waitFor(new RegExp(`^progress ${5 * lines}$`), 10_000);
        await reached(loop.lines.length + 4);

        loop.send('phase down');
        const tearing = performance.now();
        await down(config, () => {});
        timings.down.push(performance.now() - tearing);
        loop.send('phase after');
        await reached(loop.lines.length + 2);
        add(phases, (await loop.result()).phases);
      } finally {
        loop.kill();
      }
      timings.cycle.push(performance.now() - began);
    }
    await settle();
    const delta = meterDelta(start, await world.meter());

    const total = Object.values(phases).reduce((sum, tally) => sum + tally.probes, 0);
    assert.ok(phases.up.ok > 0 && delta.tunnelled > 0, 'the canary answered through the tunnel');
    assert.is(plaintext(delta), 0, `plaintext: ${nonZero(delta)}`);
    assert.is(delta.vaultNew, 0, 'no new flow from the vault into the host');
    assert.is(phases.after?.ok ?? 0, 0, 'nothing answers in the namespace down let go of');
    assert.not.ok(namespaceExists(config.vault), 'the vault is gone');
    assert.is(
      (await readCounters(world.host.handle, 'nvtmeter')).vault_new.packets,
      start.vaultNew,
    );
    const hostTable = await world.host.handle.exec('nft', [
      'list',
      'table',
      'inet',
      tableName(config, 'host'),
    ]);
    assert.is.not(hostTable.exitCode, 0, 'the host table is gone');

    const phaseText = Object.entries(phases)
      .map(([phase, t]) => `${phase} ${t.probes} (${t.ok} ok; ${nonZero(t.codes)})`)
      .join(', ');
    console.log(`  cycles: ${CYCLES} up/down, ${total} probes: ${phaseText}`);
    console.log(
      `  cycles: plaintext ${plaintext(delta)} pkts, new flows into host ${delta.vaultNew},` +
        ` tunnelled ${delta.tunnelled}, host ICMP errors ${delta.hostIcmpErrors};` +
        ` control: ${controlled.plainHost} plaintext pkts from the host; median up` +
        ` ${Math.round(median(timings.up))} ms, down ${Math.round(median(timings.down))} ms,` +
        ` whole cycle ${Math.round(median(timings.cycle))} ms` +
        ` (max ${Math.round(Math.max(...timings.cycle))})`,
    );
  } finally {
    await world.dispose();
  }
});

test.run();
