// netvault systemd: what the units say, the files it writes, and systemd's own reading of them
// (`systemd-analyze verify`, which works without systemd running as PID 1).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Change } from '../src/changes.ts';
import { DEFAULTS, type VaultConfig } from '../src/config.ts';
import {
  DEFAULT_SERVICES,
  defaultCommand,
  execArgument,
  formatUnit,
  serviceBaseName,
  systemdCommand,
  systemdUnits,
  SystemdUsageError,
  writeUnits,
  type SystemdOptions,
  type UnitFile,
} from '../src/systemd.ts';

const options: SystemdOptions = {
  vault: 'media-vault',
  command: ['/usr/bin/netvault'],
  configPath: '/etc/netvault/netvault.json',
  services: DEFAULT_SERVICES,
  unitName: 'netvault',
  ingest: {
    configDir: '/var/lib/netvault',
    keyDir: '/var/lib/netvault/keys',
    interface: 'privado',
  },
  landing: { enable: true, listen: '127.0.0.1:10023', directory: '/run/netvault/landing' },
};

function byPath(units: UnitFile[]): Record<string, UnitFile['sections']> {
  return Object.fromEntries(units.map((unit) => [unit.path, unit.sections]));
}

const config: VaultConfig = { ...structuredClone(DEFAULTS), source: 'test' };

test('the vault unit: oneshot up/down with the config, after the network, before the services', () => {
  const vault = byPath(systemdUnits(options))['netvault.service'];
  assert.equal(vault.Unit.After, ['network-online.target']);
  assert.equal(vault.Unit.Wants, ['network-online.target']);
  assert.equal(vault.Unit.Before, [
    'sonarr.service',
    'radarr.service',
    'prowlarr.service',
    'sabnzbd.service',
  ]);
  assert.equal(vault.Service.Type, ['oneshot']);
  assert.equal(vault.Service.RemainAfterExit, ['yes']);
  assert.equal(vault.Service.ExecStart, ['/usr/bin/netvault up -c /etc/netvault/netvault.json']);
  assert.equal(vault.Service.ExecReload, vault.Service.ExecStart);
  assert.equal(vault.Service.ExecStop, ['/usr/bin/netvault down -c /etc/netvault/netvault.json']);
  assert.equal(vault.Install.WantedBy, ['multi-user.target']);
});

test('a drop-in per service: bound to the vault, in its namespace, with its resolv.conf only', () => {
  const units = byPath(systemdUnits(options));
  for (const service of DEFAULT_SERVICES) {
    const dropIn = units[`${service}.service.d/netvault.conf`];
    assert.ok(dropIn, service);
    assert.equal(dropIn.Unit, { BindsTo: ['netvault.service'], After: ['netvault.service'] });
    assert.equal(dropIn.Service.NetworkNamespacePath, ['/run/netns/media-vault']);
    assert.equal(dropIn.Service.BindReadOnlyPaths, [
      '/etc/netns/media-vault/resolv.conf:/etc/resolv.conf',
    ]);
    assert.equal(dropIn.Service.InaccessiblePaths, [
      '-/run/nscd',
      '-/run/systemd/resolve',
      '-/run/dbus/system_bus_socket',
      '-/run/avahi-daemon/socket',
    ]);
    assert.is(dropIn.Service.PrivateNetwork, undefined);
    assert.is(dropIn.Service.RestrictAddressFamilies, undefined);
  }
  const sonarr = systemdUnits(options).find((u) => u.path === 'sonarr.service.d/netvault.conf');
  const text = formatUnit(sonarr!);
  assert.match(text, /^\[Unit\]\nBindsTo=netvault.service\nAfter=netvault.service\n/m);
  assert.match(text, /^InaccessiblePaths=-\/run\/nscd -\/run\/systemd\/resolve /m);
});

test('the landing page ingests its folder; without it an ingest unit does, with no network', () => {
  const withPage = byPath(
    systemdUnits({
      ...options,
      landing: { ...options.landing, allow: ['192.168.2.0/24', 'fd00::/8'] },
    }),
  );
  assert.equal(
    Object.keys(withPage).filter((path) => !path.includes('.d/')),
    ['netvault.service', 'netvault-landing.service'],
  );
  const page = withPage['netvault-landing.service'];
  assert.equal(page.Service.ExecStart, [
    '/usr/bin/netvault landing-zone --listen 127.0.0.1:10023 ' +
      '--landing /run/netvault/landing --key-dir /var/lib/netvault/keys ' +
      '--config-dir /var/lib/netvault --name privado --allow 192.168.2.0/24,fd00::/8',
  ]);
  assert.equal(page.Service.StateDirectory, ['netvault', 'netvault/keys']);
  assert.equal(page.Service.RuntimeDirectory, ['netvault/landing']);
  assert.equal(page.Service.ProtectSystem, ['strict']);

  const withoutPage = byPath(
    systemdUnits({ ...options, landing: { ...options.landing, enable: false } }),
  );
  assert.equal(
    Object.keys(withoutPage).filter((path) => !path.includes('.d/')),
    ['netvault.service', 'netvault-ingest.service'],
  );
  const ingest = withoutPage['netvault-ingest.service'];
  assert.equal(ingest.Service.ExecStart, [
    '/usr/bin/netvault ingest --watch /run/netvault/landing ' +
      '--key-dir /var/lib/netvault/keys --config-dir /var/lib/netvault --name privado',
  ]);
  assert.equal(ingest.Service.PrivateNetwork, ['yes']);
  assert.equal(ingest.Service.RestrictAddressFamilies, ['AF_UNIX']);
  assert.equal(ingest.Service.UMask, ['0077']);
});

test('directories outside /var/lib and /run are ReadWritePaths; unit names are configurable', () => {
  const units = byPath(
    systemdUnits({
      ...options,
      vault: 'books-vault',
      unitName: 'netvault-books',
      services: ['calibre-web.service'],
      ingest: { configDir: '/srv/books', keyDir: '/srv/books/keys', interface: 'wg-books' },
      landing: { enable: false, listen: '127.0.0.1:10024', directory: '/srv/books/landing' },
    }),
  );
  assert.equal(Object.keys(units), [
    'netvault-books.service',
    'netvault-books-ingest.service',
    'calibre-web.service.d/netvault-books.conf',
  ]);
  assert.equal(units['netvault-books-ingest.service'].Service.ReadWritePaths, [
    '/srv/books',
    '/srv/books/keys',
    '/srv/books/landing',
  ]);
  assert.is(units['netvault-books-ingest.service'].Service.StateDirectory, undefined);
  assert.equal(units['calibre-web.service.d/netvault-books.conf'].Unit.BindsTo, [
    'netvault-books.service',
  ]);
  assert.equal(units['netvault-books.service'].Unit.Before, ['calibre-web.service']);
});

test('exec arguments: plain when safe, quoted with %, $, quotes and backslashes escaped', () => {
  assert.is(execArgument('/etc/netvault/netvault.json'), '/etc/netvault/netvault.json');
  assert.is(execArgument('/etc/net vault/a.json'), '"/etc/net vault/a.json"');
  assert.is(execArgument('100%'), '"100%%"');
  assert.is(execArgument('$HOME'), '"$$HOME"');
  assert.is(execArgument('a"b\\c'), '"a\\"b\\\\c"');
  const units = systemdUnits({ ...options, configPath: '/etc/my vault/n.json' });
  assert.equal(units[0].sections.Service.ExecStart, [
    '/usr/bin/netvault up -c "/etc/my vault/n.json"',
  ]);
});

test('service names: .service is dropped, other names are refused', () => {
  assert.is(serviceBaseName('sonarr.service'), 'sonarr');
  assert.is(serviceBaseName('getty@tty1'), 'getty@tty1');
  for (const bad of ['', 'a b', 'x;rm', '../x']) {
    assert.throws(
      () => serviceBaseName(bad),
      (e: Error) => e instanceof SystemdUsageError,
      bad,
    );
  }
  assert.throws(
    () => systemdUnits({ ...options, command: ['netvault'] }),
    (e: Error) => e instanceof SystemdUsageError,
  );
  assert.throws(
    () => systemdUnits({ ...options, landing: { ...options.landing, directory: 'rel' } }),
    (e: Error) => e instanceof SystemdUsageError,
  );
});

test('the default command: node and the script for a .js file, /usr/bin/netvault otherwise', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nvt-systemd-'));
  try {
    writeFileSync(join(dir, 'netvault.js'), '');
    assert.equal(defaultCommand(join(dir, 'netvault.js'), '/usr/bin/node'), [
      '/usr/bin/node',
      join(dir, 'netvault.js'),
    ]);
    assert.equal(defaultCommand(join(dir, 'missing.js')), ['/usr/bin/netvault']);
    assert.equal(defaultCommand(undefined), ['/usr/bin/netvault']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--out writes each file once and reports it; a second run finds them as they should be', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nvt-systemd-'));
  const changes: Change[] = [];
  const printed: string[] = [];
  try {
    const values = { out: dir, netvault: '/usr/bin/netvault', services: 'sonarr,radarr' };
    assert.is(
      systemdCommand(
        values,
        config,
        (c) => changes.push(c),
        (t) => printed.push(t),
      ),
      0,
    );
    assert.equal(
      changes.map((c) => c.sign),
      ['+', '+', '+', '+'],
    );
    assert.match(
      readFileSync(join(dir, 'radarr.service.d/netvault.conf'), 'utf8'),
      /NetworkNamespacePath=\/run\/netns\/media-vault/,
    );
    assert.match(
      readFileSync(join(dir, 'netvault.service'), 'utf8'),
      /ExecStart=\/usr\/bin\/netvault up -c \/etc\/netvault\/netvault.json/,
    );
    changes.length = 0;
    assert.is(
      systemdCommand(
        values,
        config,
        (c) => changes.push(c),
        (t) => printed.push(t),
      ),
      0,
    );
    assert.equal(
      changes.map((c) => c.sign),
      ['=', '=', '=', '='],
    );
    assert.equal(printed, []);

    assert.is(
      systemdCommand(
        { netvault: '/usr/bin/netvault', services: '' },
        config,
        () => {},
        (t) => printed.push(t),
      ),
      0,
    );
    assert.match(printed[0], /^### netvault.service\n/);
    assert.not.match(printed[0], /\.service\.d\//);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the CLI: help, and exit 2 for a bad service name', () => {
  const cli = (args: string[]) =>
    spawnSync(
      process.execPath,
      ['--conditions=source', '--import', 'tsx', 'packages/cli/src/netvault.ts', ...args],
      { encoding: 'utf8' },
    );
  const help = cli(['systemd', '--help']);
  assert.is(help.status, 0);
  assert.match(help.stdout, /NAME-landing.service/);
  const bad = cli(['systemd', '-c', '/dev/null', '--services', 'son arr']);
  assert.is(bad.status, 2);
  assert.match(bad.stderr, /"son arr" is not a service unit name/);
  const printed = cli(['systemd', '-c', '/dev/null', '--netvault', '/opt/nv/bin/netvault']);
  assert.is(printed.status, 0, printed.stderr);
  assert.match(printed.stdout, /ExecStop=\/opt\/nv\/bin\/netvault down -c \/dev\/null/);
});

const analyze = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
const noAnalyze = analyze.status === 0 ? undefined : 'systemd-analyze not found (Debian: systemd)';
if (noAnalyze) console.log(`systemd-analyze verify tests skipped: ${noAnalyze}`);
const verifyTest = noAnalyze ? test.skip : test;

/** Writes the units and stand-ins for the media services, then runs systemd-analyze verify. */
function verifyUnits(units: UnitFile[], services: string[], extra?: (dir: string) => void) {
  const dir = mkdtempSync(join(tmpdir(), 'nvt-systemd-'));
  try {
    writeUnits(units, dir, () => {});
    for (const service of services) {
      writeFileSync(
        join(dir, `${service}.service`),
        `[Unit]\nDescription=stand-in for ${service}\n\n[Service]\nExecStart=/bin/true\n`,
      );
    }
    extra?.(dir);
    const files = units
      .filter((u) => !u.path.includes('.d/'))
      .map((u) => join(dir, u.path))
      .concat(services.map((s) => join(dir, `${s}.service`)));
    // The directory first in the search path, so that the drop-ins under it are read too.
    const result = spawnSync('systemd-analyze', ['verify', '--man=no', ...files], {
      cwd: dir,
      encoding: 'utf8',
      env: { ...process.env, SYSTEMD_UNIT_PATH: `${dir}:` },
    });
    return { status: result.status, output: `${result.stdout}${result.stderr}`.trim() };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

verifyTest(
  'systemd-analyze verify accepts every unit and drop-in, with and without the page',
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'nvt-systemd-'));
    try {
      // ExecStart must name an existing executable: node and a script, as `netvault systemd` does.
      writeFileSync(join(dir, 'netvault.js'), '');
      const command = defaultCommand(join(dir, 'netvault.js'));
      for (const enable of [true, false]) {
        const units = systemdUnits({
          ...options,
          command,
          configPath: '/etc/net vault/netvault.json',
          landing: { ...options.landing, enable, allow: ['192.168.2.0/24'] },
        });
        const result = verifyUnits(units, DEFAULT_SERVICES);
        assert.is(result.status, 0, result.output);
        assert.is(result.output, '', `landing ${enable}: ${result.output}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

verifyTest('systemd-analyze verify reads the drop-ins and refuses a missing executable', () => {
  const units = systemdUnits({ ...options, command: ['/bin/true'], services: ['sonarr'] });
  const result = verifyUnits(units, ['sonarr'], (dir) => {
    writeFileSync(join(dir, 'sonarr.service.d/zz-probe.conf'), '[Service]\nNoSuchKey=1\n');
  });
  assert.match(result.output, /zz-probe.conf:2: Unknown key 'NoSuchKey'/);

  const missing = systemdUnits({ ...options, command: ['/nonexistent/netvault'], services: [] });
  const refused = verifyUnits(missing, []);
  assert.is.not(refused.status, 0);
  assert.match(refused.output, /\/nonexistent\/netvault is not executable/);
});

test.run();
