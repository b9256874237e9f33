// Decoders for the three messages that dumps return by the hundred: links, addresses, routes.
// They read only the attributes netvault reports, straight from the kernel's bytes, where
// node-netlink's generic parser decodes every attribute (statistics included) into objects
// first; on a namespace with 100 links and 350 routes that parser took most of a listing's time.
// test/decode.test.ts checks these against node-netlink's parser.
import type { Address, Link, OperState, Route, RouteType } from './codec.ts';
import { formatAddress, familyOfAf } from './validate.ts';

const operStates: OperState[] = [
  'unknown',
  'notpresent',
  'down',
  'lowerlayerdown',
  'testing',
  'dormant',
  'up',
];

const IFF_UP = 0x1;
const IFF_LOWER_UP = 0x10000;
const IFLA = {
  ADDRESS: 1,
  IFNAME: 3,
  MTU: 4,
  LINK: 5,
  MASTER: 10,
  OPERSTATE: 16,
  LINKINFO: 18,
  IFALIAS: 20,
  LINK_NETNSID: 37,
};
const IFLA_INFO_KIND = 1;
const IFA = { ADDRESS: 1, LOCAL: 2, LABEL: 3, FLAGS: 8 };
const RTA = { DST: 1, OIF: 4, GATEWAY: 5, PRIORITY: 6, PREFSRC: 7, TABLE: 15 };

/** Calls `visit(type, start, end)` for each attribute in data[offset…]. */
function eachAttribute(
  data: Buffer,
  offset: number,
  visit: (type: number, start: number, end: number) => void,
): void {
  while (offset + 4 <= data.length) {
    const length = data.readUInt16LE(offset);
    if (length < 4 || offset + length > data.length) return;
    visit(data.readUInt16LE(offset + 2) & 0x3fff, offset + 4, offset + length);
    offset += (length + 3) & ~3;
  }
}

function cString(data: Buffer, start: number, end: number): string {
  let stop = start;
  while (stop < end && data[stop] !== 0) stop += 1;
  return data.toString('utf8', start, stop);
}

/** RTM_NEWLINK / RTM_DELLINK payload (struct ifinfomsg and attributes). */
export function decodeLinkMessage(data: Buffer): Link | undefined {
  if (data.length < 16) return undefined;
  const flags = data.readUInt32LE(8);
  const link: Link = {
    index: data.readInt32LE(4),
    name: '',
    mtu: 0,
    up: (flags & IFF_UP) !== 0,
    lowerUp: (flags & IFF_LOWER_UP) !== 0,
    operState: 'unknown',
  };
  eachAttribute(data, 16, (type, start, end) => {
    switch (type) {
      case IFLA.IFNAME:
        link.name = cString(data, start, end);
        break;
      case IFLA.MTU:
        link.mtu = data.readUInt32LE(start);
        break;
      case IFLA.OPERSTATE:
        link.operState = operStates[data[start]] ?? 'unknown';
        break;
      case IFLA.IFALIAS: {
        const alias = cString(data, start, end);
        if (alias) link.alias = alias;
        break;
      }
      case IFLA.ADDRESS:
        if (end > start) link.mac = data.toString('hex', start, end).replace(/(..)(?!$)/g, '$1:');
        break;
      case IFLA.LINK:
        link.peerIndex = data.readUInt32LE(start);
        break;
      case IFLA.MASTER:
        if (data.readUInt32LE(start)) link.masterIndex = data.readUInt32LE(start);
        break;
      case IFLA.LINK_NETNSID:
        link.peerNamespaceId = data.readInt32LE(start);
        break;
      case IFLA.LINKINFO:
        for (let at = start; at + 4 <= end;) {
          const length = data.readUInt16LE(at);
          if (length < 4 || at + length > end) break;
          if ((data.readUInt16LE(at + 2) & 0x3fff) === IFLA_INFO_KIND) {
            link.kind = cString(data, at + 4, at + length);
            break;
          }
          at += (length + 3) & ~3;
        }
        break;
      default:
    }
  });
  return link;
}

const addressFlagNames: [number, string][] = [
  [0x01, 'secondary'],
  [0x02, 'nodad'],
  [0x04, 'optimistic'],
  [0x08, 'dadfailed'],
  [0x10, 'homeaddress'],
  [0x20, 'deprecated'],
  [0x40, 'tentative'],
  [0x80, 'permanent'],
  [0x100, 'managetempaddr'],
  [0x200, 'noprefixroute'],
  [0x400, 'mcautojoin'],
  [0x800, 'stablePrivacy'],
];

function scopeName(scope: number): Address['scope'] {
  switch (scope) {
    case 0:
      return 'global';
    case 200:
      return 'site';
    case 253:
      return 'link';
    case 254:
      return 'host';
    case 255:
      return 'nowhere';
    default:
      return scope;
  }
}

/** RTM_NEWADDR / RTM_DELADDR payload (struct ifaddrmsg and attributes). */
export function decodeAddressMessage(data: Buffer): Address | undefined {
  if (data.length < 8) return undefined;
  const family = familyOfAf(data[0]);
  if (!family) return undefined;
  const prefixLength = data[1];
  let flags = data[2];
  let local: Buffer | undefined;
  let peer: Buffer | undefined;
  let label: string | undefined;
  eachAttribute(data, 8, (type, start, end) => {
    if (type === IFA.LOCAL) local = data.subarray(start, end);
    else if (type === IFA.ADDRESS) peer = data.subarray(start, end);
    else if (type === IFA.LABEL) label = cString(data, start, end);
    else if (type === IFA.FLAGS) flags = data.readUInt32LE(start);
  });
  const own = local ?? peer;
  if (!own) return undefined;
  const address = formatAddress(own);
  const entry: Address = {
    linkIndex: data.readUInt32LE(4),
    family,
    address,
    prefixLength,
    cidr: `${address}/${prefixLength}`,
    scope: scopeName(data[3]),
    flags: addressFlagNames.filter(([bit]) => flags & bit).map(([, name]) => name),
  };
  if (local && peer && !local.equals(peer)) entry.peer = formatAddress(peer);
  if (label) entry.label = label;
  return entry;
}

const routeTypes: (RouteType | undefined)[] = [
  undefined,
  'unicast',
  'local',
  'broadcast',
  'anycast',
  'multicast',
  'blackhole',
  'unreachable',
  'prohibit',
  'throw',
];

/** RTM_NEWROUTE / RTM_DELROUTE payload (struct rtmsg and attributes). */
export function decodeRouteMessage(data: Buffer): Route | undefined {
  if (data.length < 12) return undefined;
  const family = familyOfAf(data[0]);
  if (!family) return undefined;
  const dstLen = data[1];
  const typeNumber = data[7];
  const route: Route = {
    family,
    type: routeTypes[typeNumber] ?? typeNumber,
    destination: 'default',
    table: data[4],
    metric: 0,
    scope: scopeName(data[6]),
    protocol: data[5],
  };
  eachAttribute(data, 12, (type, start, end) => {
    switch (type) {
      case RTA.DST:
        route.destination = `${formatAddress(data.subarray(start, end))}/${dstLen}`;
        break;
      case RTA.OIF:
        route.deviceIndex = data.readUInt32LE(start);
        break;
      case RTA.GATEWAY:
        route.gateway = formatAddress(data.subarray(start, end));
        break;
      case RTA.PRIORITY:
        route.metric = data.readUInt32LE(start);
        break;
      case RTA.PREFSRC:
        route.source = formatAddress(data.subarray(start, end));
        break;
      case RTA.TABLE:
        route.table = data.readUInt32LE(start);
        break;
      default:
    }
  });
  if (dstLen === 0) route.destination = 'default';
  return route;
}
