// `netvault up` then `netvault down`, as whole processes of the bundled CLI, against the same
// topology built and removed by a plain iproute2 + wg script (topology-script.sh), side by side
// in one run. Both work inside one throwaway host namespace (the config's `hostNamespace`; the
// script's `ip -n HOST` / `ip netns exec HOST`), so the machine's own network is never touched.
// The script has no firewall; netvault's cycle includes its two nft tables.
//
//   pnpm --filter @netvault/bench run bench:topology [-- --cycles N]
//
// The CLI must be built (`pnpm --filter netvault run build`; the package script does it first).
// Where netvault's time goes is read from its own change lines on stderr, each stamped as it
// arrives; the script's from `set -x` with timestamps (TRACE_TIMES=1).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { createNamespace, deleteNamespace, namespaceExists, openNamespace } from '@netvault/netns';
import { sweepTestNamespaces, uniqueName } from '@netvault/netns/testing';
import { generateKeyPair } from '@netvault/wg';
import { DEFAULTS, type VaultConfig } from '../packages/cli/src/config.ts';
import { down, up } from '../packages/cli/src/topology.ts';

const cyclesArg = process.argv.indexOf('--cycles');
const cycles = cyclesArg > 0 ? Number(process.argv[cyclesArg + 1]) : 10;
const cli = fileURLToPath(new URL('../packages/cli/dist/netvault.js', import.meta.url));
const script = fileURLToPath(new URL('./topology-script.sh', import.meta.url));

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};
const ms = (value: number) => value.toFixed(value < 10 ? 1 : 0);

/** A timed line of a process's stderr: when it arrived, counted from the spawn. */
interface Stamped {
  at: number;
  line: string;
}

/** Runs a command to its end; its wall time and its stderr lines, each stamped on arrival. */
async function timed(command: string, args: string[], env?: Record<string, string>) {
  const start = performance.now();
  const child = execa(command, args, {
    env,
    reject: false,
    buffer: false,
    stdout: 'ignore',
    stderr: 'pipe',
  });
  const lines: Stamped[] = [];
  let pending = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    const at = performance.now() - start;
    pending += chunk;
    for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
      lines.push({ at, line: pending.slice(0, nl) });
      pending = pending.slice(nl + 1);
    }
  });
  const result = await child;
  const end = performance.now();
  const wall = end - start;
  if (result.exitCode !== 0) {
    throw new Error(
      `${command} ${args.join(' ')}: exit ${result.exitCode}: ` +
        lines.map((l) => l.line).join('\n'),
    );
  }
  return { wall, lines, endEpochMs: performance.timeOrigin + end };
}

/** Per-step medians over runs whose lines come in the same order every time. */
class Breakdown {
  readonly #steps = new Map<string, number[]>();

  add(run: { label: string; ms: number }[]): void {
    run.forEach(({ label, ms: value }, index) => {
      const key = `${String(index).padStart(3, '0')} ${label}`;
      const list = this.#steps.get(key) ?? [];
      list.push(value);
      this.#steps.set(key, list);
    });
  }

  rows(): { label: string; ms: number }[] {
    return [...this.#steps]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([key, values]) => ({ label: key.slice(4), ms: median(values) }));
  }
}

async function main() {
  if (process.getuid?.() !== 0) throw new Error('the topology benchmark needs root (namespaces)');
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run pnpm --filter netvault run build`);
  sweepTestNamespaces();

  const pid = process.pid.toString(36);
  const hostName = uniqueName('bhost');
  const vaultName = uniqueName('bvault');
  const work = mkdtempSync('/run/nvt-bench-');
  createNamespace(hostName);
  const host = openNamespace({ name: hostName });
  const tunnelName = `nvt${pid}b`;
  const secrets: [string, string][] = [];
  const rename = (text: string) =>
    secrets.reduce(
      (t, [secret, name]) => t.replaceAll(secret, name),
      text
        .replaceAll(vaultName, 'VAULT')
        .replaceAll(hostName, 'HOST')
        .replaceAll(tunnelName, 'WG')
        .replaceAll(work, 'DIR'),
    );

  try {
    await host.linkSetUp('lo');
    const keys = generateKeyPair();
    const peer = generateKeyPair();
    secrets.push([keys.privateKey, 'PRIVATE-KEY'], [peer.publicKey, 'PEER-KEY']);
    writeFileSync(`${work}/vault.key`, `${keys.privateKey}\n`, { mode: 0o600 });
    // The endpoint is never contacted: nothing is sent through the tunnel.
    writeFileSync(
      `${work}/tunnel.json`,
      JSON.stringify({
        addresses: ['10.64.0.2/32'],
        dns: ['10.64.0.1'],
        privateKeyFile: `${work}/vault.key`,
        peers: [
          { publicKey: peer.publicKey, endpoint: '198.18.0.2:51820', allowedIps: ['0.0.0.0/0'] },
        ],
      }),
    );
    const config: VaultConfig = {
      ...structuredClone(DEFAULTS),
      vault: vaultName,
      hostNamespace: hostName,
      tunnel: { interface: tunnelName, file: `${work}/tunnel.json`, implementation: 'auto' },
      source: `${work}/netvault.json`,
    };
    writeFileSync(
      config.source,
      JSON.stringify({
        vault: vaultName,
        hostNamespace: hostName,
        tunnel: { interface: tunnelName, file: `${work}/tunnel.json` },
      }),
    );
    const env: Record<string, string> = {
      ...(process.env as Record<string, string>),
      HOST: hostName,
      VAULT: vaultName,
      VETH_HOST: 'veth-host',
      VETH_VAULT: 'veth-vault',
      HOST_ADDR: '10.200.1.1/30',
      VAULT_ADDR: '10.200.1.2/30',
      WG_NAME: tunnelName,
      WG_KEY_FILE: `${work}/vault.key`,
      WG_PEER: peer.publicKey,
      WG_ENDPOINT: '198.18.0.2:51820',
      WG_ALLOWED: '0.0.0.0/0',
      TUNNEL_ADDR: '10.64.0.2/32',
      DNS: '10.64.0.1',
      METRIC: '4242',
    };

    const netvaultCycle = async (steps?: { up: Breakdown; down: Breakdown }) => {
      const made = await timed(process.execPath, [cli, 'up', '-c', config.source]);
      const removed = await timed(process.execPath, [cli, 'down', '-c', config.source]);
      if (steps) {
        for (const [breakdown, run] of [
          [steps.up, made],
          [steps.down, removed],
        ] as const) {
          let last = 0;
          const rows = run.lines.map(({ at, line }) => {
            const row = { label: rename(line), ms: at - last };
            last = at;
            return row;
          });
          rows.push({ label: '(exit)', ms: run.wall - last });
          breakdown.add(rows);
        }
      }
      return { up: made.wall, down: removed.wall };
    };
    const scriptCycle = async (steps?: { up: Breakdown; down: Breakdown }) => {
      const trace: Record<string, string> = steps ? { TRACE_TIMES: '1' } : {};
      const made = await timed('bash', [script, 'up'], { ...env, ...trace });
      const removed = await timed('bash', [script, 'down'], { ...env, ...trace });
      if (steps) {
        for (const [breakdown, run] of [
          [steps.up, made],
          [steps.down, removed],
        ] as const) {
          const traced = run.lines
            .map((l) => /^\++ (\d+\.\d+) (.*)$/.exec(l.line))
            .filter((m): m is RegExpExecArray => m !== null)
            .map((m) => ({ at: Number(m[1]) * 1000, label: rename(m[2]) }));
          const rows = traced.map((t, i) => ({
            label: t.label,
            ms: (traced[i + 1]?.at ?? run.endEpochMs) - t.at,
          }));
          breakdown.add(rows.filter((row) => !/^(PS4=|set -x|\[\[ -n)/.test(row.label)));
        }
      }
      return { up: made.wall, down: removed.wall };
    };
    const inProcessCycle = async () => {
      const start = performance.now();
      await up(config, () => {});
      const middle = performance.now();
      await down(config, () => {});
      return { up: middle - start, down: performance.now() - middle };
    };
    const startup = async () => (await timed(process.execPath, [cli, '--help'])).wall;

    console.error(`warming up, then ${cycles} cycles of each, interleaved`);
    for (let i = 0; i < 2; i += 1) {
      await netvaultCycle();
      await scriptCycle();
      await inProcessCycle();
    }
    type Cycle = { up: number; down: number };
    const results = {
      netvault: [] as Cycle[],
      script: [] as Cycle[],
      inProcess: [] as Cycle[],
      startup: [] as number[],
    };
    const netvaultSteps = { up: new Breakdown(), down: new Breakdown() };
    const scriptSteps = { up: new Breakdown(), down: new Breakdown() };
    for (let i = 0; i < cycles; i += 1) {
      results.netvault.push(await netvaultCycle(netvaultSteps));
      results.script.push(await scriptCycle());
      results.inProcess.push(await inProcessCycle());
      results.startup.push(await startup());
      console.error(
        `  cycle ${i + 1}: netvault ${ms(results.netvault[i].up + results.netvault[i].down)} ms,` +
          ` script ${ms(results.script[i].up + results.script[i].down)} ms`,
      );
    }
    // The script's breakdown comes from separate traced runs, so tracing costs nothing above.
    for (let i = 0; i < Math.min(cycles, 5); i += 1) await scriptCycle(scriptSteps);

    const summary = (runs: { up: number; down: number }[]) => ({
      up: median(runs.map((r) => r.up)),
      down: median(runs.map((r) => r.down)),
      cycle: median(runs.map((r) => r.up + r.down)),
    });
    const nv = summary(results.netvault);
    const sh = summary(results.script);
    const ip = summary(results.inProcess);
    const versions = [
      execFileSync('ip', ['-V'], { encoding: 'utf8' })
        .trim()
        .replace(/^ip utility, /, '')
        .replace(/,.*$/, ''),
      execFileSync('wireguard-go', ['--version'], { encoding: 'utf8' }).trim().split('\n')[0],
      execFileSync('nft', ['--version'], { encoding: 'utf8' })
        .trim()
        .replace(/ \(.*$/, ''),
    ].join(', ');

    console.log(
      `\nCPU: ${cpus()[0]?.model ?? 'unknown'} (${cpus().length} cores), Node ${process.version}, ${versions}`,
    );
    console.log(`medians of ${cycles} cycles each, interleaved; one cycle = up then down\n`);
    console.log('| work | netvault (CLI processes) ms | iproute2 + wg script ms | ratio |');
    console.log('| --- | ---: | ---: | ---: |');
    for (const [label, key] of [
      ['up', 'up'],
      ['down', 'down'],
      ['up + down', 'cycle'],
    ] as const) {
      console.log(
        `| ${label} | ${ms(nv[key])} | ${ms(sh[key])} | ${(nv[key] / sh[key]).toFixed(2)} |`,
      );
    }
    console.log(
      `\nnetvault's share that is not the topology: Node starting and loading the bundle` +
        ` (\`netvault --help\`) ${ms(median(results.startup))} ms per process; the same up + down` +
        ` in-process (library calls, no process start): up ${ms(ip.up)} ms, down ${ms(ip.down)} ms,` +
        ` cycle ${ms(ip.cycle)} ms (ratio to the script ${(ip.cycle / sh.cycle).toFixed(2)}).`,
    );

    for (const [title, steps] of [
      ['netvault up', netvaultSteps.up],
      ['netvault down', netvaultSteps.down],
      ['script up', scriptSteps.up],
      ['script down', scriptSteps.down],
    ] as const) {
      const rows = steps.rows();
      console.log(
        `\n${title}: where the time goes (median ms before each line${
          title.startsWith('netvault')
            ? ' of its stderr; the first includes Node starting'
            : ', one command each'
        })\n`,
      );
      console.log('| ms | step |');
      console.log('| ---: | --- |');
      for (const row of rows)
        console.log(`| ${ms(row.ms)} | \`${row.label.replaceAll('|', '\\|')}\` |`);
    }
  } finally {
    try {
      await down(
        {
          ...DEFAULTS,
          vault: vaultName,
          hostNamespace: hostName,
          tunnel: { interface: tunnelName, file: `${work}/tunnel.json`, implementation: 'auto' },
          source: 'bench cleanup',
        },
        () => {},
      ).catch(() => undefined);
      host.close();
      if (namespaceExists(vaultName)) deleteNamespace(vaultName);
      if (namespaceExists(hostName)) deleteNamespace(hostName);
    } finally {
      rmSync(`/etc/netns/${vaultName}`, { recursive: true, force: true });
      rmSync(work, { recursive: true, force: true });
    }
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
