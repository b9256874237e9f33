// The reference decoding of link, address and route messages through node-netlink's own
// parser: slow, but independent of src/decode.ts, which test/decode.test.ts checks against it.
import {
  routeTypeNumbers,
  type Address,
  type Link,
  type OperState,
  type Route,
  type RouteType,
} from '../src/codec.ts';
import { ifla, rt, type RtMessage } from '../src/rtnetlink.ts';
import { familyOfAf, formatAddress } from '../src/validate.ts';

const operStates: OperState[] = [
  'unknown',
  'notpresent',
  'down',
  'lowerlayerdown',
  'testing',
  'dormant',
  'up',
];

function macOf(bytes: Buffer | undefined): string | undefined {
  if (!bytes || bytes.length === 0) return undefined;
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(':');
}

function scopeName(scope: number): Address['scope'] {
  return (
    ({ 0: 'global', 200: 'site', 253: 'link', 254: 'host', 255: 'nowhere' } as const)[
      scope as 0 | 200 | 253 | 254 | 255
    ] ?? scope
  );
}

const routeTypeNames = new Map(
  Object.entries(routeTypeNumbers).map(([k, v]) => [v, k as RouteType]),
);

export function oracleLink(message: RtMessage): Link | undefined {
  if (message.kind !== 'link') return undefined;
  const { data, attrs } = message;
  const info = attrs.linkinfo ? ifla.parseInfo(attrs.linkinfo) : undefined;
  const link: Link = {
    index: data.index ?? 0,
    name: attrs.ifname ?? '',
    mtu: attrs.mtu ?? 0,
    up: Boolean(data.flags?.up),
    lowerUp: Boolean(data.flags?.lowerUp),
    operState: operStates[attrs.operstate ?? 0] ?? 'unknown',
  };
  if (info?.kind) link.kind = info.kind;
  if (attrs.ifalias) link.alias = attrs.ifalias;
  const mac = macOf(attrs.address);
  if (mac) link.mac = mac;
  if (attrs.link && attrs.link.length >= 4) link.peerIndex = attrs.link.readUInt32LE(0);
  if (attrs.linkNetnsid !== undefined) link.peerNamespaceId = attrs.linkNetnsid;
  if (attrs.master) link.masterIndex = attrs.master;
  return link;
}

export function oracleAddress(message: RtMessage): Address | undefined {
  if (message.kind !== 'address') return undefined;
  const { data, attrs } = message;
  const family = familyOfAf(data.family ?? 0);
  if (!family) return undefined;
  // IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer on point-to-point links.
  const local = attrs.local ?? attrs.address;
  if (!local) return undefined;
  const address = formatAddress(local);
  const entry: Address = {
    linkIndex: data.index ?? 0,
    family,
    address,
    prefixLength: data.prefixlen ?? 0,
    cidr: `${address}/${data.prefixlen ?? 0}`,
    scope: scopeName(data.scope ?? 0),
    flags: Object.keys(attrs.flags ?? data.flags ?? {}).filter((f) => f !== '__unknown'),
  };
  if (attrs.local && attrs.address && !attrs.local.equals(attrs.address)) {
    entry.peer = formatAddress(attrs.address);
  }
  if (attrs.label) entry.label = attrs.label;
  return entry;
}

export function oracleRoute(message: RtMessage): Route | undefined {
  if (message.kind !== 'route') return undefined;
  const { data, attrs } = message;
  const family = familyOfAf(data.family ?? 0);
  if (!family) return undefined;
  const typeNumber =
    typeof data.type === 'number' ? data.type : rt.RouteType[data.type ?? 'UNSPEC'];
  const scopeNumber =
    typeof data.scope === 'number' ? data.scope : rt.RouteScope[data.scope ?? 'UNIVERSE'];
  const protocolNumber =
    typeof data.protocol === 'number'
      ? data.protocol
      : rt.RouteProtocol[(data.protocol ?? 'UNSPEC') as keyof typeof rt.RouteProtocol];
  const route: Route = {
    family,
    type: routeTypeNames.get(typeNumber) ?? typeNumber,
    destination: data.dstLen
      ? `${formatAddress(attrs.dst ?? Buffer.alloc(0))}/${data.dstLen}`
      : 'default',
    table: attrs.table ?? data.table ?? 0,
    metric: attrs.priority ?? 0,
    scope: scopeName(scopeNumber),
    protocol: protocolNumber,
  };
  if (attrs.oif !== undefined) route.deviceIndex = attrs.oif;
  if (attrs.gateway) route.gateway = formatAddress(attrs.gateway);
  if (attrs.prefsrc) route.source = formatAddress(attrs.prefsrc);
  return route;
}
