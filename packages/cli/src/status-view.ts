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

/** Two boxes side by side joined by the veth pair, each as wide as its longest line. */
function boxes(leftTitle: string, left: string[], rightTitle: string, right: string[]): string[] {
  const width = (lines: string[]) => Math.max(...lines.map((line) => [...line].length)) + 2;
  const pad = (line: string, size: number) => line + ' '.repeat(size - [...line].length);
  const leftWidth = width([leftTitle, ...left]);
  const rightWidth = width([rightTitle, ...right]);
  const rows = Math.max(left.length, right.length);
  const out = [
    `${pad(leftTitle, leftWidth + 2)}        ${rightTitle}`,
    `┌${'─'.repeat(leftWidth)}┐        ┌${'─'.repeat(rightWidth)}┐`,
  ];
  for (let row = 0; row < rows; row += 1) {
    const link = row === 0 ? '◄──────►' : '        ';
    out.push(
      `│ ${pad(left[row] ?? '', leftWidth - 1)}│${link}│ ${pad(right[row] ?? '', rightWidth - 1)}│`,
    );
  }
  out.push(`└${'─'.repeat(leftWidth)}┘        └${'─'.repeat(rightWidth)}┘`);
  return out;
}

export function formatStatus(s: TopologyStatus, config: VaultConfig): string {
  const hostEnd = s.veth.host;
  const vaultEnd = s.veth.vault;
  const peer = s.tunnel?.wg?.peers[0];
  const end = (e: typeof hostEnd, name: string) =>
    e ? `${e.name} ${e.address ?? '(no address)'}${e.up ? '' : ' down'}` : `${name} ✗ missing`;
  const routes = s.routes.map(
    (r) =>
      `${r.type === 'unicast' ? '' : `${r.type} `}default` +
      `${r.device ? ` dev ${r.device}` : ''} (IPv${r.family}${r.metric ? `, metric ${r.metric}` : ''})`,
  );
  const lines = boxes(
    `host (${config.hostNamespace ?? 'this namespace'})`,
    [
      end(hostEnd, config.veth.host),
      `firewall ${s.firewall.host ? 'in place' : '✗ missing'}`,
      `forwarding: ip_forward ${s.hostForwarding}`,
      "the tunnel's UDP socket lives here",
    ],
    `vault: netns ${s.vault}${s.namespace ? '' : ' ✗ missing'}`,
    [
      end(vaultEnd, config.veth.vault),
      `firewall ${s.firewall.vault ? 'in place' : '✗ missing'}`,
      s.tunnel
        ? `${s.tunnel.name} ${s.tunnel.addresses.join(' ')}${s.tunnel.up ? '' : ' down'}`
        : `${config.tunnel.interface} ✗ missing`,
      `DNS ${s.dns.join(', ') || '✗ none'}`,
    ],
  );
  lines.push(
    `tunnel: ${
      peer
        ? `peer ${peer.publicKey.slice(0, 8)}… endpoint ${peer.endpoint ?? '(none)'}, ` +
          `handshake ${age(peer.handshakeAgeSeconds)}, rx ${bytes(peer.rxBytes)} tx ${bytes(peer.txBytes)}`
        : (s.tunnel?.error ?? 'no WireGuard status')
    }`,
    `vault default routes: ${routes.join('; ') || 'none'}`,
    s.healthy ? 'healthy' : `problems:\n${s.problems.map((p) => `  - ${p}`).join('\n')}`,
  );
  return lines.join('\n');
}
