# NixOS module for netvault: the vault as a systemd unit, the landing page (or the ingest
# watcher), chosen services moved into the vault, and optionally Traefik routes to them.
#
#   imports = [ ./netvault/nix/module.nix ];
#   services.netvault.enable = true;
#
# The units are the ones `netvault systemd` writes (nix/units.nix builds both).
{ config, lib, pkgs, ... }:

let
  inherit (lib) mkIf mkMerge mkOption types literalExpression;

  cfg = config.services.netvault;
  generate = import ./units.nix;
  configPath = "/etc/netvault/netvault.json";
  tunnelDir = dirOf cfg.tunnel.file;

  stringOption = default: description: mkOption { type = types.str; inherit default description; };

  units = generate.units {
    inherit (cfg) vault services unitName;
    command = [ "${cfg.package}/bin/netvault" ];
    inherit configPath;
    ingest = {
      configDir = tunnelDir;
      keyDir = "${tunnelDir}/keys";
      inherit (cfg.tunnel) interface;
    };
    landing = {
      inherit (cfg.landingZone) enable listen directory;
      allow = cfg.allowList;
    };
  };

  # NixOS checks some [Service] keys (Type=, Restart=) against lists of words, so one-value
  # keys become strings; several values stay a list and become one line each.
  serviceKeys = lib.mapAttrs (_: values: if builtins.length values == 1 then builtins.head values
    else values);

  # A unit of our own, as a NixOS service.
  ownService = sections: {
    unitConfig = sections.Unit or { };
    serviceConfig = serviceKeys (sections.Service or { });
    wantedBy = (sections.Install or { }).WantedBy or [ ];
  };

  # The drop-in for a service some other module defines: lists only, which NixOS merges with
  # whatever that module sets.
  dropIn = sections: {
    unitConfig = sections.Unit;
    serviceConfig = sections.Service;
  };

  baseName = name: lib.removeSuffix ".service" name;
  unitOf = name: units.${"${name}.service"};
in
{
  options.services.netvault = {
    enable = lib.mkEnableOption
      "netvault, a WireGuard killswitch for services in a network namespace";

    package = mkOption {
      type = types.package;
      default = pkgs.callPackage ./package.nix { };
      defaultText = literalExpression "pkgs.callPackage ./nix/package.nix { }";
      description = ''
        The netvault CLI. The default builds this checkout; its first build prints the hash of
        the pnpm dependencies, to pass as `pnpmDepsHash`.
      '';
    };

    unitName = stringOption "netvault" ''
      Base name of the units: NAME.service for the vault, NAME-landing.service (or
      NAME-ingest.service), and NAME.conf drop-ins. Give each vault its own.
    '';

    vault = stringOption "media-vault" "Name of the vault's network namespace (under /run/netns).";

    veth = {
      host = stringOption "veth-host" "The veth end in the host namespace.";
      vault = stringOption "veth-vault" "The veth end in the vault.";
      hostAddress = stringOption "10.200.1.1/30" "Address of the host's veth end, with prefix.";
      vaultAddress = stringOption "10.200.1.2/30" ''
        Address of the vault's veth end, with prefix: where the reverse proxy finds the services.
      '';
    };

    tunnel = {
      interface = stringOption "privado" "Name of the WireGuard interface.";
      file = stringOption "/var/lib/netvault/tunnel.json" ''
        The tunnel's public parameters, written by the landing page or `netvault ingest`; the
        key files go into `keys/` next to it.
      '';
      implementation = mkOption {
        type = types.enum [ "auto" "kernel" "userspace" ];
        default = "auto";
        description = "Kernel WireGuard, wireguard-go, or the kernel when it has the module.";
      };
    };

    services = mkOption {
      type = types.listOf types.str;
      default = [ "sonarr" "radarr" "prowlarr" "sabnzbd" ];
      description = ''
        systemd services moved into the vault: they start after it, stop with it, see only its
        network and resolve names only through the tunnel's resolvers.
      '';
    };

    ports = mkOption {
      type = types.attrsOf types.port;
      default = { sonarr = 8989; radarr = 7878; prowlarr = 9696; sabnzbd = 8080; };
      description = ''
        Web ports of the services in the vault: the only TCP ports the host may open into it
        (`firewall.servicePorts`), and the targets of the Traefik routes.
      '';
    };

    allowList = mkOption {
      type = types.listOf types.str;
      default = generate.localRanges;
      defaultText = literalExpression "the local ranges of @netvault/cidr";
      description = "Client ranges let through by the landing page and the Traefik routes.";
    };

    landingZone = {
      enable = mkOption {
        type = types.bool;
        default = true;
        description = ''
          The upload page for a provider's WireGuard .conf. It also ingests files dropped into
          `directory`; without it, a plain ingest watcher does.
        '';
      };
      listen = stringOption "127.0.0.1:10023" "Address and port of the landing page.";
      directory = stringOption "/run/netvault/landing" ''
        The landing folder. Under /run it is a tmpfs that exists while the unit runs.
      '';
    };

    traefik = {
      enable = lib.mkEnableOption "Traefik routes to the services, behind the allow-list";
      domain = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "home.lan";
        description = "Routes Host(`sonarr.DOMAIN`); without it Host(`sonarr`).";
      };
      entryPoint = stringOption "web" "The Traefik entry point of the routes.";
    };

    settings = mkOption {
      type = types.attrs;
      default = { };
      example = literalExpression
        ''{ fallbackMetric = 4242; verify.mustNotReach = [ "192.168.2.1" ]; }'';
      description = "Further top-level keys of netvault.json, replacing the generated ones.";
    };
  };

  config = mkIf cfg.enable {
    environment.systemPackages = [ cfg.package ];

    environment.etc."netvault/netvault.json".text = builtins.toJSON (generate.config {
      inherit (cfg) vault veth tunnel settings;
      servicePorts = lib.attrValues cfg.ports;
    });

    # The CLI's own units; `nixos-rebuild switch` reloads the vault (an idempotent `up`) rather
    # than restarting it, which would stop every service in it.
    systemd.services = mkMerge ([
      {
        ${cfg.unitName} = ownService units."${cfg.unitName}.service" // {
          reloadIfChanged = true;
          reloadTriggers = [ config.environment.etc."netvault/netvault.json".text ];
        };
      }
      (if cfg.landingZone.enable
        then { "${cfg.unitName}-landing" = ownService (unitOf "${cfg.unitName}-landing"); }
        else { "${cfg.unitName}-ingest" = ownService (unitOf "${cfg.unitName}-ingest"); })
    ] ++ map (service: {
      ${baseName service} = dropIn units."${baseName service}.service.d/${cfg.unitName}.conf";
    }) cfg.services);

    # dhcpcd would otherwise try to configure the veth's host end and the tunnel (created on the
    # host before it moves into the vault).
    networking.dhcpcd.denyInterfaces = [ cfg.veth.host cfg.tunnel.interface ];

    services.traefik.dynamicConfigOptions = mkIf cfg.traefik.enable (generate.traefik {
      services = lib.mapAttrsToList (name: port: { inherit name port; }) cfg.ports;
      upstream = builtins.head (lib.splitString "/" cfg.veth.vaultAddress);
      inherit (cfg) allowList;
      inherit (cfg.traefik) domain entryPoint;
    });
  };
}
