// Helpers for tests that run real WireGuard interfaces: unique interface names that say which
// process made them, and a sweep of the wireguard-go processes and socket files that crashed
// runs left behind. Not part of the main API.

import { existsSync, readdirSync } from 'node:fs';
import { creatorPid, processAlive } from '@netvault/netns/testing';

import { findWireguardGo, isSocketLive, removeSocket, stopProcess, UAPI_DIR } from './userspace.js';

/** Every interface a test makes is named `nvw-<pid in base 36>-<tag><n>`, 15 characters at most. */
export const TEST_INTERFACE_PREFIX = 'nvw-';
let counter = 0;

export function uniqueInterfaceName(tag = 'wg'): string {
  counter += 1;
  const head = `${TEST_INTERFACE_PREFIX}${process.pid.toString(36)}-`;
  const tail = String(counter);
  return `${head}${tag.slice(0, Math.max(0, 15 - head.length - tail.length))}${tail}`;
}

/**
 * Stops the wireguard-go processes of test interfaces whose creating process is gone (their
 * TUN links go with them) and removes such interfaces' socket files. Returns the interface
 * names swept.
 */
export async function sweepTestWireguard(): Promise<string[]> {
  const swept = new Set<string>();
  const orphaned = (name: string) => {
    const creator = creatorPid(name, TEST_INTERFACE_PREFIX);
    return creator !== undefined && creator !== process.pid && !processAlive(creator);
  };

  for (const { pid, interfaceName } of findWireguardGo()) {
    if (!orphaned(interfaceName)) continue;
    await stopProcess(pid);
    swept.add(interfaceName);
  }

  const sockets = existsSync(UAPI_DIR) ? readdirSync(UAPI_DIR) : [];
  for (const file of sockets) {
    const name = file.replace(/\.sock$/, '');
    if (file === name || !orphaned(name)) continue;
    if (await isSocketLive(`${UAPI_DIR}/${file}`)) continue;
    removeSocket(name);
    swept.add(name);
  }

  return [...swept];
}
