# The netvault CLI built from this checkout with nixpkgs' pnpm support.
#
# The pnpm store is a fixed-output derivation: its hash is not known until the first build,
# which fails and prints it. Pass it back in:
#   pkgs.callPackage ./nix/package.nix { pnpmDepsHash = "sha256-…"; }
{
  lib,
  stdenv,
  nodejs_22,
  pnpm_10,
  makeWrapper,
  iproute2,
  iputils,
  nftables,
  util-linux,
  wireguard-go,
  wireguard-tools,
  pnpmDepsHash ? lib.fakeHash,
}:

stdenv.mkDerivation (finalAttrs: {
  pname = "netvault";
  version = "0.1.0";

  src = lib.cleanSourceWith {
    src = ../.;
    filter = path: type:
      let name = baseNameOf path; in
      !(builtins.elem name [ "node_modules" "dist" ".tools" ".git" ]);
  };

  pnpmDeps = pnpm_10.fetchDeps {
    inherit (finalAttrs) pname version src;
    fetcherVersion = 2;
    hash = pnpmDepsHash;
  };

  nativeBuildInputs = [ nodejs_22 pnpm_10.configHook makeWrapper ];

  buildPhase = ''
    runHook preBuild
    pnpm --filter 'netvault...' run build
    runHook postBuild
  '';

  # The bundle inlines the workspace libraries; it still needs the CLI's runtime dependencies
  # (netlink and koffi are native, execa and yaml are plain), so the production node_modules
  # go along with it.
  installPhase = ''
    runHook preInstall
    CI=true pnpm install --offline --prod --frozen-lockfile --ignore-scripts
    mkdir -p $out/lib/netvault/packages $out/bin
    cp -r node_modules $out/lib/netvault/
    cp -r packages/cli $out/lib/netvault/packages/cli
    # Links to the workspace libraries (inlined in the bundle) would point nowhere.
    find $out/lib/netvault -xtype l -delete
    makeWrapper ${lib.getExe nodejs_22} $out/bin/netvault \
      --add-flags $out/lib/netvault/packages/cli/dist/netvault.js \
      --prefix PATH : ${lib.makeBinPath [
        iproute2 iputils nftables util-linux wireguard-go wireguard-tools
      ]}
    runHook postInstall
  '';

  meta = {
    description = "A VPN killswitch for a home server, built from network namespaces and WireGuard";
    license = lib.licenses.mit;
    platforms = lib.platforms.linux;
    mainProgram = "netvault";
  };
})
