// parseConfig against the real `wg setconf`: whatever the parser accepts, `wg` accepts once the
// wg-quick-only keys are stripped, and whatever `wg` rejects, the parser rejects. Runs as root.
//
//   nvt-<pid>-wgcfg1: a namespace of this test, lo down, nothing else
//   ┌──────────────────────────────────────────────────┐
//   │ wireguard-go -f nvtwg<pid>   (device stays down) │◄── wg setconf nvtwg<pid> FILE
//   └──────────────────────────────────────────────────┘
//
// `wg setconf` only loads configuration: with the device down and no link up in the namespace
// nothing is sent anywhere. Corpus endpoints are 198.18.0.0/15, 127.0.0.1, ::1 or host names.
//
// Host names: `wg` resolves an Endpoint host while it loads the file. So that no lookup ever
// leaves the machine (a host's nscd or systemd-resolved sits outside the namespace), each `wg`
// runs with a private /etc/nsswitch.conf (`hosts: files`), a private /etc/hosts and nscd's
// socket hidden, all bind mounts in the mount namespace `ip netns exec` makes for that one
// command. The hosts file names localhost and the Endpoint hosts of the corpus's `accepts`
// files (198.18.255.x). A host name it does not know fails to resolve: that says nothing about
// the syntax, so such files (`# wg: unresolvable`) and mutants are left out of the "wg must
// accept" direction; the parser still has to accept them.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isRoot, uniqueName } from '@netvault/netns/testing';
import { execa } from 'execa';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { formatConfig, parseConfig, stripWgQuickKeys } from '../src/config.js';
import type { WgQuickConfig } from '../src/config-types.js';
import { readCorpus, type CorpusFile } from './fixtures/configs/corpus.js';

const socketDir = '/var/run/wireguard';
const resolutionFailure = /Name or service not known|name resolution|No address associated/i;

// Run inside `ip netns exec`: private name service files, then exec the command.
const privateResolver = [
  'mount --bind "$1" /etc/nsswitch.conf',
  'mount --bind "$2" /etc/hosts',
  'for dir in /run/nscd /var/run/nscd; do',
  '  if [ -d "$dir" ]; then mount -t tmpfs -o ro,size=4k none "$dir"; fi',
  'done',
  'shift 2',
  'exec "$@"',
].join('\n');

function missingTool(): string | undefined {
  for (const tool of ['ip', 'wg', 'wireguard-go']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `needs ${tool} on PATH`;
  }
  return undefined;
}

const skip = isRoot() ? missingTool() : 'needs root (a namespace and a wireguard-go device)';
if (skip) console.log(`config-wg: differential test against wg skipped: ${skip}`);
const it = skip ? test.skip : test;

interface Bench {
  namespace: string;
  device: string;
  dir: string;
  daemon: ChildProcess | undefined;
  namespaceMade: boolean;
}

const bench: Bench = {
  namespace: uniqueName('wgcfg'),
  device: `nvtwg${process.pid.toString(36)}`,
  dir: '',
  daemon: undefined,
  namespaceMade: false,
};

function tearDown(): void {
  if (bench.daemon?.pid !== undefined && bench.daemon.exitCode === null) {
    try {
      process.kill(bench.daemon.pid, 'SIGTERM');
    } catch {
      // Already gone.
    }
  }
  if (bench.namespaceMade) {
    spawnSync('ip', ['netns', 'del', bench.namespace]);
    bench.namespaceMade = false;
  }
  rmSync(join(socketDir, `${bench.device}.sock`), { force: true });
  if (bench.dir !== '') rmSync(bench.dir, { recursive: true, force: true });
  bench.dir = '';
}

/** Endpoint hosts of the files `wg` must accept: the private hosts file resolves them. */
function hostsFile(corpus: CorpusFile[]): string {
  const names = new Set<string>();
  for (const file of corpus) {
    if (file.wg !== 'accepts') continue;
    for (const [, host] of file.text.matchAll(/^\s*endpoint\s*=\s*([A-Za-z][^:\s]*):/gim)) {
      if (host.toLowerCase() !== 'localhost') names.add(host.toLowerCase());
    }
  }
  const lines = ['127.0.0.1 localhost'];
  [...names].sort().forEach((name, index) => lines.push(`198.18.255.${index + 1} ${name}`));
  return `${lines.join('\n')}\n`;
}

async function setUp(): Promise<void> {
  bench.dir = mkdtempSync(join(tmpdir(), 'nv-config-wg-'));
  writeFileSync(join(bench.dir, 'nsswitch.conf'), 'hosts: files\n');
  writeFileSync(join(bench.dir, 'hosts'), hostsFile(readCorpus()));
  await execa('ip', ['netns', 'add', bench.namespace]);
  bench.namespaceMade = true;

  // Daemon mode does not work under `ip netns exec`; the foreground one, started detached, does.
  const daemon = spawn(
    'ip',
    ['netns', 'exec', bench.namespace, 'wireguard-go', '-f', bench.device],
    { stdio: ['ignore', 'ignore', 'pipe'], detached: true },
  );
  bench.daemon = daemon;
  let stderr = '';
  daemon.stderr?.on('data', (chunk) => {
    stderr += chunk;
  });

  const socket = join(socketDir, `${bench.device}.sock`);
  for (let attempt = 0; !existsSync(socket); attempt += 1) {
    if (daemon.exitCode !== null || attempt === 200) {
      throw new Error(`wireguard-go did not start (exit ${daemon.exitCode}): ${stderr.trim()}`);
    }
    await sleep(25);
  }
}

if (!skip) {
  process.on('exit', tearDown);
  try {
    await setUp();
  } catch (error) {
    tearDown();
    throw error;
  }
}

test.after(tearDown);

interface SetconfResult {
  ok: boolean;
  stderr: string;
}

/** `wg setconf DEVICE FILE` inside the namespace, FILE holding `text` (mode 0600). */
async function setconf(text: string): Promise<SetconfResult> {
  const file = join(bench.dir, 'case.conf');
  writeFileSync(file, text, { mode: 0o600 });
  const resolver = [join(bench.dir, 'nsswitch.conf'), join(bench.dir, 'hosts')];
  const result = await execa(
    'ip',
    [
      'netns',
      'exec',
      bench.namespace,
      'sh',
      '-c',
      privateResolver,
      'sh',
      ...resolver,
      'wg',
      'setconf',
      bench.device,
      file,
    ],
    { reject: false, env: { WG_ENDPOINT_RESOLUTION_RETRIES: '0' } },
  );
  return { ok: result.exitCode === 0, stderr: String(result.stderr) };
}

/** `wg showconf DEVICE`, parsed: what `wg` made of the last file it took. */
async function showconf(): Promise<WgQuickConfig> {
  const { stdout } = await execa('ip', [
    'netns',
    'exec',
    bench.namespace,
    'wg',
    'showconf',
    bench.device,
  ]);
  return parseConfig(stdout, { source: 'wg showconf' });
}

function parses(text: string): WgQuickConfig | undefined {
  try {
    return parseConfig(text);
  } catch {
    return undefined;
  }
}

/** The parser's view and `wg`'s view of the same file agree on what `wg` keeps. */
function assertSameAsWg(ours: WgQuickConfig, wg: WgQuickConfig): void {
  assert.is(wg.interface.privateKey, ours.interface.privateKey);
  assert.is(wg.interface.fwMark ?? 0, ours.interface.fwMark ?? 0);
  if (ours.interface.listenPort) assert.is(wg.interface.listenPort, ours.interface.listenPort);

  const byKey = (config: WgQuickConfig) =>
    [...config.peers].sort((a, b) => a.publicKey.localeCompare(b.publicKey));
  const theirs = byKey(wg);
  const mine = byKey(ours);
  assert.equal(
    theirs.map((peer) => peer.publicKey),
    mine.map((peer) => peer.publicKey),
  );
  for (const [index, peer] of mine.entries()) {
    const seen = theirs[index];
    const sorted = (list: string[]) => [...new Set(list)].sort();
    assert.equal(sorted(seen.allowedIps), sorted(peer.allowedIps), 'AllowedIPs as wg prints them');
    assert.is(seen.presharedKey, peer.presharedKey);
    assert.is(seen.persistentKeepalive ?? 0, peer.persistentKeepalive ?? 0);
    if (peer.endpoint !== undefined && /^[0-9.]+:[0-9]+$/.test(peer.endpoint)) {
      assert.is(seen.endpoint, peer.endpoint);
    }
  }
}

async function checkFile(file: CorpusFile): Promise<void> {
  const ours = parses(file.text);
  const wg = await setconf(stripWgQuickKeys(file.text));
  const unresolved = !wg.ok && resolutionFailure.test(wg.stderr);

  // The property: accepted here means accepted by wg (short of resolving a host name).
  if (ours !== undefined) {
    assert.ok(wg.ok || unresolved, `parser accepts, wg rejects: ${wg.stderr.trim()}`);
  }

  // The corpus header records what wg does, so a change of either side shows up here.
  if (file.wg === 'accepts') assert.ok(wg.ok, `wg: ${wg.stderr.trim()}`);
  if (file.wg === 'rejects') assert.ok(!wg.ok && !unresolved, `wg: ${wg.stderr.trim()}`);
  if (file.wg === 'unresolvable') assert.ok(unresolved, `wg: ${wg.stderr.trim()}`);
  assert.is(ours !== undefined, file.expect.ok);

  if (ours === undefined || !wg.ok) return;

  // What formatConfig writes for `wg setconf` is taken too, and wg reads it the same way.
  const formatted = await setconf(formatConfig(ours, { wgQuickKeys: false }));
  assert.ok(formatted.ok, `wg refuses formatConfig output: ${formatted.stderr.trim()}`);
  assertSameAsWg(ours, await showconf());
}

for (const file of skip ? [] : readCorpus()) {
  it(`${file.name}: wg ${file.wg}, parser ${file.expect.ok ? 'accepts' : 'refuses'}`, () =>
    checkFile(file));
}

// Small random edits of the accepted files (a character added, dropped or replaced, a line
// upper- or lower-cased or repeated). Seeded, so every run checks the same variants.
function mutants(files: CorpusFile[], count: number): string[] {
  let seed = 20260203;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const pick = <T>(list: T[]): T => list[Math.floor(random() * list.length)];
  const characters = [...':/,#=[] 019xX.-+%_a\t\v\u00a0'];
  const made: string[] = [];

  while (made.length < count) {
    const lines = pick(files).text.split('\n');
    for (let edits = 1 + Math.floor(random() * 3); edits > 0; edits -= 1) {
      const index = Math.floor(random() * lines.length);
      const line = lines[index];
      const at = Math.floor(random() * (line.length + 1));
      const edit = Math.floor(random() * 6);
      if (edit === 0) lines[index] = line.slice(0, at) + pick(characters) + line.slice(at);
      if (edit === 1) lines[index] = line.slice(0, at) + line.slice(at + 1);
      if (edit === 2) lines[index] = line.slice(0, at) + pick(characters) + line.slice(at + 1);
      if (edit === 3) lines[index] = random() < 0.5 ? line.toUpperCase() : line.toLowerCase();
      if (edit === 4) lines.splice(index, 0, pick(lines));
      if (edit === 5) lines[index] = line.slice(0, at) + line.slice(at, at + 3) + line.slice(at);
    }
    made.push(lines.join('\n'));
  }
  return made;
}

it('300 seeded mutants of accepted files: each one the parser accepts, wg accepts', async () => {
  const files = readCorpus().filter((file) => file.expect.ok);
  let accepted = 0;
  for (const text of mutants(files, 300)) {
    if (parses(text) === undefined) continue;
    accepted += 1;

    const wg = await setconf(stripWgQuickKeys(text));
    const unresolved = !wg.ok && resolutionFailure.test(wg.stderr);
    assert.ok(wg.ok || unresolved, `wg rejects an accepted mutant (${wg.stderr.trim()}):\n${text}`);
  }
  assert.ok(accepted >= 30, `only ${accepted} mutants were accepted; the check says little`);
});

test.run();
