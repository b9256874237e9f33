// Secret ingest: split a provider's wg-quick `.conf` into key files (mode 0600) and public
// parameters (`tunnel.json`, `tunnel.nix`), then erase the original.
//
// The outputs change as one transaction, kept in a journal in the key directory:
//
//   1. read   open the source O_RDWR|O_NOFOLLOW|O_NONBLOCK, fstat, read at most maxBytes + 1
//             from that descriptor, parse. Any refusal happens here, before anything is
//             written; a refused file is moved aside with a reason file, never deleted.
//   2. stage  write every output under a temporary name next to its destination
//             (`.privado.key.<id>.tmp`, …), created O_EXCL|O_NOFOLLOW, fsync'd.
//   3. commit rename a journal naming the staged files and the source into place. Before this
//             point a crash rolls back (staged files are erased); after it, it rolls forward.
//   4. rename keys first, public files last, each over its destination; fsync the directories;
//             zeros over the key files just replaced, which no name leads to any more.
//   5. erase  zeros over the source through the descriptor from step 1, fsync, unlink, fsync.
//   6. done   remove the journal.
//
// recoverIngest() finishes or undoes whatever a killed process left; ingest() and the landing
// zone watcher call it before doing anything else. One process at a time may ingest for a
// given key directory and interface name.
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  constants,
  fstatSync,
  readFileSync,
  readSync,
  readdirSync,
  renameSync,
  openSync,
  unlinkSync,
  type BigIntStats,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

import {
  commitFile,
  checkDestination,
  ensureDirectory,
  eraseFile,
  eraseIfUnlinked,
  fsyncDirectory,
  identityOf,
  lstatIfExists,
  openForErase,
  overwriteWithZeros,
  stageFile,
  unlinkIfSame,
  type FileIdentity,
} from './atomic-file.js';
import { parseConfig } from './config.js';
import type { WgQuickConfig } from './config-types.js';
import { WgError } from './errors.js';
import { formatTunnelJson, formatTunnelNix } from './ingest-format.js';

/** Largest source accepted by default: a wg-quick file is a few hundred bytes. */
export const ingestMaxBytes = 64 * 1024;

export interface IngestOptions {
  /** Directory of the key files; created 0700 if missing, refused if a symlink or group/other
   * can access it. */
  keyDir: string;
  /** Directory of `<configName>.json` and `<configName>.nix`; created 0755 if missing. */
  configDir: string;
  /** Interface name, used for the key files (`<name>.key`, `<name>.peer1.psk`). */
  name?: string;
  /** Base name of the public files. Default `tunnel`. */
  configName?: string;
  /** Where refused files go. Default: `refused` next to the source, created 0700. */
  refusedDir?: string;
  /** Sources larger than this are refused. Default 65536. */
  maxBytes?: number;
  /**
   * Called after each step that changed something on disk, synchronously. For progress
   * reports and for tests that stop the process at a chosen step.
   */
  onStep?: (step: IngestStep) => void;
}

export type IngestStepName =
  | 'read'
  | 'stage'
  | 'commit'
  | 'rename'
  | 'erase-replaced'
  | 'remove-stale'
  | 'erase'
  | 'unlink'
  | 'done';

export interface IngestStep {
  step: IngestStepName;
  /** The file the step wrote, renamed or removed, when there is one. */
  path?: string;
}

/** One `[Peer]` as netvault's configuration holds it. */
export interface TunnelPeerParams {
  publicKey: string;
  endpoint?: string;
  allowedIps: string[];
  persistentKeepalive?: number;
  /** Absolute path of a 0600 file holding the preshared key, when the peer has one. */
  presharedKeyFile?: string;
}

/** The public parameters of a tunnel, as written to `tunnel.json` and `tunnel.nix`. */
export interface TunnelParams {
  /** Interface name. */
  name: string;
  addresses: string[];
  dns: string[];
  mtu?: number;
  listenPort?: number;
  /** Absolute path of the 0600 file holding the private key (base64 and a newline). */
  privateKeyFile: string;
  peers: TunnelPeerParams[];
}

export interface IngestedFiles {
  privateKey: string;
  presharedKeys: string[];
  json: string;
  nix: string;
}

export interface IngestSuccess {
  status: 'ingested';
  source: string;
  tunnel: TunnelParams;
  files: IngestedFiles;
  /** wg-quick keys present in the source that netvault does not carry over (`PostUp`, …). */
  ignored: string[];
}

export type IngestRefusalCode =
  'symlink' | 'not-regular' | 'too-large' | 'hard-linked' | 'parse-error' | 'no-private-key';

export interface IngestRefusal {
  status: 'refused';
  source: string;
  code: IngestRefusalCode;
  /** One sentence for a person; never contains key material. */
  reason: string;
  /** Where the refused file now is. */
  movedTo: string;
  /** The text file next to it that holds `code` and `reason`. */
  reasonFile: string;
}

export type IngestResult = IngestSuccess | IngestRefusal;

export interface IngestRecovery {
  /** `rolled-forward`: a committed ingest was finished; `rolled-back`: staged files of an
   * uncommitted one were erased; `none`: nothing was pending. */
  action: 'none' | 'rolled-forward' | 'rolled-back';
  /** Files renamed into place or erased. */
  files: string[];
}

export interface WgIngestErrorOptions {
  op: string;
  /** The file or directory the operation was on. */
  path: string;
  cause?: unknown;
}

/**
 * An ingest that could not be carried out (as opposed to a refused source): a destination that
 * is a symlink, a key directory others can read, an I/O error. `code` is the errno code of the
 * cause when there is one (`ELOOP`, `EACCES`, …). Nothing was changed unless a journal was
 * committed, in which case recoverIngest() finishes the job.
 */
export class WgIngestError extends WgError {
  readonly path: string;
  readonly code: string | undefined;

  constructor(message: string, options: WgIngestErrorOptions) {
    super(message, options);
    this.name = 'WgIngestError';
    this.path = options.path;
    this.code = (options.cause as NodeJS.ErrnoException | undefined)?.code;
  }
}

interface Layout {
  name: string;
  configName: string;
  keyDir: string;
  configDir: string;
  journal: string;
  privateKeyFile: string;
  jsonFile: string;
  nixFile: string;
}

interface JournalFile {
  staged: string;
  final: string;
}

interface Journal {
  version: 1;
  id: string;
  /** The source, by path and identity: (dev, ino) and birth time, as decimal strings. */
  source: { path: string; dev: string; ino: string; birth: string };
  files: JournalFile[];
  remove: string[];
}

const { O_NOFOLLOW, O_NONBLOCK, O_RDWR } = constants;

const interfaceNamePattern = /^[A-Za-z0-9_=+-][A-Za-z0-9_=+.-]{0,14}$/;
const configNamePattern = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}$/;
const stagedSuffix = /\.[0-9a-f]{12}\.tmp$/;

/** `error` as a WgIngestError naming the operation and the file. */
function failure(op: string, path: string, error: unknown): WgIngestError {
  if (error instanceof WgIngestError) return error;
  const text = error instanceof Error ? error.message : String(error);
  return new WgIngestError(`ingest: failed to ${op} ${path}: ${text}`, { op, path, cause: error });
}

/** Runs `action`, turning any error it throws into a WgIngestError naming `op` and `path`. */
function attempt<T>(op: string, path: string, action: () => T): T {
  try {
    return action();
  } catch (error) {
    throw failure(op, path, error);
  }
}

/** A copy of `value` without the keys whose value is undefined. */
function defined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, item]) => item !== undefined)) as T;
}

function layoutOf(options: Pick<IngestOptions, 'keyDir' | 'configDir' | 'name' | 'configName'>) {
  const name = options.name ?? 'privado';
  const configName = options.configName ?? 'tunnel';
  if (!interfaceNamePattern.test(name)) {
    throw new WgIngestError(`ingest: invalid interface name ${JSON.stringify(name)}`, {
      op: 'check options',
      path: name,
    });
  }
  if (!configNamePattern.test(configName)) {
    throw new WgIngestError(`ingest: invalid config name ${JSON.stringify(configName)}`, {
      op: 'check options',
      path: configName,
    });
  }

  const keyDir = resolve(options.keyDir);
  const configDir = resolve(options.configDir);
  const layout: Layout = {
    name,
    configName,
    keyDir,
    configDir,
    journal: join(keyDir, `.${name}.ingest-journal`),
    privateKeyFile: join(keyDir, `${name}.key`),
    jsonFile: join(configDir, `${configName}.json`),
    nixFile: join(configDir, `${configName}.nix`),
  };
  return layout;
}

function presharedKeyFile(layout: Layout, peerIndex: number): string {
  return join(layout.keyDir, `${layout.name}.peer${peerIndex + 1}.psk`);
}

function stagedName(final: string, id: string): string {
  return join(dirname(final), `.${basename(final)}.${id}.tmp`);
}

/** Whether `file` (a base name) is one of our staged files in `dir`. */
function isStagedName(layout: Layout, dir: string, file: string): boolean {
  if (!stagedSuffix.test(file)) return false;

  const final = file.slice(1).replace(stagedSuffix, '');
  if (dir === layout.keyDir) {
    const escaped = layout.name.replace(/[.+]/g, '\\$&');
    if (new RegExp(`^${escaped}\\.(key|peer\\d+\\.psk|ingest-journal)$`).test(final)) return true;
  }
  if (dir === layout.configDir) {
    return final === basename(layout.jsonFile) || final === basename(layout.nixFile);
  }
  return false;
}

function stalePresharedKeyFiles(layout: Layout, keep: string[]): string[] {
  const escaped = layout.name.replace(/[.+]/g, '\\$&');
  const pattern = new RegExp(`^${escaped}\\.peer\\d+\\.psk$`);
  return readdirSync(layout.keyDir)
    .filter((file) => pattern.test(file))
    .map((file) => join(layout.keyDir, file))
    .filter((path) => !keep.includes(path));
}

/** Key directory: created 0700; an existing one must not give group or others any access. */
function prepareKeyDirectory(dir: string): void {
  const stats = attempt('prepare key directory', dir, () => ensureDirectory(dir, 0o700));
  const mode = Number(stats.mode) & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new WgIngestError(
      `ingest: key directory ${dir} has mode ${mode.toString(8).padStart(4, '0')}; ` +
        'group and others must have no access (chmod 700)',
      { op: 'prepare key directory', path: dir },
    );
  }
}

function keyFileContent(key: string): Buffer {
  const content = Buffer.alloc(key.length + 1);
  content.write(key, 'latin1');
  content[key.length] = 0x0a;
  return content;
}

function ignoredKeys(config: WgQuickConfig): string[] {
  const section = config.interface;
  const ignored: string[] = [];
  if (section.fwMark) ignored.push('FwMark');
  if (section.table !== undefined) ignored.push('Table');
  if (section.saveConfig !== undefined) ignored.push('SaveConfig');
  if (section.preUp.length > 0) ignored.push('PreUp');
  if (section.postUp.length > 0) ignored.push('PostUp');
  if (section.preDown.length > 0) ignored.push('PreDown');
  if (section.postDown.length > 0) ignored.push('PostDown');
  return ignored;
}

/** The public parameters of `config`, with the paths its keys will be written to. */
function tunnelParams(config: WgQuickConfig, layout: Layout): TunnelParams {
  const section = config.interface;
  return defined({
    name: layout.name,
    addresses: [...section.addresses],
    dns: [...section.dns],
    mtu: section.mtu,
    listenPort: section.listenPort,
    privateKeyFile: layout.privateKeyFile,
    peers: config.peers.map((peer, index) =>
      defined({
        publicKey: peer.publicKey,
        endpoint: peer.endpoint,
        allowedIps: [...peer.allowedIps],
        persistentKeepalive: peer.persistentKeepalive,
        presharedKeyFile: peer.presharedKey ? presharedKeyFile(layout, index) : undefined,
      }),
    ),
  });
}

interface OpenedSource {
  fd: number;
  identity: FileIdentity;
  config: WgQuickConfig;
}

type SourceCheck = OpenedSource | { code: IngestRefusalCode; reason: string };

function describeKind(stats: BigIntStats): string {
  if (stats.isDirectory()) return 'directory';
  if (stats.isFIFO()) return 'FIFO';
  if (stats.isSocket()) return 'socket';
  if (stats.isCharacterDevice()) return 'character device';
  if (stats.isBlockDevice()) return 'block device';
  return 'special file';
}

/**
 * Step 1. lstat first so that a FIFO or device is never opened; then open without following
 * links and without blocking, and check again on the descriptor, which is what is read and
 * later erased: a name swapped in between cannot redirect either.
 */
function openSource(path: string, maxBytes: number): SourceCheck {
  const linkStats = attempt('inspect source', path, () => lstatIfExists(path));
  if (linkStats === undefined) {
    throw new WgIngestError(`ingest: ${path} does not exist`, { op: 'inspect source', path });
  }
  if (linkStats.isSymbolicLink()) {
    return { code: 'symlink', reason: `${path} is a symbolic link; links are never followed` };
  }
  if (!linkStats.isFile()) {
    return {
      code: 'not-regular',
      reason: `${path} is a ${describeKind(linkStats)}, not a regular file`,
    };
  }

  let fd: number;
  try {
    fd = openSync(path, O_RDWR | O_NOFOLLOW | O_NONBLOCK);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ELOOP') {
      return { code: 'symlink', reason: `${path} is a symbolic link; links are never followed` };
    }
    throw failure('open source', path, error);
  }

  let keep = false;
  let content: Buffer | undefined;
  try {
    const stats = attempt('inspect source', path, () => fstatSync(fd, { bigint: true }));
    if (!stats.isFile()) {
      return {
        code: 'not-regular',
        reason: `${path} is a ${describeKind(stats)}, not a regular file`,
      };
    }
    if (stats.nlink > 1n) {
      return {
        code: 'hard-linked',
        reason:
          `${path} has ${stats.nlink} hard links; erasing one name would leave the key ` +
          'under the others',
      };
    }
    if (stats.size > BigInt(maxBytes)) {
      return {
        code: 'too-large',
        reason: `${path} is ${stats.size} bytes, over the limit of ${maxBytes}`,
      };
    }

    // Read one byte more than allowed, to catch a file that grew since fstat.
    content = Buffer.alloc(maxBytes + 1);
    let length = 0;
    for (;;) {
      const got = attempt('read source', path, () =>
        readSync(fd, content!, length, content!.length - length, length),
      );
      if (got === 0 || length + got === content.length) {
        length += got;
        break;
      }
      length += got;
    }
    if (length > maxBytes) {
      return { code: 'too-large', reason: `${path} grew over the limit of ${maxBytes} bytes` };
    }

    let config: WgQuickConfig;
    try {
      config = parseConfig(content.toString('utf8', 0, length), { source: path });
    } catch (error) {
      const text = error instanceof Error ? error.message : String(error);
      return { code: 'parse-error', reason: `not a wg-quick file WireGuard accepts: ${text}` };
    }
    if (!config.interface.privateKey) {
      return { code: 'no-private-key', reason: `${path} has no PrivateKey in [Interface]` };
    }

    keep = true;
    return {
      fd,
      identity: identityOf(stats),
      config,
    };
  } finally {
    content?.fill(0);
    if (!keep) closeSync(fd);
  }
}

/** Moves a refused file into `refusedDir` and writes `<name>.reason` next to it. */
function refuse(
  source: string,
  refusedDir: string,
  code: IngestRefusalCode,
  reason: string,
): IngestRefusal {
  attempt('prepare refused directory', refusedDir, () => ensureDirectory(refusedDir, 0o700));

  let movedTo = join(refusedDir, basename(source));
  for (let n = 1; lstatIfExists(movedTo) || lstatIfExists(`${movedTo}.reason`); n += 1) {
    movedTo = join(refusedDir, `${basename(source)}.${n}`);
  }

  // rename(2) moves a symlink itself, never its target; EXDEV (another filesystem) is an error:
  // a refused file is never copied and deleted.
  attempt('move refused file', source, () => renameSync(source, movedTo));
  attempt('sync directory', refusedDir, () => fsyncDirectory(refusedDir));
  attempt('sync directory', dirname(source), () => fsyncDirectory(dirname(source)));

  const reasonFile = `${movedTo}.reason`;
  const text =
    `code: ${code}\nreason: ${reason}\nsource: ${source}\n` + `time: ${new Date().toISOString()}\n`;
  const staged = stagedName(reasonFile, randomBytes(6).toString('hex'));
  attempt('write reason file', reasonFile, () => {
    stageFile(staged, Buffer.from(text), 0o600);
    commitFile(staged, reasonFile);
    fsyncDirectory(refusedDir);
  });

  return { status: 'refused', source, code, reason, movedTo, reasonFile };
}

function readJournal(layout: Layout): Journal | undefined {
  const stats = attempt('read journal', layout.journal, () => lstatIfExists(layout.journal));
  if (stats === undefined) return undefined;

  const journal = attempt('read journal', layout.journal, () => {
    if (!stats.isFile()) throw new Error('not a regular file');
    return JSON.parse(readFileSync(layout.journal, 'utf8')) as Journal;
  });

  // Only files of this layout may be named; anything else means the journal is not ours.
  const allowed = (path: unknown, staged: boolean) =>
    typeof path === 'string' &&
    (dirname(path) === layout.keyDir || dirname(path) === layout.configDir) &&
    (!staged || isStagedName(layout, dirname(path), basename(path)));
  const valid =
    journal.version === 1 &&
    typeof journal.source?.path === 'string' &&
    [journal.source.dev, journal.source.ino, journal.source.birth].every(
      (value) => typeof value === 'string' && /^\d+$/.test(value),
    ) &&
    Array.isArray(journal.files) &&
    Array.isArray(journal.remove) &&
    journal.files.every((file) => allowed(file.staged, true) && allowed(file.final, false)) &&
    journal.remove.every((path) => allowed(path, false));
  if (!valid) {
    throw new WgIngestError(`ingest: journal ${layout.journal} is not one ingest wrote`, {
      op: 'read journal',
      path: layout.journal,
    });
  }
  return journal;
}

/**
 * Steps 4 to 6, from a committed journal: rename what is still staged, erase stale preshared
 * key files, erase the source, remove the journal. Every part can be repeated after a crash.
 * `source` is the descriptor from step 1 when the same process committed.
 */
function applyJournal(
  layout: Layout,
  journal: Journal,
  onStep: (step: IngestStep) => void,
  source?: OpenedSource,
): string[] {
  const touched: string[] = [];

  // Key files about to be replaced are opened first and zeroed once the rename has left no
  // name leading to them. After a crash in between, their blocks are simply freed.
  const replaced: { path: string; fd: number }[] = [];
  try {
    for (const { staged, final } of journal.files) {
      if (lstatIfExists(staged) === undefined) continue;
      if (dirname(final) === layout.keyDir) {
        const fd = attempt('open replaced key file', final, () => openForErase(final));
        if (fd !== undefined) replaced.push({ path: final, fd });
      }
      attempt('rename into place', final, () => commitFile(staged, final));
      touched.push(final);
      onStep({ step: 'rename', path: final });
    }
    attempt('sync directory', layout.keyDir, () => fsyncDirectory(layout.keyDir));
    attempt('sync directory', layout.configDir, () => fsyncDirectory(layout.configDir));

    for (const { path, fd } of replaced) {
      if (!attempt('erase replaced key file', path, () => eraseIfUnlinked(fd))) continue;
      onStep({ step: 'erase-replaced', path });
    }
  } finally {
    for (const { fd } of replaced) closeSync(fd);
  }

  for (const path of journal.remove) {
    if (!attempt('erase stale key file', path, () => eraseFile(path))) continue;
    touched.push(path);
    onStep({ step: 'remove-stale', path });
  }

  const identity = {
    dev: BigInt(journal.source.dev),
    ino: BigInt(journal.source.ino),
    birthtimeNs: BigInt(journal.source.birth),
  };
  const sourcePath = journal.source.path;
  if (source) {
    attempt('erase source', sourcePath, () =>
      overwriteWithZeros(source.fd, Number(fstatSync(source.fd).size)),
    );
    onStep({ step: 'erase', path: sourcePath });
    if (attempt('unlink source', sourcePath, () => unlinkIfSame(sourcePath, identity))) {
      touched.push(sourcePath);
      onStep({ step: 'unlink', path: sourcePath });
    }
  } else if (attempt('erase source', sourcePath, () => eraseFile(sourcePath, identity))) {
    touched.push(sourcePath);
    onStep({ step: 'unlink', path: sourcePath });
  }

  attempt('remove journal', layout.journal, () => {
    unlinkSync(layout.journal);
    fsyncDirectory(layout.keyDir);
  });
  onStep({ step: 'done' });
  return touched;
}

/** Erases staged files that no committed journal names: what a crash before commit left. */
function eraseStaged(layout: Layout): string[] {
  const erased: string[] = [];
  for (const dir of new Set([layout.keyDir, layout.configDir])) {
    if (lstatIfExists(dir) === undefined) continue;
    const files = attempt('list directory', dir, () => readdirSync(dir));
    for (const file of files.filter((name) => isStagedName(layout, dir, name))) {
      const path = join(dir, file);
      if (attempt('erase staged file', path, () => eraseFile(path))) erased.push(path);
    }
  }
  return erased;
}

/**
 * Finishes an ingest that committed but did not complete, or erases the staged files of one
 * that did not commit, so that only the old state or the whole new state remains.
 */
export function recoverIngest(
  options: Pick<IngestOptions, 'keyDir' | 'configDir' | 'name' | 'configName'>,
): IngestRecovery {
  const layout = layoutOf(options);
  if (lstatIfExists(layout.keyDir) === undefined) return { action: 'none', files: [] };

  const journal = readJournal(layout);
  const files = journal ? applyJournal(layout, journal, () => {}) : [];
  const erased = eraseStaged(layout);

  if (journal) return { action: 'rolled-forward', files: [...files, ...erased] };
  if (erased.length > 0) return { action: 'rolled-back', files: erased };
  return { action: 'none', files: [] };
}

/**
 * Ingests one provider `.conf`: private key and preshared keys into 0600 files under `keyDir`,
 * public parameters into `<configName>.json` and `.nix` under `configDir`, then zeros over
 * the source, fsync, unlink. A source that is a symlink, not a regular file, larger than
 * `maxBytes`, hard-linked, unparsable or without a private key is moved to `refusedDir` with
 * a reason file and reported as refused; nothing else is touched then.
 *
 * Synchronous: it runs to the end without yielding, so two ingests in one process never
 * interleave. Throws WgIngestError when it cannot proceed (e.g. a symlink at a destination).
 */
export function ingest(file: string, options: IngestOptions): IngestResult {
  const layout = layoutOf(options);
  const sourcePath = resolve(file);
  const refusedDir = resolve(options.refusedDir ?? join(dirname(sourcePath), 'refused'));
  const onStep = options.onStep ?? (() => {});

  recoverIngest(options);

  const opened = openSource(sourcePath, options.maxBytes ?? ingestMaxBytes);
  if (!('fd' in opened)) return refuse(sourcePath, refusedDir, opened.code, opened.reason);

  try {
    onStep({ step: 'read', path: sourcePath });
    return ingestOpened(layout, sourcePath, opened, onStep);
  } finally {
    closeSync(opened.fd);
  }
}

function ingestOpened(
  layout: Layout,
  sourcePath: string,
  source: OpenedSource,
  onStep: (step: IngestStep) => void,
): IngestSuccess {
  const { config } = source;
  prepareKeyDirectory(layout.keyDir);
  attempt('prepare config directory', layout.configDir, () =>
    ensureDirectory(layout.configDir, 0o755),
  );

  const tunnel = tunnelParams(config, layout);
  const presharedKeys = tunnel.peers.flatMap((peer) => peer.presharedKeyFile ?? []);
  const stale = stalePresharedKeyFiles(layout, presharedKeys);

  const comment = [
    `WireGuard tunnel "${layout.name}": public parameters only; keys are in the files named.`,
    'Replaced as a whole by the next ingest.',
  ];
  // Keys first, public files last: that is also the order of the renames.
  const secret = (final: string, key: string) => ({
    final,
    content: keyFileContent(key),
    mode: 0o600,
  });
  const outputs: { final: string; content: Buffer; mode: number }[] = [
    secret(layout.privateKeyFile, config.interface.privateKey!),
    ...config.peers.flatMap((peer, index) =>
      peer.presharedKey ? [secret(presharedKeyFile(layout, index), peer.presharedKey)] : [],
    ),
    { final: layout.jsonFile, content: Buffer.from(formatTunnelJson(tunnel)), mode: 0o644 },
    { final: layout.nixFile, content: Buffer.from(formatTunnelNix(tunnel, comment)), mode: 0o644 },
  ];

  for (const path of [...outputs.map((output) => output.final), ...stale]) {
    attempt('check destination', path, () => checkDestination(path));
  }

  // Step 2: stage. A failure here erases what was staged and leaves the old state.
  const id = randomBytes(6).toString('hex');
  const files: JournalFile[] = [];
  try {
    for (const output of outputs) {
      const staged = stagedName(output.final, id);
      attempt('stage', staged, () => stageFile(staged, output.content, output.mode));
      files.push({ staged, final: output.final });
      onStep({ step: 'stage', path: staged });
    }
    attempt('sync directory', layout.keyDir, () => fsyncDirectory(layout.keyDir));
    attempt('sync directory', layout.configDir, () => fsyncDirectory(layout.configDir));
  } catch (error) {
    for (const { staged } of files) eraseFile(staged);
    throw error;
  } finally {
    for (const output of outputs) output.content.fill(0);
  }

  // Step 3: commit.
  const journal: Journal = {
    version: 1,
    id,
    source: {
      path: sourcePath,
      dev: String(source.identity.dev),
      ino: String(source.identity.ino),
      birth: String(source.identity.birthtimeNs ?? 0n),
    },
    files,
    remove: stale,
  };
  const stagedJournal = stagedName(layout.journal, id);
  attempt('commit', layout.journal, () => {
    stageFile(stagedJournal, Buffer.from(`${JSON.stringify(journal)}\n`), 0o600);
    commitFile(stagedJournal, layout.journal);
    fsyncDirectory(layout.keyDir);
  });
  onStep({ step: 'commit', path: layout.journal });

  // Steps 4 to 6.
  applyJournal(layout, journal, onStep, source);

  return {
    status: 'ingested',
    source: sourcePath,
    tunnel,
    files: {
      privateKey: layout.privateKeyFile,
      presharedKeys,
      json: layout.jsonFile,
      nix: layout.nixFile,
    },
    ignored: ignoredKeys(config),
  };
}
