// ingest(): what it writes, with which modes, and what it refuses to write through.
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { stageFile } from '../src/atomic-file.js';
import { formatTunnelNix, nixString } from '../src/ingest-format.js';
import { WgIngestError, ingest, recoverIngest, type IngestSuccess } from '../src/ingest.js';
import {
  dropProviderFile,
  findBytes,
  freshKeys,
  keyNeedles,
  makeWorkspace,
  readState,
} from './fixtures/ingest/helpers.js';

function mode(path: string): number {
  return lstatSync(path).mode & 0o7777;
}

test('splits a provider file into key files, tunnel.json and tunnel.nix', () => {
  const ws = makeWorkspace();
  try {
    const keys = freshKeys();
    const source = dropProviderFile(ws, 'provider.conf', keys);

    const result = ingest(source, ws.options) as IngestSuccess;

    assert.is(result.status, 'ingested');
    assert.equal(result.ignored, ['PostUp']);
    const keyFile = join(ws.keyDir, 'privado.key');
    const pskFile = join(ws.keyDir, 'privado.peer1.psk');
    assert.equal(result.tunnel, {
      name: 'privado',
      addresses: ['10.34.0.7/32', 'fd7d:76ee:e68f:a993::7/128'],
      dns: ['198.18.0.53', '2001:db8::53'],
      mtu: 1412,
      privateKeyFile: keyFile,
      peers: [
        {
          publicKey: keys.PEER1_PUBLIC_KEY,
          endpoint: '198.18.10.20:51820',
          allowedIps: ['0.0.0.0/0', '::/0'],
          persistentKeepalive: 25,
          presharedKeyFile: pskFile,
        },
      ],
    });

    assert.is(readFileSync(keyFile, 'utf8'), `${keys.PRIVATE_KEY}\n`);
    assert.is(readFileSync(pskFile, 'utf8'), `${keys.PEER1_PRESHARED_KEY}\n`);
    assert.is(mode(keyFile), 0o600);
    assert.is(mode(pskFile), 0o600);
    assert.is(mode(ws.keyDir), 0o700);
    assert.is(mode(result.files.json), 0o644);
    assert.equal(JSON.parse(readFileSync(result.files.json, 'utf8')), result.tunnel);

    const nix = readFileSync(result.files.nix, 'utf8');
    assert.match(nix, `privateKeyFile = "${keyFile}";`);
    assert.match(nix, 'allowedIps = [\n        "0.0.0.0/0"\n        "::/0"\n      ];');
    assert.not.match(nix, keys.PRIVATE_KEY);
    assert.not.match(nix, keys.PEER1_PRESHARED_KEY);

    assert.not.ok(existsSync(source), 'the original is gone');
    assert.equal(readdirSync(ws.landing), []);
    assert.equal(readdirSync(ws.keyDir).sort(), ['privado.key', 'privado.peer1.psk']);
    assert.equal(readdirSync(ws.configDir).sort(), ['tunnel.json', 'tunnel.nix']);
    assert.equal(recoverIngest(ws.options), { action: 'none', files: [] });
  } finally {
    ws.remove();
  }
});

test('the private and preshared keys are nowhere but in their key files afterwards', () => {
  const ws = makeWorkspace();
  try {
    const keys = freshKeys();
    const source = dropProviderFile(ws, 'two-peers.conf', keys);
    ingest(source, { ...ws.options, name: 'wg0', configName: 'vpn' });

    const found = findBytes([ws.base, tmpdir()], {
      ...keyNeedles('private key', keys.PRIVATE_KEY),
      ...keyNeedles('psk 1', keys.PEER1_PRESHARED_KEY),
      ...keyNeedles('psk 2', keys.PEER2_PRESHARED_KEY),
    });

    // Base64 only in the key files; the raw bytes nowhere (key files hold base64 text).
    assert.equal(
      found.sort((a, b) => a.file.localeCompare(b.file)),
      [
        { file: join(ws.keyDir, 'wg0.key'), what: 'private key base64' },
        { file: join(ws.keyDir, 'wg0.peer1.psk'), what: 'psk 1 base64' },
        { file: join(ws.keyDir, 'wg0.peer2.psk'), what: 'psk 2 base64' },
      ],
    );
  } finally {
    ws.remove();
  }
});

test('a second ingest replaces the tunnel and erases preshared key files it no longer uses', () => {
  const ws = makeWorkspace();
  try {
    const first = freshKeys();
    ingest(dropProviderFile(ws, 'two-peers.conf', first), ws.options);
    assert.ok(existsSync(join(ws.keyDir, 'privado.peer2.psk')));

    const second = freshKeys();
    const steps: string[] = [];
    const result = ingest(dropProviderFile(ws, 'provider.conf', second), {
      ...ws.options,
      onStep: (step) => steps.push(step.path ? `${step.step} ${step.path}` : step.step),
    }) as IngestSuccess;

    assert.is(result.tunnel.peers.length, 1);
    assert.equal(readdirSync(ws.keyDir).sort(), ['privado.key', 'privado.peer1.psk']);
    assert.ok(steps.includes(`remove-stale ${join(ws.keyDir, 'privado.peer2.psk')}`));
    assert.is(readFileSync(join(ws.keyDir, 'privado.key'), 'utf8'), `${second.PRIVATE_KEY}\n`);

    // Keys are renamed into place before the public files that name them.
    const renames = steps.filter((step) => step.startsWith('rename '));
    assert.equal(renames, [
      `rename ${join(ws.keyDir, 'privado.key')}`,
      `rename ${join(ws.keyDir, 'privado.peer1.psk')}`,
      `rename ${join(ws.configDir, 'tunnel.json')}`,
      `rename ${join(ws.configDir, 'tunnel.nix')}`,
    ]);

    const found = findBytes([ws.base], {
      ...keyNeedles('old psk 2', first.PEER2_PRESHARED_KEY),
      ...keyNeedles('old key', first.PRIVATE_KEY),
    });
    assert.equal(found, []);
  } finally {
    ws.remove();
  }
});

// The stat loop runs in a worker thread, in parallel with the synchronous ingest on the main
// thread. At every step the main thread also waits until the worker has looked at the
// directories once more, so each staged file is seen at least once.
const statLoop = `
const { workerData, parentPort } = require('node:worker_threads');
const { lstatSync, readdirSync } = require('node:fs');
const { join } = require('node:path');
const flags = new Int32Array(workerData.shared);
const modes = {};
const seen = new Set();
while (Atomics.load(flags, 0) === 0) {
  const step = Atomics.load(flags, 1);
  for (const dir of workerData.dirs) {
    let names = [];
    try { names = readdirSync(dir); } catch { continue; }
    for (const name of names) {
      try {
        const stats = lstatSync(join(dir, name));
        if (!stats.isFile()) continue;
        const key = join(dir, name) + ' ' + (stats.mode & 0o7777).toString(8);
        modes[key] = (modes[key] || 0) + 1;
        seen.add(name);
      } catch {}
    }
  }
  Atomics.store(flags, 2, step);
  Atomics.notify(flags, 2);
}
parentPort.postMessage({ modes, seen: [...seen] });
`;

test('umask 000: a stat loop never sees a key file, staged or final, in another mode', async () => {
  const ws = makeWorkspace();
  const previousUmask = process.umask(0);
  const shared = new SharedArrayBuffer(12);
  const flags = new Int32Array(shared);
  const worker = new Worker(statLoop, {
    eval: true,
    workerData: { shared, dirs: [ws.keyDir, ws.configDir] },
  });
  try {
    const done = new Promise<{ modes: Record<string, number>; seen: string[] }>(
      (resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      },
    );

    const onStep = () => {
      const step = Atomics.add(flags, 1, 1) + 1;
      while (Atomics.load(flags, 2) < step) Atomics.wait(flags, 2, Atomics.load(flags, 2), 50);
    };
    const rounds = 25;
    for (let round = 0; round < rounds; round += 1) {
      const fixture = round % 2 === 0 ? 'two-peers.conf' : 'provider.conf';
      ingest(dropProviderFile(ws, fixture, freshKeys()), { ...ws.options, onStep });
    }

    Atomics.store(flags, 0, 1);
    const { modes, seen } = await done;

    const wrong = Object.keys(modes).filter((key) => {
      const expected = key.startsWith(ws.keyDir) ? ' 600' : ' 644';
      return !key.endsWith(expected);
    });
    assert.equal(wrong, [], 'modes other than 0600 (keys) and 0644 (public files)');

    // Every kind of staged file was caught at least once.
    for (const pattern of [
      /^\.privado\.key\.[0-9a-f]{12}\.tmp$/,
      /^\.privado\.peer2\.psk\.[0-9a-f]{12}\.tmp$/,
      /^\.privado\.ingest-journal$/,
      /^\.tunnel\.json\.[0-9a-f]{12}\.tmp$/,
    ]) {
      assert.ok(
        seen.some((name) => pattern.test(name)),
        `saw a file matching ${pattern}`,
      );
    }
    assert.is(mode(ws.keyDir), 0o700);
  } finally {
    Atomics.store(flags, 0, 1);
    await worker.terminate();
    process.umask(previousUmask);
    ws.remove();
  }
});

test('refuses to write through a symlink at the key file, leaving everything as it was', () => {
  const ws = makeWorkspace();
  try {
    const target = join(ws.base, 'elsewhere');
    writeFileSync(target, 'untouched\n');
    mkdirSync(ws.keyDir, { mode: 0o700 });
    symlinkSync(target, join(ws.keyDir, 'privado.key'));
    const keys = freshKeys();
    const source = dropProviderFile(ws, 'provider.conf', keys);
    const before = readFileSync(source, 'utf8');

    try {
      ingest(source, ws.options);
      assert.unreachable('should have thrown');
    } catch (error) {
      assert.instance(error, WgIngestError);
      assert.is((error as WgIngestError).code, 'ELOOP');
      assert.is((error as WgIngestError).op, 'check destination');
      assert.not.match((error as Error).message, keys.PRIVATE_KEY);
    }

    assert.is(readFileSync(target, 'utf8'), 'untouched\n');
    assert.is(readFileSync(source, 'utf8'), before);
    assert.equal(readdirSync(ws.keyDir), ['privado.key']);
    assert.equal(readdirSync(ws.configDir), []);
  } finally {
    ws.remove();
  }
});

test('refuses a key directory or config file that is a symlink', () => {
  const ws = makeWorkspace();
  try {
    const realKeys = join(ws.base, 'real-keys');
    mkdirSync(realKeys, { mode: 0o700 });
    symlinkSync(realKeys, ws.keyDir);
    const source = dropProviderFile(ws, 'provider.conf', freshKeys());

    assert.throws(
      () => ingest(source, ws.options),
      (error: WgIngestError) => error.code === 'ELOOP' && error.path === ws.keyDir,
    );
    assert.equal(readdirSync(realKeys), []);

    const other = { keyDir: join(ws.base, 'keys2'), configDir: join(ws.base, 'config2') };
    mkdirSync(other.configDir);
    symlinkSync(join(ws.base, 'nowhere.json'), join(other.configDir, 'tunnel.json'));
    assert.throws(
      () => ingest(source, other),
      (error: WgIngestError) => error.code === 'ELOOP',
    );
    assert.ok(existsSync(source));
    assert.equal(readdirSync(other.keyDir), [], 'nothing staged');
  } finally {
    ws.remove();
  }
});

test('refuses a key directory that group or others can enter', () => {
  const ws = makeWorkspace();
  try {
    mkdirSync(ws.keyDir);
    chmodSync(ws.keyDir, 0o755);
    const source = dropProviderFile(ws, 'provider.conf', freshKeys());

    assert.throws(() => ingest(source, ws.options), /mode 0755.*chmod 700/);
    assert.ok(existsSync(source));
    assert.equal(readdirSync(ws.keyDir), []);
  } finally {
    ws.remove();
  }
});

test('a staging name taken by a planted symlink is refused, never followed', () => {
  const ws = makeWorkspace();
  try {
    const target = join(ws.base, 'target');
    writeFileSync(target, 'untouched\n');
    const staged = join(ws.landing, '.privado.key.0123456789ab.tmp');
    symlinkSync(target, staged);

    assert.throws(() => stageFile(staged, Buffer.from('secret\n'), 0o600), /EEXIST/);
    assert.is(readFileSync(target, 'utf8'), 'untouched\n');
    assert.ok(lstatSync(staged).isSymbolicLink());
  } finally {
    ws.remove();
  }
});

test('tunnel.nix escapes what Nix would interpret inside a string', () => {
  assert.is(nixString('plain'), '"plain"');
  assert.is(nixString('a"b\\c'), '"a\\"b\\\\c"');
  assert.is(nixString('${builtins.abort "x"}'), '"\\${builtins.abort \\"x\\"}"');
  assert.is(nixString('$${x} $'), '"\\$\\${x} \\$"');
  assert.is(nixString('line\nnext\ttab\r'), '"line\\nnext\\ttab\\r"');

  const text = formatTunnelNix(
    {
      name: 'wg0',
      addresses: [],
      dns: ['search.${x}'],
      privateKeyFile: '/var/lib/netvault/"odd"/wg0.key',
      peers: [],
    },
    ['first line', 'second\nline'],
  );
  assert.is(
    text,
    [
      '# first line',
      '# second line',
      '{',
      '  name = "wg0";',
      '  addresses = [ ];',
      '  dns = [',
      '    "search.\\${x}"',
      '  ];',
      '  privateKeyFile = "/var/lib/netvault/\\"odd\\"/wg0.key";',
      '  peers = [ ];',
      '}',
      '',
    ].join('\n'),
  );
});

test('rejects interface and config names that are not plain file names', () => {
  const ws = makeWorkspace();
  try {
    const source = dropProviderFile(ws, 'provider.conf', freshKeys());
    for (const name of ['../evil', '.hidden', 'a/b', 'much-too-long-name']) {
      assert.throws(() => ingest(source, { ...ws.options, name }), /invalid interface name/);
    }
    assert.throws(() => ingest(source, { ...ws.options, configName: '../x' }), /invalid config/);
    assert.ok(existsSync(source));
    assert.equal(readState(ws), { [`landing/privado.conf 600`]: readFileSync(source, 'utf8') });
  } finally {
    ws.remove();
  }
});

test.run();
