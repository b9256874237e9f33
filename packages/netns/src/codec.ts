// Encoding of requests and decoding of answers for links, addresses, routes and rules.
// Pure functions over node-netlink's structures: they are unit-tested without a kernel.
import { invalidArgument } from './errors.ts';
import { attribute, ifla, rt, streamBytes, u32, type RtMessage } from './rtnetlink.ts';
import {
  afOf,
  checkUint,
  familyOfAf,
  formatAddress,
  parseAddress,
  parsePrefix,
  type Family,
} from './validate.ts';

// ---- links ----------------------------------------------------------------------------------

export type OperState =
  'unknown' | 'notpresent' | 'down' | 'lowerlayerdown' | 'testing' | 'dormant' | 'up';

/** A network interface as `ip -d link show` describes it. */
export interface Link {
  index: number;
  name: string;
  /** The link type from IFLA_INFO_KIND: `veth`, `wireguard`, `dummy`, …; absent for `lo`, NICs. */
  kind?: string;
  mtu: number;
  /** Administratively up (IFF_UP), what `ip link set up` sets. */
  up: boolean;
  /** Carrier present (IFF_LOWER_UP). */
  lowerUp: boolean;
  operState: OperState;
  alias?: string;
  /** Hardware address as `aa:bb:…`, when the link has one. */
  mac?: string;
  /** For veth and similar: the index of the peer, possibly in another namespace. */
  peerIndex?: number;
  /** The namespace id of the peer's namespace, as seen from this one. */
  peerNamespaceId?: number;
  masterIndex?: number;
}

const VETH_INFO_PEER = 1;

/** IFLA_LINKINFO for a new link of `kind`, with optional IFLA_INFO_DATA. */
export function encodeLinkInfo(kind: string, data?: Buffer): Buffer {
  return streamBytes(ifla.formatInfo(data ? { kind, data } : { kind }));
}

/** IFLA_INFO_DATA of a veth: the peer's ifinfomsg and attributes (name, target namespace). */
export function encodeVethPeer(peerName: string, peerNamespaceFd?: number, mtu?: number): Buffer {
  const peerAttrs: Record<string, unknown> = { ifname: peerName };
  if (peerNamespaceFd !== undefined) peerAttrs.netNsFd = peerNamespaceFd;
  if (mtu !== undefined) peerAttrs.mtu = mtu;
  const payload = Buffer.concat([
    rt.formatLink({}),
    streamBytes(ifla.formatLinkAttrs(peerAttrs as never)),
  ]);
  return attribute(VETH_INFO_PEER, payload);
}

// ---- addresses ------------------------------------------------------------------------------

/** An address on a link, as `ip addr show` lists it. */
export interface Address {
  linkIndex: number;
  family: Family;
  address: string;
  prefixLength: number;
  /** `address/prefixLength`. */
  cidr: string;
  /** For point-to-point links: the peer address. */
  peer?: string;
  scope: 'global' | 'site' | 'link' | 'host' | 'nowhere' | number;
  label?: string;
  flags: string[];
}

export interface AddressRequest {
  data: Record<string, unknown>;
  attrs: Record<string, unknown>;
}

export function encodeAddress(
  linkIndex: number,
  cidr: string,
  op: string,
  options: { peer?: string; noDad?: boolean } = {},
): AddressRequest {
  const prefix = parsePrefix(cidr, op);
  const data: Record<string, unknown> = {
    family: afOf(prefix.family),
    prefixlen: prefix.length,
    index: linkIndex,
    scope: 0,
  };
  const attrs: Record<string, unknown> = { local: prefix.bytes, address: prefix.bytes };
  if (options.peer) {
    const peer = parseAddress(options.peer, op);
    if (peer.family !== prefix.family) {
      throw invalidArgument(op, options.peer, 'the peer address must be of the same family');
    }
    attrs.address = peer.bytes;
  }
  if (prefix.family === 6 && options.noDad) data.flags = { nodad: true };
  return { data, attrs };
}

// ---- routes ---------------------------------------------------------------------------------

export type RouteType =
  | 'unicast'
  | 'local'
  | 'broadcast'
  | 'unreachable'
  | 'blackhole'
  | 'prohibit'
  | 'throw'
  | 'multicast'
  | 'anycast';
/** RTN_* numbers of the route types (linux/rtnetlink.h). */
export const routeTypeNumbers: Record<RouteType, number> = {
  unicast: 1,
  local: 2,
  broadcast: 3,
  anycast: 4,
  multicast: 5,
  blackhole: 6,
  unreachable: 7,
  prohibit: 8,
  throw: 9,
};

export const RT_TABLE_MAIN = 254;
export const RT_TABLE_LOCAL = 255;

export type TableRef = number | 'main' | 'local' | 'default';

export function tableNumber(table: TableRef | undefined, op: string): number {
  if (table === undefined || table === 'main') return RT_TABLE_MAIN;
  if (table === 'local') return RT_TABLE_LOCAL;
  if (table === 'default') return 253;
  checkUint(table, 0xffffffff, op, 'a routing table');
  if (table === 0) throw invalidArgument(op, '0', 'table 0 is not a routing table');
  return table;
}

/** What to add, replace or delete: `ip route add DEST [via GW] [dev DEV] [metric N] [table T]`. */
export interface RouteSpec {
  /** A prefix, an address (a host route) or `default` (give `family` for IPv6). */
  destination: string;
  family?: Family;
  type?: RouteType;
  /** Device name or index: a default route pinned to a device needs no gateway. */
  device?: string | number;
  gateway?: string;
  /** Preferred source address (`src`). */
  source?: string;
  metric?: number;
  table?: TableRef;
  scope?: 'global' | 'link' | 'host';
  protocol?: 'boot' | 'static' | 'kernel' | number;
  /** Route MTU (`mtu N`). */
  mtu?: number;
}

/** A route as `ip route show table all` lists it. */
export interface Route {
  family: Family;
  type: RouteType | number;
  /** `default` or `addr/len`. */
  destination: string;
  table: number;
  deviceIndex?: number;
  gateway?: string;
  source?: string;
  metric: number;
  scope: Address['scope'];
  protocol: number;
}

export function encodeRoute(spec: RouteSpec, deviceIndex: number | undefined, op: string) {
  const destination = parsePrefix(spec.destination, op, {
    requireNetwork: true,
    defaultFamily: spec.family ?? (spec.gateway?.includes(':') ? 6 : 4),
  });
  if (spec.family && spec.family !== destination.family) {
    throw invalidArgument(op, spec.destination, `expected an IPv${spec.family} destination`);
  }
  const type = spec.type ?? 'unicast';
  if (!(type in routeTypeNumbers)) {
    throw invalidArgument(
      op,
      String(type),
      `a route type is one of ${Object.keys(routeTypeNumbers).join(', ')}`,
    );
  }
  const table = tableNumber(spec.table, op);
  const scopes = { global: 0, link: 253, host: 254 } as const;
  const unicastLike = type === 'unicast' || type === 'local';
  const scope =
    spec.scope !== undefined
      ? scopes[spec.scope]
      : unicastLike && spec.gateway === undefined && deviceIndex !== undefined
        ? 253
        : 0;
  const protocols = { kernel: 2, boot: 3, static: 4 } as const;
  const protocol =
    typeof spec.protocol === 'number' ? spec.protocol : protocols[spec.protocol ?? 'boot'];
  const data: Record<string, unknown> = {
    family: afOf(destination.family),
    dstLen: destination.length,
    table: table < 256 ? table : 0,
    protocol,
    scope,
    type: routeTypeNumbers[type],
  };
  const attrs: Record<string, unknown> = { table };
  if (destination.length > 0) attrs.dst = destination.bytes;
  if (deviceIndex !== undefined) attrs.oif = deviceIndex;
  if (spec.gateway !== undefined) {
    const gateway = parseAddress(spec.gateway, op);
    if (gateway.family !== destination.family) {
      throw invalidArgument(op, spec.gateway, "the gateway must be of the destination's family");
    }
    attrs.gateway = gateway.bytes;
  }
  if (spec.source !== undefined) attrs.prefsrc = parseAddress(spec.source, op).bytes;
  if (spec.metric !== undefined) {
    checkUint(spec.metric, 0xffffffff, op, 'a metric');
    attrs.priority = spec.metric;
  }
  if (spec.mtu !== undefined) {
    checkUint(spec.mtu, 0xffffffff, op, 'a route MTU');
    attrs.metrics = { mtu: u32(spec.mtu) };
  }
  return { data, attrs };
}

// ---- policy rules ---------------------------------------------------------------------------

/** `ip rule add [not] [fwmark M/MASK] [from P] [to P] [iif D] [oif D] [pref N] lookup T`. */
export interface RuleSpec {
  family: Family;
  priority?: number;
  /** `lookup` (the default) or a terminal action. */
  action?: 'lookup' | 'blackhole' | 'unreachable' | 'prohibit';
  table?: TableRef;
  fwmark?: number;
  fwmask?: number;
  from?: string;
  to?: string;
  iif?: string;
  oif?: string;
  invert?: boolean;
  /** `suppress_prefixlength N`: ignore lookup results with a prefix of N bits or fewer. */
  suppressPrefixLength?: number;
}

export interface Rule {
  family: Family;
  priority: number;
  action: RuleSpec['action'] | number;
  table: number;
  fwmark?: number;
  fwmask?: number;
  from?: string;
  to?: string;
  iif?: string;
  oif?: string;
  invert: boolean;
  suppressPrefixLength?: number;
}

const ruleActions = { lookup: 1, blackhole: 6, unreachable: 7, prohibit: 8 } as const;
const FRA_SUPPRESS_PREFIXLEN = 14;

export function encodeRule(spec: RuleSpec, op: string) {
  if (spec.family !== 4 && spec.family !== 6) {
    throw invalidArgument(op, String(spec.family), 'a rule needs family 4 or 6');
  }
  const action = spec.action ?? 'lookup';
  if (!(action in ruleActions)) throw invalidArgument(op, String(action), 'unknown rule action');
  const table = action === 'lookup' ? tableNumber(spec.table, op) : 0;
  const data: Record<string, unknown> = {
    family: afOf(spec.family),
    table: table < 256 ? table : 0,
    action: ruleActions[action],
    flags: spec.invert ? { invert: true } : {},
  };
  const attrs: Record<string, unknown> = {};
  if (action === 'lookup') attrs.table = table;
  if (spec.priority !== undefined) {
    checkUint(spec.priority, 0xffffffff, op, 'a rule priority');
    attrs.priority = spec.priority;
  }
  if (spec.fwmark !== undefined) {
    checkUint(spec.fwmark, 0xffffffff, op, 'a fwmark');
    attrs.fwmark = spec.fwmark;
    attrs.fwmask = spec.fwmask ?? 0xffffffff;
  }
  for (const side of ['from', 'to'] as const) {
    const text = spec[side];
    if (text === undefined) continue;
    const prefix = parsePrefix(text, op, { requireNetwork: true });
    if (prefix.family !== spec.family)
      throw invalidArgument(op, text, `expected IPv${spec.family}`);
    data[side === 'from' ? 'srcLen' : 'dstLen'] = prefix.length;
    attrs[side === 'from' ? 'src' : 'dst'] = prefix.bytes;
  }
  if (spec.iif) attrs.iifname = spec.iif;
  if (spec.oif) attrs.oifname = spec.oif;
  const extra: Buffer[] = [];
  if (spec.suppressPrefixLength !== undefined) {
    checkUint(spec.suppressPrefixLength, 128, op, 'suppress_prefixlength');
    extra.push(attribute(FRA_SUPPRESS_PREFIXLEN, u32(spec.suppressPrefixLength)));
  }
  return { data, attrs, extra };
}

export function decodeRule(message: RtMessage): Rule | undefined {
  if (message.kind !== 'rule') return undefined;
  const { data, attrs } = message;
  const family = familyOfAf(data.family ?? 0);
  if (!family) return undefined;
  const actionNumber =
    typeof data.action === 'number'
      ? data.action
      : rt.RuleAction[(data.action ?? 'UNSPEC') as keyof typeof rt.RuleAction];
  const actionName = (Object.keys(ruleActions) as (keyof typeof ruleActions)[]).find(
    (name) => ruleActions[name] === actionNumber,
  );
  const rule: Rule = {
    family,
    priority: attrs.priority ?? 0,
    action: actionName ?? actionNumber,
    table: attrs.table ?? data.table ?? 0,
    invert: Boolean(data.flags?.invert),
  };
  if (attrs.fwmark !== undefined) rule.fwmark = attrs.fwmark;
  if (attrs.fwmask !== undefined) rule.fwmask = attrs.fwmask;
  if (attrs.src) rule.from = `${formatAddress(attrs.src)}/${data.srcLen}`;
  if (attrs.dst) rule.to = `${formatAddress(attrs.dst)}/${data.dstLen}`;
  if (attrs.iifname) rule.iif = attrs.iifname;
  if (attrs.oifname) rule.oif = attrs.oifname;
  if (attrs.suppressPrefixlen && attrs.suppressPrefixlen.length >= 4) {
    const value = attrs.suppressPrefixlen.readUInt32LE(0);
    if (value !== 0xffffffff) rule.suppressPrefixLength = value;
  }
  return rule;
}
