// `netvault gc` removes only what carries netvault's mark, and only for vaults that are gone.
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createTestNamespace, privilegedTest, uniqueName } from '@netvault/netns/testing';
import { applyRuleset, listNetvaultTables, readTable } from '../src/firewall.ts';
import { hostRuleset } from '../src/firewall-ruleset.ts';
import { RESOLV_MARK, gc } from '../src/gc.ts';
import type { Change } from '../src/changes.ts';

const it = privilegedTest(test, 'gc tests');

it('gc removes marked leftovers of vanished vaults and nothing else', async () => {
  const host = createTestNamespace('gchost');
  const ghost = uniqueName('ghost');
  const foreign = uniqueName('foreign');
  const kept = host.name;
  const dirs = [`/etc/netns/${ghost}`, `/etc/netns/${foreign}`];
  try {
    await host.handle.vethAdd({ name: 'veth-host', peerName: 'veth-gone' });
    await host.handle.linkSetAlias('veth-host', `netvault:${ghost}`);
    await host.handle.vethAdd({ name: 'other-a', peerName: 'other-b' });
    await host.handle.linkSetAlias('other-a', 'somebody else');
    await applyRuleset(
      host.handle,
      hostRuleset({
        vaultName: ghost.replace(/[^A-Za-z0-9_-]/g, '-'),
        tableName: 'netvault-ghost',
        vethInterface: 'veth-host',
        hostVethAddress: '10.200.1.1',
        vaultVethAddress: '10.200.1.2',
      }),
    );
    await host.handle.exec('nft', ['-f', '-'], { input: 'table inet theirs { }\n' });
    mkdirSync(dirs[0], { recursive: true });
    writeFileSync(
      `${dirs[0]}/resolv.conf`,
      `${RESOLV_MARK}: the tunnel's resolvers only\nnameserver 10.64.0.1\n`,
    );
    mkdirSync(dirs[1], { recursive: true });
    writeFileSync(`${dirs[1]}/resolv.conf`, 'nameserver 198.18.53.53\n');

    const changes: Change[] = [];
    await gc(host.handle, (c) => changes.push(c), [kept]);
    const removed = changes.filter((c) => c.sign === '-').map((c) => c.text);
    assert.is(removed.length, 3, removed.join('\n'));
    assert.is(await host.handle.linkFind('veth-host'), undefined);
    assert.ok(await host.handle.linkFind('other-a'), 'an unmarked link is left alone');
    assert.is(await readTable(host.handle, 'inet', 'netvault-ghost'), undefined);
    assert.ok(await readTable(host.handle, 'inet', 'theirs'), 'an unmarked table is left alone');
    assert.equal(await listNetvaultTables(host.handle), []);
    assert.not.ok(existsSync(dirs[0]));
    assert.ok(existsSync(dirs[1]), 'a resolv.conf netvault did not write is left alone');

    const again: Change[] = [];
    await gc(host.handle, (c) => again.push(c), [kept]);
    assert.equal(
      again.map((c) => c.sign),
      ['='],
    );
  } finally {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    host.dispose();
  }
});

test.run();
