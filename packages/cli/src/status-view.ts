// `netvault status` drawn for a terminal.
import type { VaultConfig } from './config.ts';
import type { TopologyStatus } from './topology.ts';

function age(seconds: number | undefined): string {
  if (seconds === undefined) return 'never';
  if (seconds < 120) return `${seconds} s ago`;
  return `${Math.round(seconds / 60)} min ago`;
}

function bytes(count: number | bigint | undefined): string {
  const n = Number(count ?? 0);
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 ** 2).toFixed(1)} MiB`;
}

export function formatStatus(s: TopologyStatus, config: VaultConfig): string {
  const hostEnd = s.veth.host;
  const vaultEnd = s.veth.vault;
  const peer = s.tunnel?.wg?.peers[0];
  const mark = (ok: boolean) => (ok ? '' : '  ✗');
  const routes = s.routes.map((r) => `${r.type === 'unicast' ? '' : `${r.type} `}default${r.device ? ` dev ${r.device}` : ''} (IPv${r.family}${r.metric ? `, metric ${r.metric}` : ''})`);
  const lines = [
    `host (${config.hostNamespace ?? 'this namespace'})                vault netns ${s.vault}${s.namespace ? '' : ' ✗ missing'}`,
    `┌───────────────────────────────┐        ┌────────────────────────────────────────┐`,
    `│ ${(hostEnd ? `${hostEnd.name} ${hostEnd.address ?? '(no address)'}${hostEnd.up ? '' : ' down'}` : `${config.veth.host} ✗ missing`).padEnd(30)}│◄──────►│ ${(vaultEnd ? `${vaultEnd.name} ${vaultEnd.address ?? '(no address)'}${vaultEnd.up ? '' : ' down'}` : `${config.veth.vault} ✗ missing`).padEnd(39)}│`,
    `│ firewall ${(s.firewall.host ? 'in place' : '✗ missing').padEnd(21)}│        │ firewall ${(s.firewall.vault ? 'in place' : '✗ missing').padEnd(30)}│`,
    `│ forwarding ${s.hostForwarding.padEnd(19)}│        │ ${(s.tunnel ? `${s.tunnel.name} ${s.tunnel.addresses.join(' ')}${s.tunnel.up ? '' : ' down'}` : `${config.tunnel.interface} ✗ missing`).padEnd(39)}│`,
    `│ (tunnel's UDP socket lives here)│      │ DNS ${(s.dns.join(', ') || '✗ none').padEnd(35)}│`,
    `└───────────────────────────────┘        └────────────────────────────────────────┘`,
    `tunnel: ${peer ? `peer ${peer.publicKey.slice(0, 8)}… endpoint ${peer.endpoint ?? '(none)'}, handshake ${age(peer.handshakeAgeSeconds)}, rx ${bytes(peer.rxBytes)} tx ${bytes(peer.txBytes)}` : s.tunnel?.error ?? 'no WireGuard status'}`,
    `vault default routes: ${routes.join('; ') || 'none'}`,
    s.healthy ? 'healthy' : `problems:${mark(false)}\n${s.problems.map((p) => `  - ${p}`).join('\n')}`,
  ];
  return lines.join('\n');
}
