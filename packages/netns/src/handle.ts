// A handle on one network namespace: it owns an open descriptor of the namespace and an
// rtnetlink socket opened inside it, and every operation on links, addresses, routes, rules and
// sysctls is one of its methods. Close it with close().
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { execa, type Options as ExecaOptions, type ResultPromise } from 'execa';
import {
  decodeRule,
  encodeAddress,
  encodeLinkInfo,
  encodeRoute,
  encodeRule,
  encodeVethPeer,
  tableNumber,
  type Address,
  type Link,
  type Route,
  type RouteSpec,
  type Rule,
  type RuleSpec,
  type TableRef,
} from './codec.ts';
import { decodeAddressMessage, decodeLinkMessage, decodeRouteMessage } from './decode.ts';
import { NetnsError, invalidArgument } from './errors.ts';
import { NetnsEvents, type EventKind } from './events.ts';
import { namespacePath } from './namespaces.ts';
import { NLM_F, RTM, RtSocket, encodeMessage, u32, type RequestContext } from './rtnetlink.ts';
import { sameNamespace, withNetns } from './syscalls.ts';
import { afOf, checkLinkName, checkUint, type Family } from './validate.ts';

/** Which namespace to open: by name (under /run/netns), by a path to a namespace file, by pid. */
export type NamespaceRef = { name: string } | { path: string } | { pid: number };

/** A link by name or by index. */
export type LinkRef = string | number;

export interface ExecOptions {
  /** Written to the command's standard input. */
  input?: string;
  /** Also copy the command's output to this process's stdout/stderr while it runs. */
  stream?: boolean;
  timeoutMs?: number;
  env?: Record<string, string>;
  cwd?: string;
}

export interface ExecResult {
  command: string;
  exitCode: number | undefined;
  signal: string | undefined;
  stdout: string;
  stderr: string;
}

export type LinkWaitState = 'present' | 'absent' | 'up' | 'lowerUp';

function describe(ref: NamespaceRef): { path: string; name?: string; label: string } {
  if ('name' in ref) return { path: namespacePath(ref.name), name: ref.name, label: ref.name };
  if ('pid' in ref) {
    checkUint(ref.pid, 0x7fffffff, 'netns open', 'a pid');
    return { path: `/proc/${ref.pid}/ns/net`, label: `pid ${ref.pid}` };
  }
  return { path: ref.path, label: ref.path };
}

/**
 * Opens a handle on a namespace: `ip -n NAME …` for every call made through it.
 * The handle keeps the namespace alive until close(), even if its name is deleted meanwhile.
 */
export function openNamespace(ref: NamespaceRef): NetnsHandle {
  const { path, name, label } = describe(ref);
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    throw new NetnsError({
      op: 'netns open',
      object: label,
      errno: -((error as NodeJS.ErrnoException).errno ?? -2),
      cause: error,
    });
  }
  try {
    const socket = withNetns(fd, () => new RtSocket(), label);
    return new NetnsHandle(fd, path, label, name, socket);
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}

/** A handle on the namespace the process is in now. */
export function currentNamespace(): NetnsHandle {
  const fd = openSync('/proc/thread-self/ns/net', 'r');
  return new NetnsHandle(
    fd,
    '/proc/thread-self/ns/net',
    'current namespace',
    undefined,
    new RtSocket(),
  );
}

export class NetnsHandle {
  /** The namespace's name under /run/netns, when it was opened by name. */
  readonly name: string | undefined;
  readonly path: string;
  /** How errors refer to this namespace. */
  readonly label: string;
  #fd: number;
  #socket: RtSocket;
  #closed = false;

  constructor(fd: number, path: string, label: string, name: string | undefined, socket: RtSocket) {
    this.#fd = fd;
    this.path = path;
    this.label = label;
    this.name = name;
    this.#socket = socket;
  }

  /** The open descriptor of the namespace (valid until close()). */
  get fd(): number {
    this.#checkOpen('fd');
    return this.#fd;
  }

  /** Closes the netlink socket and the namespace descriptor. Safe to call twice. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket.close();
    closeSync(this.#fd);
  }

  /** True when both handles refer to the same kernel namespace. */
  isSameAs(other: NetnsHandle): boolean {
    return sameNamespace(this.fd, other.fd);
  }

  /**
   * Runs synchronous `fn` with the thread inside this namespace (sockets it opens stay here),
   * then switches back, also when it throws.
   */
  run<T>(fn: () => T): T {
    return withNetns(this.fd, fn, this.label);
  }

  #checkOpen(op: string): void {
    if (this.#closed) throw invalidArgument(op, this.label, 'the namespace handle is closed');
  }

  #context(op: string, object?: string): RequestContext {
    this.#checkOpen(op);
    return { op, object: object === undefined ? `in ${this.label}` : `${object} in ${this.label}` };
  }

  // ---- links --------------------------------------------------------------------------------

  async #linkRequest(
    type: number,
    flags: number,
    data: object,
    attrs: object,
    ctx: RequestContext,
  ) {
    return this.#socket.request(type, encodeMessage('link', data, attrs), flags, ctx);
  }

  #linkSelector(ref: LinkRef, op: string): { data: object; attrs: object } {
    if (typeof ref === 'number') {
      checkUint(ref, 0x7fffffff, op, 'a link index');
      return { data: { index: ref }, attrs: {} };
    }
    checkLinkName(ref, op);
    return { data: {}, attrs: { ifname: ref } };
  }

  /** All links. `ip link show`. */
  async linkList(): Promise<Link[]> {
    // IFLA_EXT_MASK with RTEXT_FILTER_SKIP_STATS: the kernel leaves out the counters, which
    // are most of each message and are not reported here.
    const messages = await this.#linkRequest(
      RTM.GETLINK,
      NLM_F.DUMP,
      {},
      { extMask: u32(8) },
      this.#context('link show'),
    );
    return messages
      .map((m) => decodeLinkMessage(m.data))
      .filter((link): link is Link => link !== undefined);
  }

  /** One link by name or index; throws NetnsError with isNotFound() when absent. `ip link show DEV`. */
  async linkGet(ref: LinkRef): Promise<Link> {
    const { data, attrs } = this.#linkSelector(ref, 'link show');
    const [message] = await this.#linkRequest(
      RTM.GETLINK,
      0,
      data,
      { ...attrs, extMask: u32(8) },
      this.#context('link show', String(ref)),
    );
    const link = message && decodeLinkMessage(message.data);
    if (!link) throw new NetnsError({ ...this.#context('link show', String(ref)), errno: 19 });
    return link;
  }

  /** Like linkGet, but undefined when the link does not exist. */
  async linkFind(ref: LinkRef): Promise<Link | undefined> {
    try {
      return await this.linkGet(ref);
    } catch (error) {
      if (error instanceof NetnsError && error.isNotFound()) return undefined;
      throw error;
    }
  }

  async #linkIndex(ref: LinkRef, op: string): Promise<number> {
    if (typeof ref === 'number') return ref;
    checkLinkName(ref, op);
    return (await this.linkGet(ref)).index;
  }

  async #linkSet(ref: LinkRef, op: string, data: object, attrs: object): Promise<void> {
    const selector = this.#linkSelector(ref, op);
    await this.#linkRequest(
      RTM.NEWLINK,
      0,
      { ...selector.data, ...data },
      { ...selector.attrs, ...attrs },
      this.#context(op, String(ref)),
    );
  }

  /**
   * Creates a link of any kind the kernel knows (`dummy`, `wireguard`, `bridge`, …), with
   * optional IFLA_INFO_DATA. `ip link add NAME type KIND`.
   */
  async linkAdd(options: {
    name: string;
    kind: string;
    data?: Buffer;
    mtu?: number;
  }): Promise<Link> {
    checkLinkName(options.name, 'link add');
    if (!/^[a-z0-9_-]{1,32}$/i.test(options.kind)) {
      throw invalidArgument('link add', options.kind, 'expected a link kind such as dummy or veth');
    }
    const attrs: Record<string, unknown> = {
      ifname: options.name,
      linkinfo: encodeLinkInfo(options.kind, options.data),
    };
    if (options.mtu !== undefined) {
      checkUint(options.mtu, 0xffff, 'link add', 'an MTU');
      attrs.mtu = options.mtu;
    }
    await this.#linkRequest(
      RTM.NEWLINK,
      NLM_F.CREATE | NLM_F.EXCL,
      {},
      attrs,
      this.#context('link add', options.name),
    );
    return this.linkGet(options.name);
  }

  /**
   * Creates a veth pair with `name` here and `peerName` placed straight into `peerNamespace`
   * (this namespace when omitted), in one request.
   * `ip link add NAME type veth peer name PEER netns NS`.
   */
  async vethAdd(options: {
    name: string;
    peerName: string;
    peerNamespace?: NetnsHandle;
    mtu?: number;
  }): Promise<Link> {
    checkLinkName(options.name, 'link add veth');
    checkLinkName(options.peerName, 'link add veth');
    if (options.mtu !== undefined) checkUint(options.mtu, 0xffff, 'link add veth', 'an MTU');
    const peer = encodeVethPeer(options.peerName, options.peerNamespace?.fd, options.mtu);
    const attrs: Record<string, unknown> = {
      ifname: options.name,
      linkinfo: encodeLinkInfo('veth', peer),
    };
    if (options.mtu !== undefined) attrs.mtu = options.mtu;
    await this.#linkRequest(
      RTM.NEWLINK,
      NLM_F.CREATE | NLM_F.EXCL,
      {},
      attrs,
      this.#context('link add veth', `${options.name}/${options.peerName}`),
    );
    return this.linkGet(options.name);
  }

  /** `ip link set DEV up`. */
  linkSetUp(ref: LinkRef): Promise<void> {
    return this.#linkSet(ref, 'link set up', { flags: { up: true }, change: { up: true } }, {});
  }

  /** `ip link set DEV down`. */
  linkSetDown(ref: LinkRef): Promise<void> {
    return this.#linkSet(ref, 'link set down', { flags: {}, change: { up: true } }, {});
  }

  /** `ip link set DEV mtu N`. */
  linkSetMtu(ref: LinkRef, mtu: number): Promise<void> {
    checkUint(mtu, 0xffff, 'link set mtu', 'an MTU');
    return this.#linkSet(ref, 'link set mtu', {}, { mtu });
  }

  /** `ip link set DEV name NEW` (the link must be down). */
  async linkSetName(ref: LinkRef, newName: string): Promise<void> {
    checkLinkName(newName, 'link set name');
    const index = await this.#linkIndex(ref, 'link set name');
    await this.#linkSet(index, 'link set name', {}, { ifname: newName });
  }

  /** `ip link set DEV alias TEXT`; an empty text removes the alias. */
  linkSetAlias(ref: LinkRef, alias: string): Promise<void> {
    if (Buffer.byteLength(alias) > 255) {
      throw invalidArgument('link set alias', alias, 'an alias has at most 255 bytes');
    }
    return this.#linkSet(ref, 'link set alias', {}, { ifalias: alias });
  }

  /**
   * Moves a link into another namespace. `ip link set DEV netns NS`. For WireGuard, the UDP
   * socket stays in the namespace the interface was created in.
   */
  linkSetNamespace(ref: LinkRef, target: NetnsHandle): Promise<void> {
    return this.#linkSet(ref, 'link set netns', {}, { netNsFd: target.fd });
  }

  /** `ip link del DEV`. Deleting one end of a veth deletes both. */
  async linkDelete(ref: LinkRef): Promise<void> {
    const selector = this.#linkSelector(ref, 'link del');
    await this.#linkRequest(
      RTM.DELLINK,
      0,
      selector.data,
      selector.attrs,
      this.#context('link del', String(ref)),
    );
  }

  /**
   * Waits until a link is present, absent, up, or has carrier, watching link events; rejects
   * with code ETIMEDOUT after `timeoutMs` (default 5000).
   */
  async linkWait(name: string, options: { state?: LinkWaitState; timeoutMs?: number } = {}) {
    checkLinkName(name, 'link wait');
    const state = options.state ?? 'present';
    const reached = (link: Link | undefined) =>
      state === 'absent'
        ? link === undefined
        : state === 'present'
          ? link !== undefined
          : state === 'up'
            ? Boolean(link?.up)
            : Boolean(link?.lowerUp);
    const events = this.events({ kinds: ['link'] });
    const timer = setTimeout(() => events.close(), options.timeoutMs ?? 5000);
    try {
      if (reached(await this.linkFind(name))) return;
      for await (const event of events) {
        if (event.kind !== 'link') continue;
        if (event.link.name !== name) continue;
        if (reached(event.action === 'del' ? undefined : event.link)) return;
      }
      throw new NetnsError({
        ...this.#context('link wait', name),
        errno: 110,
        reason: `not ${state} after ${options.timeoutMs ?? 5000} ms`,
      });
    } finally {
      clearTimeout(timer);
      events.close();
    }
  }

  // ---- addresses ----------------------------------------------------------------------------

  async #addressRequest(
    type: number,
    flags: number,
    link: LinkRef,
    cidr: string,
    op: string,
    options: { peer?: string; noDad?: boolean },
  ) {
    const request = encodeAddress(0, cidr, op, options);
    const index = await this.#linkIndex(link, op);
    const payload = encodeMessage('address', { ...request.data, index }, request.attrs);
    await this.#socket.request(type, payload, flags, this.#context(op, `${cidr} dev ${link}`));
  }

  /** `ip addr add CIDR dev DEV [peer P]`. IPv6 addresses skip duplicate detection by default. */
  addrAdd(link: LinkRef, cidr: string, options: { peer?: string; noDad?: boolean } = {}) {
    return this.#addressRequest(RTM.NEWADDR, NLM_F.CREATE | NLM_F.EXCL, link, cidr, 'addr add', {
      noDad: true,
      ...options,
    });
  }

  /** `ip addr replace CIDR dev DEV`: adds, or updates an existing address. */
  addrReplace(link: LinkRef, cidr: string, options: { peer?: string; noDad?: boolean } = {}) {
    return this.#addressRequest(
      RTM.NEWADDR,
      NLM_F.CREATE | NLM_F.REPLACE,
      link,
      cidr,
      'addr replace',
      { noDad: true, ...options },
    );
  }

  /** `ip addr del CIDR dev DEV`. */
  addrDelete(link: LinkRef, cidr: string) {
    return this.#addressRequest(RTM.DELADDR, 0, link, cidr, 'addr del', {});
  }

  /** `ip addr show [dev DEV]`, optionally one family. */
  async addrList(filter: { link?: LinkRef; family?: Family } = {}): Promise<Address[]> {
    const index =
      filter.link === undefined ? undefined : await this.#linkIndex(filter.link, 'addr show');
    const payload = encodeMessage('address', {
      family: filter.family ? afOf(filter.family) : 0,
      index: index ?? 0,
    });
    const messages = await this.#socket.request(
      RTM.GETADDR,
      payload,
      NLM_F.DUMP,
      this.#context('addr show'),
    );
    return messages
      .map((m) => decodeAddressMessage(m.data))
      .filter(
        (a): a is Address =>
          a !== undefined &&
          (index === undefined || a.linkIndex === index) &&
          (filter.family === undefined || a.family === filter.family),
      );
  }

  // ---- routes -------------------------------------------------------------------------------

  async #routeRequest(type: number, flags: number, spec: RouteSpec, op: string) {
    const deviceIndex =
      spec.device === undefined ? undefined : await this.#linkIndex(spec.device, op);
    const { data, attrs } = encodeRoute(spec, deviceIndex, op);
    if (type === RTM.DELROUTE) {
      // For deletion, only what the caller named must match.
      if (spec.type === undefined) delete data.type;
      if (spec.protocol === undefined) delete data.protocol;
      if (spec.scope === undefined) data.scope = 255;
    }
    const object = [
      spec.type && spec.type !== 'unicast' ? spec.type : '',
      spec.destination,
      spec.gateway ? `via ${spec.gateway}` : '',
      spec.device !== undefined ? `dev ${spec.device}` : '',
      spec.table !== undefined ? `table ${spec.table}` : '',
    ]
      .filter(Boolean)
      .join(' ');
    await this.#socket.request(
      type,
      encodeMessage('route', data, attrs),
      flags,
      this.#context(op, object),
    );
  }

  /**
   * `ip route add …`: a route via a gateway, pinned to a device (`default dev wg0`), or an
   * `unreachable`/`blackhole`/`prohibit` route with a metric, in any table.
   */
  routeAdd(spec: RouteSpec): Promise<void> {
    return this.#routeRequest(RTM.NEWROUTE, NLM_F.CREATE | NLM_F.EXCL, spec, 'route add');
  }

  /** `ip route replace …`: adds, or replaces the route with the same destination/metric/table. */
  routeReplace(spec: RouteSpec): Promise<void> {
    return this.#routeRequest(RTM.NEWROUTE, NLM_F.CREATE | NLM_F.REPLACE, spec, 'route replace');
  }

  /** `ip route del …`: deletes the first route matching what the spec names. */
  routeDelete(spec: RouteSpec): Promise<void> {
    return this.#routeRequest(RTM.DELROUTE, 0, spec, 'route del');
  }

  /**
   * `ip [-4|-6] route show [table T|all]`. Default: both families, the main table. Cached and
   * cloned routes are left out, as `ip route show` does.
   */
  async routeList(filter: { family?: Family; table?: TableRef | 'all' } = {}): Promise<Route[]> {
    const table = filter.table === 'all' ? undefined : tableNumber(filter.table, 'route show');
    const messages = await this.#socket.request(
      RTM.GETROUTE,
      encodeMessage('route', { family: filter.family ? afOf(filter.family) : 0 }),
      NLM_F.DUMP,
      this.#context('route show'),
    );
    return messages
      .map((m) => decodeRouteMessage(m.data))
      .filter(
        (r): r is Route =>
          r !== undefined &&
          (table === undefined || r.table === table) &&
          (filter.family === undefined || r.family === filter.family),
      );
  }

  // ---- policy rules -------------------------------------------------------------------------

  async #ruleRequest(type: number, flags: number, spec: RuleSpec, op: string) {
    const { data, attrs, extra } = encodeRule(spec, op);
    const object = [
      spec.invert ? 'not' : '',
      spec.fwmark !== undefined ? `fwmark ${spec.fwmark}` : '',
      spec.from ? `from ${spec.from}` : '',
      spec.priority !== undefined ? `pref ${spec.priority}` : '',
      `lookup ${spec.table ?? 'main'}`,
    ]
      .filter(Boolean)
      .join(' ');
    await this.#socket.request(
      type,
      [...encodeMessage('rule', data, attrs), ...extra],
      flags,
      this.#context(op, object),
    );
  }

  /** `ip rule add …`. */
  ruleAdd(spec: RuleSpec): Promise<void> {
    return this.#ruleRequest(RTM.NEWRULE, NLM_F.CREATE | NLM_F.EXCL, spec, 'rule add');
  }

  /** `ip rule del …`: deletes the first rule matching what the spec names. */
  ruleDelete(spec: RuleSpec): Promise<void> {
    return this.#ruleRequest(RTM.DELRULE, 0, spec, 'rule del');
  }

  /** `ip [-4|-6] rule show`. */
  async ruleList(family?: Family): Promise<Rule[]> {
    const messages = await this.#socket.requestParsed(
      RTM.GETRULE,
      encodeMessage('rule', { family: family ? afOf(family) : 0 }),
      NLM_F.DUMP,
      this.#context('rule show'),
    );
    return messages
      .map(decodeRule)
      .filter((r): r is Rule => r !== undefined && (family === undefined || r.family === family));
  }

  // ---- sysctls ------------------------------------------------------------------------------

  /** Reads a per-namespace sysctl (`net.*`) inside this namespace. `ip netns exec NS sysctl KEY`. */
  sysctlGet(key: string): string {
    const path = sysctlPath(key, 'sysctl get');
    return this.#sysctlIo('sysctl get', key, () => readFileSync(path, 'utf8').trim());
  }

  /** Writes a per-namespace sysctl (`net.*`) inside this namespace. `sysctl -w KEY=VALUE`. */
  sysctlSet(key: string, value: string | number): void {
    const path = sysctlPath(key, 'sysctl set');
    const text = String(value);
    if (/[\n\0]/.test(text)) throw invalidArgument('sysctl set', key, 'a value is one line');
    this.#sysctlIo('sysctl set', key, () => writeFileSync(path, text));
  }

  #sysctlIo<T>(op: string, key: string, io: () => T): T {
    const context = this.#context(op, key);
    try {
      return this.run(io);
    } catch (error) {
      if (error instanceof NetnsError) throw error;
      throw new NetnsError({
        ...context,
        errno: -((error as NodeJS.ErrnoException).errno ?? -5),
        cause: error,
      });
    }
  }

  // ---- commands -----------------------------------------------------------------------------

  #commandPrefix(): string[] {
    // `ip netns exec` also applies /etc/netns/NAME/* over /etc and remounts /sys; for
    // namespaces without a name only the network namespace is entered.
    return this.name !== undefined
      ? ['ip', 'netns', 'exec', this.name]
      : ['nsenter', `--net=${this.path}`, '--'];
  }

  /**
   * Runs a command inside the namespace and returns its exit code and output; a non-zero exit
   * is a result, not an error. `ip netns exec NS CMD …`.
   */
  async exec(command: string, args: string[] = [], options: ExecOptions = {}): Promise<ExecResult> {
    this.#checkOpen('exec');
    const [program, ...prefix] = this.#commandPrefix();
    const result = await execa(program, [...prefix, command, ...args], execaOptions(options));
    return execResult(command, args, result);
  }

  /**
   * Runs a command with only the network namespace entered, as `nsenter --net` does, started
   * straight from this process's thread while it is in the namespace: no `ip netns exec`
   * process, and no /etc/netns files applied. For tools that only need the network (nft, wg,
   * ping). `stdin` may be a descriptor, such as one from memoryFile().
   */
  async execInNetwork(
    command: string,
    args: string[] = [],
    options: ExecOptions & { stdin?: number } = {},
  ): Promise<ExecResult> {
    this.#checkOpen('exec');
    const subprocess = this.run(() => execa(command, args, execaOptions(options)));
    return execResult(command, args, await subprocess);
  }

  /** Starts a long-running command inside the namespace and returns execa's subprocess. */
  spawn(command: string, args: string[] = [], options: ExecaOptions = {}): ResultPromise {
    this.#checkOpen('spawn');
    const [program, ...prefix] = this.#commandPrefix();
    return execa(program, [...prefix, command, ...args], options);
  }

  // ---- events -------------------------------------------------------------------------------

  /**
   * Subscribes to link, address and route changes in this namespace. Iterate it with
   * `for await`; close() ends the iteration.
   */
  events(options: { kinds?: EventKind[] } = {}): NetnsEvents {
    this.#checkOpen('events');
    return this.run(() => new NetnsEvents(options.kinds ?? ['link', 'address', 'route']));
  }
}

/** execa's options for exec and execInNetwork: output kept (and streamed when asked). */
function execaOptions(options: ExecOptions & { stdin?: number }) {
  const stdio = options.stream ? (['pipe', 'inherit'] as const) : 'pipe';
  const input =
    options.stdin === undefined ? { input: options.input } : { stdin: options.stdin as never };
  return {
    reject: false,
    ...input,
    timeout: options.timeoutMs,
    env: options.env,
    cwd: options.cwd,
    stdout: stdio as never,
    stderr: stdio as never,
    stripFinalNewline: false,
  } as const;
}

function execResult(
  command: string,
  args: string[],
  result: { exitCode?: number; signal?: string; stdout?: unknown; stderr?: unknown },
): ExecResult {
  return {
    command: [command, ...args].join(' '),
    exitCode: result.exitCode,
    signal: result.signal,
    stdout: String(result.stdout ?? ''),
    stderr: String(result.stderr ?? ''),
  };
}

/** Maps `net.ipv4.ip_forward` (or `net/ipv4/conf/eth0.1/…`) to its file under /proc/sys. */
export function sysctlPath(key: string, op: string): string {
  const parts = key.includes('/') ? key.split('/') : key.split('.');
  if (parts[0] !== 'net' || parts.length < 3) {
    throw invalidArgument(
      op,
      key,
      'expected a per-namespace key under net., e.g. net.ipv4.ip_forward',
    );
  }
  if (parts.some((part) => part === '' || part === '.' || part === '..' || /[\s\0]/.test(part))) {
    throw invalidArgument(op, key, 'a sysctl key is made of non-empty names');
  }
  return `/proc/sys/${parts.join('/')}`;
}
