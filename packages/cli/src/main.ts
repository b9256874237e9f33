// The `netvault` command. Each change it makes to the system is printed to stderr as one line
// (`[+] …` made, `[~] …` changed, `[-] …` removed, `[=] …` already right); data goes to stdout.
//
// Exit codes: 0 success (status: healthy; verify: the killswitch holds), 1 the command failed
// or found problems, 2 bad usage or a bad config, 130 interrupted.
import { parseArgs } from 'node:util';
import type { IngestResult } from '@netvault/wg';
import { consoleReporter, formatChange } from './changes.ts';
import { ConfigError, loadConfig } from './config.ts';

// Each command loads its modules when it runs: `netvault up` need not load the HTTP server of
// the landing page, the YAML writer of proxy-config or the demo, and starts faster for it.
const load = {
  topology: () => import('./topology.ts'),
  verify: () => import('./verify.ts'),
  statusView: () => import('./status-view.ts'),
  gc: () => import('./gc.ts'),
  watch: () => import('./watch.ts'),
  demo: () => import('./demo.ts'),
  landing: () => import('./landing-cli.ts'),
  systemd: () => import('./systemd.ts'),
  proxyConfig: () => import('./proxy-config.ts'),
  netns: () => import('@netvault/netns'),
  wg: () => import('@netvault/wg'),
  cidr: () => import('@netvault/cidr'),
};

const usage = `netvault: a VPN killswitch built from network namespaces and WireGuard

usage: netvault COMMAND [options]

commands:
  up        build or repair the vault from the config (idempotent; undone if a step fails)
  down      remove everything netvault made for the vault (idempotent)
  gc        remove netvault's leftovers of vaults that no longer exist
  status    draw what is there; --json for the same facts; exit 0 when healthy
  verify    active self-test: routes, firewall, DNS, forwarding, probes from the vault
  exec      run a command inside the vault with the vault's DNS: netvault exec -- CMD ARGS…
  watch     follow the tunnel; report loss and recovery, repair with 'up' when it returns
  ingest    take a provider's WireGuard .conf in: netvault ingest FILE [--watch DIR]
  allow     check addresses against an allow-list: netvault allow ADDRESS… [--list FILE]
  landing-zone  the upload page for a provider's .conf, on 127.0.0.1:10023 by default
  systemd   systemd units: the vault at boot, the landing page, services moved into the vault
  proxy-config  Traefik or Caddy configuration for the services in the vault: traefik|caddy
  demo      the whole killswitch in throwaway namespaces, then removed again

options:
  -c, --config FILE   config file (default /etc/netvault/netvault.json; absent: defaults)
  -q, --quiet         print no change lines
      --json          machine-readable output where the command has data
  -h, --help          this help, or a command's help with COMMAND --help

exit codes: 0 ok, 1 failed or unhealthy, 2 bad usage or config, 130 interrupted`;

const help: Record<string, string | (() => Promise<string>)> = {
  up: [
    'netvault up [-c FILE] [-q] [--json]',
    'Builds the vault: namespace, firewall (before any link is up), DNS, veth pair, WireGuard',
    'interface born here and moved into the vault, default routes through it with unreachable',
    'fallbacks. A second run changes nothing and says so; a run after a partial state repairs it.',
  ].join('\n'),
  down: [
    'netvault down [-c FILE] [-q]',
    'Removes the tunnel (and its wireguard-go process), the veth pair, both firewall tables, the',
    "vault namespace and /etc/netns/VAULT. Only objects marked as netvault's are touched.",
  ].join('\n'),
  gc: [
    'netvault gc [-c FILE] [-q]',
    "Removes links, nft tables and /etc/netns files marked as netvault's whose vault namespace",
    'is gone (after a crash, or a vault renamed in the config). The configured vault is kept.',
  ].join('\n'),
  status: ['netvault status [-c FILE] [--json]', 'Exit 0 when healthy, 1 otherwise.'].join('\n'),
  verify: ['netvault verify [-c FILE] [--json]', 'Exit 0 when every check and probe passed.'].join(
    '\n',
  ),
  exec: [
    'netvault exec [-c FILE] -- CMD [ARGS…]',
    'Runs CMD in the vault (ip netns exec), with /etc/netns/VAULT/resolv.conf as /etc/resolv.conf.',
    "Exits with CMD's exit code.",
  ].join('\n'),
  watch: [
    'netvault watch [-c FILE] [--interval SECONDS]',
    'Follows link events and the handshake age; never adds a route outside the tunnel.',
  ].join('\n'),
  ingest: [
    'netvault ingest FILE [--key-dir DIR] [--config-dir DIR] [--name IF] [--json]',
    'netvault ingest --watch DIR [--key-dir DIR] [--config-dir DIR]',
    'Splits a provider .conf: private key into a 0600 key file, public parameters into',
    'CONFIG-DIR/tunnel.json and tunnel.nix; the original is overwritten and removed.',
  ].join('\n'),
  allow: [
    'netvault allow ADDRESS… [--list FILE] [--xff "a, b"] [--depth N] [--json]',
    'Exit 0 when every address is allowed (default list: the local preset).',
  ].join('\n'),
  'landing-zone': async () => (await load.landing()).landingZoneHelp,
  systemd: async () => (await load.systemd()).systemdHelp,
  'proxy-config': async () => (await load.proxyConfig()).proxyConfigHelp,
  demo: [
    'netvault demo [-q]',
    'Builds a host, a provider and the vault in throwaway namespaces, runs up, verify and status,',
    'kills the tunnel to show the vault has no way out, repairs it, and removes everything.',
  ].join('\n'),
};

function out(text: string) {
  process.stdout.write(`${text}\n`);
}

async function run(argv: string[]): Promise<number> {
  const command = argv[0];
  if (!command || command === '-h' || command === '--help' || command === 'help') {
    out(usage);
    return command ? 0 : 2;
  }
  if (!(command in help)) {
    process.stderr.write(`netvault: unknown command "${command}"\n\n${usage}\n`);
    return 2;
  }
  const { values, positionals } = parseArgs({
    args: argv.slice(1),
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      quiet: { type: 'boolean', short: 'q' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      watch: { type: 'string' },
      'key-dir': { type: 'string' },
      'config-dir': { type: 'string' },
      name: { type: 'string' },
      list: { type: 'string' },
      xff: { type: 'string' },
      depth: { type: 'string' },
      interval: { type: 'string' },
      listen: { type: 'string' },
      landing: { type: 'string' },
      allow: { type: 'string' },
      'allow-file': { type: 'string' },
      host: { type: 'string' },
      'trusted-proxy': { type: 'string' },
      'excluded-ips': { type: 'string' },
      services: { type: 'string' },
      out: { type: 'string' },
      netvault: { type: 'string' },
      unit: { type: 'string' },
      'no-landing': { type: 'boolean' },
      service: { type: 'string', multiple: true },
      domain: { type: 'string' },
      entrypoint: { type: 'string' },
    },
  });
  if (values.help) {
    const text = help[command];
    out(typeof text === 'string' ? text : await text());
    return 0;
  }
  const report = consoleReporter({ quiet: values.quiet });
  const config = () => loadConfig(values.config);

  switch (command) {
    case 'up': {
      const { up } = await load.topology();
      const result = await up(config(), report);
      if (!result.changed) process.stderr.write('netvault: up: nothing to change\n');
      if (values.json) out(JSON.stringify(result));
      return 0;
    }
    case 'down': {
      const { down } = await load.topology();
      await down(config(), report);
      return 0;
    }
    case 'gc': {
      const cfg = config();
      const [{ gc }, { openHost }] = await Promise.all([load.gc(), load.topology()]);
      const host = openHost(cfg);
      try {
        await gc(host, report, [cfg.vault]);
      } finally {
        host.close();
      }
      return 0;
    }
    case 'status': {
      const cfg = config();
      const [{ status }, { formatStatus }] = await Promise.all([
        load.topology(),
        load.statusView(),
      ]);
      const facts = await status(cfg);
      out(
        values.json
          ? JSON.stringify(facts, (_, v) => (typeof v === 'bigint' ? Number(v) : v), 2)
          : formatStatus(facts, cfg),
      );
      return facts.healthy ? 0 : 1;
    }
    case 'verify': {
      const { verify, formatVerify } = await load.verify();
      const result = await verify(config());
      out(values.json ? JSON.stringify(result, null, 2) : formatVerify(result));
      return result.ok ? 0 : 1;
    }
    case 'exec': {
      if (positionals.length === 0) {
        process.stderr.write(`netvault exec: give a command after --\n${help.exec as string}\n`);
        return 2;
      }
      const { openNamespace } = await load.netns();
      const vault = openNamespace({ name: config().vault });
      try {
        const child = vault.spawn(positionals[0], positionals.slice(1), {
          stdio: 'inherit',
          reject: false,
        });
        const result = await child;
        return result.exitCode ?? 1;
      } finally {
        vault.close();
      }
    }
    case 'watch': {
      const interval = values.interval === undefined ? 10 : Number(values.interval);
      if (!Number.isFinite(interval) || interval <= 0) {
        process.stderr.write('netvault watch: --interval takes a number of seconds\n');
        return 2;
      }
      const { watch } = await load.watch();
      return watch(config(), { intervalSeconds: interval, report, say: (line) => out(line) });
    }
    case 'ingest': {
      const options = {
        keyDir: values['key-dir'] ?? '/var/lib/netvault/keys',
        configDir: values['config-dir'] ?? '/var/lib/netvault',
        name: values.name ?? 'privado',
      };
      const { ingest, watchLandingZone } = await load.wg();
      const show = (result: IngestResult) => {
        if (values.json) out(JSON.stringify(result));
        else if (result.status === 'ingested') {
          process.stderr.write(
            `${formatChange({ sign: '+', text: `key file ${result.files.privateKey} (0600)` })}\n`,
          );
          process.stderr.write(
            `${formatChange({ sign: '+', text: `config ${result.files.json}, ${result.files.nix}` })}\n`,
          );
          process.stderr.write(
            `${formatChange({ sign: '-', text: `${result.source} overwritten and removed` })}\n`,
          );
          const { addresses, dns, peers } = result.tunnel;
          out(
            `ingested ${result.source}: addresses ${addresses.join(', ')}; DNS ${dns.join(', ')}; ` +
              `peer ${peers[0]?.publicKey} at ${peers[0]?.endpoint ?? '(no endpoint)'}`,
          );
        } else {
          out(`refused ${result.source}: ${result.reason} (moved to ${result.movedTo})`);
        }
      };
      if (values.watch) {
        const watcher = watchLandingZone(values.watch, options, (event) => {
          if (event.type === 'result') show(event.result);
          else
            process.stderr.write(
              `netvault ingest: ${event.file ?? values.watch}: ${event.error.message}\n`,
            );
        });
        await watcher.ready;
        await new Promise<void>((resolve) => {
          process.once('SIGINT', resolve);
          process.once('SIGTERM', resolve);
        });
        watcher.close();
        return 0;
      }
      if (positionals.length !== 1) {
        process.stderr.write(`netvault ingest: give one file\n${help.ingest as string}\n`);
        return 2;
      }
      const result = ingest(positionals[0], options);
      show(result);
      return result.status === 'ingested' ? 0 : 1;
    }
    case 'allow': {
      const { clientAddress, loadCidrSet, presets } = await load.cidr();
      const set = values.list ? await loadCidrSet(values.list) : presets.local;
      if (positionals.length === 0) {
        process.stderr.write(
          `netvault allow: give one or more addresses\n${help.allow as string}\n`,
        );
        return 2;
      }
      let all = true;
      for (const remote of positionals) {
        const client =
          values.xff === undefined
            ? remote
            : clientAddress(
                {
                  remoteAddress: remote,
                  headers: { 'x-forwarded-for': values.xff },
                },
                { depth: values.depth === undefined ? undefined : Number(values.depth) },
              );
        const allowed = client !== undefined && set.has(client);
        all &&= allowed;
        out(
          values.json
            ? JSON.stringify({ address: remote, client, allowed })
            : `${allowed ? 'allowed' : 'refused'} ${remote}` +
                (client !== remote ? ` (client ${client ?? 'none'})` : ''),
        );
      }
      return all ? 0 : 1;
    }
    case 'landing-zone':
      return (await load.landing()).landingZoneCommand(values);
    case 'systemd':
      return (await load.systemd()).systemdCommand(values, config(), report, out);
    case 'proxy-config':
      return (await load.proxyConfig()).proxyConfigCommand(
        positionals[0],
        values,
        config(),
        report,
        out,
      );
    case 'demo': {
      const { demo } = await load.demo();
      const ok = await demo(report, (line) => out(line));
      out(ok ? '\ndemo: every check passed, nothing is left behind' : '\ndemo: SOME CHECKS FAILED');
      return ok ? 0 : 1;
    }
    default:
      return 2;
  }
}

export async function main(argv = process.argv.slice(2)): Promise<number> {
  try {
    return await run(argv);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      return 2;
    }
    if (
      (error as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ||
      (error as { code?: string }).code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE'
    ) {
      process.stderr.write(`netvault: ${(error as Error).message}\n`);
      return 2;
    }
    // A StepError already names the step of `up` that failed and why.
    process.stderr.write(`${(error as Error).message}\n`);
    return 1;
  }
}
