// The key's bytes on the disk itself, not only in files: ingest onto a small ext4 filesystem
// in a loop-mounted image, unmount, and search every block of the image. Needs root (mount).
import { execFileSync, spawnSync } from 'node:child_process';
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { ingest } from '../src/ingest.js';
import { freshKeys, makeWorkspace, providerText } from './fixtures/ingest/helpers.js';

function occurrences(haystack: Buffer, needle: Buffer): number {
  let count = 0;
  for (let at = haystack.indexOf(needle); at !== -1; at = haystack.indexOf(needle, at + 1)) {
    count += 1;
  }
  return count;
}

function whyNot(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root to mount a filesystem image';
  for (const tool of ['mkfs.ext4', 'mount', 'umount']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `${tool} not found`;
  }
  return undefined;
}

/** Writes `text` to `path` and fsyncs it, so that it is on the disk before the ingest. */
function writeDurably(path: string, text: string): void {
  const fd = openSync(path, 'w', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

const title = "ext4, data=ordered: new keys only in their key files' blocks, old ones nowhere";
const reason = whyNot();
if (reason) {
  console.log(`ingest-disk: skipped: ${reason}`);
  test.skip(title);
} else {
  test(title, () => {
    const base = mkdtempSync(join(tmpdir(), 'nv-ingest-disk-'));
    const image = join(base, 'disk.img');
    const mountPoint = join(base, 'mnt');
    let mounted = false;
    try {
      mkdirSync(mountPoint);
      execFileSync('truncate', ['-s', '32M', image]);
      execFileSync('mkfs.ext4', ['-q', '-F', '-O', '^inline_data', image]);
      execFileSync('mount', ['-o', 'loop,data=ordered', image, mountPoint]);
      mounted = true;

      const ws = makeWorkspace(mountPoint);
      const first = freshKeys();
      const second = freshKeys();
      const source = join(ws.landing, 'privado.conf');

      writeDurably(source, providerText('provider.conf', first));
      const onDisk = readFileSync(image);
      assert.is(occurrences(onDisk, Buffer.from(first.PRIVATE_KEY)), 1, 'the search finds it');
      assert.is(ingest(source, ws.options).status, 'ingested');

      writeDurably(source, providerText('two-peers.conf', second));
      assert.is(ingest(source, ws.options).status, 'ingested');
      writeDurably(source, providerText('no-private-key.conf', freshKeys()));
      assert.is(ingest(source, ws.options).status, 'refused');

      execFileSync('umount', [mountPoint]);
      mounted = false;
      const disk = readFileSync(image);

      const count = (key: string) => ({
        base64: occurrences(disk, Buffer.from(key)),
        raw: occurrences(disk, Buffer.from(key, 'base64')),
      });
      assert.equal(count(second.PRIVATE_KEY), { base64: 1, raw: 0 }, 'new private key');
      assert.equal(count(second.PEER1_PRESHARED_KEY), { base64: 1, raw: 0 }, 'new psk 1');
      assert.equal(count(second.PEER2_PRESHARED_KEY), { base64: 1, raw: 0 }, 'new psk 2');
      assert.equal(count(first.PRIVATE_KEY), { base64: 0, raw: 0 }, 'replaced private key');
      assert.equal(count(first.PEER1_PRESHARED_KEY), { base64: 0, raw: 0 }, 'replaced psk');
    } finally {
      if (mounted) spawnSync('umount', [mountPoint]);
      rmSync(base, { recursive: true, force: true });
    }
  });
}

test.run();
