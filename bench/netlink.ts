// The same namespace work done in-process by @netvault/netns and by spawning iproute2, side by
// side in one run. Everything happens inside two throwaway namespaces made here.
//
//   node --conditions=source --import tsx bench/netlink.ts [--seconds N]
//
// (a) one cycle: veth pair with one end in the vault, addresses on both ends, both up, a default
//     route in the vault pinned to its end, delete the pair;
// (b) one listing: all links and all routes of a namespace holding 100 links.
import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import { execa } from 'execa';
import { createNamespace, deleteNamespace, openNamespace } from '@netvault/netns';
import { sweepTestNamespaces, uniqueName } from '@netvault/netns/testing';

const secondsArg = process.argv.indexOf('--seconds');
const budgetMs = 1000 * (secondsArg > 0 ? Number(process.argv[secondsArg + 1]) : 5);

async function rate(label: string, once: () => Promise<void>) {
  for (let i = 0; i < 3; i += 1) await once();
  let count = 0;
  const start = performance.now();
  while (performance.now() - start < budgetMs) {
    await once();
    count += 1;
  }
  const perSecond = count / ((performance.now() - start) / 1000);
  console.error(`  ${label}: ${perSecond.toFixed(1)} ops/s (${count} ops)`);
  return perSecond;
}

const ip = (...args: string[]) => execa('ip', args);

async function main() {
  if (process.getuid?.() !== 0) throw new Error('the netlink benchmark needs root (namespaces)');
  sweepTestNamespaces();
  const hostName = uniqueName('bhost');
  const vaultName = uniqueName('bvault');
  const listName = uniqueName('blist');
  for (const name of [hostName, vaultName, listName]) createNamespace(name);
  const host = openNamespace({ name: hostName });
  const vault = openNamespace({ name: vaultName });
  const listed = openNamespace({ name: listName });
  try {
    console.error('(a) veth cycle');
    const netvaultCycle = await rate('@netvault/netns', async () => {
      await host.vethAdd({ name: 'vh0', peerName: 'vv0', peerNamespace: vault });
      await host.addrAdd('vh0', '10.200.1.1/30');
      await vault.addrAdd('vv0', '10.200.1.2/30');
      await host.linkSetUp('vh0');
      await vault.linkSetUp('vv0');
      await vault.routeAdd({ destination: 'default', device: 'vv0' });
      await host.linkDelete('vh0');
    });
    const ipCycle = await rate('ip, one process per step', async () => {
      await ip(
        '-n',
        hostName,
        'link',
        'add',
        'vh0',
        'type',
        'veth',
        'peer',
        'name',
        'vv0',
        'netns',
        vaultName,
      );
      await ip('-n', hostName, 'addr', 'add', '10.200.1.1/30', 'dev', 'vh0');
      await ip('-n', vaultName, 'addr', 'add', '10.200.1.2/30', 'dev', 'vv0');
      await ip('-n', hostName, 'link', 'set', 'vh0', 'up');
      await ip('-n', vaultName, 'link', 'set', 'vv0', 'up');
      await ip('-n', vaultName, 'route', 'add', 'default', 'dev', 'vv0');
      await ip('-n', hostName, 'link', 'del', 'vh0');
    });
    const batchCycle = await rate('ip -batch, one process per namespace', async () => {
      await execa('ip', ['-n', hostName, '-batch', '-'], {
        input:
          `link add vh0 type veth peer name vv0 netns ${vaultName}\n` +
          'addr add 10.200.1.1/30 dev vh0\nlink set vh0 up\n',
      });
      await execa('ip', ['-n', vaultName, '-batch', '-'], {
        input: 'addr add 10.200.1.2/30 dev vv0\nlink set vv0 up\nroute add default dev vv0\n',
      });
      await ip('-n', hostName, 'link', 'del', 'vh0');
    });

    console.error('(b) list links and routes of a namespace with 100 links');
    for (let i = 0; i < 50; i += 1) {
      await listed.vethAdd({ name: `la${i}`, peerName: `lb${i}` });
      await listed.addrAdd(`la${i}`, `10.${100 + (i >> 4)}.${i & 15}.1/24`);
      await listed.linkSetUp(`la${i}`);
      await listed.linkSetUp(`lb${i}`);
    }
    const links = (await listed.linkList()).length;
    const routes = (await listed.routeList({ table: 'all' })).length;
    console.error(`  ${links} links, ${routes} routes in all tables`);
    const netvaultList = await rate('@netvault/netns', async () => {
      await listed.linkList();
      await listed.routeList({ table: 'all' });
    });
    const ipList = await rate('ip -j, parsed', async () => {
      JSON.parse((await ip('-n', listName, '-j', 'link', 'show')).stdout);
      JSON.parse((await ip('-n', listName, '-j', 'route', 'show', 'table', 'all')).stdout);
    });

    const version = execFileSync('ip', ['-V'], { encoding: 'utf8' }).trim();
    const row = (name: string, ours: number, theirs: number) =>
      `| ${name} | ${ours.toFixed(0)} | ${theirs.toFixed(1)} | ${(ours / theirs).toFixed(1)}× |`;
    console.log(
      `\nCPU: ${cpus()[0]?.model ?? 'unknown'} (${cpus().length} cores), Node ${process.version}, ${version}`,
    );
    console.log(`${budgetMs / 1000} s per measurement\n`);
    console.log('| work | @netvault/netns ops/s | iproute2 ops/s | ratio |');
    console.log('| --- | ---: | ---: | ---: |');
    console.log(row('(a) veth cycle vs `ip` per step', netvaultCycle, ipCycle));
    console.log(row('(a) veth cycle vs `ip -batch`', netvaultCycle, batchCycle));
    console.log(
      row(`(b) list ${links} links + ${routes} routes vs \`ip -j\``, netvaultList, ipList),
    );
  } finally {
    host.close();
    vault.close();
    listed.close();
    for (const name of [hostName, vaultName, listName]) deleteNamespace(name);
  }
}

await main();
