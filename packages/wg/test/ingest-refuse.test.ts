// Sources ingest refuses: each is moved aside with a reason file, never deleted, and nothing
// is written to the key or config directory.
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { ingest, type IngestRefusal, type IngestRefusalCode } from '../src/ingest.js';
import {
  dropProviderFile,
  freshKeys,
  makeWorkspace,
  providerText,
  type Workspace,
} from './fixtures/ingest/helpers.js';

/** Ingests `source`, expects a refusal with `code`, and checks what must (not) have changed. */
function expectRefused(ws: Workspace, source: string, code: IngestRefusalCode): IngestRefusal {
  const result = ingest(source, ws.options);
  assert.is(result.status, 'refused');
  const refusal = result as IngestRefusal;
  assert.is(refusal.code, code);

  assert.not.ok(existsSync(ws.keyDir), 'no key directory was created');
  assert.not.ok(existsSync(ws.configDir), 'no config directory was created');
  assert.not.ok(lstatExists(source), 'the source was moved away');
  assert.is(refusal.movedTo, join(ws.refusedDir, source.split('/').pop()!));
  assert.ok(lstatExists(refusal.movedTo), 'the refused file is kept');
  assert.is(lstatSync(ws.refusedDir).mode & 0o777, 0o700);

  const reasonText = readFileSync(refusal.reasonFile, 'utf8');
  assert.match(reasonText, `code: ${code}\n`);
  assert.match(reasonText, `reason: ${refusal.reason}\n`);
  assert.match(reasonText, `source: ${source}\n`);
  assert.is(lstatSync(refusal.reasonFile).mode & 0o777, 0o600);
  return refusal;
}

function lstatExists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

test('a symlink is moved aside as a link; its target is not read or touched', () => {
  const ws = makeWorkspace();
  try {
    const keys = freshKeys();
    const target = join(ws.base, 'real.conf');
    writeFileSync(target, providerText('provider.conf', keys));
    const source = join(ws.landing, 'privado.conf');
    symlinkSync(target, source);

    const refusal = expectRefused(ws, source, 'symlink');

    assert.ok(lstatSync(refusal.movedTo).isSymbolicLink());
    assert.is(readlinkSync(refusal.movedTo), target);
    assert.is(readFileSync(target, 'utf8'), providerText('provider.conf', keys));
    assert.match(refusal.reason, 'symbolic link');
  } finally {
    ws.remove();
  }
});

test('a FIFO is refused without being opened, a directory likewise', () => {
  const ws = makeWorkspace();
  try {
    const fifo = join(ws.landing, 'upload.conf');
    const made = spawnSync('mkfifo', [fifo]);
    assert.is(made.status, 0, 'mkfifo');
    const refusal = expectRefused(ws, fifo, 'not-regular');
    assert.ok(lstatSync(refusal.movedTo).isFIFO());
    assert.match(refusal.reason, 'is a FIFO, not a regular file');

    const dir = join(ws.landing, 'folder.conf');
    mkdirSync(dir);
    const dirRefusal = expectRefused(ws, dir, 'not-regular');
    assert.match(dirRefusal.reason, 'is a directory');
  } finally {
    ws.remove();
  }
});

test('a file over 64 KiB is refused; one of exactly 64 KiB is read', () => {
  const ws = makeWorkspace();
  try {
    const keys = freshKeys();
    const text = providerText('provider.conf', keys);
    const padded = (size: number) => text + '#'.repeat(size - Buffer.byteLength(text) - 1) + '\n';

    const big = join(ws.landing, 'big.conf');
    writeFileSync(big, padded(64 * 1024 + 1));
    const refusal = expectRefused(ws, big, 'too-large');
    assert.match(refusal.reason, '65537 bytes, over the limit of 65536');
    assert.is(readFileSync(refusal.movedTo, 'utf8'), padded(64 * 1024 + 1));

    const exact = join(ws.landing, 'exact.conf');
    writeFileSync(exact, padded(64 * 1024));
    assert.is(ingest(exact, ws.options).status, 'ingested');
  } finally {
    ws.remove();
  }
});

test('a file that does not parse is refused with the line and key in the reason', () => {
  const ws = makeWorkspace();
  try {
    const keys = freshKeys();
    const source = dropProviderFile(ws, 'bad-line.conf', keys, 'bad.conf');
    const refusal = expectRefused(ws, source, 'parse-error');

    assert.match(refusal.reason, `${source}:9`);
    assert.match(refusal.reason, 'PersistentKeepalive');
    assert.not.match(readFileSync(refusal.reasonFile, 'utf8'), keys.PRIVATE_KEY);
  } finally {
    ws.remove();
  }
});

test('a malformed private key is refused without being repeated in the reason', () => {
  const ws = makeWorkspace();
  try {
    const keys = freshKeys();
    const broken = keys.PRIVATE_KEY.slice(0, 40);
    const source = join(ws.landing, 'short-key.conf');
    writeFileSync(source, providerText('provider.conf', keys).replace(keys.PRIVATE_KEY, broken));

    const refusal = expectRefused(ws, source, 'parse-error');
    assert.match(refusal.reason, `${source}:4`);
    assert.not.match(readFileSync(refusal.reasonFile, 'utf8'), broken);
  } finally {
    ws.remove();
  }
});

test('binary junk is refused as a parse error', () => {
  const ws = makeWorkspace();
  try {
    const source = join(ws.landing, 'photo.jpg');
    writeFileSync(source, Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46]));
    expectRefused(ws, source, 'parse-error');
  } finally {
    ws.remove();
  }
});

test('a file without a private key is refused', () => {
  const ws = makeWorkspace();
  try {
    const source = dropProviderFile(ws, 'no-private-key.conf', freshKeys(), 'public.conf');
    const refusal = expectRefused(ws, source, 'no-private-key');
    assert.match(refusal.reason, 'no PrivateKey in [Interface]');
  } finally {
    ws.remove();
  }
});

test('a hard-linked file is refused: erasing one name would leave the key under another', () => {
  const ws = makeWorkspace();
  try {
    const keys = freshKeys();
    const source = dropProviderFile(ws, 'provider.conf', keys);
    const other = join(ws.base, 'backup.conf');
    linkSync(source, other);

    expectRefused(ws, source, 'hard-linked');
    assert.is(readFileSync(other, 'utf8'), providerText('provider.conf', keys));
  } finally {
    ws.remove();
  }
});

test('a second refusal of the same name gets its own name in the refused folder', () => {
  const ws = makeWorkspace();
  try {
    const first = dropProviderFile(ws, 'no-private-key.conf', freshKeys(), 'x.conf');
    const one = ingest(first, ws.options) as IngestRefusal;
    const second = dropProviderFile(ws, 'no-private-key.conf', freshKeys(), 'x.conf');
    const two = ingest(second, ws.options) as IngestRefusal;

    assert.is(one.movedTo, join(ws.refusedDir, 'x.conf'));
    assert.is(two.movedTo, join(ws.refusedDir, 'x.conf.1'));
    assert.equal(readdirSync(ws.refusedDir).sort(), [
      'x.conf',
      'x.conf.1',
      'x.conf.1.reason',
      'x.conf.reason',
    ]);
  } finally {
    ws.remove();
  }
});

test('a refusal leaves an earlier tunnel exactly as it was', () => {
  const ws = makeWorkspace();
  try {
    ingest(dropProviderFile(ws, 'provider.conf', freshKeys()), ws.options);
    const before = readdirSync(ws.keyDir).map((name) => readFileSync(join(ws.keyDir, name)));
    const json = readFileSync(join(ws.configDir, 'tunnel.json'), 'utf8');

    const source = dropProviderFile(ws, 'no-private-key.conf', freshKeys(), 'public.conf');
    assert.is(ingest(source, ws.options).status, 'refused');

    const after = readdirSync(ws.keyDir).map((name) => readFileSync(join(ws.keyDir, name)));
    assert.equal(after, before);
    assert.is(readFileSync(join(ws.configDir, 'tunnel.json'), 'utf8'), json);
  } finally {
    ws.remove();
  }
});

test.run();
