// The NixOS module under nix/: every file parses; nix/units.nix, evaluated by Nix, builds the
// same units and Traefik configuration as the CLI; and the module itself, evaluated against a
// small stand-in for nixpkgs' lib (there is no nixpkgs here), writes a netvault.json the CLI
// accepts and systemd services equal to what `netvault systemd` writes.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LOCAL_RANGES } from '@netvault/cidr';
import { DEFAULTS, parseConfigText } from '../src/config.ts';
import {
  DEFAULT_PROXY_SERVICES,
  traefikDynamicConfig,
  type ProxyOptions,
} from '../src/proxy-config.ts';
import {
  DEFAULT_LANDING_DIR,
  DEFAULT_LANDING_LISTEN,
  DEFAULT_SERVICES,
  systemdUnits,
  type SystemdOptions,
  type UnitSections,
} from '../src/systemd.ts';

const nixDir = resolve('nix');
const found = spawnSync('nix-instantiate', ['--version'], { encoding: 'utf8' });
const skip = found.status === 0 ? undefined : 'nix-instantiate not found (Debian: nix-bin)';
if (skip) console.log(`NixOS module tests skipped: ${skip}`);
const it = skip ? test.skip : test;

// Nix keeps its state in a directory of our own, so that this runs without root too.
const state = mkdtempSync(join(tmpdir(), 'nvt-nix-'));
const env = {
  ...process.env,
  HOME: state,
  NIX_STATE_DIR: join(state, 'state'),
  NIX_CONFIG: 'build-users-group =',
};

function nix(args: string[]): string {
  const result = spawnSync('nix-instantiate', args, { encoding: 'utf8', env });
  if (result.status !== 0) throw new Error(`nix-instantiate ${args.join(' ')}:\n${result.stderr}`);
  return result.stdout;
}

/** Evaluates `expression`, a function of `json` (the given value as JSON text). */
function evaluate(expression: string, value: unknown = null): any {
  return JSON.parse(
    nix([
      '--store',
      'dummy://',
      '--eval',
      '--strict',
      '--json',
      '--expr',
      `{ json }: let input = builtins.fromJSON json; in ${expression}`,
      '--argstr',
      'json',
      JSON.stringify(value),
    ]),
  );
}

const units = (o: SystemdOptions) =>
  Object.fromEntries(systemdUnits(o).map((unit) => [unit.path, unit.sections]));

const store = '/nix/store/00000000000000000000000000000000-netvault-0.1.0';

it('every file under nix/ parses', () => {
  const files = readdirSync(nixDir).filter((name) => name.endsWith('.nix'));
  assert.equal(files.sort(), ['module.nix', 'package.nix', 'units.nix']);
  for (const file of files) nix(['--parse', join(nixDir, file)]);
});

it('units.nix builds the units of netvault systemd, with and without the landing page', () => {
  const cases: SystemdOptions[] = [
    {
      vault: 'media-vault',
      command: [`${store}/bin/netvault`],
      configPath: '/etc/netvault/netvault.json',
      services: DEFAULT_SERVICES,
      unitName: 'netvault',
      ingest: {
        configDir: '/var/lib/netvault',
        keyDir: '/var/lib/netvault/keys',
        interface: 'privado',
      },
      landing: {
        enable: true,
        listen: '127.0.0.1:10023',
        directory: '/run/netvault/landing',
        allow: ['192.168.2.0/24', 'fd7a:115c:a1e0::/48'],
      },
    },
    {
      vault: 'books-vault',
      command: ['/usr/bin/node', '/opt/net vault/netvault.js'],
      configPath: '/etc/books 100%/$vault.json',
      services: ['calibre-web.service'],
      unitName: 'netvault-books',
      ingest: { configDir: '/srv/books', keyDir: '/srv/books/keys', interface: 'wg-books' },
      landing: { enable: false, listen: '127.0.0.1:10024', directory: '/srv/books/landing' },
    },
  ];
  for (const o of cases) {
    const fromNix = evaluate(`(import ${nixDir}/units.nix).units input`, o);
    assert.equal(fromNix, units(o), o.vault);
  }
});

it('units.nix builds the Traefik configuration of proxy-config, and knows the local ranges', () => {
  const o: ProxyOptions = {
    services: DEFAULT_PROXY_SERVICES,
    upstream: '10.200.1.2',
    allowList: LOCAL_RANGES.map((r) => r.cidr),
    domain: 'home.lan',
    entryPoint: 'web',
    listen: ':80',
  };
  for (const domain of ['home.lan', undefined]) {
    const fromNix = evaluate(`(import ${nixDir}/units.nix).traefik input`, {
      ...o,
      domain: domain ?? null,
    });
    assert.equal(fromNix, traefikDynamicConfig({ ...o, domain }), String(domain));
  }
  assert.equal(
    evaluate(`(import ${nixDir}/units.nix).localRanges`),
    LOCAL_RANGES.map((r) => r.cidr),
  );
});

// Enough of nixpkgs' lib for the module: options keep their defaults, mkIf and mkMerge are
// applied the way the module system would (attribute sets merged, lists concatenated).
const harness = `{ moduleFile, user }:
let
  inherit (builtins) attrNames foldl' isAttrs isList mapAttrs stringLength substring;
  lib = rec {
    mkOption = attrs: attrs // { _option = true; };
    mkEnableOption = name: mkOption { default = false; description = name; };
    mkIf = condition: content: { _if = condition; _content = content; };
    mkMerge = contents: { _merge = contents; };
    literalExpression = text: { _literal = text; };
    types = {
      str = "str"; bool = "bool"; port = "port"; package = "package"; attrs = "attrs";
      listOf = _: "list"; attrsOf = _: "attrsOf"; nullOr = _: "nullOr"; enum = _: "enum";
    };
    inherit mapAttrs;
    attrValues = builtins.attrValues;
    mapAttrsToList = f: set: map (name: f name set.\${name}) (attrNames set);
    removeSuffix = suffix: s:
      let n = stringLength s; k = stringLength suffix; in
      if k <= n && substring (n - k) k s == suffix then substring 0 (n - k) s else s;
    splitString = sep: s: builtins.filter builtins.isString (builtins.split sep s);
  };
  merge = a: b: a // mapAttrs (name: value:
    if a ? \${name} && isAttrs a.\${name} && isAttrs value then merge a.\${name} value
    else if a ? \${name} && isList a.\${name} && isList value then a.\${name} ++ value
    else value) b;
  resolve = value:
    if isAttrs value && value ? _if then (if value._if then resolve value._content else { })
    else if isAttrs value && value ? _merge then foldl' merge { } (map resolve value._merge)
    else if isAttrs value && !(value ? outPath) then mapAttrs (_: resolve) value
    else if isList value then map resolve value
    else value;
  values = options: given: mapAttrs (name: option:
    if option ? _option then (if given ? \${name} then given.\${name} else option.default)
    else values option (given.\${name} or { })) options;
  pkgs.callPackage = path: args: { outPath = "${store}"; };
  module = import moduleFile { inherit lib pkgs config; };
  cfg = values module.options.services.netvault user;
  resolved = resolve module.config;
  config = { services.netvault = cfg; inherit (resolved) environment; };
in { options = cfg; config = resolved; }`;

function evaluateModule(user: unknown): { options: any; config: any } {
  const dir = mkdtempSync(join(tmpdir(), 'nvt-nix-'));
  try {
    writeFileSync(join(dir, 'harness.nix'), harness);
    return evaluate(
      `import ${dir}/harness.nix { moduleFile = ${nixDir}/module.nix; user = input; }`,
      user,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** NixOS wants one-value [Service] keys as strings (it checks Type= and Restart=). */
const asServiceConfig = (section: Record<string, string[]>) =>
  Object.fromEntries(
    Object.entries(section).map(([key, values]) => [key, values.length === 1 ? values[0] : values]),
  );

it("the module's defaults are the CLI's", () => {
  const { options } = evaluateModule({});
  assert.is(options.enable, false);
  assert.is(options.vault, DEFAULTS.vault);
  assert.equal(options.veth, DEFAULTS.veth);
  assert.equal(options.tunnel, {
    interface: DEFAULTS.tunnel.interface,
    file: DEFAULTS.tunnel.file,
    implementation: DEFAULTS.tunnel.implementation,
  });
  assert.equal(options.services, DEFAULT_SERVICES);
  assert.equal(
    options.ports,
    Object.fromEntries(DEFAULT_PROXY_SERVICES.map((s) => [s.name, s.port])),
  );
  assert.equal(
    options.allowList,
    LOCAL_RANGES.map((r) => r.cidr),
  );
  assert.equal(options.landingZone, {
    enable: true,
    listen: DEFAULT_LANDING_LISTEN,
    directory: DEFAULT_LANDING_DIR,
  });
  assert.equal(options.traefik, { enable: false, domain: null, entryPoint: 'web' });
  assert.is(options.package, store);
  assert.equal(evaluateModule({}).config, {}, 'disabled: the module sets nothing');
});

it('enabled with defaults: netvault.json the CLI accepts, the units of netvault systemd', () => {
  const { config } = evaluateModule({ enable: true });
  const text: string = config.environment.etc['netvault/netvault.json'].text;
  const parsed = parseConfigText(text, 'netvault.json');
  assert.equal(parsed, {
    ...structuredClone(DEFAULTS),
    source: 'netvault.json',
    firewall: { servicePorts: [9696, 7878, 8080, 8989] },
  });
  assert.equal(config.environment.systemPackages, [store]);

  const expected = units({
    vault: 'media-vault',
    command: [`${store}/bin/netvault`],
    configPath: '/etc/netvault/netvault.json',
    services: DEFAULT_SERVICES,
    unitName: 'netvault',
    ingest: {
      configDir: '/var/lib/netvault',
      keyDir: '/var/lib/netvault/keys',
      interface: 'privado',
    },
    landing: {
      enable: true,
      listen: DEFAULT_LANDING_LISTEN,
      directory: DEFAULT_LANDING_DIR,
      allow: LOCAL_RANGES.map((r) => r.cidr),
    },
  });
  const services = config.systemd.services;
  assert.equal(Object.keys(services).sort(), [
    'netvault',
    'netvault-landing',
    'prowlarr',
    'radarr',
    'sabnzbd',
    'sonarr',
  ]);
  for (const name of ['netvault', 'netvault-landing']) {
    const unit: UnitSections = expected[`${name}.service`];
    assert.equal(services[name].unitConfig, unit.Unit, name);
    assert.equal(services[name].serviceConfig, asServiceConfig(unit.Service), name);
    assert.equal(services[name].wantedBy, unit.Install.WantedBy, name);
  }
  assert.is(services.netvault.reloadIfChanged, true);
  assert.equal(services.netvault.reloadTriggers, [text]);
  for (const name of DEFAULT_SERVICES) {
    const dropIn = expected[`${name}.service.d/netvault.conf`];
    assert.equal(services[name], { unitConfig: dropIn.Unit, serviceConfig: dropIn.Service }, name);
  }
  assert.equal(config.networking.dhcpcd.denyInterfaces, ['veth-host', 'privado']);
  assert.equal(config.services.traefik.dynamicConfigOptions, {});
});

it("the home server's choices: Traefik routes, no landing page, another vault", () => {
  const { config } = evaluateModule({
    enable: true,
    vault: 'arr-vault',
    unitName: 'vault-arr',
    services: ['sonarr', 'radarr'],
    ports: { sonarr: 8989, radarr: 7878 },
    veth: { hostAddress: '10.200.7.1/30', vaultAddress: '10.200.7.2/30' },
    allowList: ['192.168.2.0/24', '100.64.0.0/10'],
    landingZone: { enable: false },
    traefik: { enable: true, domain: 'nixhome.lan', entryPoint: 'web' },
    settings: { fallbackMetric: 100 },
  });
  const parsed = parseConfigText(config.environment.etc['netvault/netvault.json'].text, 'n.json');
  assert.is(parsed.vault, 'arr-vault');
  assert.is(parsed.veth.vaultAddress, '10.200.7.2/30');
  assert.is(parsed.veth.host, 'veth-host');
  assert.equal(parsed.firewall.servicePorts, [7878, 8989]);
  assert.is(parsed.fallbackMetric, 100);

  assert.equal(Object.keys(config.systemd.services).sort(), [
    'radarr',
    'sonarr',
    'vault-arr',
    'vault-arr-ingest',
  ]);
  assert.equal(config.systemd.services.sonarr.unitConfig.BindsTo, ['vault-arr.service']);
  assert.equal(config.systemd.services.sonarr.serviceConfig.NetworkNamespacePath, [
    '/run/netns/arr-vault',
  ]);
  assert.match(
    config.systemd.services['vault-arr-ingest'].serviceConfig.ExecStart,
    /\/bin\/netvault ingest --watch \/run\/netvault\/landing /,
  );

  assert.equal(
    config.services.traefik.dynamicConfigOptions,
    traefikDynamicConfig({
      services: [
        { name: 'radarr', port: 7878 },
        { name: 'sonarr', port: 8989 },
      ],
      upstream: '10.200.7.2',
      allowList: ['192.168.2.0/24', '100.64.0.0/10'],
      domain: 'nixhome.lan',
      entryPoint: 'web',
      listen: ':80',
    }),
  );
});

it("the README's example for nixhome parses and evaluates through the module", () => {
  const readme = readFileSync(resolve('README.md'), 'utf8');
  const section = readme.slice(
    readme.indexOf('\n## NixOS\n'),
    readme.indexOf('\n## Known limits\n'),
  );
  const example = /```nix\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(example, 'a nix block in the NixOS section');
  const dir = mkdtempSync(join(tmpdir(), 'nvt-nix-'));
  try {
    writeFileSync(join(dir, 'configuration.nix'), example);
    writeFileSync(join(dir, 'harness.nix'), harness);
    nix(['--parse', join(dir, 'configuration.nix')]);
    const { options, config } = evaluate(`let
      host = import ${dir}/configuration.nix {
        pkgs.callPackage = path: args: { outPath = "${store}"; };
      };
    in import ${dir}/harness.nix {
      moduleFile = ${nixDir}/module.nix;
      user = builtins.removeAttrs host.services.netvault [ "package" ];
    }`);
    assert.equal(options.allowList, [
      '127.0.0.0/8',
      '192.168.2.0/24',
      '100.64.0.0/10',
      'fd7a:115c:a1e0::/48',
    ]);
    const routes = config.services.traefik.dynamicConfigOptions.http;
    assert.equal(Object.keys(routes.routers).sort(), ['prowlarr', 'radarr', 'sabnzbd', 'sonarr']);
    assert.is(routes.routers.sonarr.rule, 'Host(`sonarr.nixhome.lan`)');
    assert.equal(routes.services.sabnzbd.loadBalancer.servers, [{ url: 'http://10.200.1.2:8080' }]);
    assert.match(
      config.systemd.services['netvault-landing'].serviceConfig.ExecStart,
      /landing-zone --listen 192\.168\.2\.73:10023 .* --allow 127\.0\.0\.0\/8,192\.168\.2\.0\/24,/,
    );
    assert.equal(Object.keys(config.systemd.services).sort(), [
      'netvault',
      'netvault-landing',
      'prowlarr',
      'radarr',
      'sabnzbd',
      'sonarr',
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.after(() => rmSync(state, { recursive: true, force: true }));

test.run();
