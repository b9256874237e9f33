// WireGuard interfaces: created with the kernel implementation over rtnetlink where the kernel
// has it, with the userspace one (wireguard-go) where it does not, behind one API. An
// interface can be created inside any namespace and moved into another; its UDP socket stays
// in the namespace it was created in, which is what confines everything in the target
// namespace to the tunnel.
//
// wireguard-go's control socket is /var/run/wireguard/NAME.sock whatever the namespace, so two
// userspace interfaces cannot share a name even in different namespaces; creating the second
// one is refused. Kernel interfaces have no such limit, but `wg` looks for a socket file first,
// so a kernel interface is refused too while a userspace one of the same name runs.

import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { execa } from 'execa';
import { currentNamespace, NetnsError, type NetnsHandle } from '@netvault/netns';

import { WgError } from './errors.js';
import { handshakeAge, type WgPeerStatus } from './status.js';
import {
  findWireguardGo,
  isSocketLive,
  pollUntil,
  processGone,
  removeSocket,
  socketPath,
  stopProcess,
  wireguardGoInterface,
} from './userspace.js';
import { showInterface, WgToolError, type WgTarget } from './wgtool.js';

/** `kernel`: the wireguard module, over rtnetlink. `userspace`: wireguard-go and a TUN device. */
export type WgImplementation = 'kernel' | 'userspace';

export interface WgInterfaceErrorDetails {
  op: string;
  interfaceName: string;
  /** The namespace the operation ran in, by its label. */
  namespace: string;
  /** An errno name: EEXIST, EADDRINUSE, EOPNOTSUPP, ENODEV, ETIMEDOUT, EINVAL, … */
  code: string;
  reason: string;
  cause?: unknown;
}

/** Creating, moving, finding, deleting or waiting on an interface failed. */
export class WgInterfaceError extends WgError {
  readonly interfaceName: string;
  readonly namespace: string;
  readonly code: string;

  constructor(details: WgInterfaceErrorDetails) {
    super(
      `wg: ${details.op} ${details.interfaceName} in ${details.namespace} failed: ` +
        `${details.code}: ${details.reason}`,
      { op: details.op, cause: details.cause },
    );
    this.name = 'WgInterfaceError';
    this.interfaceName = details.interfaceName;
    this.namespace = details.namespace;
    this.code = details.code;
  }
}

interface InterfaceState {
  namespace: NetnsHandle;
  pid: number | undefined;
  /** Handles this library opened for the interface and closes with it. */
  owned: NetnsHandle[];
  deleted: boolean;
}

const states = new WeakMap<WgInterface, InterfaceState>();

/** wireguard-go processes this process started, by interface name. */
const startedHere = new Map<string, number>();

/**
 * A WireGuard interface: its name, which implementation runs it, where it was created and
 * where it is now. Made by createInterface or openInterface; every `wg` call of this package
 * accepts it.
 */
export class WgInterface implements WgTarget {
  readonly name: string;
  readonly implementation: WgImplementation;
  /** The namespace the interface was created in, where its UDP socket lives; undefined when
   * the interface was found by openInterface and that is not known. */
  readonly bornIn: NetnsHandle | undefined;

  constructor(
    name: string,
    implementation: WgImplementation,
    bornIn: NetnsHandle | undefined,
    state: InterfaceState,
  ) {
    this.name = name;
    this.implementation = implementation;
    this.bornIn = bornIn;
    states.set(this, state);
  }

  /** The namespace the interface is in now; moveInterface changes it. */
  get namespace(): NetnsHandle {
    return states.get(this)!.namespace;
  }

  /** The wireguard-go process of a userspace interface. */
  get pid(): number | undefined {
    return states.get(this)!.pid;
  }

  /** The control socket of a userspace interface. */
  get socketPath(): string | undefined {
    return this.implementation === 'userspace' ? socketPath(this.name) : undefined;
  }

  /**
   * Releases the namespace handles this object opened itself (when it was created without a
   * namespace). The interface keeps running.
   */
  close(): void {
    const state = states.get(this)!;
    for (const handle of state.owned) handle.close();
    state.owned = [];
  }
}

export interface CreateInterfaceOptions {
  /** Up to 15 characters of `A-Z a-z 0-9 _ = + . -`, as wg-quick accepts. */
  name: string;
  /** Where the interface is created and its UDP socket lives; default the current namespace. */
  namespace?: NetnsHandle;
  /** Default `auto`: the kernel implementation when the kernel has it, userspace otherwise. */
  implementation?: 'auto' | WgImplementation;
  mtu?: number;
  /** How long to wait for wireguard-go to bring the interface up; default 5000 ms. */
  timeoutMs?: number;
}

const namePattern = /^[A-Za-z0-9_=+.-]{1,15}$/;

function checkName(name: string, op: string, namespace: string): void {
  if (namePattern.test(name) && name !== '.' && name !== '..') return;
  throw new WgInterfaceError({
    op,
    interfaceName: JSON.stringify(name),
    namespace,
    code: 'EINVAL',
    reason: 'an interface name has 1 to 15 characters of A-Z a-z 0-9 _ = + . -',
  });
}

function wrapNetns(error: unknown, op: string, name: string, namespace: NetnsHandle): unknown {
  if (!(error instanceof NetnsError)) return error;
  const reason = [error.extack, error.reason].filter(Boolean).join(': ') || error.message;
  return new WgInterfaceError({
    op,
    interfaceName: name,
    namespace: namespace.label,
    code: error.code,
    reason,
    cause: error,
  });
}

/** undefined until known; false after the kernel refused a wireguard link. */
let kernelHasWireguard: boolean | undefined;

/**
 * Which implementation `auto` picks on this machine. True when /sys/module/wireguard exists;
 * otherwise probes once by creating a wireguard link in a throwaway namespace
 * (`unshare --net ip link add … type wireguard`), which also loads a module that is installed
 * but not loaded. The answer is kept for the life of the process; `refresh` asks again.
 */
export async function detectImplementation(
  options: { refresh?: boolean } = {},
): Promise<WgImplementation> {
  if (kernelHasWireguard !== undefined && !options.refresh) {
    return kernelHasWireguard ? 'kernel' : 'userspace';
  }

  if (existsSync('/sys/module/wireguard')) {
    kernelHasWireguard = true;
    return 'kernel';
  }

  const args = ['--net', '--', 'ip', 'link', 'add', 'nvwgprobe', 'type', 'wireguard'];
  const probe = await execa('unshare', args, { reject: false, timeout: 10_000 });
  if (probe.exitCode === 0) {
    kernelHasWireguard = true;
    return 'kernel';
  }
  if (/not supported|unknown device type/i.test(String(probe.stderr))) {
    kernelHasWireguard = false;
    return 'userspace';
  }
  throw new WgToolError({
    op: 'detect implementation',
    command: ['unshare', ...args].join(' '),
    interfaceName: 'nvwgprobe',
    namespace: 'a throwaway namespace',
    exitCode: probe.exitCode,
    signal: probe.signal,
    stderr: String(probe.stderr ?? ''),
    cause: probe.exitCode === undefined ? probe.cause : undefined,
  });
}

/** Refuses a name taken in `namespace`, or by a running userspace interface anywhere. */
async function checkNameFree(name: string, namespace: NetnsHandle, op: string): Promise<void> {
  const fail = (code: string, reason: string) =>
    new WgInterfaceError({ op, interfaceName: name, namespace: namespace.label, code, reason });

  if (await namespace.linkFind(name)) throw fail('EEXIST', 'a link of that name exists there');

  const path = socketPath(name);
  if (await isSocketLive(path)) {
    throw fail(
      'EADDRINUSE',
      `a userspace WireGuard interface of that name runs already (${path} ` +
        "is in use), possibly in another namespace; wireguard-go's control socket is the same " +
        'for every namespace, so userspace interfaces need names unique across namespaces',
    );
  }

  // A file left by a process that died; wireguard-go and `wg` would both ignore it too.
  if (existsSync(path)) removeSocket(name);
}

/** `ip link add NAME type wireguard`; false when the kernel has no WireGuard. */
async function addKernelLink(
  namespace: NetnsHandle,
  name: string,
  mtu: number | undefined,
  op: string,
): Promise<boolean> {
  try {
    await namespace.linkAdd({ name, kind: 'wireguard', mtu });
    kernelHasWireguard = true;
    return true;
  } catch (error) {
    if (error instanceof NetnsError && error.code === 'EOPNOTSUPP') {
      kernelHasWireguard = false;
      return false;
    }
    throw wrapNetns(error, op, name, namespace);
  }
}

/**
 * `wireguard-go -f NAME` inside the namespace, detached so that it outlives this process, and
 * waits until both its TUN link and its control socket exist. Returns its pid.
 */
async function startWireguardGo(
  namespace: NetnsHandle,
  name: string,
  timeoutMs: number,
  op: string,
): Promise<number> {
  // Started straight from this thread while it is in the namespace (no `ip netns exec`), in the
  // foreground (daemon mode does not survive `ip netns exec`) and detached, so it outlives us.
  const child = namespace.run(() =>
    execa('wireguard-go', ['-f', name], {
      detached: true,
      stdio: 'ignore',
      cleanup: false,
      reject: false,
    }),
  );
  let exited: { exitCode?: number; signal?: string; cause?: unknown } | undefined;
  child.then(
    (result) => {
      exited = { exitCode: result.exitCode, signal: result.signal, cause: result.cause };
    },
    (error: unknown) => {
      exited = { cause: error };
    },
  );

  // Whatever fails from here on must not leave the process running.
  const stop = async () => {
    const pids = new Set(findWireguardGo(name).map((found) => found.pid));
    if (child.pid !== undefined && wireguardGoInterface(child.pid) === name) pids.add(child.pid);
    for (const pid of pids) await stopProcess(pid);
    removeSocket(name);
  };

  try {
    // execa's subprocess is a promise around the ChildProcess; only the latter can be unref'd,
    // so that this process may exit while wireguard-go runs on.
    (child as unknown as { nodeChildProcess: ChildProcess }).nodeChildProcess.unref();

    const ready = await pollUntil(
      async () =>
        exited !== undefined ||
        (existsSync(socketPath(name)) && (await namespace.linkFind(name)) !== undefined),
      timeoutMs,
      5,
    );

    if (exited !== undefined) {
      throw new WgToolError({
        op,
        command: `wireguard-go -f ${name}`,
        interfaceName: name,
        namespace: namespace.label,
        exitCode: exited.exitCode,
        signal: exited.signal,
        stderr: 'exited before the interface appeared; run the command by hand to see why',
        cause: exited.cause,
      });
    }
    if (!ready) {
      throw new WgInterfaceError({
        op,
        interfaceName: name,
        namespace: namespace.label,
        code: 'ETIMEDOUT',
        reason: `wireguard-go did not create the link and its control socket in ${timeoutMs} ms`,
      });
    }

    // Spawned directly, the child is wireguard-go itself.
    const pid =
      child.pid !== undefined && wireguardGoInterface(child.pid) === name
        ? child.pid
        : findWireguardGo(name)[0]?.pid;
    if (pid === undefined) {
      throw new WgInterfaceError({
        op,
        interfaceName: name,
        namespace: namespace.label,
        code: 'ESRCH',
        reason: 'the wireguard-go process serving the interface cannot be found',
      });
    }
    startedHere.set(name, pid);
    return pid;
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * Creates a WireGuard interface, down and without configuration, in `namespace` (default the
 * current one). With `auto`, the kernel implementation is tried first
 * (`ip link add NAME type wireguard`) and wireguard-go started when the kernel refuses the
 * link type; `kernel` fails with code EOPNOTSUPP where there is no module. A userspace
 * interface runs in a detached wireguard-go process that outlives this one; deleteInterface
 * stops it, from any process.
 */
export async function createInterface(options: CreateInterfaceOptions): Promise<WgInterface> {
  const op = 'create interface';
  const owned = options.namespace ? [] : [currentNamespace()];
  const namespace = options.namespace ?? owned[0];
  const wanted = options.implementation ?? 'auto';

  try {
    checkName(options.name, op, namespace.label);
    await checkNameFree(options.name, namespace, op);

    if (wanted !== 'userspace' && !(wanted === 'auto' && kernelHasWireguard === false)) {
      if (await addKernelLink(namespace, options.name, options.mtu, op)) {
        return new WgInterface(options.name, 'kernel', namespace, {
          namespace,
          pid: undefined,
          owned,
          deleted: false,
        });
      }
      if (wanted === 'kernel') {
        throw new WgInterfaceError({
          op,
          interfaceName: options.name,
          namespace: namespace.label,
          code: 'EOPNOTSUPP',
          reason: 'the kernel has no WireGuard module; use implementation userspace or auto',
        });
      }
    }

    const pid = await startWireguardGo(namespace, options.name, options.timeoutMs ?? 5000, op);
    const iface = new WgInterface(options.name, 'userspace', namespace, {
      namespace,
      pid,
      owned,
      deleted: false,
    });
    if (options.mtu !== undefined) {
      try {
        await namespace.linkSetMtu(options.name, options.mtu);
      } catch (error) {
        await deleteInterface(iface, { missingOk: true });
        throw wrapNetns(error, op, options.name, namespace);
      }
    }
    return iface;
  } catch (error) {
    for (const handle of owned) handle.close();
    throw error;
  }
}

function liveState(iface: WgInterface, op: string): InterfaceState {
  const state = states.get(iface)!;
  if (!state.deleted) return state;
  throw new WgInterfaceError({
    op,
    interfaceName: iface.name,
    namespace: state.namespace.label,
    code: 'ENODEV',
    reason: 'the interface was deleted',
  });
}

/**
 * Moves the interface into `target`. `ip link set NAME netns TARGET`. Its UDP socket stays in
 * the namespace it was created in; the link arrives down, and its addresses and routes stay
 * behind, so set them in the target.
 */
export async function moveInterface(iface: WgInterface, target: NetnsHandle): Promise<void> {
  const op = 'move interface';
  const state = liveState(iface, op);
  if (state.namespace.isSameAs(target)) return;

  if (await target.linkFind(iface.name)) {
    throw new WgInterfaceError({
      op,
      interfaceName: iface.name,
      namespace: target.label,
      code: 'EEXIST',
      reason: 'the target namespace has a link of that name',
    });
  }

  try {
    await state.namespace.linkSetNamespace(iface.name, target);
  } catch (error) {
    throw wrapNetns(error, op, iface.name, state.namespace);
  }
  state.namespace = target;
}

/**
 * An interface that exists already, perhaps made by another process: a `wireguard` link is a
 * kernel one, a TUN link served by wireguard-go a userspace one. Throws ENODEV when there is no
 * such link, EINVAL when the link is not WireGuard.
 */
export async function openInterface(ref: {
  name: string;
  namespace?: NetnsHandle;
}): Promise<WgInterface> {
  const op = 'open interface';
  const owned = ref.namespace ? [] : [currentNamespace()];
  const namespace = ref.namespace ?? owned[0];

  try {
    checkName(ref.name, op, namespace.label);
    const fail = (code: string, reason: string) =>
      new WgInterfaceError({
        op,
        interfaceName: ref.name,
        namespace: namespace.label,
        code,
        reason,
      });
    let link;
    try {
      link = await namespace.linkFind(ref.name);
    } catch (error) {
      throw wrapNetns(error, op, ref.name, namespace);
    }
    if (!link) throw fail('ENODEV', 'no link of that name');

    const state = { namespace, pid: undefined as number | undefined, owned, deleted: false };
    if (link.kind === 'wireguard') return new WgInterface(ref.name, 'kernel', undefined, state);

    state.pid = findWireguardGo(ref.name)[0]?.pid;
    const served = state.pid !== undefined || (await isSocketLive(socketPath(ref.name)));
    if (link.kind === 'tun' && served) {
      return new WgInterface(ref.name, 'userspace', undefined, state);
    }
    throw fail('EINVAL', `the link is ${link.kind ?? 'a device'}, not a WireGuard interface`);
  } catch (error) {
    for (const handle of owned) handle.close();
    throw error;
  }
}

export interface DeleteInterfaceOptions {
  /** Return false instead of throwing ENODEV when there is nothing to delete. */
  missingOk?: boolean;
  /** How long to wait for wireguard-go to exit before SIGKILL; default 3000 ms. */
  timeoutMs?: number;
}

/**
 * Deletes an interface: stops the wireguard-go process serving that name (found through /proc
 * when this process did not start it), removes its control socket, and deletes the link from
 * `namespace` (`ip link del NAME`). Given by name, the namespace is the one the link is in now
 * (default current); a userspace interface is found by its name alone, from any namespace.
 * Refuses a link that is not WireGuard. Returns true when something was removed.
 */
export async function deleteInterface(
  ref: WgInterface | { name: string; namespace?: NetnsHandle },
  options: DeleteInterfaceOptions = {},
): Promise<boolean> {
  const op = 'delete interface';
  const state = ref instanceof WgInterface ? states.get(ref) : undefined;
  const temporary = ref.namespace ? undefined : currentNamespace();
  const namespace = ref.namespace ?? temporary!;
  const name = ref.name;

  try {
    checkName(name, op, namespace.label);
    const fail = (code: string, reason: string, cause?: unknown) =>
      new WgInterfaceError({
        op,
        interfaceName: name,
        namespace: namespace.label,
        code,
        reason,
        cause,
      });

    const pids = new Set<number>();
    for (const known of [state?.pid, startedHere.get(name)]) {
      if (known !== undefined && wireguardGoInterface(known) === name) pids.add(known);
    }
    for (const found of findWireguardGo(name)) pids.add(found.pid);
    const hadSocket = existsSync(socketPath(name));

    let link;
    try {
      link = await namespace.linkFind(name);
    } catch (error) {
      throw wrapNetns(error, op, name, namespace);
    }
    const userspace = pids.size > 0 || hadSocket;
    if (link && link.kind !== 'wireguard' && !(link.kind === 'tun' && userspace)) {
      throw fail('EINVAL', `the link is ${link.kind ?? 'a device'}, not a WireGuard interface`);
    }

    if (!link && !userspace) {
      if (options.missingOk) return false;
      throw fail('ENODEV', 'no WireGuard interface of that name');
    }

    for (const pid of pids) await stopProcess(pid, options.timeoutMs);
    removeSocket(name);
    if (startedHere.has(name) && processGone(startedHere.get(name)!)) startedHere.delete(name);

    // A TUN link goes away with its process; a kernel link has to be deleted.
    if (link && link.kind === 'tun') {
      await pollUntil(async () => (await namespace.linkFind(name)) === undefined, 2000, 5);
    }
    try {
      if (await namespace.linkFind(name)) await namespace.linkDelete(name);
    } catch (error) {
      if (!(error instanceof NetnsError && error.isNotFound())) {
        throw wrapNetns(error, op, name, namespace);
      }
    }

    if (state) {
      state.deleted = true;
      (ref as WgInterface).close();
    }
    return true;
  } finally {
    temporary?.close();
  }
}

export interface WaitForHandshakeOptions {
  /** The peer's public key; default the first peer to complete a handshake. */
  peer?: string;
  /** Default 15000 ms. */
  timeoutMs?: number;
  /** How often to read the status; default 200 ms. */
  intervalMs?: number;
  /** Only a handshake at or after this time counts (handshakes are timed to the second). */
  since?: Date;
}

/**
 * Waits until a peer has completed a handshake, reading `wg show IF dump` until then, and
 * returns that peer's status (with `handshakeAgeSeconds`). A handshake only happens when
 * something is sent through the tunnel or a persistent keepalive is set. Throws code
 * ETIMEDOUT after `timeoutMs`.
 */
export async function waitForHandshake(
  target: WgTarget,
  options: WaitForHandshakeOptions = {},
): Promise<WgPeerStatus> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  const since = options.since === undefined ? 0 : Math.floor(options.since.getTime() / 1000) * 1000;
  let found: WgPeerStatus | undefined;
  let peerSeen = options.peer === undefined;

  const done = await pollUntil(
    async () => {
      const status = await showInterface(target);
      const peers = status.peers.filter(
        (peer) => options.peer === undefined || peer.publicKey === options.peer,
      );
      if (peers.length > 0) peerSeen = true;
      found = peers.find(
        (peer) => peer.latestHandshake !== undefined && peer.latestHandshake.getTime() >= since,
      );
      return found !== undefined;
    },
    timeoutMs,
    options.intervalMs ?? 200,
  );

  if (done && found) return { ...found, handshakeAgeSeconds: handshakeAge(found.latestHandshake) };

  const who = options.peer === undefined ? 'any peer' : `peer ${options.peer}`;
  throw new WgInterfaceError({
    op: 'wait for handshake',
    interfaceName: target.name,
    namespace: target.namespace?.label ?? 'current namespace',
    code: 'ETIMEDOUT',
    reason: peerSeen
      ? `no handshake with ${who} within ${timeoutMs} ms`
      : `${who} is not configured on the interface`,
  });
}
