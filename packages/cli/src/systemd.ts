// systemd units for a vault: one that builds it at boot and removes it at shutdown, the landing
// page (or, without it, the ingest watcher), and a drop-in per media service that moves the
// service into the vault. nix/units.nix generates the same units for NixOS; a test keeps the
// two equal.
import { existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Reporter } from './changes.ts';
import { DEFAULT_CONFIG_PATH, type VaultConfig } from './config.ts';

/** section → key → values; the values of one key share a line, separated by spaces. */
export type UnitSections = Record<string, Record<string, string[]>>;

export interface UnitFile {
  /** Relative to the unit directory: `netvault.service`, `sonarr.service.d/netvault.conf`. */
  path: string;
  /** One line saying what the file is for, written as a comment on top. */
  about: string;
  sections: UnitSections;
}

export interface SystemdOptions {
  /** The vault's namespace name (`vault` in the config). */
  vault: string;
  /** What runs netvault: an executable, or node followed by the script. */
  command: string[];
  /** The config file passed to `up` and `down` with `-c`. */
  configPath: string;
  /** Units moved into the vault, without `.service`. */
  services: string[];
  /** Base name of the units: `netvault` gives netvault.service, netvault-landing.service, … */
  unitName: string;
  /** Where `netvault ingest` writes tunnel.json (dirname of tunnel.file) and the key files. */
  ingest: { configDir: string; keyDir: string; interface: string };
  /**
   * The landing page, which also watches `directory`; without it, the ingest unit watches it.
   * `allow`: client ranges for the page (default: its own, the local ranges).
   */
  landing: { enable: boolean; listen: string; directory: string; allow?: string[] };
}

export const DEFAULT_SERVICES = ['sonarr', 'radarr', 'prowlarr', 'sabnzbd'];
export const DEFAULT_LANDING_DIR = '/run/netvault/landing';
export const DEFAULT_LANDING_LISTEN = '127.0.0.1:10023';

/**
 * Sockets through which a confined service could still ask the host to resolve names: nscd,
 * systemd-resolved, D-Bus (resolved's API) and avahi (nss-mdns). `-` ignores missing ones.
 */
export const RESOLVER_SOCKETS = [
  '/run/nscd',
  '/run/systemd/resolve',
  '/run/dbus/system_bus_socket',
  '/run/avahi-daemon/socket',
];

const unitNamePattern = /^[A-Za-z0-9:_.\\-]+(@[A-Za-z0-9:_.\\-]*)?$/;
const plainPath = /^\/[A-Za-z0-9_.@+,:/-]*$/;

export class SystemdUsageError extends Error {
  constructor(message: string) {
    super(`netvault systemd: ${message}`);
    this.name = 'SystemdUsageError';
  }
}

/** `sonarr` and `sonarr.service` both name sonarr.service; anything else is refused. */
export function serviceBaseName(name: string): string {
  const base = name.trim().replace(/\.service$/, '');
  if (base === '' || !unitNamePattern.test(base) || base.length > 200) {
    throw new SystemdUsageError(`"${name}" is not a service unit name`);
  }
  return base;
}

/**
 * One argument of an Exec line as systemd reads it: plain when it is safe, double-quoted
 * otherwise; `%` (specifiers) and `$` (variables) are escaped in either case.
 */
export function execArgument(arg: string): string {
  if (/^[A-Za-z0-9_@+=:,./-]+$/.test(arg)) return arg;
  const escaped = arg
    .replace(/[\\"]/g, (c) => `\\${c}`)
    .replace(/%/g, '%%')
    .replace(/\$/g, '$$$$');
  return `"${escaped}"`;
}

function execLine(args: string[]): string[] {
  return [args.map(execArgument).join(' ')];
}

function checkedPath(path: string, what: string): string {
  const clean = path.replace(/\/+$/, '') || '/';
  if (!plainPath.test(clean) || clean.split('/').some((part) => part === '..')) {
    throw new SystemdUsageError(
      `${what} must be an absolute path of letters, digits and _.@+,:-/, ` + `got "${path}"`,
    );
  }
  return clean;
}

/**
 * Directories a sandboxed unit writes to. Under /var/lib: StateDirectory= (kept); under /run:
 * RuntimeDirectory= (tmpfs, removed when the unit stops); both created 0700 and writable under
 * ProtectSystem=strict. Anything else goes to ReadWritePaths= and must exist already.
 */
function writable(paths: string[]): Record<string, string[]> {
  const under = (prefix: string) =>
    paths.filter((p) => p.startsWith(prefix)).map((p) => p.slice(prefix.length));
  const state = under('/var/lib/');
  const runtime = under('/run/');
  const other = paths.filter((p) => !p.startsWith('/var/lib/') && !p.startsWith('/run/'));
  const keys: Record<string, string[]> = {};
  if (state.length > 0) {
    keys.StateDirectory = state;
    keys.StateDirectoryMode = ['0700'];
  }
  if (runtime.length > 0) {
    keys.RuntimeDirectory = runtime;
    keys.RuntimeDirectoryMode = ['0700'];
    keys.RuntimeDirectoryPreserve = ['restart'];
  }
  if (other.length > 0) keys.ReadWritePaths = other;
  return keys;
}

const sandbox = {
  ProtectSystem: ['strict'],
  ProtectHome: ['yes'],
  PrivateTmp: ['yes'],
  NoNewPrivileges: ['yes'],
  UMask: ['0077'],
};

/** The units for `options`: the vault's, the landing page's or the watcher's, the drop-ins. */
export function systemdUnits(options: SystemdOptions): UnitFile[] {
  const unit = serviceBaseName(options.unitName);
  const services = options.services.map(serviceBaseName);
  const vaultUnit = `${unit}.service`;
  const config = ['-c', options.configPath];
  const landingDir = checkedPath(options.landing.directory, 'the landing directory');
  const configDir = checkedPath(options.ingest.configDir, "the tunnel file's directory");
  const keyDir = checkedPath(options.ingest.keyDir, 'the key directory');
  if (options.command.length === 0 || !options.command[0].startsWith('/')) {
    throw new SystemdUsageError(
      `the netvault command must start with an absolute path, got ` +
        `"${options.command.join(' ')}"`,
    );
  }

  const units: UnitFile[] = [
    {
      path: vaultUnit,
      about: `the vault ${options.vault}: built at boot, removed at shutdown`,
      sections: {
        Unit: {
          Description: [
            `netvault vault ${options.vault} (network namespace, WireGuard killswitch)`,
          ],
          After: ['network-online.target'],
          Wants: ['network-online.target'],
          ...(services.length > 0 ? { Before: services.map((s) => `${s}.service`) } : {}),
        },
        Service: {
          Type: ['oneshot'],
          RemainAfterExit: ['yes'],
          ExecStart: execLine([...options.command, 'up', ...config]),
          ExecReload: execLine([...options.command, 'up', ...config]),
          ExecStop: execLine([...options.command, 'down', ...config]),
        },
        Install: { WantedBy: ['multi-user.target'] },
      },
    },
  ];

  // The landing page watches its folder and ingests what lands there itself; a second watcher
  // on the same folder would race it, so the ingest unit exists only without the page.
  const ingestArgs = [
    '--key-dir',
    keyDir,
    '--config-dir',
    configDir,
    '--name',
    options.ingest.interface,
  ];
  if (options.landing.enable) {
    const allow = options.landing.allow?.length ? ['--allow', options.landing.allow.join(',')] : [];
    units.push({
      path: `${unit}-landing.service`,
      about: `the landing page on ${options.landing.listen}; it also ingests ${landingDir}`,
      sections: {
        Unit: {
          Description: [`netvault landing page on ${options.landing.listen}`],
          After: ['network-online.target'],
          Wants: ['network-online.target'],
        },
        Service: {
          ExecStart: execLine([
            ...options.command,
            'landing-zone',
            '--listen',
            options.landing.listen,
            '--landing',
            landingDir,
            ...ingestArgs,
            ...allow,
          ]),
          Restart: ['on-failure'],
          ...sandbox,
          RestrictAddressFamilies: ['AF_UNIX', 'AF_INET', 'AF_INET6'],
          ...writable([configDir, keyDir, landingDir]),
        },
        Install: { WantedBy: ['multi-user.target'] },
      },
    });
  } else {
    units.push({
      path: `${unit}-ingest.service`,
      about: `the ingest watcher of ${landingDir}`,
      sections: {
        Unit: { Description: [`netvault ingest of WireGuard configurations from ${landingDir}`] },
        Service: {
          ExecStart: execLine([...options.command, 'ingest', '--watch', landingDir, ...ingestArgs]),
          Restart: ['on-failure'],
          ...sandbox,
          PrivateNetwork: ['yes'],
          RestrictAddressFamilies: ['AF_UNIX'],
          ...writable([configDir, keyDir, landingDir]),
        },
        Install: { WantedBy: ['multi-user.target'] },
      },
    });
  }

  for (const service of services) {
    units.push({
      path: `${service}.service.d/${unit}.conf`,
      about: `puts ${service}.service into the vault ${options.vault}`,
      sections: {
        Unit: { BindsTo: [vaultUnit], After: [vaultUnit] },
        Service: {
          NetworkNamespacePath: [`/run/netns/${options.vault}`],
          // The file `netvault up` writes (topology.ts, resolvConfPath): the tunnel's resolvers.
          BindReadOnlyPaths: [`/etc/netns/${options.vault}/resolv.conf:/etc/resolv.conf`],
          InaccessiblePaths: RESOLVER_SOCKETS.map((path) => `-${path}`),
        },
      },
    });
  }
  return units;
}

/** The text of a unit file. */
export function formatUnit(unit: UnitFile): string {
  const lines = [`# ${unit.path}: ${unit.about}.`, '# Generated by `netvault systemd`.'];
  for (const [section, keys] of Object.entries(unit.sections)) {
    lines.push('', `[${section}]`);
    for (const [key, values] of Object.entries(keys)) lines.push(`${key}=${values.join(' ')}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Every unit one after the other, each under a line naming its file, for stdout. */
export function formatUnits(units: UnitFile[]): string {
  return units.map((unit) => `### ${unit.path}\n${formatUnit(unit)}`).join('\n');
}

/** Writes the units under `dir`, reporting each file as made, changed or already right. */
export function writeUnits(units: UnitFile[], dir: string, report: Reporter): string[] {
  const written: string[] = [];
  for (const unit of units) {
    const path = join(dir, unit.path);
    const text = formatUnit(unit);
    const before = existsSync(path) ? readFileSync(path, 'utf8') : undefined;
    if (before === text) {
      report({ sign: '=', text: `file ${path}` });
      continue;
    }
    mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
    writeFileSync(path, text, { mode: 0o644 });
    report({ sign: before === undefined ? '+' : '~', text: `file ${path}` });
    written.push(path);
  }
  return written;
}

/**
 * What ExecStart runs when `--netvault` is not given: node and this script when it is a
 * JavaScript file (a unit's PATH may not hold the node of `#!/usr/bin/env node`), otherwise
 * /usr/bin/netvault.
 */
export function defaultCommand(script = process.argv[1], node = process.execPath): string[] {
  if (script) {
    try {
      const real = realpathSync(script);
      if (/\.[cm]?js$/.test(real)) return [node, real];
    } catch {
      // Not a file: fall through.
    }
  }
  return ['/usr/bin/netvault'];
}

export interface SystemdCommandValues {
  config?: string;
  services?: string;
  out?: string;
  netvault?: string;
  unit?: string;
  landing?: string;
  listen?: string;
  allow?: string;
  'no-landing'?: boolean;
}

/**
 * `netvault systemd`: prints the units, or writes them under `--out DIR` with a change line
 * for each file. Returns the exit code (2 for bad options).
 */
export function systemdCommand(
  values: SystemdCommandValues,
  config: VaultConfig,
  report: Reporter,
  out: (text: string) => void,
): number {
  const tunnelDir = dirname(config.tunnel.file);
  let units: UnitFile[];
  try {
    units = systemdUnits({
      vault: config.vault,
      command: values.netvault ? [resolve(values.netvault)] : defaultCommand(),
      configPath: resolve(values.config ?? DEFAULT_CONFIG_PATH),
      services:
        values.services === undefined
          ? DEFAULT_SERVICES
          : values.services.split(',').filter((name) => name.trim() !== ''),
      unitName: values.unit ?? 'netvault',
      ingest: {
        configDir: tunnelDir,
        keyDir: join(tunnelDir, 'keys'),
        interface: config.tunnel.interface,
      },
      landing: {
        enable: !values['no-landing'],
        listen: values.listen ?? DEFAULT_LANDING_LISTEN,
        directory: resolve(values.landing ?? DEFAULT_LANDING_DIR),
        allow: values.allow
          ?.split(',')
          .map((cidr) => cidr.trim())
          .filter((cidr) => cidr !== ''),
      },
    });
  } catch (error) {
    if (!(error instanceof SystemdUsageError)) throw error;
    process.stderr.write(`${error.message}\n`);
    return 2;
  }
  if (!config.tunnel.file.endsWith('/tunnel.json')) {
    process.stderr.write(
      `netvault systemd: tunnel.file is ${config.tunnel.file}, but ingest ` +
        `writes ${join(tunnelDir, 'tunnel.json')}\n`,
    );
  }
  if (values.out) writeUnits(units, values.out, report);
  else out(formatUnits(units).trimEnd());
  return 0;
}

export const systemdHelp = `netvault systemd [-c FILE] [--services a,b,…] [--out DIR] [--netvault PATH]
    [--unit NAME] [--listen ADDR:PORT] [--landing DIR] [--allow CIDR,…] [--no-landing] [-q]
Prints (or writes under --out, e.g. /etc/systemd/system) the units for the vault:
  NAME.service                 up at boot after network-online.target, down at shutdown,
                               before the services; reload runs up again
  NAME-landing.service         the landing page (landing-zone), which also ingests the folder
  NAME-ingest.service          with --no-landing: the ingest watcher of the folder instead
  SERVICE.service.d/NAME.conf  for each of --services (default ${DEFAULT_SERVICES.join(',')}):
                               BindsTo the vault, its network namespace, its resolv.conf over
                               /etc/resolv.conf, the host's resolver sockets inaccessible
NAME defaults to netvault; ExecStart runs --netvault PATH (default: this node and script, or
/usr/bin/netvault) with -c FILE. Then: systemctl daemon-reload && systemctl enable --now NAME.`;
