// A process killed with SIGKILL in the middle of an ingest, after every step in turn. Right
// after the kill the key may only be in the source, in its key file, or in a staged file
// inside the 0700 key directory; after recoverIngest() the directories hold exactly the old
// state or exactly the whole new state, and the key is in one place only.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { tmpdir } from 'node:os';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { ingest, recoverIngest } from '../src/ingest.js';
import {
  dropProviderFile,
  findBytes,
  fixtureDir,
  freshKeys,
  keyNeedles,
  makeWorkspace,
  providerText,
  readState,
  repoRoot,
  type ProviderKeys,
  type Workspace,
} from './fixtures/ingest/helpers.js';

const child = join(fixtureDir, 'ingest-child.ts');

interface Scenario {
  title: string;
  /** Fixture ingested before, or none for a first ingest. */
  before?: string;
  after: string;
}

const scenarios: Scenario[] = [
  { title: 'first ingest, two peers with preshared keys', after: 'two-peers.conf' },
  {
    title: 'replacing a tunnel, one preshared key file becoming stale',
    before: 'two-peers.conf',
    after: 'provider.conf',
  },
];

/** Runs the child; returns the steps it printed and how it ended. */
function runChild(ws: Workspace, source: string, killAt: number) {
  const run = spawnSync(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', child, source, ws.keyDir, ws.configDir, `${killAt}`],
    { cwd: repoRoot, encoding: 'utf8' },
  );
  const lines = run.stdout.split('\n').filter((line) => line !== '');
  const steps = lines.map((line) => JSON.parse(line) as { step?: string; finished?: string });
  return { steps, signal: run.signal, status: run.status, stderr: run.stderr };
}

/** A workspace holding the scenario's old state, with the new file dropped in the landing. */
function prepare(scenario: Scenario, oldKeys: ProviderKeys, newKeys: ProviderKeys) {
  const ws = makeWorkspace();
  if (scenario.before) ingest(dropProviderFile(ws, scenario.before, oldKeys), ws.options);
  const source = dropProviderFile(ws, scenario.after, newKeys);
  return { ws, source };
}

function secretsOf(keys: ProviderKeys, label: string) {
  return {
    ...keyNeedles(`${label} private key`, keys.PRIVATE_KEY),
    ...keyNeedles(`${label} psk 1`, keys.PEER1_PRESHARED_KEY),
    ...keyNeedles(`${label} psk 2`, keys.PEER2_PRESHARED_KEY),
  };
}

/** Files, relative to the workspace, where the search found something. */
function whereFound(ws: Workspace, needles: Record<string, Buffer>): string[] {
  const found = findBytes([tmpdir()], needles);
  for (const hit of found) {
    assert.ok(hit.file.startsWith(`${ws.base}/`), `${hit.what} outside the test: ${hit.file}`);
    assert.ok(hit.what.endsWith('base64'), `${hit.what} found in ${hit.file}`);
  }
  return [...new Set(found.map((hit) => hit.file.slice(ws.base.length + 1)))].sort();
}

interface States {
  oldState: Record<string, string>;
  newState: Record<string, string>;
  stepNames: string[];
}

/** Runs the scenario to the end once: the step list, and the states before and after. */
function referenceRun(scenario: Scenario, oldKeys: ProviderKeys, newKeys: ProviderKeys): States {
  const { ws, source } = prepare(scenario, oldKeys, newKeys);
  try {
    const oldState = readState(ws);
    const run = runChild(ws, source, 0);
    assert.is(run.status, 0, run.stderr);
    assert.equal(run.steps.at(-1), { finished: 'ingested' });
    const newState = readState(ws);
    assert.is.not(JSON.stringify(newState), JSON.stringify(oldState));
    return { oldState, newState, stepNames: run.steps.slice(0, -1).map((step) => step.step!) };
  } finally {
    ws.remove();
  }
}

/**
 * Checks a workspace whose ingest was killed: where the keys are right away, that recovery
 * gives the old or the new state (`expected` when known), and where the keys are then.
 * Returns the state recovery produced.
 */
function checkAfterKill(
  ws: Workspace,
  source: string,
  keys: { oldKeys: ProviderKeys; newKeys: ProviderKeys },
  states: States,
  context: string,
  expected?: 'old' | 'new',
): 'old' | 'new' {
  // Right after the kill: the new keys only in the source, their key files, or staged.
  for (const file of whereFound(ws, secretsOf(keys.newKeys, 'new'))) {
    const allowed =
      file === `landing/${basename(source)}` ||
      /^keys\/(\.)?privado\.(key|peer\d\.psk)(\.[0-9a-f]{12}\.tmp)?$/.test(file);
    assert.ok(allowed, `${context}: new key material in ${file}`);
  }

  recoverIngest(ws.options);
  const state = readState(ws);
  const reached = JSON.stringify(state) === JSON.stringify(states.newState) ? 'new' : 'old';
  assert.equal(state, reached === 'old' ? states.oldState : states.newState, context);
  if (expected) assert.is(reached, expected, context);

  // After recovery: every key in exactly the place its state says, nowhere else.
  const newPlaces = whereFound(ws, secretsOf(keys.newKeys, 'new'));
  const oldPlaces = whereFound(ws, secretsOf(keys.oldKeys, 'old'));
  const keyFiles = Object.keys(state)
    .filter((entry) => entry.startsWith('keys/'))
    .map((entry) => entry.split(' ')[0]);
  if (reached === 'old') {
    assert.equal(newPlaces, [`landing/${basename(source)}`], context);
    assert.equal(oldPlaces, keyFiles, context);

    // And the source can still be ingested.
    assert.is(ingest(source, ws.options).status, 'ingested');
    assert.equal(readState(ws), states.newState, `${context}: ingest after recovery`);
  } else {
    assert.equal(newPlaces, keyFiles, context);
    assert.equal(oldPlaces, [], context);
  }
  return reached;
}

for (const scenario of scenarios) {
  test(`killed after each step: ${scenario.title}`, () => {
    const keys = { oldKeys: freshKeys(), newKeys: freshKeys() };
    const states = referenceRun(scenario, keys.oldKeys, keys.newKeys);
    const { stepNames } = states;
    const commitAt = stepNames.indexOf('commit') + 1;
    assert.ok(commitAt > 1);

    for (let killAt = 1; killAt <= stepNames.length; killAt += 1) {
      const { ws, source } = prepare(scenario, keys.oldKeys, keys.newKeys);
      const context = `killed after step ${killAt} (${stepNames[killAt - 1]})`;
      try {
        const run = runChild(ws, source, killAt);
        assert.is(run.signal, 'SIGKILL', `${context}: ${run.stderr}`);
        assert.is(run.steps.length, killAt, context);

        checkAfterKill(ws, source, keys, states, context, killAt < commitAt ? 'old' : 'new');
      } finally {
        ws.remove();
      }
    }
  });
}

/**
 * Kills the child from outside as soon as the parent reads its report of step `afterStep`:
 * by then the child has run on, so the kill lands wherever it happens to be, inside a step
 * as well as between two.
 */
function killFromOutside(ws: Workspace, source: string, afterStep: number) {
  return new Promise<{ signal: NodeJS.Signals | null; seen: number }>((resolve) => {
    const args = [child, source, ws.keyDir, ws.configDir, '0'];
    const running = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', ...args], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let seen = 0;
    running.stdout.on('data', (chunk: Buffer) => {
      seen += chunk
        .toString()
        .split('\n')
        .filter((line) => line.startsWith('{"step"')).length;
      if (seen >= afterStep) running.kill('SIGKILL');
    });
    running.on('close', (_code, signal) => resolve({ signal, seen }));
  });
}

test('killed from outside at unplanned moments', async () => {
  const scenario = scenarios[1];
  const keys = { oldKeys: freshKeys(), newKeys: freshKeys() };
  const states = referenceRun(scenario, keys.oldKeys, keys.newKeys);

  for (let afterStep = 1; afterStep <= states.stepNames.length; afterStep += 1) {
    const { ws, source } = prepare(scenario, keys.oldKeys, keys.newKeys);
    try {
      const { signal, seen } = await killFromOutside(ws, source, afterStep);
      const context = `killed from outside after step ${afterStep} (${signal ?? 'finished'})`;
      checkAfterKill(ws, source, keys, states, `${context}, ${seen} seen`);
    } finally {
      ws.remove();
    }
  }
});

test('a new file dropped under the same name before recovery is not taken for the old one', () => {
  const scenario = scenarios[0];
  const keys = { oldKeys: freshKeys(), newKeys: freshKeys() };
  const { stepNames } = referenceRun(scenario, keys.oldKeys, keys.newKeys);
  const { ws, source } = prepare(scenario, keys.oldKeys, keys.newKeys);
  try {
    const run = runChild(ws, source, stepNames.indexOf('unlink') + 1);
    assert.is(run.signal, 'SIGKILL');
    assert.ok(existsSync(join(ws.keyDir, '.privado.ingest-journal')), 'journal still there');

    // The freed inode number may well be handed to this file.
    const next = freshKeys();
    const again = dropProviderFile(ws, 'provider.conf', next);
    assert.is(again, source);

    assert.is(recoverIngest(ws.options).action, 'rolled-forward');
    assert.is(readFileSync(again, 'utf8'), providerText('provider.conf', next));
  } finally {
    ws.remove();
  }
});

test.run();
