// WireGuard keys made and checked in-process with node:crypto: Curve25519 (X25519) private
// keys, their public keys, and preshared keys, all as the base64 text `wg` reads and prints.
// Nothing here logs, and no error repeats the value it was given.

import { createPrivateKey, createPublicKey, randomBytes } from 'node:crypto';

import { WgKeyError } from './errors.js';

const keyBytes = 32;

// A key is 43 base64 characters and one `=`. The last character before `=` carries only 4 bits
// of the key, so it must be one whose low 2 bits are zero: `wg` refuses the other spellings.
const keyPattern = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;

// PKCS#8 header of an X25519 private key (RFC 8410); the 32 raw bytes follow it.
const pkcs8X25519Prefix = Buffer.from('302e020100300506032b656e04220420', 'hex');

const invalidKeyText = 'expected base64 of 32 bytes (44 characters)';

/**
 * Whether `value` is a WireGuard key as `wg` accepts it: canonical base64 of exactly 32 bytes.
 * Never throws.
 */
export function isValidKey(value: unknown): value is string {
  return typeof value === 'string' && keyPattern.test(value);
}

/** A new private key, clamped the way `wg genkey` clamps it. */
export function generatePrivateKey(): string {
  const key = randomBytes(keyBytes);
  key[0] &= 248;
  key[31] = (key[31] & 127) | 64;
  const text = key.toString('base64');
  key.fill(0);
  return text;
}

/** A new preshared key: 32 random bytes, like `wg genpsk`. */
export function generatePresharedKey(): string {
  const key = randomBytes(keyBytes);
  const text = key.toString('base64');
  key.fill(0);
  return text;
}

/**
 * The public key of a private key, like `wg pubkey`. Throws WgKeyError (without the value) when
 * `privateKeyBase64` is not a key.
 */
export function publicKeyFromPrivate(privateKeyBase64: string): string {
  if (!isValidKey(privateKeyBase64)) {
    throw new WgKeyError(`wg key: private key: ${invalidKeyText}`, {
      op: 'publicKeyFromPrivate',
    });
  }

  const der = Buffer.concat([pkcs8X25519Prefix, Buffer.from(privateKeyBase64, 'base64')]);
  try {
    const privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    const jwk = createPublicKey(privateKey).export({ format: 'jwk' });
    if (typeof jwk.x !== 'string') throw new Error('no x coordinate in the exported JWK');
    return Buffer.from(jwk.x, 'base64url').toString('base64');
  } catch (error) {
    throw new WgKeyError('wg key: cannot derive the public key', {
      op: 'publicKeyFromPrivate',
      cause: error,
    });
  } finally {
    der.fill(0);
  }
}

/** A new private key and its public key. */
export function generateKeyPair(): { privateKey: string; publicKey: string } {
  const privateKey = generatePrivateKey();
  return { privateKey, publicKey: publicKeyFromPrivate(privateKey) };
}
