// Watching a landing folder: every complete file dropped into it is ingested once, and each
// result is reported. The folder is watched with inotify (`fs.watch`) and listed once at
// start, so files dropped while no watcher ran are not missed; a periodic listing covers
// events the kernel dropped (inotify queue overflow, which fs.watch does not surface).
//
// "Complete" means: the file's (dev, ino, size, mtime) did not change for `settleMs`, and no
// process holds it open for writing (as far as /proc shows: processes of other users are
// only visible to root, and writers in other mount namespaces may show other paths). A writer
// that closes the file and reopens it later can still be caught half-way; uploaders should
// write under a dot or `.part` name and rename into place, which this watcher ignores.
import { lstatSync, readFileSync, readdirSync, readlinkSync, statSync, watch } from 'node:fs';
import type { BigIntStats, FSWatcher } from 'node:fs';
import { join, resolve } from 'node:path';

import { ingest, recoverIngest, type IngestOptions, type IngestResult } from './ingest.js';

export interface WatchLandingOptions extends IngestOptions {
  /** How long a file must stay unchanged before it is ingested. Default 1000 ms. */
  settleMs?: number;
  /** Interval of the safety listing of the folder; 0 turns it off. Default 30000 ms. */
  rescanMs?: number;
  /** Look in /proc for processes holding the file open for writing. Default true. */
  checkWriters?: boolean;
}

export type LandingEvent =
  | { type: 'result'; file: string; result: IngestResult }
  | { type: 'error'; file?: string; error: Error };

export interface LandingWatcher {
  /** Resolves once the folder is watched and its first listing has been queued. */
  readonly ready: Promise<void>;
  /** Stops watching; checks still waiting are dropped. */
  close(): void;
}

interface Snapshot {
  dev: bigint;
  ino: bigint;
  size: bigint;
  mtimeNs: bigint;
  regular: boolean;
}

/** Names the watcher never ingests: dotfiles and the usual partial-download names. */
export function isIgnoredLandingName(name: string): boolean {
  return (
    name.startsWith('.') ||
    name.endsWith('~') ||
    /\.(tmp|part|partial|crdownload|reason)$/i.test(name)
  );
}

function snapshotOf(path: string): Snapshot | undefined {
  let stats: BigIntStats;
  try {
    stats = lstatSync(path, { bigint: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  return {
    dev: stats.dev,
    ino: stats.ino,
    size: stats.size,
    mtimeNs: stats.mtimeNs,
    regular: stats.isFile(),
  };
}

function sameSnapshot(a: Snapshot, b: Snapshot): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs;
}

function identityKey(snapshot: Snapshot): string {
  return `${snapshot.dev}:${snapshot.ino}:${snapshot.size}:${snapshot.mtimeNs}`;
}

/**
 * Whether some process has the file (dev, ino) open with O_WRONLY or O_RDWR, from
 * /proc/PID/fd and /proc/PID/fdinfo. Processes that cannot be inspected are skipped.
 */
export function isOpenForWriting(file: { dev: bigint; ino: bigint }, name: string): boolean {
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;

    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }

    for (const fd of fds) {
      const link = `/proc/${pid}/fd/${fd}`;
      try {
        if (!readlinkSync(link).includes(name)) continue;
        const stats = statSync(link, { bigint: true });
        if (stats.dev !== file.dev || stats.ino !== file.ino) continue;
        const flags = /^flags:\s*([0-7]+)/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'));
        if (flags && (parseInt(flags[1], 8) & 0o3) !== 0) return true;
      } catch {
        // The descriptor or the process went away meanwhile.
      }
    }
  }
  return false;
}

/**
 * Watches `dir` and ingests each complete file dropped into it, one at a time, reporting every
 * result or error to `onEvent`. Recovers an ingest a previous process left unfinished first.
 * Dotfiles, `*.tmp`, `*.part` and similar names, and the refused folder are ignored. A file is
 * ingested once per (dev, ino, size, mtime): one whose ingest failed is retried only when it
 * changes or the watcher restarts.
 */
export function watchLandingZone(
  dir: string,
  options: WatchLandingOptions,
  onEvent: (event: LandingEvent) => void,
): LandingWatcher {
  const landing = resolve(dir);
  const refusedDir = resolve(options.refusedDir ?? join(landing, 'refused'));
  const settleMs = options.settleMs ?? 1000;
  const rescanMs = options.rescanMs ?? 30_000;
  const checkWriters = options.checkWriters ?? true;
  const ingestOptions: IngestOptions = { ...options, refusedDir };

  const timers = new Map<string, NodeJS.Timeout>();
  const handled = new Set<string>();
  let closed = false;
  let watcher: FSWatcher | undefined;
  let interval: NodeJS.Timeout | undefined;

  const report = (event: LandingEvent) => {
    if (!closed) onEvent(event);
  };

  // Look again at `name` after settleMs; `before` is what it looked like last time.
  const schedule = (name: string, before?: Snapshot) => {
    if (closed || timers.has(name)) return;
    if (isIgnoredLandingName(name) || join(landing, name) === refusedDir) return;

    if (before === undefined) {
      try {
        before = snapshotOf(join(landing, name));
      } catch (error) {
        return report({ type: 'error', file: join(landing, name), error: error as Error });
      }
      if (before === undefined) return;
    }

    const timer = setTimeout(() => {
      timers.delete(name);
      examine(name, before);
    }, settleMs);
    timers.set(name, timer);
  };

  const examine = (name: string, before: Snapshot) => {
    const path = join(landing, name);
    let now: Snapshot | undefined;
    try {
      now = snapshotOf(path);
      if (now === undefined) return;
      if (!sameSnapshot(before, now)) return schedule(name, now);
      if (handled.has(identityKey(now))) return;
      if (now.regular && checkWriters && isOpenForWriting(now, name)) return schedule(name, now);
    } catch (error) {
      return report({ type: 'error', file: path, error: error as Error });
    }

    handled.add(identityKey(now));
    let result: IngestResult;
    try {
      result = ingest(path, ingestOptions);
    } catch (error) {
      return report({ type: 'error', file: path, error: error as Error });
    }
    report({ type: 'result', file: path, result });
  };

  const rescan = () => {
    let names: string[];
    try {
      names = readdirSync(landing);
    } catch (error) {
      return report({ type: 'error', file: landing, error: error as Error });
    }

    // Forget files that are gone, so the set only holds what is still in the folder.
    const present = new Set<string>();
    for (const name of names) {
      try {
        const snapshot = snapshotOf(join(landing, name));
        if (snapshot) present.add(identityKey(snapshot));
      } catch {
        // Reported by schedule() when it looks at the same name.
      }
      schedule(name);
    }
    for (const key of handled) if (!present.has(key)) handled.delete(key);
  };

  const ready = (async () => {
    try {
      recoverIngest(ingestOptions);
    } catch (error) {
      report({ type: 'error', error: error as Error });
    }

    // Watch before listing: a file dropped in between is then seen by one or both.
    watcher = watch(landing, { persistent: true }, (_type, filename) => {
      if (filename) schedule(filename.toString());
    });
    watcher.on('error', (error) => report({ type: 'error', file: landing, error }));

    rescan();
    if (rescanMs > 0) interval = setInterval(rescan, rescanMs);
  })();

  return {
    ready,
    close() {
      closed = true;
      watcher?.close();
      if (interval) clearInterval(interval);
      for (const timer of timers.values()) clearTimeout(timer);
      timers.clear();
    },
  };
}
