// The userspace implementation, wireguard-go: where its control socket lives, finding its
// process by interface name (also from another process than the one that started it), and
// stopping it. Internal to @netvault/wg.

import { existsSync, readdirSync, readFileSync, unlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { basename } from 'node:path';

/** Where wireguard-go and `wg` keep control sockets: one directory for every namespace. */
export const UAPI_DIR = '/var/run/wireguard';

export function socketPath(name: string): string {
  return `${UAPI_DIR}/${name}.sock`;
}

/** True when a process accepts connections on the socket file (a stale file refuses them). */
export function isSocketLive(path: string, timeoutMs = 1000): Promise<boolean> {
  if (!existsSync(path)) return Promise.resolve(false);
  return new Promise((resolve) => {
    const socket = connect(path);
    const done = (live: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(live);
    };
    const timer = setTimeout(() => done(true), timeoutMs);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Removes a socket file; true when there was one. */
export function removeSocket(name: string): boolean {
  try {
    unlinkSync(socketPath(name));
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

export interface WireguardGoProcess {
  pid: number;
  /** The interface name it serves (its last argument). */
  interfaceName: string;
}

function commandLine(pid: number): string[] | undefined {
  try {
    const parts = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    if (parts.at(-1) === '') parts.pop();
    return parts;
  } catch {
    return undefined;
  }
}

/** True when the process no longer runs: gone from /proc, or a zombie waiting to be reaped. */
export function processGone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return true;
  }
}

/** The interface a process serves, when it is `wireguard-go [-f] NAME`. */
export function wireguardGoInterface(pid: number): string | undefined {
  const argv = commandLine(pid);
  if (!argv || argv.length < 2 || basename(argv[0]) !== 'wireguard-go') return undefined;
  const rest = argv.slice(1);
  if (rest.length > 2 || (rest.length === 2 && !['-f', '--foreground'].includes(rest[0]))) {
    return undefined;
  }
  return processGone(pid) ? undefined : rest[rest.length - 1];
}

/** Running wireguard-go processes, all or those serving `name`, found through /proc. */
export function findWireguardGo(name?: string): WireguardGoProcess[] {
  const found: WireguardGoProcess[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const interfaceName = wireguardGoInterface(pid);
    if (interfaceName === undefined) continue;
    if (name !== undefined && interfaceName !== name) continue;
    found.push({ pid, interfaceName });
  }
  return found;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` every `intervalMs` until it returns true or `timeoutMs` passes. */
export async function pollUntil(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  intervalMs = 25,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(intervalMs);
  }
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

/** SIGTERM, then SIGKILL if the process is still there after `timeoutMs`. */
export async function stopProcess(pid: number, timeoutMs = 3000): Promise<void> {
  if (processGone(pid)) return;
  signal(pid, 'SIGTERM');
  // wireguard-go exits within milliseconds of SIGTERM; look often so that `down` is quick.
  if (await pollUntil(() => processGone(pid), timeoutMs, 5)) return;
  signal(pid, 'SIGKILL');
  await pollUntil(() => processGone(pid), timeoutMs);
}
