// The generated nft scripts and the nft calls around them, without root: the text is checked
// line by line, and nft itself is replaced by a recording double.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ExecOptions, ExecResult } from '@netvault/netns';
import {
  FirewallError,
  applyRuleset,
  deleteTable,
  formatTableMark,
  hostRuleset,
  listNetvaultTables,
  parseTableMark,
  readCounters,
  readTable,
  scriptTable,
  tableFingerprint,
  vaultRuleset,
  type CommandRunner,
  type HostRulesetOptions,
  type VaultRulesetOptions,
} from '../src/firewall.ts';

const vaultOptions: VaultRulesetOptions = {
  vaultName: 'media-vault',
  tunnelInterface: 'privado',
  vethInterface: 'veth-vault',
  hostVethAddress: '10.200.1.1/30',
  vaultVethAddress: '10.200.1.2/30',
  dnsServers: ['198.18.1.53', '2001:2:1::53'],
  tunnelHasIpv6: false,
};

const hostOptions: HostRulesetOptions = {
  vaultName: 'media-vault',
  vethInterface: 'veth-host',
  hostVethAddress: '10.200.1.1',
  vaultVethAddress: '10.200.1.2',
};

const lines = (script: string) => script.split('\n').map((line) => line.trim());

/** The lines of one chain's body. */
function chain(script: string, name: string): string[] {
  const all = lines(script);
  const start = all.indexOf(`chain ${name} {`);
  assert.ok(start >= 0, `chain ${name} is missing`);
  return all.slice(start + 1, all.indexOf('}', start));
}

function refuses(build: () => unknown, pattern: RegExp) {
  try {
    build();
  } catch (error) {
    assert.instance(error, FirewallError);
    assert.is((error as FirewallError).op, 'ruleset');
    assert.match((error as Error).message, pattern);
    return;
  }
  assert.unreachable(`accepted, expected ${pattern}`);
}

test('the vault script replaces its table in one transaction and marks it', () => {
  const script = vaultRuleset(vaultOptions);
  const all = lines(script);
  const header = all.filter((line) => line.startsWith('table ') || line.startsWith('delete '));
  assert.equal(header, [
    'table inet netvault-media-vault { }',
    'delete table inet netvault-media-vault',
    'table inet netvault-media-vault {',
  ]);
  assert.ok(all.includes('comment "netvault:vault=media-vault,role=vault"'));
  assert.equal(scriptTable(script), { family: 'inet', name: 'netvault-media-vault' });
  for (const name of ['input', 'output', 'forward']) {
    assert.ok(chain(script, name)[0].endsWith('policy drop;'), `${name} drops by default`);
  }
  const counters = ['leak_out', 'leak_veth', 'leak_dns', 'leak_ipv6', 'leak_forward', 'drop_in'];
  for (const counter of counters) {
    assert.ok(
      all.some((line) => line.startsWith(`counter ${counter} {`)),
      counter,
    );
  }
});

test('the vault lets out only tunnel traffic, veth replies and DNS to the resolvers', () => {
  const script = vaultRuleset(vaultOptions);
  assert.equal(chain(script, 'output').slice(1), [
    'oifname "lo" accept',
    'meta nfproto ipv6 counter name leak_ipv6 drop',
    'oifname "veth-vault" jump output_veth',
    'meta l4proto { tcp, udp } th dport { 53, 853, 5353, 5355 } jump output_dns',
    'oifname "privado" accept',
    'counter name leak_out drop',
  ]);
  assert.equal(chain(script, 'output_veth'), [
    'ip saddr 10.200.1.2 ip daddr 10.200.1.1 ct direction reply ct state established,related accept',
    'counter name leak_veth drop',
  ]);
  assert.equal(chain(script, 'output_dns'), [
    'oifname "privado" ip daddr @dns_v4 accept',
    'oifname "privado" ip6 daddr @dns_v6 accept',
    'counter name leak_dns drop',
  ]);
  assert.ok(lines(script).includes('set dns_v4 { type ipv4_addr; elements = { 198.18.1.53 }; }'));
  assert.ok(lines(script).includes('set dns_v6 { type ipv6_addr; elements = { 2001:2:1::53 }; }'));
});

test('tunnelHasIpv6 lifts the IPv6 drop and admits neighbour discovery on the tunnel only', () => {
  const without = vaultRuleset(vaultOptions);
  const withIpv6 = vaultRuleset({ ...vaultOptions, tunnelHasIpv6: true });
  assert.ok(chain(without, 'output').includes('meta nfproto ipv6 counter name leak_ipv6 drop'));
  assert.not.ok(chain(withIpv6, 'output').some((line) => line.includes('nfproto ipv6')));
  assert.not.ok(chain(without, 'input').some((line) => line.includes('icmpv6')));
  const nd = chain(withIpv6, 'input').filter((line) => line.includes('icmpv6'));
  assert.equal(nd.length, 1);
  assert.ok(nd[0].startsWith('iifname "privado" icmpv6 type'));
  // The veth still only answers the host in IPv4, so link-local there stays closed.
  assert.equal(chain(withIpv6, 'output_veth'), chain(without, 'output_veth'));
});

test('servicePorts narrows what the host may open; without it any TCP port from the host', () => {
  const any = chain(vaultRuleset(vaultOptions), 'input_veth');
  assert.ok(
    any.includes('ip saddr 10.200.1.1 ip daddr 10.200.1.2 meta l4proto tcp ct state new accept'),
  );
  const some = chain(
    vaultRuleset({ ...vaultOptions, servicePorts: [8989, 7878, 8989] }),
    'input_veth',
  );
  assert.ok(
    some.includes(
      'ip saddr 10.200.1.1 ip daddr 10.200.1.2 tcp dport { 7878, 8989 } ct state new accept',
    ),
  );
  assert.equal(chain(vaultRuleset({ ...vaultOptions, servicePorts: [] }), 'input_veth'), any);
});

test('names and addresses land where they belong, canonical', () => {
  const script = vaultRuleset({
    ...vaultOptions,
    vaultName: 'v2',
    tableName: 'nv_custom',
    tunnelInterface: 'wg0',
    vethInterface: 'vv0',
    hostVethAddress: '10.9.0.1',
    vaultVethAddress: '10.9.0.2',
    dnsServers: ['2001:0002:0001:0000:0000:0000:0000:0053', '10.64.0.1', '10.64.0.1'],
  });
  assert.equal(scriptTable(script), { family: 'inet', name: 'nv_custom' });
  assert.ok(script.includes('comment "netvault:vault=v2,role=vault"'));
  assert.ok(chain(script, 'output').includes('oifname "wg0" accept'));
  assert.ok(chain(script, 'output').includes('oifname "vv0" jump output_veth'));
  assert.ok(chain(script, 'input_veth')[0].startsWith('ip saddr 10.9.0.1 ip daddr 10.9.0.2'));
  assert.ok(script.includes('elements = { 10.64.0.1 };'));
  assert.ok(script.includes('elements = { 2001:2:1::53 };'));
  assert.not.ok(script.includes('privado') || script.includes('veth-vault'));
});

test('no DNS servers: the sets are empty and every name lookup is dropped', () => {
  const script = vaultRuleset({ ...vaultOptions, dnsServers: [] });
  assert.ok(lines(script).includes('set dns_v4 { type ipv4_addr; }'));
  assert.ok(lines(script).includes('set dns_v6 { type ipv6_addr; }'));
});

test('the host script drops forwarding both ways and all but replies from the vault', () => {
  const script = hostRuleset(hostOptions);
  assert.ok(script.includes('comment "netvault:vault=media-vault,role=host"'));
  assert.equal(chain(script, 'forward'), [
    'type filter hook forward priority filter - 10; policy accept;',
    'iifname "veth-host" counter name leak_forward drop',
    'oifname "veth-host" counter name leak_forward drop',
  ]);
  assert.equal(chain(script, 'input').slice(1), ['iifname "veth-host" jump input_vault']);
  assert.equal(chain(script, 'input_vault'), [
    'meta nfproto ipv6 counter name leak_ipv6 drop',
    'ip saddr 10.200.1.2 ip daddr 10.200.1.1 ct state established,related accept',
    'counter name leak_input drop',
  ]);
});

test('the host opens only the ports it names to the vault', () => {
  const script = hostRuleset({ ...hostOptions, hostTcpPorts: [10023], hostUdpPorts: [514] });
  assert.equal(chain(script, 'input_vault').slice(2, 4), [
    'ip saddr 10.200.1.2 ip daddr 10.200.1.1 tcp dport { 10023 } ct state new accept',
    'ip saddr 10.200.1.2 ip daddr 10.200.1.1 udp dport { 514 } ct state new accept',
  ]);
});

test('options that could carry nft syntax or make no sense are refused', () => {
  const v = (patch: Partial<VaultRulesetOptions>) => () =>
    vaultRuleset({ ...vaultOptions, ...patch });
  const h = (patch: Partial<HostRulesetOptions>) => () => hostRuleset({ ...hostOptions, ...patch });
  refuses(v({ tunnelInterface: 'a-name-of-16-chr' }), /tunnel interface.*1 to 15/);
  refuses(v({ tunnelInterface: 'wg0" accept #' }), /tunnel interface/);
  refuses(v({ tunnelInterface: 'wg*' }), /tunnel interface/);
  refuses(v({ tunnelInterface: '' }), /tunnel interface/);
  refuses(v({ tunnelInterface: 'lo' }), /loopback/);
  refuses(v({ vethInterface: 'privado' }), /must differ/);
  refuses(v({ vethInterface: 'veth\nvault' }), /veth interface/);
  refuses(v({ hostVethAddress: '10.200.1.1; flush ruleset' }), /host veth address/);
  refuses(v({ hostVethAddress: '10.200.1.256' }), /host veth address/);
  refuses(v({ hostVethAddress: 'fe80::1' }), /expected an IPv4 address/);
  refuses(v({ vaultVethAddress: '10.200.1.1' }), /must differ/);
  refuses(v({ dnsServers: ['fe80::1%veth-vault'] }), /DNS server/);
  refuses(v({ dnsServers: ['198.18.1.0/24'] }), /DNS server/);
  refuses(v({ dnsServers: ['198.18.1.53 } accept'] }), /DNS server/);
  refuses(v({ dnsServers: '198.18.1.53' as never }), /DNS servers/);
  refuses(v({ servicePorts: [0] }), /service ports 0/);
  refuses(v({ servicePorts: [65536] }), /service ports/);
  refuses(v({ servicePorts: [80.5] }), /service ports/);
  refuses(v({ tunnelHasIpv6: 'no' as never }), /tunnelHasIpv6/);
  refuses(v({ vaultName: 'media"vault' }), /vault name/);
  refuses(v({ vaultName: 'x'.repeat(49) }), /vault name/);
  refuses(v({ vaultName: '-vault' }), /vault name/);
  refuses(v({ tableName: 'netvault vault' }), /table name/);
  refuses(v({ tableName: '1table' }), /table name/);
  refuses(h({ vethInterface: 'veth host' }), /veth interface/);
  refuses(h({ hostTcpPorts: [-1] }), /host TCP ports/);
  refuses(h({ hostUdpPorts: [70000] }), /host UDP ports/);
});

test("table marks round-trip and foreign comments are not netvault's", () => {
  const mark = { vault: 'media-vault', role: 'host' as const };
  assert.equal(parseTableMark(formatTableMark(mark)), mark);
  assert.is(parseTableMark('netvault:vault=media-vault'), undefined);
  assert.is(parseTableMark('netvault:vault=x,role=other'), undefined);
  assert.is(parseTableMark('managed by someone else'), undefined);
  assert.is(parseTableMark(undefined), undefined);
});

/** Records the nft calls and answers them from a list of canned results. */
function fakeNft(answers: Array<Partial<ExecResult>>) {
  const calls: Array<{ args: string[]; input?: string }> = [];
  const runner: CommandRunner = {
    async exec(command: string, args: string[] = [], options: ExecOptions = {}) {
      assert.is(command, 'nft');
      calls.push({ args, input: options.input });
      const answer = answers.shift() ?? {};
      return {
        command: [command, ...args].join(' '),
        exitCode: 0,
        signal: undefined,
        stdout: '',
        stderr: '',
        ...answer,
      };
    },
  };
  return { runner, calls };
}

test('applyRuleset checks before it applies and stops at a failed check', async () => {
  const script = vaultRuleset(vaultOptions);
  const ok = fakeNft([{}, {}]);
  await applyRuleset(ok.runner, script);
  assert.equal(
    ok.calls.map((call) => call.args),
    [['-f', '-']],
  );
  assert.is(ok.calls[0].input, script);

  const broken = `${script}\ntable inet netvault-media-vault {\n\tchain c {\n\t\tbogus\n\t}\n}\n`;
  const stderr =
    '/dev/stdin:59:3-7: Error: syntax error, unexpected string\n\t\tbogus\n\t\t^^^^^\n';
  const failing = fakeNft([{ exitCode: 1, stderr }]);
  try {
    await applyRuleset(failing.runner, broken);
    assert.unreachable('a refused script must throw');
  } catch (error) {
    assert.instance(error, FirewallError);
    const failure = error as FirewallError;
    assert.is(failure.op, 'nft apply');
    assert.is(failure.table, 'inet netvault-media-vault');
    assert.is(failure.exitCode, 1);
    assert.is(failure.line, 59);
    assert.is(failure.lineText, broken.split('\n')[58]);
    assert.match(failure.message, /syntax error, unexpected string/);
    assert.match(failure.message, /at script line 59/);
  }
  assert.is(failing.calls.length, 1, 'one transaction, nothing else');
});

const listing = {
  nftables: [
    { metainfo: { version: '1.0.6', json_schema_version: 1 } },
    { table: { family: 'inet', name: 't', handle: 7 } },
    {
      counter: { family: 'inet', name: 'leak_out', table: 't', handle: 3, packets: 5, bytes: 420 },
    },
    { chain: { family: 'inet', table: 't', name: 'output', handle: 1, policy: 'drop' } },
    {
      rule: {
        family: 'inet',
        table: 't',
        chain: 'output',
        handle: 9,
        expr: [{ counter: { packets: 2, bytes: 80 } }, { counter: 'leak_out' }, { drop: null }],
      },
    },
  ],
};

test('readTable parses JSON, takes the comment from text, fingerprints without counts', async () => {
  const text = 'table inet t {\n\tcomment "netvault:vault=v,role=vault"\n\tcounter leak_out {\n';
  const fake = fakeNft([{ stdout: JSON.stringify(listing) }, { stdout: text }]);
  const table = await readTable(fake.runner, 'inet', 't');
  assert.ok(table);
  assert.is(table.comment, 'netvault:vault=v,role=vault');
  assert.equal(table.mark, { vault: 'v', role: 'vault' });
  assert.equal(table.counters, { leak_out: { packets: 5, bytes: 420 } });
  assert.is(table.objects.length, 4);

  const later = structuredClone(listing);
  (later.nftables[2].counter as { packets: number }).packets = 500;
  (later.nftables[1].table as { handle: number }).handle = 12;
  const again = await readTable(
    fakeNft([{ stdout: JSON.stringify(later) }, { stdout: text }]).runner,
    'inet',
    't',
  );
  assert.is(tableFingerprint(again!), tableFingerprint(table));

  const changed = structuredClone(listing);
  (changed.nftables[3].chain as { policy: string }).policy = 'accept';
  const other = await readTable(
    fakeNft([{ stdout: JSON.stringify(changed) }, { stdout: text }]).runner,
    'inet',
    't',
  );
  assert.is.not(tableFingerprint(other!), tableFingerprint(table));
});

test('absent tables: readTable gives undefined, deleteTable false, readCounters throws', async () => {
  const absent = { exitCode: 1, stderr: 'Error: No such file or directory\nlist table inet t\n' };
  assert.is(await readTable(fakeNft([absent]).runner, 'inet', 't'), undefined);
  assert.is(await deleteTable(fakeNft([absent]).runner, 'inet', 't'), false);
  assert.is(await deleteTable(fakeNft([{}]).runner, 'inet', 't'), true);
  try {
    await readCounters(fakeNft([absent]).runner, 't');
    assert.unreachable('expected a FirewallError');
  } catch (error) {
    assert.instance(error, FirewallError);
    assert.ok((error as FirewallError).isNotFound());
  }
});

test('table names given to nft calls are checked too', async () => {
  for (const name of ['t; flush ruleset', '', 'a b']) {
    try {
      await readTable(fakeNft([]).runner, 'inet', name);
      assert.unreachable(`accepted ${JSON.stringify(name)}`);
    } catch (error) {
      assert.instance(error, FirewallError);
    }
  }
});

test("listNetvaultTables keeps only tables marked as netvault's", async () => {
  const ruleset = [
    'table inet filter {',
    '\tchain input {',
    '\t}',
    '}',
    'table inet netvault-media-vault {',
    '\tcomment "netvault:vault=media-vault,role=host"',
    '\tcounter leak_forward {',
    '}',
    'table ip nat {',
    '\tcomment "someone else\'s"',
    '}',
  ].join('\n');
  const found = await listNetvaultTables(fakeNft([{ stdout: ruleset }]).runner);
  assert.equal(found, [
    {
      family: 'inet',
      name: 'netvault-media-vault',
      comment: 'netvault:vault=media-vault,role=host',
      mark: { vault: 'media-vault', role: 'host' },
    },
  ]);
});

test.run();
