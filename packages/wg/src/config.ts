// wg-quick configuration files: parse, validate the way `wg setconf` and wg-quick do, format.
//
// The syntax follows wg(8): `#` starts a comment anywhere on a line, section headers and keys
// are case-insensitive, blank lines and CRLF line ends are fine. Where `wg` is lenient in ways
// a provider's file has no reason to be (service names as ports, spaces inside a value, a key
// set twice with the last one winning), this parser refuses; it never accepts what `wg`
// refuses. The hook keys (PreUp…PostDown) are parsed and reported, never run.

import { isIPv4, isIPv6, SocketAddress } from 'node:net';

import type { WgInterfaceSection, WgPeerSection, WgQuickConfig } from './config-types.js';
import { WgConfigError } from './errors.js';
import { isValidKey } from './keys.js';

export interface ParseConfigOptions {
  /** File name used in error messages, e.g. `/etc/wireguard/privado.conf`. */
  source?: string;
}

export interface FormatConfigOptions {
  /**
   * Include the keys only wg-quick understands (Address, DNS, MTU, Table, SaveConfig and the
   * hooks). Default true; false gives text for `wg setconf`.
   */
  wgQuickKeys?: boolean;
}

type SectionName = 'Interface' | 'Peer';

/** Keys wg-quick handles itself and never passes to `wg setconf`. */
const wgQuickOnlyKeys = [
  'Address',
  'DNS',
  'MTU',
  'Table',
  'SaveConfig',
  'PreUp',
  'PostUp',
  'PreDown',
  'PostDown',
] as const;

const expectedKeyText = 'base64 of 32 bytes (44 characters)';
const expectedEndpointText = 'host:port or [v6]:port with a port 1-65535';

// ---------------------------------------------------------------------------------------------
// Lines

// wg(8) treats these as white space; anything else (a no-break space, say) is part of the text.
const asciiSpace = /^[ \t\n\v\f\r]+|[ \t\n\v\f\r]+$/g;

function trimAscii(text: string): string {
  return text.replace(asciiSpace, '');
}

type ConfigLine =
  | { kind: 'blank' }
  | { kind: 'section'; header: string }
  | { kind: 'entry'; key: string; value: string }
  | { kind: 'other' };

/** Splits one line into a header, a `key = value` entry, or nothing, after removing `# …`. */
function readLine(raw: string): ConfigLine {
  const hash = raw.indexOf('#');
  const text = trimAscii(hash === -1 ? raw : raw.slice(0, hash));
  if (text === '') return { kind: 'blank' };

  if (text.startsWith('[')) return { kind: 'section', header: text };

  const equals = text.indexOf('=');
  if (equals === -1) return { kind: 'other' };

  return {
    kind: 'entry',
    key: trimAscii(text.slice(0, equals)),
    value: trimAscii(text.slice(equals + 1)),
  };
}

function sectionOf(header: string): SectionName | undefined {
  const lower = header.toLowerCase();
  if (lower === '[interface]') return 'Interface';
  if (lower === '[peer]') return 'Peer';
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Values

/** A decimal number without sign or spaces, if it is within [min, max]. */
function decimalIn(value: string, min: number, max: number): number | undefined {
  if (!/^[0-9]{1,10}$/.test(value)) return undefined;
  const number = Number(value);
  return number >= min && number <= max ? number : undefined;
}

/** `off` (any case), a decimal, or `0x` hex, up to 2^32 - 1: what `wg` takes for FwMark. */
function parseFwMark(value: string): number | undefined {
  if (value.toLowerCase() === 'off') return 0;
  if (/^0x[0-9a-fA-F]{1,8}$/.test(value)) return Number.parseInt(value.slice(2), 16);
  return decimalIn(value, 0, 0xffffffff);
}

function parsePersistentKeepalive(value: string): number | undefined {
  if (value.toLowerCase() === 'off') return 0;
  return decimalIn(value, 0, 65535);
}

/** An IPv6 address as inet_pton(3) takes it: no zone index, no brackets. */
function isPlainIPv6(text: string): boolean {
  return !text.includes('%') && isIPv6(text);
}

interface Prefix {
  family: 4 | 6;
  /** Address bytes, 4 or 16 of them. */
  bytes: number[];
  length: number;
}

/** `address` or `address/length` with a length valid for the address family. */
function parsePrefix(text: string): Prefix | undefined {
  const parts = text.split('/');
  if (parts.length > 2) return undefined;

  const [address, lengthText] = parts;
  let family: 4 | 6;
  let bytes: number[];
  if (address.includes(':')) {
    if (!isPlainIPv6(address)) return undefined;
    family = 6;
    bytes = ipv6Bytes(address);
  } else {
    if (!isIPv4(address)) return undefined;
    family = 4;
    bytes = address.split('.').map(Number);
  }

  const maxLength = family === 4 ? 32 : 128;
  if (lengthText === undefined) return { family, bytes, length: maxLength };

  if (!/^[0-9]{1,3}$/.test(lengthText)) return undefined;
  const length = Number(lengthText);
  return length <= maxLength ? { family, bytes, length } : undefined;
}

/** The 16 bytes of an IPv6 address already checked with isPlainIPv6. */
function ipv6Bytes(address: string): number[] {
  // inet_ntop's spelling has at most one `::` and maybe a trailing dotted quad.
  const canonical = new SocketAddress({ address, family: 'ipv6' }).address;
  const words = (part: string): number[] => {
    if (part === '') return [];
    return part.split(':').flatMap((group) => {
      if (!group.includes('.')) return [Number.parseInt(group, 16)];
      const [a, b, c, d] = group.split('.').map(Number);
      return [(a << 8) | b, (c << 8) | d];
    });
  };

  const [head, tail] = canonical.split('::');
  const headWords = words(head);
  const tailWords = tail === undefined ? [] : words(tail);
  const zeros = new Array<number>(8 - headWords.length - tailWords.length).fill(0);
  return [...headWords, ...zeros, ...tailWords].flatMap((word) => [word >> 8, word & 0xff]);
}

/** A prefix with its host bits cleared, spelled the way `wg showconf` prints it. */
function formatPrefix({ family, bytes, length }: Prefix): string {
  const masked = bytes.map((byte, index) => {
    const bitsKept = Math.min(8, Math.max(0, length - index * 8));
    return byte & ((0xff << (8 - bitsKept)) & 0xff);
  });

  if (family === 4) return `${masked.join('.')}/${length}`;

  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((masked[i] << 8) | masked[i + 1]).toString(16));
  const address = new SocketAddress({ address: groups.join(':'), family: 'ipv6' }).address;
  return `${address}/${length}`;
}

/** A DNS host name: dot-separated labels of letters, digits and inner hyphens. */
function isHostName(text: string): boolean {
  const name = text.endsWith('.') ? text.slice(0, -1) : text;
  if (name.length === 0 || name.length > 253) return false;

  const labels = name.split('.');
  const label = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
  if (!labels.every((part) => label.test(part))) return false;

  // An all-digit last label makes it an IPv4 address attempt (and 1.2.3.999 is not an address).
  return !/^[0-9]+$/.test(labels[labels.length - 1]);
}

/** `host:port`, `a.b.c.d:port` or `[v6]:port`, port 1-65535. */
function isEndpoint(value: string): boolean {
  let host: string;
  let port: string;
  if (value.startsWith('[')) {
    const match = /^\[([^\]]*)\]:([^:]*)$/.exec(value);
    if (!match || !isPlainIPv6(match[1])) return false;
    [, host, port] = match;
  } else {
    const colon = value.lastIndexOf(':');
    if (colon === -1) return false;
    host = value.slice(0, colon);
    port = value.slice(colon + 1);
    if (!isIPv4(host) && !isHostName(host)) return false;
  }

  return host !== '' && decimalIn(port, 1, 65535) !== undefined;
}

/** A DNS entry of wg-quick: a resolver address, or else a search domain. */
function isDnsEntry(entry: string): boolean {
  // wg-quick itself takes digits-and-dots or anything with a colon as an address.
  if (/^[0-9.]+$/.test(entry) || entry.includes(':')) return isIPv4(entry) || isPlainIPv6(entry);
  return isHostName(entry);
}

/** wg-quick's Table: `off`, `auto`, a table number or a name from rt_tables. */
function isTable(value: string): boolean {
  if (/^[0-9]+$/.test(value)) return decimalIn(value, 1, 0xffffffff) !== undefined;
  return /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/.test(value);
}

// ---------------------------------------------------------------------------------------------
// Errors

// Anything that could be key material (a long run of base64) is never repeated in a message.
const keyLikeRun = /[A-Za-z0-9+/]{32,}={0,2}/g;

function quoteSafely(text: string): string {
  const redacted = text.replace(keyLikeRun, '<redacted>');
  const short = redacted.length > 80 ? `${redacted.slice(0, 77)}...` : redacted;
  return JSON.stringify(short);
}

/** A key name worth repeating back: a word or two, not a pasted secret. */
function isPrintableKeyName(key: string): boolean {
  return /^[A-Za-z][A-Za-z0-9 _-]{0,31}$/.test(key);
}

interface ErrorSite {
  source: string | undefined;
  line: number;
  key: string | undefined;
}

/**
 * Builds `wg config SOURCE:LINE: KEY: expected …, got "…"`. `got` is left out for secrets;
 * pass `detail` for a tail other than `got "…"`.
 */
function configError(
  site: ErrorSite,
  expected: string,
  got?: { value: string } | { detail: string },
  op = 'parseConfig',
): WgConfigError {
  let where = site.source === undefined ? `line ${site.line}` : `${site.source}:${site.line}`;
  if (op === 'formatConfig') where = `formatted line ${site.line}`;
  const key = site.key === undefined ? '' : `${site.key}: `;
  let tail = '';
  if (got !== undefined) {
    tail = 'value' in got ? `, got ${quoteSafely(got.value)}` : `, ${got.detail}`;
  }
  return new WgConfigError(`wg config ${where}: ${key}expected ${expected}${tail}`, {
    op,
    source: site.source,
    line: site.line,
    key: site.key,
    expected,
  });
}

// ---------------------------------------------------------------------------------------------
// Keys of each section

interface KeyContext {
  /** Throws a WgConfigError for this line and key. Leave `got` out for secrets. */
  fail(expected: string, got?: string): never;
}

interface KeySpec<Target> {
  name: string;
  /** Whether repeated lines add up (lists, hooks) rather than being an error. */
  repeatable: boolean;
  apply(target: Target, value: string, context: KeyContext): void;
}

/** A key-valued entry: checked as `wg` checks keys, never echoed when wrong. */
function keyEntry<Target>(
  name: string,
  set: (target: Target, key: string) => void,
): KeySpec<Target> {
  return {
    name,
    repeatable: false,
    apply: (target, value, context) => {
      if (!isValidKey(value)) return context.fail(expectedKeyText);
      set(target, value);
    },
  };
}

/** Splits a comma list; every entry must be non-empty and free of spaces. */
function listEntries(value: string, expected: string, context: KeyContext): string[] {
  const entries = value.split(',').map(trimAscii);
  for (const entry of entries) {
    if (entry === '') return context.fail(expected, value);
    if (/[ \t\v\f\r]/.test(entry)) return context.fail(expected, entry);
  }
  return entries;
}

type HookField = 'preUp' | 'postUp' | 'preDown' | 'postDown';

/** PreUp…PostDown: kept as written, in order, never run. */
function hook(name: 'PreUp' | 'PostUp' | 'PreDown' | 'PostDown'): KeySpec<WgInterfaceSection> {
  const field = (name[0].toLowerCase() + name.slice(1)) as HookField;
  return {
    name,
    repeatable: true,
    apply: (target, value) => {
      target[field].push(value);
    },
  };
}

const interfaceKeys: KeySpec<WgInterfaceSection>[] = [
  keyEntry('PrivateKey', (target, key) => {
    target.privateKey = key;
  }),
  {
    name: 'ListenPort',
    repeatable: false,
    apply: (target, value, context) => {
      const port = decimalIn(value, 0, 65535);
      if (port === undefined) return context.fail('a port 0-65535 (0 picks one)', value);
      target.listenPort = port;
    },
  },
  {
    name: 'FwMark',
    repeatable: false,
    apply: (target, value, context) => {
      const mark = parseFwMark(value);
      const expected = 'off or a number 0-0xffffffff (decimal or 0x…)';
      if (mark === undefined) return context.fail(expected, value);
      target.fwMark = mark;
    },
  },
  {
    name: 'Address',
    repeatable: true,
    apply: (target, value, context) => {
      const expected = 'IPv4 or IPv6 addresses with optional /length, comma-separated';
      for (const entry of listEntries(value, expected, context)) {
        if (parsePrefix(entry) === undefined) return context.fail(expected, entry);
        target.addresses.push(entry);
      }
    },
  },
  {
    name: 'DNS',
    repeatable: true,
    apply: (target, value, context) => {
      const expected = 'resolver IP addresses or search domains, comma-separated';
      for (const entry of listEntries(value, expected, context)) {
        if (!isDnsEntry(entry)) return context.fail(expected, entry);
        target.dns.push(entry);
      }
    },
  },
  {
    name: 'MTU',
    repeatable: false,
    apply: (target, value, context) => {
      const mtu = decimalIn(value, 68, 65535);
      if (mtu === undefined) return context.fail('a number 68-65535', value);
      target.mtu = mtu;
    },
  },
  {
    name: 'Table',
    repeatable: false,
    apply: (target, value, context) => {
      const expected = 'off, auto, a table number 1-4294967295 or a name';
      if (!isTable(value)) return context.fail(expected, value);
      target.table = value;
    },
  },
  {
    name: 'SaveConfig',
    repeatable: false,
    apply: (target, value, context) => {
      const lower = value.toLowerCase();
      if (lower !== 'true' && lower !== 'false') return context.fail('true or false', value);
      target.saveConfig = lower === 'true';
    },
  },
  hook('PreUp'),
  hook('PostUp'),
  hook('PreDown'),
  hook('PostDown'),
];

const peerKeys: KeySpec<WgPeerSection>[] = [
  keyEntry('PublicKey', (target, key) => {
    target.publicKey = key;
  }),
  keyEntry('PresharedKey', (target, key) => {
    target.presharedKey = key;
  }),
  {
    name: 'AllowedIPs',
    repeatable: true,
    apply: (target, value, context) => {
      const expected = 'IPv4 or IPv6 prefixes (address or address/length), comma-separated';
      for (const entry of listEntries(value, expected, context)) {
        const prefix = parsePrefix(entry);
        if (prefix === undefined) return context.fail(expected, entry);
        target.allowedIps.push(formatPrefix(prefix));
      }
    },
  },
  {
    name: 'Endpoint',
    repeatable: false,
    apply: (target, value, context) => {
      if (!isEndpoint(value)) return context.fail(expectedEndpointText, value);
      target.endpoint = value;
    },
  },
  {
    name: 'PersistentKeepalive',
    repeatable: false,
    apply: (target, value, context) => {
      const seconds = parsePersistentKeepalive(value);
      if (seconds === undefined) return context.fail('off or seconds 0-65535', value);
      target.persistentKeepalive = seconds;
    },
  },
];

const keyValued = new Set(['PrivateKey', 'PublicKey', 'PresharedKey']);

function findKey<Target>(specs: KeySpec<Target>[], key: string): KeySpec<Target> | undefined {
  const lower = key.toLowerCase();
  return specs.find((spec) => spec.name.toLowerCase() === lower);
}

// ---------------------------------------------------------------------------------------------
// Parse

function emptyInterface(): WgInterfaceSection {
  return { addresses: [], dns: [], preUp: [], postUp: [], preDown: [], postDown: [] };
}

/** Where the parser is: the open section and the keys already set in it. */
interface ParseState {
  source: string | undefined;
  config: WgQuickConfig;
  section: 'Interface' | WgPeerSection | undefined;
  interfaceLine: number | undefined;
  /** Lines of the keys set in the open section, by key name. */
  keyLines: Map<string, number>;
  /** Header line of each [Peer], to report a peer without a PublicKey. */
  peerLines: Map<WgPeerSection, number>;
  /** Line of each peer public key, to refuse the same peer twice. */
  publicKeyLines: Map<string, number>;
}

function openSection(state: ParseState, header: string, line: number): void {
  const name = sectionOf(header);
  const site = { source: state.source, line, key: undefined };
  if (name === undefined) throw configError(site, '[Interface] or [Peer]', { value: header });

  if (name === 'Interface' && state.interfaceLine !== undefined) {
    throw configError(site, 'one [Interface] section', {
      detail: `already opened on line ${state.interfaceLine}`,
    });
  }

  state.keyLines = new Map();
  if (name === 'Interface') {
    state.section = 'Interface';
    state.interfaceLine = line;
    return;
  }

  const peer: WgPeerSection = { publicKey: '', allowedIps: [] };
  state.config.peers.push(peer);
  state.peerLines.set(peer, line);
  state.section = peer;
}

function applyEntry<Target>(
  state: ParseState,
  specs: KeySpec<Target>[],
  target: Target,
  entry: { key: string; value: string; line: number },
): KeySpec<Target> {
  const { key, value, line } = entry;
  const sectionName = target === state.config.interface ? 'Interface' : 'Peer';
  const site = { source: state.source, line, key: isPrintableKeyName(key) ? key : undefined };
  const spec = findKey(specs, key);
  if (spec === undefined) {
    const names = specs.map((each) => each.name).join(', ');
    throw configError(site, `a key of [${sectionName}]: ${names}`, {
      detail: 'got an unknown key',
    });
  }

  if (value === '') {
    const expected = keyValued.has(spec.name) ? expectedKeyText : 'a value';
    throw configError(site, expected, { detail: 'got nothing after =' });
  }

  const previous = state.keyLines.get(spec.name);
  if (previous !== undefined && !spec.repeatable) {
    throw configError(site, `${spec.name} once per [${sectionName}]`, {
      detail: `already set on line ${previous}`,
    });
  }
  state.keyLines.set(spec.name, line);

  spec.apply(target, value, {
    fail(expected, got) {
      throw configError(site, expected, got === undefined ? undefined : { value: got });
    },
  });
  return spec;
}

/**
 * Parses a wg-quick configuration file. Throws WgConfigError naming the line, the key and what
 * was expected at the first problem. Accepts only what `wg setconf` (after the wg-quick keys are
 * removed) and wg-quick accept; a file need not have every section, so callers check that the
 * keys they need (a PrivateKey, a peer) are there.
 */
export function parseConfig(text: string, options: ParseConfigOptions = {}): WgQuickConfig {
  const state: ParseState = {
    source: options.source,
    config: { interface: emptyInterface(), peers: [] },
    section: undefined,
    interfaceLine: undefined,
    keyLines: new Map(),
    peerLines: new Map(),
    publicKeyLines: new Map(),
  };

  if (text.startsWith('\uFEFF')) {
    throw configError({ source: state.source, line: 1, key: undefined }, 'no byte-order mark', {
      detail: 'save the file as plain UTF-8',
    });
  }

  const lines = text.split('\n');
  for (let index = 0; index < lines.length; index += 1) {
    const lineNumber = index + 1;
    const line = readLine(lines[index]);
    if (line.kind === 'blank') continue;

    if (line.kind === 'section') {
      openSection(state, line.header, lineNumber);
      continue;
    }

    const site = { source: state.source, line: lineNumber, key: undefined };
    if (line.kind === 'other') throw configError(site, 'a [Section] header or Key = value');

    const entry = { key: line.key, value: line.value, line: lineNumber };
    const { section } = state;
    if (section === undefined) {
      const key = isPrintableKeyName(line.key) ? line.key : undefined;
      throw configError({ ...site, key }, '[Interface] or [Peer] before the first key');
    }

    if (section === 'Interface') {
      applyEntry(state, interfaceKeys, state.config.interface, entry);
      continue;
    }

    const spec = applyEntry(state, peerKeys, section, entry);
    if (spec.name !== 'PublicKey') continue;

    const other = state.publicKeyLines.get(section.publicKey);
    if (other !== undefined) {
      throw configError({ ...site, key: line.key }, 'a PublicKey no other [Peer] has', {
        detail: `the same key is on line ${other}`,
      });
    }
    state.publicKeyLines.set(section.publicKey, lineNumber);
  }

  for (const [peer, line] of state.peerLines) {
    if (peer.publicKey !== '') continue;
    const site = { source: state.source, line, key: undefined };
    throw configError(site, 'a PublicKey in every [Peer]', { detail: 'this [Peer] has none' });
  }

  return state.config;
}

// ---------------------------------------------------------------------------------------------
// Format and strip

// Characters that would end a value early or start another line: never allowed inside one.
const unsafeInValue = /[\r\n#\0]/;
const unsafeInListEntry = /[\r\n#\0,]/;

/**
 * Writes a wg-quick file. With `wgQuickKeys: false` the wg-quick-only keys are left out and the
 * text is what `wg setconf` reads. The result is parsed again before it is returned, so a bad
 * value throws WgConfigError (op `formatConfig`) instead of producing a file `wg` refuses.
 */
export function formatConfig(config: WgQuickConfig, options: FormatConfigOptions = {}): string {
  const wgQuickKeys = options.wgQuickKeys ?? true;
  const lines: string[] = [];
  const check = (key: string, text: string, unsafe: RegExp) => {
    if (!unsafe.test(text) && trimAscii(text) === text) return;
    const site = { source: undefined, line: lines.length + 1, key };
    const expected =
      unsafe === unsafeInListEntry
        ? 'list entries without commas, #, line breaks or spaces at either end'
        : 'a value without #, line breaks or spaces at either end';
    throw configError(site, expected, undefined, 'formatConfig');
  };
  const add = (key: string, value: string | number | boolean | undefined) => {
    if (value === undefined) return;
    const text = String(value);
    check(key, text, unsafeInValue);
    lines.push(`${key} = ${text}`);
  };
  const addList = (key: string, list: string[]) => {
    if (list.length === 0) return;
    for (const entry of list) check(key, entry, unsafeInListEntry);
    add(key, list.join(', '));
  };

  const section = config.interface;
  lines.push('[Interface]');
  add('PrivateKey', section.privateKey);
  add('ListenPort', section.listenPort);
  if (section.fwMark !== undefined) {
    add('FwMark', section.fwMark === 0 ? 'off' : `0x${section.fwMark.toString(16)}`);
  }

  if (wgQuickKeys) {
    addList('Address', section.addresses);
    addList('DNS', section.dns);
    add('MTU', section.mtu);
    add('Table', section.table);
    add('SaveConfig', section.saveConfig);
    for (const command of section.preUp) add('PreUp', command);
    for (const command of section.postUp) add('PostUp', command);
    for (const command of section.preDown) add('PreDown', command);
    for (const command of section.postDown) add('PostDown', command);
  }

  for (const peer of config.peers) {
    lines.push('', '[Peer]');
    add('PublicKey', peer.publicKey);
    add('PresharedKey', peer.presharedKey);
    addList('AllowedIPs', peer.allowedIps);
    add('Endpoint', peer.endpoint);
    add('PersistentKeepalive', peer.persistentKeepalive);
  }

  const text = `${lines.join('\n')}\n`;
  try {
    parseConfig(text);
  } catch (error) {
    if (!(error instanceof WgConfigError)) throw error;
    throw new WgConfigError(error.message.replace(/^wg config line/, 'wg config formatted line'), {
      op: 'formatConfig',
      line: error.line,
      key: error.key,
      expected: error.expected,
      cause: error,
    });
  }

  return text;
}

/**
 * Removes the wg-quick-only lines (Address, DNS, MTU, Table, SaveConfig, hooks) of every
 * [Interface] section and keeps every other line exactly as it was, like `wg-quick strip`.
 * Does not validate: parse the text first.
 */
export function stripWgQuickKeys(text: string): string {
  const wgQuickOnly = new Set<string>(wgQuickOnlyKeys.map((key) => key.toLowerCase()));
  const kept: string[] = [];
  let inInterface = false;

  for (const raw of text.split('\n')) {
    const line = readLine(raw);
    if (line.kind === 'section') inInterface = sectionOf(line.header) === 'Interface';
    if (line.kind === 'entry' && inInterface && wgQuickOnly.has(line.key.toLowerCase())) continue;
    kept.push(raw);
  }

  return kept.join('\n');
}
