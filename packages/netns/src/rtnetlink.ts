// A thin request layer over node-netlink's rtnetlink socket: it keeps the kernel's errno as a
// number and its extended acknowledgement text, which node-netlink flattens into a string.
import { readdirSync, readlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { NetnsError } from './errors.ts';
import {
  NETLINK_EXT_ACK,
  NETLINK_GET_STRICT_CHK,
  SOL_NETLINK,
  setSocketOptionInt,
} from './syscalls.ts';

const require = createRequire(import.meta.url);
// node-netlink is CommonJS; its typings cover the message shapes used below only in part.
export const netlink = require('netlink') as typeof import('netlink');
export const rt = netlink.rt;
export const ifla = netlink.ifla;
export type RtMessage = import('netlink').rt.Message;

export const RTM = {
  NEWLINK: 16,
  DELLINK: 17,
  GETLINK: 18,
  SETLINK: 19,
  NEWADDR: 20,
  DELADDR: 21,
  GETADDR: 22,
  NEWROUTE: 24,
  DELROUTE: 25,
  GETROUTE: 26,
  NEWRULE: 32,
  DELRULE: 33,
  GETRULE: 34,
} as const;

export const NLM_F = {
  REQUEST: 0x1,
  ACK: 0x4,
  DUMP: 0x300,
  REPLACE: 0x100,
  EXCL: 0x200,
  CREATE: 0x400,
  APPEND: 0x800,
} as const;

const NLMSG_ERROR = 2;
const NLM_F_CAPPED = 0x100;
const NLM_F_ACK_TLVS = 0x200;
const NLMSGERR_ATTR_MSG = 1;

export interface RawMessage {
  type: number;
  flags: number;
  seq: number;
  port: number;
  data: Buffer;
}

/** The errno and the extended-ack text of an NLMSG_ERROR payload; errno 0 is a plain ack. */
export function parseErrorMessage(data: Buffer, flags: number): { errno: number; extack?: string } {
  const errno = -data.readInt32LE(0);
  let offset = 4;
  const originalLength = data.length >= 8 ? data.readUInt32LE(4) : 0;
  offset += flags & NLM_F_CAPPED ? 16 : originalLength;
  let extack: string | undefined;
  if (flags & NLM_F_ACK_TLVS) {
    while (offset + 4 <= data.length) {
      const length = data.readUInt16LE(offset);
      const type = data.readUInt16LE(offset + 2) & 0x3fff;
      if (length < 4 || offset + length > data.length) break;
      if (type === NLMSGERR_ATTR_MSG) {
        extack = data
          .subarray(offset + 4, offset + length)
          .toString('utf8')
          .replace(/\0+$/, '');
      }
      offset += (length + 3) & ~3;
    }
  }
  return { errno, extack };
}

function socketDescriptors(): Set<number> {
  const found = new Set<number>();
  for (const entry of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${entry}`).startsWith('socket:')) found.add(Number(entry));
    } catch {
      // The descriptor closed while we looked.
    }
  }
  return found;
}

export interface RequestContext {
  op: string;
  object?: string;
}

/** One rtnetlink socket. Open it with the thread in the namespace it should serve. */
export class RtSocket {
  readonly socket: ReturnType<typeof netlink.createRtNetlink>;

  constructor() {
    // node-netlink does not expose the descriptor; the new socket is the one that appears.
    const before = socketDescriptors();
    this.socket = netlink.createRtNetlink();
    const added = [...socketDescriptors()].filter((fd) => !before.has(fd));
    if (added.length === 1) {
      setSocketOptionInt(added[0], SOL_NETLINK, NETLINK_EXT_ACK, 1);
      setSocketOptionInt(added[0], SOL_NETLINK, NETLINK_GET_STRICT_CHK, 1);
    }
  }

  /** Sends one request and waits for its answer; kernel errors become NetnsError. */
  async request(
    type: number,
    payload: Uint8Array[],
    flags: number,
    context: RequestContext,
  ): Promise<RawMessage[]> {
    let reply: [RawMessage[], unknown];
    try {
      reply = (await this.socket.socket.request(type, payload, {
        flags,
        checkError: false,
      } as never)) as unknown as [RawMessage[], unknown];
    } catch (error) {
      const errno = (error as { errno?: number }).errno;
      throw new NetnsError({
        ...context,
        errno,
        reason: errno ? undefined : String(error),
        cause: error,
      });
    }
    const messages = reply[0];
    if (messages.length > 0 && messages[0].type === NLMSG_ERROR) {
      const { errno, extack } = parseErrorMessage(messages[0].data, messages[0].flags);
      if (errno !== 0) throw new NetnsError({ ...context, errno, extack });
      return [];
    }
    return messages;
  }

  /** `request` for messages node-netlink can parse, returned parsed. */
  async requestParsed(
    type: number,
    payload: Uint8Array[],
    flags: number,
    context: RequestContext,
  ): Promise<RtMessage[]> {
    const messages = await this.request(type, payload, flags, context);
    return messages.map((message) => rt.parseMessage(message.type, message.data));
  }

  close(): void {
    this.socket.socket.socket.close();
  }
}

const formatters = {
  link: rt.formatLinkMessage,
  address: rt.formatAddressMessage,
  route: rt.formatRouteMessage,
  rule: rt.formatRuleMessage,
} as const;

/** A request's payload (header struct and attributes) through node-netlink's encoders. */
export function encodeMessage(kind: keyof typeof formatters, data: object, attrs: object = {}) {
  const stream = new netlink.AttrStream();
  formatters[kind]({ kind, data, attrs } as never, stream as never);
  return stream.bufs as Uint8Array[];
}

/** Concatenates node-netlink's stream parts into one buffer. */
export function streamBytes(parts: unknown): Buffer {
  const stream = new netlink.AttrStream();
  stream.emit(parts as never);
  return Buffer.concat(stream.bufs as Uint8Array[]);
}

/** One netlink attribute: 16-bit length and type, payload, padding to 4 bytes. */
export function attribute(type: number, payload: Uint8Array): Buffer {
  const length = 4 + payload.length;
  const out = Buffer.alloc((length + 3) & ~3);
  out.writeUInt16LE(length, 0);
  out.writeUInt16LE(type, 2);
  out.set(payload, 4);
  return out;
}

export function u32(value: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32LE(value >>> 0, 0);
  return out;
}
