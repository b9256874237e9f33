// watchLandingZone(): files dropped before and while it runs, files still being written,
// names it must leave alone, and a crash it must finish on start.
import { spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import type { IngestRefusal, IngestSuccess } from '../src/ingest.js';
import {
  isIgnoredLandingName,
  watchLandingZone,
  type LandingEvent,
  type WatchLandingOptions,
} from '../src/ingest-watch.js';
import {
  dropProviderFile,
  fixtureDir,
  freshKeys,
  makeWorkspace,
  providerText,
  repoRoot,
  type Workspace,
} from './fixtures/ingest/helpers.js';

const deadlineMs = 20_000;

/** Starts a watcher that records its events; `until` waits for a condition on them. */
function startWatcher(ws: Workspace, extra: Partial<WatchLandingOptions> = {}) {
  const events: LandingEvent[] = [];
  const watcher = watchLandingZone(ws.landing, { ...ws.options, settleMs: 100, ...extra }, (e) =>
    events.push(e),
  );

  const until = async (what: string, done: (events: LandingEvent[]) => boolean) => {
    for (const start = Date.now(); !done(events); await sleep(20)) {
      if (Date.now() - start > deadlineMs) {
        assert.unreachable(`gave up waiting for ${what}; events: ${JSON.stringify(events)}`);
      }
    }
  };
  return { events, watcher, until };
}

function results(events: LandingEvent[]) {
  return events.flatMap((event) => (event.type === 'result' ? [event.result] : []));
}

test('names it ignores', () => {
  for (const name of ['.hidden.conf', 'x.conf.tmp', 'x.conf.part', 'x.crdownload', 'x.conf~']) {
    assert.ok(isIgnoredLandingName(name), name);
  }
  for (const name of ['privado.conf', 'wg0.conf', 'x.tmp.conf']) {
    assert.not.ok(isIgnoredLandingName(name), name);
  }
});

test('ingests what was dropped while it was down, each file once, temp names left', async () => {
  const ws = makeWorkspace();
  try {
    dropProviderFile(ws, 'provider.conf', freshKeys());
    dropProviderFile(ws, 'no-private-key.conf', freshKeys(), 'public-only.conf');
    const ignored = ['.upload.conf', 'upload.conf.part', 'upload.conf.tmp'];
    for (const name of ignored) dropProviderFile(ws, 'provider.conf', freshKeys(), name);

    const { events, watcher, until } = startWatcher(ws);
    try {
      await watcher.ready;
      await until('two results', (seen) => seen.length >= 2);
      await sleep(500);

      assert.equal(
        results(events)
          .map((result) => result.status)
          .sort(),
        ['ingested', 'refused'],
      );
      assert.is(events.length, 2, 'each file once');
      const refusal = results(events).find((r) => r.status === 'refused') as IngestRefusal;
      assert.is(refusal.code, 'no-private-key');
      assert.equal(readdirSync(ws.landing).sort(), [...ignored, 'refused'].sort());
      assert.equal(readdirSync(ws.refusedDir).sort(), [
        'public-only.conf',
        'public-only.conf.reason',
      ]);
    } finally {
      watcher.close();
    }
  } finally {
    ws.remove();
  }
});

test('a file renamed into place while watching is ingested once', async () => {
  const ws = makeWorkspace();
  const { events, watcher, until } = startWatcher(ws);
  try {
    await watcher.ready;
    const keys = freshKeys();
    const partial = dropProviderFile(ws, 'provider.conf', keys, '.privado.conf.upload');
    renameSync(partial, join(ws.landing, 'privado.conf'));

    await until('the ingest', (seen) => results(seen).length >= 1);
    await sleep(500);

    assert.is(events.length, 1);
    const result = results(events)[0] as IngestSuccess;
    assert.is(result.status, 'ingested');
    assert.is(result.tunnel.peers[0].publicKey, keys.PEER1_PUBLIC_KEY);
    assert.equal(readdirSync(ws.landing), []);
  } finally {
    watcher.close();
    ws.remove();
  }
});

test('a file still open for writing is waited for, however long it stays unchanged', async () => {
  const ws = makeWorkspace();
  const { events, watcher, until } = startWatcher(ws);
  const path = join(ws.landing, 'privado.conf');
  const fd = openSync(path, 'w', 0o600);
  let open = true;
  try {
    await watcher.ready;
    const keys = freshKeys();
    const text = Buffer.from(providerText('provider.conf', keys));
    const half = Math.floor(text.length / 2);
    writeSync(fd, text, 0, half);

    // Many settle windows with the first half only: the open writer holds it back.
    await sleep(1000);
    assert.equal(events, []);
    assert.ok(existsSync(path));

    writeSync(fd, text, half, text.length - half);
    closeSync(fd);
    open = false;

    await until('the ingest', (seen) => seen.length >= 1);
    const result = results(events)[0] as IngestSuccess;
    assert.is(result.status, 'ingested', JSON.stringify(events));
    assert.is(result.tunnel.peers[0].persistentKeepalive, 25, 'the whole file was read');
  } finally {
    if (open) closeSync(fd);
    watcher.close();
    ws.remove();
  }
});

test('an ingest that fails is reported once, not retried until the file changes', async () => {
  const ws = makeWorkspace();
  mkdirSync(ws.keyDir, { mode: 0o755 });
  const { events, watcher, until } = startWatcher(ws);
  try {
    await watcher.ready;
    const path = dropProviderFile(ws, 'provider.conf', freshKeys());

    await until('the error', (seen) => seen.length >= 1);
    await sleep(500);
    assert.is(events.length, 1);
    assert.is(events[0].type, 'error');
    assert.match((events[0] as { error: Error }).error.message, 'chmod 700');
    assert.ok(existsSync(path));

    writeFileSync(join(ws.landing, 'unrelated.txt'), 'not a config\n');
    await until('the refusal of the other file', (seen) => seen.length >= 2);
    assert.is((results(events)[0] as IngestRefusal).code, 'parse-error');
  } finally {
    watcher.close();
    ws.remove();
  }
});

test('on start it finishes an ingest a killed process had committed', async () => {
  const ws = makeWorkspace();
  try {
    const source = dropProviderFile(ws, 'provider.conf', freshKeys());
    const child = join(fixtureDir, 'ingest-child.ts');
    const commitStep = 6; // read, four files staged, commit
    const args = [child, source, ws.keyDir, ws.configDir, `${commitStep}`];
    const run = spawnSync(process.execPath, ['--conditions=source', '--import', 'tsx', ...args], {
      cwd: repoRoot,
      encoding: 'utf8',
    });
    assert.is(run.signal, 'SIGKILL');
    assert.match(run.stdout.trim().split('\n')[commitStep - 1], '"step":"commit"');
    assert.ok(existsSync(source), 'killed before the source was erased');

    const { events, watcher } = startWatcher(ws);
    try {
      await watcher.ready;
      assert.equal(readdirSync(ws.keyDir).sort(), ['privado.key', 'privado.peer1.psk']);
      assert.equal(readdirSync(ws.configDir).sort(), ['tunnel.json', 'tunnel.nix']);
      assert.not.ok(existsSync(source));
      await sleep(500);
      assert.equal(events, [], 'nothing left to ingest');
    } finally {
      watcher.close();
    }
  } finally {
    ws.remove();
  }
});

test.run();
