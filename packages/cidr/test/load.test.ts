// Lists from text, files and streams: comments, blank lines, CRLF, chunks cut anywhere, errors
// with line numbers, read errors with their cause.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';

import { CidrError, loadCidrSet, parseCidrList } from '../src/index.js';

const LIST = [
  '# office and lab',
  '10.1.0.0/16',
  '',
  '   192.168.2.0/24   # lab, with spaces around',
  '\t2001:db8::/32',
  '#10.9.9.9',
  '::ffff:172.16.0.0/108',
  '203.0.113.7',
  '',
].join('\n');

function checkList(set: { has(ip: string): boolean; toCidrs(): string[] }): void {
  assert.equal(set.toCidrs(), [
    '10.1.0.0/16',
    '172.16.0.0/12',
    '192.168.2.0/24',
    '203.0.113.7/32',
    '2001:db8::/32',
  ]);
  assert.ok(set.has('10.1.2.3') && set.has('2001:db8::1') && set.has('::ffff:203.0.113.7'));
  assert.not.ok(set.has('10.9.9.9'));
}

test('parseCidrList skips comments and blank lines, trims spaces around entries', () => {
  checkList(parseCidrList(LIST));
  checkList(parseCidrList(LIST.replaceAll('\n', '\r\n')));
  checkList(parseCidrList(`\ufeff${LIST}`));
  assert.equal(parseCidrList('').toCidrs(), []);
  assert.equal(parseCidrList('# nothing\n\n').toCidrs(), []);
  assert.equal(parseCidrList('10.0.0.0/8').toCidrs(), ['10.0.0.0/8']);
});

test('errors name the line and the entry; loose masks host bits', () => {
  const text = '10.0.0.0/8\n# fine\n\n10.0.0.1/8  # typo\n';
  try {
    parseCidrList(text, { source: 'allow.txt' });
    assert.unreachable('parsed');
  } catch (error) {
    assert.instance(error, CidrError);
    const e = error as CidrError;
    assert.is(e.code, 'ERR_CIDR_HOST_BITS');
    assert.is(e.line, 4);
    assert.is(e.entry, '10.0.0.1/8');
    assert.is(e.source, 'allow.txt');
    assert.ok(e.message.startsWith('load list: allow.txt:4 "10.0.0.1/8": '), e.message);
  }
  assert.equal(parseCidrList(text, { loose: true }).toCidrs(), ['10.0.0.0/8']);

  assert.throws(
    () => parseCidrList('1.2.3.4\n1.2.3.4 5.6.7.8\n'),
    (e: CidrError) => e.line === 2 && e.code === 'ERR_CIDR_ENTRY',
  );
  assert.throws(
    () => parseCidrList('\n\n127.1\n'),
    (e: CidrError) => e.line === 3,
  );
});

test('loadCidrSet reads a file by path and by file: URL; a missing file is ERR_CIDR_READ', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cidr-load-'));
  try {
    const path = join(dir, 'allow.txt');
    writeFileSync(path, LIST);
    checkList(await loadCidrSet(path));
    checkList(await loadCidrSet(pathToFileURL(path)));

    writeFileSync(path, '10.0.0.0/8\nnot-an-address\n');
    try {
      await loadCidrSet(path);
      assert.unreachable('loaded');
    } catch (error) {
      const e = error as CidrError;
      assert.is(e.line, 2);
      assert.is(e.source, path);
      assert.ok(e.message.includes(`${path}:2`), e.message);
    }

    try {
      await loadCidrSet(join(dir, 'missing.txt'));
      assert.unreachable('loaded');
    } catch (error) {
      const e = error as CidrError;
      assert.is(e.code, 'ERR_CIDR_READ');
      assert.is((e.cause as NodeJS.ErrnoException).code, 'ENOENT');
      assert.ok(e.message.startsWith('load list '), e.message);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('loadCidrSet reads a stream cut into chunks anywhere, even inside a UTF-8 character', async () => {
  const bytes = Buffer.from(`# café list ☕\n${LIST}`, 'utf8');
  for (const size of [1, 2, 3, 7, 64, bytes.length]) {
    const chunks: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
    checkList(await loadCidrSet(Readable.from(chunks), { source: `chunks of ${size}` }));
  }

  const strings = LIST.match(/[^]{1,5}/g)!;
  checkList(await loadCidrSet(Readable.from(strings)));
});

test('a stream error becomes ERR_CIDR_READ with the cause; an entry error keeps its line', async () => {
  const failing = new Readable({
    read() {
      this.push('10.0.0.0/8\n');
      this.destroy(new Error('disk on fire'));
    },
  });
  try {
    await loadCidrSet(failing, { source: 'stdin' });
    assert.unreachable('loaded');
  } catch (error) {
    const e = error as CidrError;
    assert.is(e.code, 'ERR_CIDR_READ');
    assert.is((e.cause as Error).message, 'disk on fire');
    assert.ok(e.message.startsWith('load list "stdin": '), e.message);
  }

  try {
    await loadCidrSet(Readable.from(['10.0.0.0/8\n', '10.0.0.0/', '8\n10.0.0.256\n']));
    assert.unreachable('loaded');
  } catch (error) {
    assert.is((error as CidrError).line, 3);
  }

  try {
    await loadCidrSet(Readable.from([Buffer.from([0x31, 0x30, 0xff, 0x0a])]));
    assert.unreachable('loaded');
  } catch (error) {
    assert.is((error as CidrError).code, 'ERR_CIDR_READ');
  }
});

test('a long list loads line by line with the same answers as CidrSet.from', async () => {
  const lines: string[] = [];
  for (let i = 0; i < 50_000; i++)
    lines.push(`${(i * 7919) % 224}.${i % 256}.${(i >> 8) % 256}.0/24`);
  const set = await loadCidrSet(Readable.from([lines.join('\n')]));
  assert.ok(set.has('0.0.0.1'));
  assert.is(set.toCidrs().length > 0, true);
  assert.ok(lines.every((line, i) => i % 997 !== 0 || set.has(line.replace('.0/24', '.9'))));
});

test.run();
