// `netvault watch`: it notices the tunnel going away, says so, repairs it with `up`, and never
// gives the vault another way out in the meantime.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { privilegedTest } from '@netvault/netns/testing';
import { deleteInterface } from '@netvault/wg';
import type { Change } from '../src/changes.ts';
import { watch } from '../src/watch.ts';
import { RESOLVER, buildStandIns, upAndConnect } from './fixtures/topology.ts';

const it = privilegedTest(test, 'watch tests');

it('watch reports loss and recovery and repairs the tunnel', async () => {
  const world = await buildStandIns('wt');
  try {
    const vault = await upAndConnect(world);
    try {
      const said: string[] = [];
      const changes: Change[] = [];
      // Without a keepalive, WireGuard shakes hands when there is something to send: a slow
      // ping from inside the vault gives the repaired tunnel its first packets.
      const pinger = vault.spawn('ping', ['-i', '0.5', '-c', '14', '-W', '1', RESOLVER], {
        stdio: 'ignore',
        reject: false,
      });
      const watching = watch(world.config, {
        intervalSeconds: 1,
        rounds: 5,
        report: (c) => changes.push(c),
        say: (line) => said.push(line),
      });
      await new Promise((resolve) => setTimeout(resolve, 300));
      await deleteInterface({ name: world.config.tunnel.interface, namespace: vault });

      // While the tunnel is gone, the only defaults left are the unreachable fallbacks.
      const defaults = (await vault.routeList({ table: 'all' })).filter(
        (route) => route.destination === 'default',
      );
      assert.ok(
        defaults.length > 0 && defaults.every((route) => route.type === 'unreachable'),
        JSON.stringify(defaults),
      );

      assert.is(await watching, 0);
      pinger.kill();
      await pinger;
      assert.equal(
        said.map((line) => line.replace(/^\S+ /, '').split(':')[0]),
        ['tunnel up', `tunnel lost`, 'tunnel recovered'],
        said.join('\n'),
      );
      assert.match(said[1], /is gone; the vault has no way out/);
      assert.ok(
        changes.some(
          (c) => c.sign === '+' && c.text.startsWith(`link add ${world.config.tunnel.interface}`),
        ),
      );

      const link = await vault.linkGet(world.config.tunnel.interface);
      assert.ok(link.up, 'the tunnel is back');
      const out = (await vault.routeList({ table: 'all' })).filter(
        (route) => route.destination === 'default' && route.type === 'unicast',
      );
      assert.ok(out.length > 0 && out.every((route) => route.deviceIndex === link.index));
    } finally {
      vault.close();
    }
  } finally {
    await world.dispose();
  }
});

test.run();
