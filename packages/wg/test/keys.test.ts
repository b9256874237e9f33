// Keys made in-process with node:crypto (X25519) against `wg genkey`, `wg genpsk` and
// `wg pubkey`. No root needed; the comparisons with `wg` skip when it is not installed.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { WgError, WgKeyError } from '../src/errors.js';
import {
  generateKeyPair,
  generatePresharedKey,
  generatePrivateKey,
  isValidKey,
  publicKeyFromPrivate,
} from '../src/keys.js';

const hasWg = spawnSync('wg', ['--version']).status === 0;
if (!hasWg) console.log('keys: comparisons with wg skipped: needs wg (wireguard-tools) on PATH');
const withWg = hasWg ? test : test.skip;

/** Runs `wg ARGS` with `input` on stdin and returns its one line of output. */
function wg(args: string[], input?: string): string {
  const result = spawnSync('wg', args, { input, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`wg ${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout.trim();
}

const bytesOf = (key: string) => Buffer.from(key, 'base64');

test('generatePrivateKey: 32 random bytes clamped for Curve25519, like wg genkey', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 50; i += 1) {
    const key = generatePrivateKey();
    const bytes = bytesOf(key);

    assert.ok(isValidKey(key));
    assert.is(key.length, 44);
    assert.is(bytes.length, 32);
    assert.is(bytes[0] & 7, 0);
    assert.is(bytes[31] & 0x80, 0);
    assert.is(bytes[31] & 0x40, 0x40);
    seen.add(key);
  }
  assert.is(seen.size, 50);
});

test('generatePresharedKey: 32 random bytes, never the same twice', () => {
  const first = generatePresharedKey();
  const second = generatePresharedKey();
  assert.ok(isValidKey(first));
  assert.ok(isValidKey(second));
  assert.is.not(first, second);
});

test('publicKeyFromPrivate: the X25519 test vector of RFC 7748', () => {
  const alicePrivate = Buffer.from(
    '77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a',
    'hex',
  ).toString('base64');
  const alicePublic = Buffer.from(
    '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a',
    'hex',
  ).toString('base64');

  assert.is(publicKeyFromPrivate(alicePrivate), alicePublic);
});

withWg('publicKeyFromPrivate matches wg pubkey for our keys, wg keys and unclamped bytes', () => {
  const privateKeys = [
    ...Array.from({ length: 10 }, generatePrivateKey),
    ...Array.from({ length: 10 }, () => wg(['genkey'])),
    ...Array.from({ length: 10 }, () => randomBytes(32).toString('base64')),
    Buffer.alloc(32, 0).toString('base64'),
    Buffer.alloc(32, 0xff).toString('base64'),
  ];

  for (const privateKey of privateKeys) {
    assert.is(publicKeyFromPrivate(privateKey), wg(['pubkey'], `${privateKey}\n`));
  }
});

withWg('generateKeyPair gives a pair wg agrees with; wg genkey and genpsk output is valid', () => {
  for (let i = 0; i < 10; i += 1) {
    const { privateKey, publicKey } = generateKeyPair();
    assert.is(wg(['pubkey'], `${privateKey}\n`), publicKey);
    assert.ok(isValidKey(wg(['genkey'])));
    assert.ok(isValidKey(wg(['genpsk'])));
  }
});

test('isValidKey: exactly what wg takes, and it never throws', () => {
  const key = generatePrivateKey();
  assert.ok(isValidKey(key));
  assert.ok(isValidKey(Buffer.alloc(32, 0).toString('base64')));

  const invalid: unknown[] = [
    undefined,
    null,
    42,
    bytesOf(key),
    '',
    key.slice(0, 43),
    `${key}=`,
    ` ${key}`,
    `${key}\n`,
    `${key.slice(0, 42)}B=`,
    `${key.slice(0, 42)}AA`,
    `${key.slice(0, 5)}-${key.slice(6)}`,
    `${key.slice(0, 5)}_${key.slice(6)}`,
    `${key.slice(0, 5)}.${key.slice(6)}`,
    Buffer.alloc(31).toString('base64'),
    Buffer.alloc(33).toString('base64'),
    Buffer.alloc(32).toString('base64url'),
  ];
  for (const value of invalid) assert.not.ok(isValidKey(value), String(value));
});

withWg('isValidKey refuses the same non-canonical last characters wg refuses', () => {
  const base = generatePrivateKey().slice(0, 42);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  for (const last of alphabet) {
    const candidate = `${base}${last}=`;
    const wgTakes = spawnSync('wg', ['pubkey'], { input: `${candidate}\n` }).status === 0;
    assert.is(isValidKey(candidate), wgTakes, `last character ${last}`);
  }
});

test('publicKeyFromPrivate refuses what is not a key, without repeating it', () => {
  const secret = generatePrivateKey();
  for (const value of [secret.slice(0, 43), `${secret}x`, `${secret.slice(0, 42)}B=`, '']) {
    try {
      publicKeyFromPrivate(value);
      assert.unreachable('derived a public key');
    } catch (error) {
      assert.instance(error, WgKeyError);
      assert.instance(error, WgError);
      const keyError = error as WgKeyError;
      assert.is(keyError.name, 'WgKeyError');
      assert.is(keyError.op, 'publicKeyFromPrivate');
      assert.match(keyError.message, 'expected base64 of 32 bytes (44 characters)');
      if (value !== '') assert.not.ok(keyError.message.includes(value.slice(0, 12)));
    }
  }
});

test.run();
