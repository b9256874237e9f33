// Link, address and route change notifications from one namespace, as an async iterable.
import type { Address, Link, Route } from './codec.ts';
import { decodeAddressMessage, decodeLinkMessage, decodeRouteMessage } from './decode.ts';
import { RTM, netlink, rt, type RawMessage } from './rtnetlink.ts';

export type EventKind = 'link' | 'address' | 'route';

export type NetnsEvent =
  | { kind: 'link'; action: 'new' | 'del'; link: Link }
  | { kind: 'address'; action: 'new' | 'del'; address: Address }
  | { kind: 'route'; action: 'new' | 'del'; route: Route };

const groups: Record<EventKind, number[]> = {
  link: [rt.MulticastGroups.LINK],
  address: [rt.MulticastGroups.IPV4_IFADDR, rt.MulticastGroups.IPV6_IFADDR],
  route: [rt.MulticastGroups.IPV4_ROUTE, rt.MulticastGroups.IPV6_ROUTE],
};

export function decodeEvent(message: RawMessage): NetnsEvent | undefined {
  switch (message.type) {
    case RTM.NEWLINK:
    case RTM.DELLINK: {
      const link = decodeLinkMessage(message.data);
      return link && { kind: 'link', action: message.type === RTM.NEWLINK ? 'new' : 'del', link };
    }
    case RTM.NEWADDR:
    case RTM.DELADDR: {
      const address = decodeAddressMessage(message.data);
      return (
        address && {
          kind: 'address',
          action: message.type === RTM.NEWADDR ? 'new' : 'del',
          address,
        }
      );
    }
    case RTM.NEWROUTE:
    case RTM.DELROUTE: {
      const route = decodeRouteMessage(message.data);
      return (
        route && {
          kind: 'route',
          action: message.type === RTM.NEWROUTE ? 'new' : 'del',
          route,
        }
      );
    }
    default:
      return undefined;
  }
}

/**
 * A subscription: its own netlink socket, joined to the multicast groups of the kinds asked
 * for. Must be constructed with the thread inside the namespace (NetnsHandle.events does that).
 */
export class NetnsEvents implements AsyncIterable<NetnsEvent> {
  #socket = netlink.createNetlink(0 /* NETLINK_ROUTE */);
  #queue: NetnsEvent[] = [];
  #waiting: ((result: IteratorResult<NetnsEvent>) => void) | undefined;
  #closed = false;

  constructor(kinds: EventKind[]) {
    for (const kind of kinds) for (const group of groups[kind]) this.#socket.addMembership(group);
    this.#socket.ref(true);
    this.#socket.on('message', (messages: unknown) => {
      for (const message of ([] as RawMessage[]).concat(messages as RawMessage[])) {
        const event = decodeEvent(message);
        if (event) this.#push(event);
      }
    });
  }

  #push(event: NetnsEvent): void {
    if (this.#closed) return;
    const waiting = this.#waiting;
    if (waiting) {
      this.#waiting = undefined;
      waiting({ value: event, done: false });
    } else {
      this.#queue.push(event);
    }
  }

  /** The next event, or undefined once closed. */
  next(): Promise<IteratorResult<NetnsEvent>> {
    const queued = this.#queue.shift();
    if (queued) return Promise.resolve({ value: queued, done: false });
    if (this.#closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => {
      this.#waiting = resolve;
    });
  }

  [Symbol.asyncIterator](): AsyncIterator<NetnsEvent> {
    return {
      next: () => this.next(),
      return: async () => {
        this.close();
        return { value: undefined, done: true };
      },
    };
  }

  /** Ends the subscription; a pending iteration finishes. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket.ref(false);
    this.#socket.socket.close();
    this.#waiting?.({ value: undefined, done: true });
    this.#waiting = undefined;
  }
}
