// The shape of a wg-quick configuration file once parsed. Keys are stored decoded where that is
// lossless (numbers, lists) and as written where the exact text matters (keys, endpoints).

/** `[Interface]` of a wg-quick file. */
export interface WgInterfaceSection {
  /** Base64 of 32 bytes. Secret: never logged, never in an error message. */
  privateKey?: string;
  listenPort?: number;
  /** 0 means off, as with `wg`. */
  fwMark?: number;
  /** CIDR strings as written, e.g. `10.2.0.2/32`, `fd00::2/128`. wg-quick only. */
  addresses: string[];
  /** Resolver addresses and search domains, in file order. wg-quick only. */
  dns: string[];
  mtu?: number;
  /** `off`, `auto` or a table number/name. wg-quick only. */
  table?: string;
  saveConfig?: boolean;
  /** Hook commands, reported but never run by netvault. wg-quick only. */
  preUp: string[];
  postUp: string[];
  preDown: string[];
  postDown: string[];
}

/** One `[Peer]` of a wg-quick file. */
export interface WgPeerSection {
  publicKey: string;
  /** Base64 of 32 bytes. Secret. */
  presharedKey?: string;
  /** CIDR strings, normalised to the form `wg` prints. */
  allowedIps: string[];
  /** `host:port` or `[v6]:port` as written. */
  endpoint?: string;
  /** Seconds, 0 = off. */
  persistentKeepalive?: number;
}

export interface WgQuickConfig {
  interface: WgInterfaceSection;
  peers: WgPeerSection[];
}
