// Helpers for tests that need real namespaces: unique prefixed names, a namespace that is
// always removed, a sweep of what crashed runs left behind, and a root check.
// Exported as @netvault/netns/testing; not part of the main API.
import { createNamespace, deleteNamespace, listNamespaces } from './namespaces.ts';
import { openNamespace, type NetnsHandle } from './handle.ts';

/** Every namespace a test makes is named `nvt-<pid in base 36>-<tag><n>`. */
export const TEST_PREFIX = 'nvt-';
let counter = 0;

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** A reason to skip privileged tests, or undefined when they can run. */
export function privilegedSkipReason(): string | undefined {
  if (!isRoot()) return 'needs root (network namespaces, veth, routes); run as root to include it';
  return undefined;
}

/**
 * What to register privileged tests with: uvu's `test` when they can run, its `test.skip`
 * otherwise, after one line saying what is skipped and why. `otherReason` is a further
 * precondition (a missing tool, say), looked at once root is there.
 */
export function privilegedTest<F extends (...args: never[]) => unknown>(
  test: F & { skip: F },
  what: string,
  otherReason?: string,
): F {
  const reason = privilegedSkipReason() ?? otherReason;
  if (reason === undefined) return test;
  console.log(`${what} skipped: ${reason}`);
  return test.skip;
}

export function uniqueName(tag = 'ns'): string {
  counter += 1;
  return `${TEST_PREFIX}${process.pid.toString(36)}-${tag}${counter}`;
}

/** The pid (base 36 after `prefix`, up to a `-`) of the test process that named an object. */
export function creatorPid(name: string, prefix = TEST_PREFIX): number | undefined {
  if (!name.startsWith(prefix)) return undefined;
  const match = /^([0-9a-z]+)-/.exec(name.slice(prefix.length));
  return match ? parseInt(match[1], 36) : undefined;
}

/** True while a process with this pid exists (also one of another user's). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Deletes test namespaces whose creating process is gone. Returns their names. */
export function sweepTestNamespaces(): string[] {
  const swept: string[] = [];
  for (const name of listNamespaces()) {
    const pid = creatorPid(name);
    if (pid === undefined || processAlive(pid)) continue;
    try {
      deleteNamespace(name);
      swept.push(name);
    } catch {
      // Already gone.
    }
  }
  return swept;
}

/** A named namespace and an open handle on it; `dispose()` closes and deletes both. */
export interface TestNamespace {
  name: string;
  handle: NetnsHandle;
  dispose(): void;
}

export function createTestNamespace(tag = 'ns'): TestNamespace {
  const name = uniqueName(tag);
  createNamespace(name);
  let handle: NetnsHandle;
  try {
    handle = openNamespace({ name });
  } catch (error) {
    deleteNamespace(name);
    throw error;
  }
  return {
    name,
    handle,
    dispose() {
      handle.close();
      try {
        deleteNamespace(name);
      } catch {
        // Deleted by the test itself.
      }
    },
  };
}

/** Runs `fn` with `count` fresh namespaces and always removes them afterwards. */
export async function withTestNamespaces<T>(
  tags: string[],
  fn: (...namespaces: TestNamespace[]) => Promise<T>,
): Promise<T> {
  const made: TestNamespace[] = [];
  try {
    for (const tag of tags) made.push(createTestNamespace(tag));
    return await fn(...made);
  } finally {
    for (const ns of made.reverse()) ns.dispose();
  }
}
