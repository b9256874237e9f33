// `netvault landing-zone`: the landing page server from the command line. It prints one line
// per request decision and per watcher event to stderr, and runs until SIGINT or SIGTERM.
import { CidrError, CidrSet, loadCidrSet, presets } from '@netvault/cidr';
import {
  defaultLandingListen,
  startLandingZone,
  type LandingLogEntry,
  type LandingZoneOptions,
} from './landing.ts';

export const landingZoneHelp = `netvault landing-zone [--listen ADDR:PORT] [--landing DIR]
    [--key-dir DIR] [--config-dir DIR] [--name IF] [--allow CIDR,…] [--allow-file FILE]
    [--host NAME,…] [--trusted-proxy CIDR,…] [--depth N | --excluded-ips CIDR,…]
Serves the upload page for a provider's WireGuard .conf (default ${defaultLandingListen}) and
ingests what it receives (and what is dropped into the landing folder by hand): key into a
0600 file, public parameters into CONFIG-DIR/tunnel.json and tunnel.nix. Only clients in
--allow / --allow-file may use it (default: the local ranges). X-Forwarded-For is read only
from --trusted-proxy peers: the rightmost entry, the --depth-th from the right, or the first
from the right outside --excluded-ips. --host adds names the page may be reached under
(IP addresses and localhost always work). Defaults: --landing /run/netvault/landing,
--key-dir /var/lib/netvault/keys, --config-dir /var/lib/netvault. One line per request on
stderr; stops on SIGINT or SIGTERM.`;

export interface LandingZoneValues {
  listen?: string;
  landing?: string;
  'key-dir'?: string;
  'config-dir'?: string;
  name?: string;
  allow?: string;
  'allow-file'?: string;
  host?: string;
  'trusted-proxy'?: string;
  depth?: string;
  'excluded-ips'?: string;
}

function list(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  return value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

/** One stderr line for a log entry. */
export function formatLandingEntry(entry: LandingLogEntry): string {
  if (entry.kind === 'watch') {
    const file = entry.file ?? 'landing folder';
    if (entry.error) return `landing-zone: watcher: ${file}: ${entry.error.message}`;
    const result = entry.result!;
    return result.status === 'ingested'
      ? `landing-zone: watcher: ${file}: ingested, key ${result.files.privateKey} (0600), ` +
          `config ${result.files.json}`
      : `landing-zone: watcher: ${file}: refused (${result.code}): ${result.reason}`;
  }

  const who = entry.proxied ? `${entry.client ?? '-'} via ${entry.peer}` : (entry.peer ?? '-');
  let line = `landing-zone: ${who} ${entry.method} ${entry.path} ${entry.status} ${entry.outcome}`;
  if (entry.forwardedIgnored) line += ' (X-Forwarded-For ignored: not from a trusted proxy)';
  if (entry.name !== undefined) line += ` ${JSON.stringify(entry.name)}`;
  if (entry.file !== undefined) line += ` as ${entry.file}`;
  if (entry.reason !== undefined) line += `: ${entry.reason}`;
  return line;
}

async function allowedSet(values: LandingZoneValues): Promise<CidrSet> {
  const inline = list(values.allow);
  const fromFile = values['allow-file'] ? await loadCidrSet(values['allow-file']) : undefined;
  if (inline === undefined) return fromFile ?? presets.local;
  const set = CidrSet.from(inline);
  return fromFile ? set.union(fromFile) : set;
}

/** Runs the command; resolves with the exit code once stopped. */
export async function landingZoneCommand(values: LandingZoneValues): Promise<number> {
  const say = (line: string) => process.stderr.write(`${line}\n`);

  let options: LandingZoneOptions;
  try {
    const depth = values.depth === undefined ? undefined : Number(values.depth);
    if (depth !== undefined && (!Number.isInteger(depth) || depth < 1)) {
      throw new RangeError(`--depth takes a whole number, 1 or more, got ${values.depth}`);
    }
    const trusted = list(values['trusted-proxy']);
    if (trusted === undefined && (depth !== undefined || values['excluded-ips'] !== undefined)) {
      throw new RangeError('--depth and --excluded-ips need --trusted-proxy');
    }
    options = {
      listen: values.listen ?? defaultLandingListen,
      landingDir: values.landing ?? '/run/netvault/landing',
      keyDir: values['key-dir'] ?? '/var/lib/netvault/keys',
      configDir: values['config-dir'] ?? '/var/lib/netvault',
      name: values.name,
      allow: await allowedSet(values),
      hosts: list(values.host),
      trustedProxies: trusted === undefined ? undefined : CidrSet.from(trusted),
      depth,
      excludedIPs: list(values['excluded-ips']),
      log: (entry) => say(formatLandingEntry(entry)),
    };
  } catch (error) {
    if (error instanceof CidrError || error instanceof RangeError) {
      say(`netvault landing-zone: ${error.message}`);
      return 2;
    }
    throw error;
  }

  let zone;
  try {
    zone = await startLandingZone(options);
  } catch (error) {
    if (error instanceof RangeError) {
      say(`netvault landing-zone: ${error.message}`);
      return 2;
    }
    say(`netvault landing-zone: ${(error as Error).message}`);
    return 1;
  }

  say(`landing-zone: serving ${zone.url} (landing folder ${options.landingDir})`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await zone.close();
  say('landing-zone: stopped');
  return 0;
}
