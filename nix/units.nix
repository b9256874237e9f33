# What netvault's NixOS module generates, written with builtins only so that it evaluates
# without nixpkgs: the config file, the systemd units and Traefik's dynamic configuration.
# Each function takes the same options as its TypeScript twin in packages/cli/src
# (systemd.ts: systemdUnits, proxy-config.ts: traefikDynamicConfig); a test evaluates both
# and compares them.
let
  inherit (builtins)
    concatStringsSep filter head listToAttrs map match replaceStrings stringLength substring;

  # Local ranges of @netvault/cidr (LOCAL_RANGES): loopback, link-local, private, CGNAT, and
  # their IPv6 counterparts.
  localRanges = [
    "127.0.0.0/8" "169.254.0.0/16" "10.0.0.0/8" "172.16.0.0/12" "192.168.0.0/16"
    "100.64.0.0/10" "::1/128" "fe80::/10" "fc00::/7"
  ];

  resolverSockets = [
    "/run/nscd" "/run/systemd/resolve" "/run/dbus/system_bus_socket" "/run/avahi-daemon/socket"
  ];

  serviceBaseName = name:
    let m = match "(.*)\\.service" name; in if m == null then name else head m;

  # One argument of an Exec line: plain when safe, else double-quoted; % and $ escaped.
  execArgument = arg:
    if match "[A-Za-z0-9_@+=:,./-]+" arg != null then arg
    else "\"" + replaceStrings [ "\\" "\"" "%" "$" ] [ "\\\\" "\\\"" "%%" "$$" ] arg + "\"";

  execLine = args: [ (concatStringsSep " " (map execArgument args)) ];

  under = prefix: paths:
    let n = stringLength prefix; in
    map (p: substring n (stringLength p) p) (filter (p: substring 0 n p == prefix) paths);

  # Under /var/lib: StateDirectory= (kept); under /run: RuntimeDirectory= (tmpfs, removed when
  # the unit stops); both 0700 and writable under ProtectSystem=strict. Else ReadWritePaths=.
  writable = paths:
    let
      state = under "/var/lib/" paths;
      runtime = under "/run/" paths;
      other = filter (p: under "/var/lib/" [ p ] == [ ] && under "/run/" [ p ] == [ ]) paths;
    in
    (if state == [ ] then { } else {
      StateDirectory = state;
      StateDirectoryMode = [ "0700" ];
    })
    // (if runtime == [ ] then { } else {
      RuntimeDirectory = runtime;
      RuntimeDirectoryMode = [ "0700" ];
      RuntimeDirectoryPreserve = [ "restart" ];
    })
    // (if other == [ ] then { } else { ReadWritePaths = other; });

  sandbox = {
    ProtectSystem = [ "strict" ];
    ProtectHome = [ "yes" ];
    PrivateTmp = [ "yes" ];
    NoNewPrivileges = [ "yes" ];
    UMask = [ "0077" ];
  };

  # { vault, command, configPath, services, unitName, ingest = { configDir, keyDir, interface };
  #   landing = { enable, listen, directory, allow }; }
  #   → { "netvault.service" = { Unit = { … }; Service = { … }; Install = { … }; }; … }
  units = o:
    let
      unit = serviceBaseName o.unitName;
      services = map serviceBaseName o.services;
      vaultUnit = "${unit}.service";
      config = [ "-c" o.configPath ];
      landingDir = o.landing.directory;
      inherit (o.ingest) configDir keyDir;

      vault = {
        Unit = {
          Description = [ "netvault vault ${o.vault} (network namespace, WireGuard killswitch)" ];
          After = [ "network-online.target" ];
          Wants = [ "network-online.target" ];
        } // (if services == [ ] then { } else { Before = map (s: "${s}.service") services; });
        Service = {
          Type = [ "oneshot" ];
          RemainAfterExit = [ "yes" ];
          ExecStart = execLine (o.command ++ [ "up" ] ++ config);
          ExecReload = execLine (o.command ++ [ "up" ] ++ config);
          ExecStop = execLine (o.command ++ [ "down" ] ++ config);
        };
        Install.WantedBy = [ "multi-user.target" ];
      };

      ingestArgs = [
        "--key-dir" keyDir "--config-dir" configDir "--name" o.ingest.interface
      ];

      # The landing page also watches its folder; a second watcher would race it.
      landing = {
        Unit = {
          Description = [ "netvault landing page on ${o.landing.listen}" ];
          After = [ "network-online.target" ];
          Wants = [ "network-online.target" ];
        };
        Service = {
          ExecStart = execLine (o.command
            ++ [ "landing-zone" "--listen" o.landing.listen "--landing" landingDir ]
            ++ ingestArgs
            ++ (if (o.landing.allow or [ ]) == [ ] then [ ]
                else [ "--allow" (concatStringsSep "," o.landing.allow) ]));
          Restart = [ "on-failure" ];
          RestrictAddressFamilies = [ "AF_UNIX" "AF_INET" "AF_INET6" ];
        } // sandbox // writable [ configDir keyDir landingDir ];
        Install.WantedBy = [ "multi-user.target" ];
      };

      ingest = {
        Unit.Description = [ "netvault ingest of WireGuard configurations from ${landingDir}" ];
        Service = {
          ExecStart = execLine (o.command ++ [ "ingest" "--watch" landingDir ] ++ ingestArgs);
          Restart = [ "on-failure" ];
          PrivateNetwork = [ "yes" ];
          RestrictAddressFamilies = [ "AF_UNIX" ];
        } // sandbox // writable [ configDir keyDir landingDir ];
        Install.WantedBy = [ "multi-user.target" ];
      };

      dropIn = {
        Unit = { BindsTo = [ vaultUnit ]; After = [ vaultUnit ]; };
        Service = {
          NetworkNamespacePath = [ "/run/netns/${o.vault}" ];
          BindReadOnlyPaths = [ "/etc/netns/${o.vault}/resolv.conf:/etc/resolv.conf" ];
          InaccessiblePaths = map (p: "-${p}") resolverSockets;
        };
      };
    in
    { ${vaultUnit} = vault; }
    // (if o.landing.enable then { "${unit}-landing.service" = landing; }
        else { "${unit}-ingest.service" = ingest; })
    // listToAttrs (map (s: { name = "${s}.service.d/${unit}.conf"; value = dropIn; }) services);

  # { services = [ { name, port } ]; upstream; allowList; domain (or null); entryPoint; }
  traefik = o:
    let
      middleware = "netvault-allowlist";
      host = s: if o.domain == null then s.name else "${s.name}.${o.domain}";
      each = f: listToAttrs (map (s: { name = s.name; value = f s; }) o.services);
    in
    {
      http = {
        middlewares.${middleware}.ipAllowList.sourceRange = o.allowList;
        routers = each (s: {
          rule = "Host(`${host s}`)";
          entryPoints = [ o.entryPoint ];
          middlewares = [ middleware ];
          service = s.name;
        });
        services = each (s: {
          loadBalancer.servers = [ { url = "http://${o.upstream}:${toString s.port}"; } ];
        });
      };
    };

  # The keys of netvault.json the module sets; `settings` adds or replaces top-level keys.
  config = o: {
    vault = o.vault;
    veth = { inherit (o.veth) host vault hostAddress vaultAddress; };
    tunnel = { inherit (o.tunnel) interface file implementation; };
    firewall.servicePorts = o.servicePorts;
  } // o.settings;
in
{
  inherit localRanges resolverSockets execArgument units traefik config;
}
