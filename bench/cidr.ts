// CIDR allow-list benchmark: @netvault/cidr against what a Node.js user would otherwise pick
// (net.BlockList, ipaddr.js, cidr-matcher, cidr-tools), side by side in one run, string input.
//
//   pnpm --filter @netvault/bench run bench:cidr          (from the repository root)
//   node --expose-gc --conditions=source --import tsx bench/cidr.ts [--seed=N] [--budget=MS]
//   … bench/cidr.ts --structures     the candidate structures instead (pre-parsed lookups)
//
// Scenarios: (a) the 9-range local preset with a mix of IPv4, IPv4-mapped IPv6 and IPv6
// queries; (b) 10k, (c) 100k, (d) 1M random IPv4 prefixes (lengths 8-32, mostly /24);
// (e) 100k random IPv6 prefixes. Half the queries of (b)-(e) are drawn from inside the set.
// Every peer gets the same query strings; a peer that cannot do MIN_LOOKUPS lookups inside the
// time budget, or whose build would take longer than BUILD_LIMIT_MS, is reported as "could not
// finish". Memory is the heap + external (ArrayBuffer) growth after a forced GC.

import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import ipaddr from 'ipaddr.js';
import { containsCidr } from 'cidr-tools';
import { CidrSet, LOCAL_RANGES, isValidAddress, parseAddress } from '@netvault/cidr';

// Forced GC is needed for the memory figures: re-run with --expose-gc when it is missing.
if (typeof globalThis.gc !== 'function') {
  const child = spawnSync(
    process.execPath,
    ['--expose-gc', ...process.execArgv, ...process.argv.slice(1)],
    { stdio: 'inherit' },
  );
  process.exit(child.status ?? 1);
}
const gc = globalThis.gc as () => void;

const require = createRequire(import.meta.url);
const CIDRMatcher = require('cidr-matcher') as new (ranges: string[]) => {
  contains(address: string): boolean;
};

const args = new Map(
  process.argv.slice(2).map((arg) => {
    const [key, value = ''] = arg.replace(/^--/, '').split('=');
    return [key, value] as const;
  }),
);
const seed = Number(args.get('seed') ?? 20250101) >>> 0;
const budgetMs = Number(args.get('budget') ?? 1500);
const MIN_LOOKUPS = 10;
const BUILD_LIMIT_MS = 30_000;
const QUERY_COUNT = 100_000;

// ---- seeded random numbers (mulberry32) ----

let state = seed;
function random(): number {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const randomU32 = () => Math.floor(random() * 4294967296);
const randomInt = (n: number) => Math.floor(random() * n);

// ---- data ----

const v4Text = (v: number) => `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;

/** Mostly /24; 20% /25-/32; 5% /8-/23 with each length as likely to cover an address. */
function randomIPv4Length(): number {
  const r = random();
  if (r < 0.75) return 24;
  if (r < 0.95) return 25 + randomInt(8);
  return 8 + Math.floor(Math.log2(1 + randomInt(65535)));
}

function randomIPv4Prefixes(count: number): { entries: string[]; ranges: [number, number][] } {
  const entries: string[] = [];
  const ranges: [number, number][] = [];
  for (let i = 0; i < count; i++) {
    const bits = randomIPv4Length();
    const size = 2 ** (32 - bits);
    const start = Math.floor(randomU32() / size) * size;
    entries.push(`${v4Text(start)}/${bits}`);
    ranges.push([start, start + size - 1]);
  }
  return { entries, ranges };
}

function ipv4Queries(ranges: [number, number][]): string[] {
  const out: string[] = [];
  for (let i = 0; i < QUERY_COUNT; i++) {
    if (i % 2 === 0) {
      const [start, end] = ranges[randomInt(ranges.length)];
      out.push(v4Text(start + randomInt(end - start + 1)));
    } else {
      out.push(v4Text(randomU32()));
    }
  }
  return out;
}

function v6Text(bytes: number[]): string {
  return ipaddr.fromByteArray(bytes).toString();
}

/** Global-unicast-looking prefixes in 2000::/3: mostly /48, some /32-/47, /49-/64, /128. */
function randomIPv6Prefixes(count: number): { entries: string[]; prefixes: [number[], number][] } {
  const entries: string[] = [];
  const prefixes: [number[], number][] = [];
  for (let i = 0; i < count; i++) {
    const r = random();
    const bits = r < 0.6 ? 48 : r < 0.75 ? 32 + randomInt(16) : r < 0.95 ? 49 + randomInt(16) : 128;
    const bytes = Array.from({ length: 16 }, () => randomInt(256));
    bytes[0] = 0x20 | (bytes[0] & 0x1f);
    for (let bit = bits; bit < 128; bit++) bytes[bit >> 3] &= ~(0x80 >> (bit & 7));
    entries.push(`${v6Text(bytes)}/${bits}`);
    prefixes.push([bytes, bits]);
  }
  return { entries, prefixes };
}

function ipv6Queries(prefixes: [number[], number][]): string[] {
  const out: string[] = [];
  for (let i = 0; i < QUERY_COUNT; i++) {
    const bytes = Array.from({ length: 16 }, () => randomInt(256));
    if (i % 2 === 0) {
      const [prefix, bits] = prefixes[randomInt(prefixes.length)];
      for (let bit = 0; bit < bits; bit++) {
        const mask = 0x80 >> (bit & 7);
        bytes[bit >> 3] = (bytes[bit >> 3] & ~mask) | (prefix[bit >> 3] & mask);
      }
    } else {
      bytes[0] = 0x20 | (bytes[0] & 0x1f);
    }
    out.push(v6Text(bytes));
  }
  return out;
}

/** A realistic mix for the local preset: about 55% inside. */
function localQueries(): string[] {
  const v4Local = LOCAL_RANGES.filter((r) => !r.cidr.includes(':')).map((r) => {
    const [address, bits] = r.cidr.split('/');
    const start = parseAddress(address).ipv4;
    return [start, start + 2 ** (32 - Number(bits)) - 1] as const;
  });
  const localV4 = () => {
    const [start, end] = v4Local[randomInt(v4Local.length)];
    return v4Text(start + randomInt(end - start + 1));
  };
  const publicV4 = () => v4Text(0x01000000 + randomInt(0xdf000000 - 0x01000000));
  const hex = () => randomInt(65536).toString(16);
  const localV6 = () => {
    const r = random();
    if (r < 0.2) return '::1';
    if (r < 0.6) return `fe80::${hex()}:${hex()}:${hex()}:${hex()}`;
    return `fd${randomInt(256).toString(16).padStart(2, '0')}:${hex()}:${hex()}::${hex()}`;
  };
  const publicV6 = () => `2a0${randomInt(10)}:${hex()}:${hex()}:${hex()}::${hex()}`;

  const out: string[] = [];
  for (let i = 0; i < QUERY_COUNT; i++) {
    const r = random();
    if (r < 0.3) out.push(localV4());
    else if (r < 0.5) out.push(publicV4());
    else if (r < 0.65) out.push(`::ffff:${localV4()}`);
    else if (r < 0.75) out.push(`::ffff:${publicV4()}`);
    else if (r < 0.9) out.push(localV6());
    else out.push(publicV6());
  }
  return out;
}

/** Copies strings into flat (non-concatenated) ones, as a socket's address would be. */
const flatten = (list: string[]): string[] => JSON.parse(JSON.stringify(list)) as string[];

// ---- the libraries ----

/** Counts hits over queries[from, to). Each library gets its own loop so call sites stay monomorphic. */
type Runner = (queries: string[], from: number, to: number) => number;

interface Library {
  name: string;
  /** Builds the structure; returns its lookup loop and the object to keep alive. */
  build(entries: string[]): { run: Runner; held: unknown };
  /** Skip with this reason instead of building (e.g. a build known to take too long). */
  skip?(entries: string[]): string | undefined;
}

const ours: Library = {
  name: '@netvault/cidr',
  build(entries) {
    const set = CidrSet.from(entries);
    const run: Runner = (queries, from, to) => {
      let hits = 0;
      for (let i = from; i < to; i++) if (set.has(queries[i])) hits++;
      return hits;
    };
    return { run, held: set };
  },
};

const blockList: Library = {
  name: 'net.BlockList',
  build(entries) {
    const list = new net.BlockList();
    for (const entry of entries) {
      const slash = entry.indexOf('/');
      const type = entry.includes(':') ? 'ipv6' : 'ipv4';
      list.addSubnet(entry.slice(0, slash), Number(entry.slice(slash + 1)), type);
    }
    const run: Runner = (queries, from, to) => {
      let hits = 0;
      for (let i = from; i < to; i++) {
        const q = queries[i];
        if (list.check(q, q.includes(':') ? 'ipv6' : 'ipv4')) hits++;
      }
      return hits;
    };
    return { run, held: list };
  },
};

const ipaddrJs: Library = {
  name: 'ipaddr.js',
  build(entries) {
    const ranges = { allowed: entries.map((entry) => ipaddr.parseCIDR(entry)) };
    const run: Runner = (queries, from, to) => {
      let hits = 0;
      for (let i = from; i < to; i++) {
        // process() turns IPv4-mapped IPv6 into IPv4, which is what an allow-list needs.
        if (ipaddr.subnetMatch(ipaddr.process(queries[i]), ranges, 'denied') === 'allowed') hits++;
      }
      return hits;
    };
    return { run, held: ranges };
  },
};

const cidrMatcher: Library = {
  name: 'cidr-matcher',
  build(entries) {
    const matcher = new CIDRMatcher(entries);
    const run: Runner = (queries, from, to) => {
      let hits = 0;
      for (let i = from; i < to; i++) if (matcher.contains(queries[i])) hits++;
      return hits;
    };
    return { run, held: matcher };
  },
};

const cidrTools: Library = {
  name: 'cidr-tools',
  build(entries) {
    // cidr-tools has no structure to build: containsCidr parses the whole list on every call.
    const run: Runner = (queries, from, to) => {
      let hits = 0;
      for (let i = from; i < to; i++) if (containsCidr(entries, queries[i])) hits++;
      return hits;
    };
    return { run, held: entries };
  },
};

const peers = [blockList, ipaddrJs, cidrMatcher, cidrTools];

// ---- measuring ----

interface Result {
  name: string;
  buildMs?: number;
  bytes?: number;
  rate?: number;
  lookups?: number;
  hitShare?: number;
  differs?: number;
  compared?: number;
  failed?: string;
}

function memoryNow(): number {
  gc();
  gc();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.external;
}

/**
 * Lookups per second of `run` over `queries`: a short warm-up, then passes over the queries
 * until the budget is spent, in growing chunks so slow libraries are timed on a few queries.
 * The best of `rounds` runs is kept.
 */
function measure(run: Runner, queries: string[], rounds = 1): { rate: number; lookups: number } {
  let best = 0;
  let lookups = 0;
  for (let round = 0; round < rounds; round++) {
    let done = 0;
    let chunk = 1;
    let position = 0;
    const warmUntil = performance.now() + Math.min(300, budgetMs / 4);
    while (performance.now() < warmUntil && done < queries.length) {
      const to = Math.min(position + chunk, queries.length);
      run(queries, position, to);
      done += to - position;
      position = to === queries.length ? 0 : to;
      chunk = Math.min(chunk * 2, 8192);
    }

    done = 0;
    chunk = Math.max(1, Math.min(chunk, 64));
    const start = performance.now();
    let elapsed = 0;
    while (elapsed < budgetMs) {
      const to = Math.min(position + chunk, queries.length);
      run(queries, position, to);
      done += to - position;
      position = to === queries.length ? 0 : to;
      chunk = Math.min(chunk * 2, 65536);
      elapsed = performance.now() - start;
    }
    const rate = (done / elapsed) * 1000;
    if (rate > best) {
      best = rate;
      lookups = done;
    }
  }
  return { rate: best, lookups };
}

/** A runner and the queries it is timed on. */
type Timed = [run: Runner, queries: string[]];

/**
 * Best rates of several fast runners measured in turns (each for `budgetMs / 3` at a time, five
 * rounds), so that a burst of load from elsewhere on the machine hits them alike and the ratios
 * between them hold.
 */
function measureInTurns(timed: Timed[]): number[] {
  const best = timed.map(() => 0);
  for (const [run, queries] of timed) run(queries, 0, queries.length);
  for (let round = 0; round < 5; round++) {
    timed.forEach(([run, queries], i) => {
      let done = 0;
      const start = performance.now();
      let elapsed = 0;
      while (elapsed < budgetMs / 3) {
        run(queries, 0, queries.length);
        done += queries.length;
        elapsed = performance.now() - start;
      }
      best[i] = Math.max(best[i], (done / elapsed) * 1000);
    });
  }
  return best;
}

/** How many of the first `count` queries `run` answers differently from `reference`, and hits. */
function compare(run: Runner, reference: Uint8Array, queries: string[], count: number) {
  let differs = 0;
  let hits = 0;
  for (let i = 0; i < count; i++) {
    const hit = run(queries, i, i + 1);
    hits += hit;
    if (hit !== reference[i]) differs++;
  }
  return { differs, hits };
}

function answers(run: Runner, queries: string[]): Uint8Array {
  const out = new Uint8Array(queries.length);
  for (let i = 0; i < queries.length; i++) out[i] = run(queries, i, i + 1);
  return out;
}

interface Scenario {
  key: string;
  title: string;
  /** A random IPv4 scenario: costs scale from one size to the next. */
  ipv4: boolean;
  entries: string[];
  queries: string[];
}

/** Per-library seconds for one lookup at the previous size, to predict what cannot finish. */
const lastLookupSeconds = new Map<string, { size: number; seconds: number; buildMs: number }>();

interface ScenarioRun {
  results: Result[];
  /** @netvault/cidr's own rates, measured in turns with its lookups. */
  rates: Map<string, number>;
}

/** Per-library cost at the last random IPv4 size, to skip what would not finish at the next. */
const lastIPv4Cost = new Map<string, { size: number; seconds: number; buildMs: number }>();

/** The 100k IPv4 set and queries, kept so that later scenarios can time against them in turns. */
let ipv4Reference: { run: Runner; queries: string[] } | undefined;

function runScenario(scenario: Scenario): ScenarioRun {
  const results: Result[] = [];
  const rates = new Map<string, number>();
  let reference: Uint8Array = new Uint8Array(0);
  for (const library of [ours, ...peers]) {
    const previous = scenario.ipv4 ? lastIPv4Cost.get(library.name) : undefined;
    if (previous !== undefined && library !== ours) {
      const scale = scenario.entries.length / previous.size;
      const predictedLookup = previous.seconds * scale;
      const predictedBuild = previous.buildMs * scale;
      if (predictedLookup > 10) {
        results.push({
          name: library.name,
          failed: `could not finish (≈${predictedLookup.toFixed(0)} s a lookup)`,
        });
        continue;
      }
      if (predictedBuild > BUILD_LIMIT_MS) {
        results.push({
          name: library.name,
          failed: `could not finish (build ≈${(predictedBuild / 1000).toFixed(0)} s)`,
        });
        continue;
      }
    }

    const before = memoryNow();
    const started = performance.now();
    const built = library.build(scenario.entries);
    const buildMs = performance.now() - started;
    const bytes = memoryNow() - before;

    let rate: number;
    let lookups: number;
    if (library === ours) {
      rate = measureOurs(scenario, built, rates);
      lookups = scenario.queries.length;
      reference = answers(built.run, scenario.queries);
    } else {
      ({ rate, lookups } = measure(built.run, scenario.queries));
    }
    const compared = Math.min(scenario.queries.length, lookups, 20000);
    const { differs, hits } = compare(built.run, reference, scenario.queries, compared);
    const hitShare = hits / compared;
    if (scenario.ipv4) {
      lastIPv4Cost.set(library.name, { size: scenario.entries.length, seconds: 1 / rate, buildMs });
    }

    const result: Result = {
      name: library.name,
      buildMs,
      bytes,
      rate,
      lookups,
      hitShare,
      differs,
      compared,
    };
    if (lookups < MIN_LOOKUPS)
      result.failed = `could not finish (${lookups} lookups in ${budgetMs} ms)`;
    results.push(result);
    void built.held;
  }
  return { results, rates };
}

/**
 * Times the package's lookups in turns with: its parse-only rate on the same strings, its
 * parse-only rate on the IPv4 strings of (c) (the floor the goals use), pre-parsed lookups (c),
 * and the string lookups of (c) (for the IPv6 scenario).
 */
function measureOurs(
  scenario: Scenario,
  built: { run: Runner; held: unknown },
  rates: Map<string, number>,
) {
  const names = ['lookups', 'parse'];
  const timed: Timed[] = [
    [built.run, scenario.queries],
    [parseRunner, scenario.queries],
  ];
  if (scenario.key === 'c') {
    ipv4Reference = { run: built.run, queries: scenario.queries };
    names.push('pre-parsed');
    timed.push([preParsedRunner(built.held as CidrSet, scenario.queries), scenario.queries]);
  }
  if (ipv4Reference !== undefined && scenario.key !== 'c') {
    names.push('ipv4 parse', 'ipv4 lookups');
    timed.push([parseRunner, ipv4Reference.queries], [ipv4Reference.run, ipv4Reference.queries]);
  }
  const measured = measureInTurns(timed);
  names.forEach((name, i) => rates.set(name, measured[i]));
  if (scenario.key === 'c') rates.set('ipv4 parse', measured[1]);
  return measured[0];
}

/** Lookups of the same queries parsed beforehand into numbers (IPv4 scenarios). */
function preParsedRunner(set: CidrSet, queries: string[]): Runner {
  const numbers = new Uint32Array(queries.map((q) => parseAddress(q).ipv4));
  return (_queries, from, to) => {
    let hits = 0;
    for (let i = from; i < to; i++) if (set.hasIPv4(numbers[i])) hits++;
    return hits;
  };
}

// ---- formatting ----

function rateText(rate: number): string {
  if (rate >= 1e6) return `${(rate / 1e6).toFixed(2)} M/s`;
  if (rate >= 1e3) return `${(rate / 1e3).toFixed(1)} k/s`;
  return `${rate.toFixed(rate < 10 ? 2 : 0)} /s`;
}

function bytesText(bytes: number): string {
  if (bytes < 0) return '≈0';
  if (bytes >= 1 << 20) return `${(bytes / (1 << 20)).toFixed(1)} MiB`;
  return `${(bytes / 1024).toFixed(0)} KiB`;
}

function msText(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(ms < 10 ? 2 : 0)} ms`;
}

function ratioText(ratio: number): string {
  if (ratio >= 100) return `${Math.round(ratio).toLocaleString('en-US')}×`;
  return `${ratio.toFixed(ratio >= 10 ? 0 : 2)}×`;
}

// ---- --structures: the candidates the package's structure was chosen from ----
//
// Pre-parsed IPv4 lookups (numbers, so only the structure is timed) on the random sets of (c)
// and (d), for: a sorted array of merged ranges with binary search; a one-bit-a-level trie; a
// multibit trie with 8-bit strides (prefixes expanded at their last level); and the package's
// table of /16 buckets.

interface Built {
  has(value: number): boolean;
  /** Hits among `numbers[from, to)`: each candidate has its own loop, so its calls inline. */
  count(numbers: Uint32Array, from: number, to: number): number;
  bytes: number;
}

interface Candidate {
  name: string;
  build(prefixes: [number, number][]): Built;
}

/** Merged disjoint ranges, sorted, searched without branching on the data. */
const sortedRanges: Candidate = {
  name: 'sorted ranges + binary search',
  build(prefixes) {
    const sorted = prefixes
      .map(([start, bits]) => [start, start + 2 ** (32 - bits) - 1])
      .sort((a, b) => a[0] - b[0]);
    const merged: number[] = [];
    for (const [start, end] of sorted) {
      const n = merged.length;
      if (n > 0 && start <= merged[n - 1] + 1) merged[n - 1] = Math.max(merged[n - 1], end);
      else merged.push(start, end);
    }
    const starts = new Uint32Array(merged.filter((_, i) => i % 2 === 0));
    const ends = new Uint32Array(merged.filter((_, i) => i % 2 === 1));
    const total = starts.length;
    const has = (value: number) => {
      let base = 0;
      let n = total;
      while (n > 1) {
        const half = n >>> 1;
        if (starts[base + half] <= value) base += half;
        n -= half;
      }
      return n === 1 && starts[base] <= value && value <= ends[base];
    };
    return {
      bytes: (starts.length + ends.length) * 4,
      has,
      count(numbers, from, to) {
        let hits = 0;
        for (let i = from; i < to; i++) if (has(numbers[i])) hits++;
        return hits;
      },
    };
  },
};

/** A plain binary trie: one node a bit, children in two Int32Arrays, a flag where a prefix ends. */
const unibitTrie: Candidate = {
  name: 'binary trie (1 bit a level)',
  build(prefixes) {
    let capacity = 1 << 16;
    let zero = new Int32Array(capacity);
    let one = new Int32Array(capacity);
    let covered = new Uint8Array(capacity);
    let nodes = 1;
    const grow = () => {
      capacity *= 2;
      const z = new Int32Array(capacity);
      z.set(zero);
      zero = z;
      const o = new Int32Array(capacity);
      o.set(one);
      one = o;
      const c = new Uint8Array(capacity);
      c.set(covered);
      covered = c;
    };
    for (const [start, bits] of prefixes) {
      let node = 0;
      for (let level = 0; level < bits && covered[node] === 0; level++) {
        const bit = (start >>> (31 - level)) & 1;
        let child = bit === 1 ? one[node] : zero[node];
        if (child === 0) {
          if (nodes === capacity) grow();
          child = nodes++;
          if (bit === 1) one[node] = child;
          else zero[node] = child;
        }
        node = child;
      }
      covered[node] = 1;
    }
    const z = zero;
    const o = one;
    const c = covered;
    const has = (value: number) => {
      let node = 0;
      for (let level = 0; level < 32; level++) {
        if (c[node] === 1) return true;
        node = (value >>> (31 - level)) & 1 ? o[node] : z[node];
        if (node === 0) return false;
      }
      return c[node] === 1;
    };
    return {
      bytes: nodes * 9,
      has,
      count(numbers, from, to) {
        let hits = 0;
        for (let i = from; i < to; i++) if (has(numbers[i])) hits++;
        return hits;
      },
    };
  },
};

/** A multibit trie, 8 bits a level: 256 slots a node, -1 covered, 0 empty, n > 0 a child. */
const multibitTrie: Candidate = {
  name: 'multibit trie (8 bits a level)',
  build(prefixes) {
    const nodes: Int32Array[] = [new Int32Array(256)];
    for (const [start, bits] of [...prefixes].sort((a, b) => a[1] - b[1])) {
      let node = nodes[0];
      let level = 0;
      let done = false;
      while (bits > 8 * (level + 1)) {
        const slot = (start >>> (24 - 8 * level)) & 255;
        if (node[slot] === -1) {
          done = true;
          break;
        }
        if (node[slot] === 0) {
          node[slot] = nodes.length;
          nodes.push(new Int32Array(256));
        }
        node = nodes[node[slot]];
        level++;
      }
      if (done) continue;
      const first = (start >>> (24 - 8 * level)) & 255;
      const span = 2 ** (8 * (level + 1) - bits);
      for (let slot = first; slot < first + span; slot++) node[slot] = -1;
    }
    const has = (value: number) => {
      let node = nodes[0];
      for (let shift = 24; shift >= 0; shift -= 8) {
        const next = node[(value >>> shift) & 255];
        if (next === -1) return true;
        if (next === 0) return false;
        node = nodes[next];
      }
      return false;
    };
    return {
      bytes: nodes.length * 1024,
      has,
      count(numbers, from, to) {
        let hits = 0;
        for (let i = from; i < to; i++) if (has(numbers[i])) hits++;
        return hits;
      },
    };
  },
};

const packageTable: Candidate = {
  name: '@netvault/cidr (/16 buckets)',
  build(prefixes) {
    const set = CidrSet.from(prefixes.map(([start, bits]) => `${v4Text(start)}/${bits}`));
    return {
      bytes: set.byteLength,
      has: (value) => set.hasIPv4(value),
      count(numbers, from, to) {
        let hits = 0;
        for (let i = from; i < to; i++) if (set.hasIPv4(numbers[i])) hits++;
        return hits;
      },
    };
  },
};

/**
 * Nanoseconds a load costs when each depends on the one before (a random cycle through an array
 * of the given size, one step a cache line): what a lookup pays for each level it walks.
 */
function dependentLoadNs(bytes: number): number {
  const slots = bytes / 4;
  const lines = slots / 16;
  const order = Uint32Array.from({ length: lines }, (_, i) => i);
  for (let i = lines - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  const next = new Uint32Array(slots);
  for (let i = 0; i < lines; i++) next[order[i] * 16] = order[(i + 1) % lines] * 16;

  const steps = 2_000_000;
  let best = Infinity;
  let at = 0;
  for (let round = 0; round < 5; round++) {
    const start = performance.now();
    for (let i = 0; i < steps; i++) at = next[at];
    best = Math.min(best, performance.now() - start);
  }
  return at < 0 ? 0 : (best * 1e6) / steps;
}

function compareStructures(): void {
  console.log('## Dependent loads on this machine\n');
  console.log('| array | ns a load |');
  console.log('| ---: | ---: |');
  for (const size of [256 << 10, 1 << 20, 2 << 20, 4 << 20, 8 << 20, 64 << 20]) {
    console.log(`| ${bytesText(size)} | ${dependentLoadNs(size).toFixed(0)} |`);
  }
  console.log('');

  console.log('## Candidate structures, pre-parsed IPv4 lookups\n');
  console.log('| prefixes | structure | build | memory | lookups/s |');
  console.log('| ---: | --- | ---: | ---: | ---: |');
  for (const count of [100_000, 1_000_000]) {
    const { ranges } = randomIPv4Prefixes(count);
    const prefixes = ranges.map(([start, end]): [number, number] => [
      start,
      32 - Math.log2(end - start + 1),
    ]);
    const queries = ipv4Queries(ranges);
    const numbers = new Uint32Array(queries.map((q) => parseAddress(q).ipv4));
    const answers: Uint8Array[] = [];
    for (const candidate of [sortedRanges, unibitTrie, multibitTrie, packageTable]) {
      const before = memoryNow();
      const started = performance.now();
      const built = candidate.build(prefixes);
      const buildMs = performance.now() - started;
      const heldBytes = Math.max(memoryNow() - before, built.bytes);
      const run: Runner = (_q, from, to) => built.count(numbers, from, to);
      const out = new Uint8Array(numbers.length);
      for (let i = 0; i < numbers.length; i++) out[i] = built.has(numbers[i]) ? 1 : 0;
      answers.push(out);
      if (!out.every((answer, i) => answer === answers[0][i])) {
        throw new Error(`${candidate.name} disagrees with the sorted ranges`);
      }
      const [rate] = measureInTurns([[run, queries]]);
      console.log(
        `| ${count.toLocaleString('en-US')} | ${candidate.name} | ${msText(buildMs)} | ` +
          `${bytesText(heldBytes)} | ${rateText(rate)} |`,
      );
    }
  }
}

// ---- run ----

console.log('# CIDR allow-list benchmark\n');
console.log(`- CPU: ${os.cpus()[0]?.model ?? 'unknown'} (${os.cpus().length} logical CPUs)`);
console.log(`- Node ${process.version}, ${os.platform()} ${os.arch()}`);
console.log(
  `- seed ${seed}, ${QUERY_COUNT.toLocaleString('en-US')} queries a scenario, ` +
    `${budgetMs} ms a measurement\n`,
);

if (args.has('structures')) {
  compareStructures();
  process.exit(0);
}

const scenarios: Scenario[] = [];
scenarios.push({
  key: 'a',
  title: '(a) local preset, 9 ranges; IPv4, IPv4-mapped and IPv6 queries',
  ipv4: false,
  entries: LOCAL_RANGES.map((r) => r.cidr),
  queries: flatten(localQueries()),
});
for (const [key, count] of [
  ['b', 10_000],
  ['c', 100_000],
  ['d', 1_000_000],
] as const) {
  const { entries, ranges } = randomIPv4Prefixes(count);
  scenarios.push({
    key,
    title: `(${key}) ${count.toLocaleString('en-US')} random IPv4 prefixes`,
    ipv4: true,
    entries: flatten(entries),
    queries: flatten(ipv4Queries(ranges)),
  });
}
{
  const { entries, prefixes } = randomIPv6Prefixes(100_000);
  scenarios.push({
    key: 'e',
    title: '(e) 100,000 random IPv6 prefixes',
    ipv4: false,
    entries: flatten(entries),
    queries: flatten(ipv6Queries(prefixes)),
  });
}

const parseRunner: Runner = (queries, from, to) => {
  let valid = 0;
  for (let i = from; i < to; i++) if (isValidAddress(queries[i])) valid++;
  return valid;
};

// The 100k IPv4 set is built first: every scenario times its lookups in turns with these.
{
  const c = scenarios.find((scenario) => scenario.key === 'c')!;
  ipv4Reference = { run: ours.build(c.entries).run, queries: c.queries };
}

const summary = new Map<string, { ours: Result; rates: Map<string, number>; peers: Result[] }>();

for (const scenario of scenarios) {
  const { results, rates } = runScenario(scenario);
  const mine = results[0];
  const rate = (name: string) => rates.get(name)!;

  console.log(`## ${scenario.title}\n`);
  console.log('| library | build | memory | lookups/s | @netvault/cidr is | differs | hits |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of results) {
    if (r.rate === undefined || r.failed !== undefined) {
      const build = r.buildMs === undefined ? '' : msText(r.buildMs);
      const memory = r.bytes === undefined ? '' : bytesText(r.bytes);
      console.log(`| ${r.name} | ${build} | ${memory} | ${r.failed} | | | |`);
      continue;
    }
    const ratio = r === mine ? '' : `${ratioText(mine.rate! / r.rate)} faster`;
    const memory = r.name === 'net.BlockList' ? `${bytesText(r.bytes!)}¹` : bytesText(r.bytes!);
    const differs =
      r === mine ? '(reference)' : `${r.differs} of ${r.compared!.toLocaleString('en-US')}`;
    console.log(
      `| ${r.name} | ${msText(r.buildMs!)} | ${memory} | ${rateText(r.rate)} | ${ratio} | ` +
        `${differs} | ${(r.hitShare! * 100).toFixed(0)}% |`,
    );
  }
  console.log(
    `| parse only, these strings (isValidAddress) | | | ${rateText(rate('parse'))} | ` +
      `lookups are ${(mine.rate! / rate('parse')).toFixed(2)} of it | | |`,
  );
  if (scenario.key !== 'c') {
    console.log(
      `| parse only, the IPv4 strings of (c) | | | ${rateText(rate('ipv4 parse'))} | ` +
        `lookups are ${(mine.rate! / rate('ipv4 parse')).toFixed(2)} of it | | |`,
    );
  }
  if (rates.has('pre-parsed')) {
    console.log(
      `| @netvault/cidr, pre-parsed (hasIPv4 on a number) | | | ` +
        `${rateText(rate('pre-parsed'))} | ${(rate('pre-parsed') / mine.rate!).toFixed(1)}× ` +
        'the string rate | | |',
    );
  }
  console.log('');
  summary.set(scenario.key, { ours: mine, rates, peers: results.slice(1) });
}

console.log('¹ net.BlockList keeps its rules in C++ memory, which these figures do not see.\n');

// ---- goals ----

const get = (key: string) => summary.get(key)!;
const ourRate = (key: string) => get(key).ours.rate!;
const measured = (key: string, name: string) => get(key).rates.get(name)!;
const fastestPeer = (key: string) =>
  Math.max(
    ...get(key)
      .peers.filter((p) => p.failed === undefined && p.rate)
      .map((p) => p.rate!),
  );
const peerRate = (key: string, name: string) => get(key).peers.find((p) => p.name === name)?.rate;

const goals: [string, number, number, string][] = [];
const blockListA = peerRate('a', 'net.BlockList');
if (blockListA) goals.push(['(a) lookups vs net.BlockList', ourRate('a') / blockListA, 10, '×']);
goals.push(['(c) lookups vs the fastest peer', ourRate('c') / fastestPeer('c'), 1000, '×']);
for (const key of ['b', 'c', 'd']) {
  goals.push([
    `(${key}) string lookups / IPv4 parse-only rate`,
    ourRate(key) / measured(key, 'ipv4 parse'),
    0.6,
    '',
  ]);
}
goals.push(['(c) pre-parsed / string lookups', measured('c', 'pre-parsed') / ourRate('c'), 5, '×']);
goals.push(['(d) build time, s', get('d').ours.buildMs! / 1000, 1, 'max']);
goals.push(['(d) memory, MB', get('d').ours.bytes! / 1e6, 8, 'max']);
goals.push([
  '(e) IPv6 lookups / (c) IPv4 lookups',
  ourRate('e') / measured('e', 'ipv4 lookups'),
  1 / 3,
  '',
]);

console.log('## Goals (ratios between rates timed in turns)\n');
console.log('| goal | measured | target | met |');
console.log('| --- | ---: | ---: | :---: |');
for (const [name, value, target, kind] of goals) {
  const met = kind === 'max' ? value < target : value >= target;
  const shown = kind === '×' ? ratioText(value) : value.toFixed(2);
  const wanted =
    kind === 'max' ? `< ${target}` : kind === '×' ? `≥ ${target}×` : `≥ ${target.toFixed(2)}`;
  console.log(`| ${name} | ${shown} | ${wanted} | ${met ? 'yes' : 'NO'} |`);
}
console.log(
  '\nFor the record, not goals: (a) lookups / IPv4 parse-only rate ' +
    `${(ourRate('a') / measured('a', 'ipv4 parse')).toFixed(2)}, ` +
    `(e) lookups / IPv4 parse-only rate ${(ourRate('e') / measured('e', 'ipv4 parse')).toFixed(2)}.`,
);
