// The firewall layer of the killswitch: nft scripts built from the topology (see
// firewall-ruleset.ts) and the nft calls that apply, read, fingerprint and remove them inside a
// namespace. Every call runs `nft` through a namespace handle's exec(), so the same code acts
// on the vault, on the host, or on a test's throwaway namespaces.
import { createHash } from 'node:crypto';
import type { ExecOptions, ExecResult } from '@netvault/netns';
import { FirewallError, nftFailure } from './firewall-error.ts';
import { parseTableMark, scriptTable, type TableMark } from './firewall-ruleset.ts';

export { FirewallError, isFirewallError, type FirewallErrorDetails } from './firewall-error.ts';
export {
  vaultRuleset,
  hostRuleset,
  formatTableMark,
  parseTableMark,
  isNetvaultMark,
  scriptTable,
  DNS_PORTS,
  VAULT_COUNTERS,
  HOST_COUNTERS,
  type VaultRulesetOptions,
  type HostRulesetOptions,
  type TableMark,
  type FirewallRole,
} from './firewall-ruleset.ts';

/** What the calls here need of a namespace: `NetnsHandle` fits, and so does a test double. */
export interface CommandRunner {
  exec(command: string, args?: string[], options?: ExecOptions): Promise<ExecResult>;
  /** Present on a NetnsHandle: runs without an `ip netns exec` process in between. */
  execInNetwork?(command: string, args?: string[], options?: ExecOptions): Promise<ExecResult>;
}

export type NftFamily = 'inet' | 'ip' | 'ip6' | 'arp' | 'bridge' | 'netdev';

const FAMILIES: readonly string[] = ['inet', 'ip', 'ip6', 'arp', 'bridge', 'netdev'];
// nft parses its arguments as one command line, so names given to it are checked like the
// names the rulesets write.
const TABLE_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,255}$/;

function checkTable(op: string, family: string, name: string): string {
  if (!FAMILIES.includes(family)) {
    throw new FirewallError({ op, reason: `unknown table family ${JSON.stringify(family)}` });
  }
  if (typeof name !== 'string' || !TABLE_NAME.test(name)) {
    throw new FirewallError({ op, reason: `not a table name: ${JSON.stringify(name)}` });
  }
  return `${family} ${name}`;
}

async function nft(handle: CommandRunner, args: string[], input?: string): Promise<ExecResult> {
  // nft needs only the network namespace, not the /etc/netns files `ip netns exec` applies.
  const options = input === undefined ? {} : { input };
  return handle.execInNetwork
    ? handle.execInNetwork('nft', args, options)
    : handle.exec('nft', args, options);
}

function parseJson(op: string, table: string | undefined, text: string): unknown[] {
  try {
    const parsed = JSON.parse(text) as { nftables?: unknown[] };
    if (!Array.isArray(parsed.nftables)) throw new TypeError('no "nftables" list');
    return parsed.nftables;
  } catch (error) {
    throw new FirewallError({ op, table, reason: 'nft printed unreadable JSON', cause: error });
  }
}

/**
 * Applies an nft script as one transaction: `nft -f -`. nft parses and evaluates the whole
 * script before it sends anything, and the kernel checks the whole batch before it commits it,
 * all or nothing: a script with an error anywhere changes nothing, and the previous ruleset
 * stays as it was (a separate `nft -c` pass would check the same things again and cost as much
 * as the apply). Throws FirewallError (`nft apply`) with nft's exit code, its stderr, and the
 * script line it complained about.
 */
export async function applyRuleset(handle: CommandRunner, script: string): Promise<void> {
  const target = scriptTable(script);
  const table = target && `${target.family} ${target.name}`;

  const apply = await nft(handle, ['-f', '-'], script);
  if (apply.exitCode !== 0) throw nftFailure('nft apply', table, apply, script);
}

export interface CounterValue {
  packets: number;
  bytes: number;
}

/** One object of `nft -j list …` output: `{ "rule": {…} }`, `{ "counter": {…} }`, … */
export type NftObject = Record<string, Record<string, unknown>>;

/** A table as `nft -j list table` shows it, plus the comment and what it marks. */
export interface NftTable {
  family: string;
  name: string;
  /** The table's comment; nft before 1.0.7 leaves it out of JSON, so it is read from text. */
  comment: string | undefined;
  /** Set when the comment marks the table as netvault's. */
  mark: TableMark | undefined;
  /** Everything listed for the table, in nft's order: the table, counters, sets, chains, rules. */
  objects: NftObject[];
  /** The named counters' current values. */
  counters: Record<string, CounterValue>;
}

/** The comment line right under a `table F NAME {` line of nft's text output. */
function commentsFromText(text: string): Map<string, string> {
  const comments = new Map<string, string>();
  const pattern = /^table (\S+) (\S+) \{(?: # handle \d+)?\n\tcomment "((?:[^"\\\n]|\\.)*)"$/gm;
  for (const match of text.matchAll(pattern)) comments.set(`${match[1]} ${match[2]}`, match[3]);
  return comments;
}

function countersOf(objects: NftObject[]): Record<string, CounterValue> {
  const counters: Record<string, CounterValue> = {};
  for (const object of objects) {
    const counter = object.counter;
    if (!counter || typeof counter.name !== 'string') continue;
    counters[counter.name] = { packets: Number(counter.packets), bytes: Number(counter.bytes) };
  }
  return counters;
}

function tableObjects(op: string, label: string, json: string): NftObject[] {
  return parseJson(op, label, json).filter(
    (object): object is NftObject =>
      typeof object === 'object' && object !== null && !('metainfo' in object),
  );
}

/** The comment nft put into the table's JSON (nft 1.0.7 and later), if any. */
function jsonComment(objects: NftObject[]): string | undefined {
  const comment = objects.find((object) => object.table)?.table.comment;
  return typeof comment === 'string' ? comment : undefined;
}

function tableOf(
  family: string,
  name: string,
  objects: NftObject[],
  comment: string | undefined,
): NftTable {
  return {
    family,
    name,
    comment,
    mark: parseTableMark(comment),
    objects,
    counters: countersOf(objects),
  };
}

/** `nft -j list table FAMILY NAME` as objects; undefined when the table does not exist. */
async function listTableObjects(
  handle: CommandRunner,
  label: string,
  family: NftFamily,
  name: string,
): Promise<NftObject[] | undefined> {
  const listed = await nft(handle, ['-j', 'list', 'table', family, name]);
  if (listed.exitCode === 0) return tableObjects('nft list', label, listed.stdout);
  const error = nftFailure('nft list', label, listed);
  if (error.isNotFound()) return undefined;
  throw error;
}

/**
 * Reads one table: `nft -j list table FAMILY NAME` (and `nft list table` for the comment).
 * Undefined when the table does not exist.
 */
export async function readTable(
  handle: CommandRunner,
  family: NftFamily,
  name: string,
): Promise<NftTable | undefined> {
  const label = checkTable('nft list', family, name);
  const objects = await listTableObjects(handle, label, family, name);
  if (!objects) return undefined;

  let comment = jsonComment(objects);
  if (comment === undefined) {
    const printed = await nft(handle, ['list', 'table', family, name]);
    if (printed.exitCode === 0) comment = commentsFromText(printed.stdout).get(label);
  }
  return tableOf(family, name, objects, comment);
}

/**
 * The named counters of a table and their values: `nft -j list counters table FAMILY NAME`.
 * Throws FirewallError (isNotFound()) when the table does not exist.
 */
export async function readCounters(
  handle: CommandRunner,
  tableName: string,
  family: NftFamily = 'inet',
): Promise<Record<string, CounterValue>> {
  const label = checkTable('nft list counters', family, tableName);
  const listed = await nft(handle, ['-j', 'list', 'counters', 'table', family, tableName]);
  if (listed.exitCode !== 0) throw nftFailure('nft list counters', label, listed);
  const objects = parseJson('nft list counters', label, listed.stdout) as NftObject[];
  return countersOf(objects);
}

/**
 * Deletes a table: `nft delete table FAMILY NAME`. Returns false, without error, when there
 * was none.
 */
export async function deleteTable(
  handle: CommandRunner,
  family: NftFamily,
  name: string,
): Promise<boolean> {
  const label = checkTable('nft delete', family, name);
  const result = await nft(handle, ['delete', 'table', family, name]);
  if (result.exitCode === 0) return true;
  const error = nftFailure('nft delete', label, result);
  if (error.isNotFound()) return false;
  throw error;
}

export interface NetvaultTable {
  family: NftFamily;
  name: string;
  comment: string;
  mark: TableMark;
}

/**
 * The tables in this namespace whose comment marks them as netvault's (`nft -t list ruleset`,
 * read for the table headers only). Tables of anyone else are never listed.
 */
export async function listNetvaultTables(handle: CommandRunner): Promise<NetvaultTable[]> {
  const listed = await nft(handle, ['-t', 'list', 'ruleset']);
  if (listed.exitCode !== 0) throw nftFailure('nft list ruleset', undefined, listed);

  const found: NetvaultTable[] = [];
  for (const [label, comment] of commentsFromText(listed.stdout)) {
    const mark = parseTableMark(comment);
    if (!mark) continue;
    const [family, name] = label.split(' ');
    found.push({ family: family as NftFamily, name, comment, mark });
  }
  return found;
}

/** Drops what differs between two loads of the same script: handles and counter values. */
function normalize(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(normalize);
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    if (key === 'handle' || key === 'packets' || key === 'bytes') continue;
    out[key] = normalize(inner);
  }
  return out;
}

/** A stable hash of a table as installed, blind to handles and counter values. */
export function tableFingerprint(table: NftTable): string {
  const content = JSON.stringify({
    comment: table.comment ?? null,
    objects: normalize(table.objects),
  });
  return createHash('sha256').update(content).digest('hex');
}

/**
 * A fingerprint of a table from its JSON listing alone (one `nft -j list table`, blind to
 * handles and counter values), or undefined when the table is absent. Cheaper than
 * rulesetFingerprint, for telling whether a table changed since it was last seen.
 */
export async function listedFingerprint(
  handle: CommandRunner,
  family: NftFamily,
  name: string,
): Promise<string | undefined> {
  const label = checkTable('nft list', family, name);
  const objects = await listTableObjects(handle, label, family, name);
  return (
    objects &&
    createHash('sha256')
      .update(JSON.stringify(normalize(objects)))
      .digest('hex')
  );
}

/**
 * The fingerprint of a table as installed in this namespace, or undefined when it is absent.
 * Equal to expectedFingerprint(script) exactly when the table is what the script makes.
 */
export async function rulesetFingerprint(
  handle: CommandRunner,
  family: NftFamily,
  name: string,
): Promise<string | undefined> {
  const table = await readTable(handle, family, name);
  return table && tableFingerprint(table);
}

const SCRATCH_SEPARATOR = '#-- netvault text listing --#';

/**
 * The fingerprint the table of `script` has once installed, found by applying the script in a
 * throwaway network namespace (`unshare --net`, started through `handle`) that disappears with
 * the command. Needs root, or unprivileged user namespaces when not root.
 */
export async function expectedFingerprint(handle: CommandRunner, script: string): Promise<string> {
  const target = scriptTable(script);
  if (!target) {
    throw new FirewallError({ op: 'nft fingerprint', reason: 'the script creates no table' });
  }
  const label = checkTable('nft fingerprint', target.family, target.name);
  const unshare = process.getuid?.() === 0 ? ['--net'] : ['--user', '--map-root-user', '--net'];
  const shell = 'nft -f - && nft -j list table "$1" "$2" && echo "$3" && nft list table "$1" "$2"';

  const result = await handle.exec(
    'unshare',
    [...unshare, 'sh', '-c', shell, 'sh', target.family, target.name, SCRATCH_SEPARATOR],
    { input: script },
  );
  if (result.exitCode !== 0) throw nftFailure('nft fingerprint', label, result, script);

  const [json, text] = result.stdout.split(`\n${SCRATCH_SEPARATOR}\n`);
  const objects = tableObjects('nft fingerprint', label, json);
  const comment = jsonComment(objects) ?? commentsFromText(text ?? '').get(label);
  return tableFingerprint(tableOf(target.family, target.name, objects, comment));
}
