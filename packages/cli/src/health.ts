// When is a tunnel's handshake too old? WireGuard renews a session every two minutes while
// packets flow; a peer with a persistent keepalive always has packets flowing. Without a
// keepalive a quiet tunnel legitimately goes without handshakes, so only "never" counts there.
import type { WgPeerStatus } from '@netvault/wg';

export const STALE_HANDSHAKE_SECONDS = 180;

/** A reason the peer's handshake is a problem, or undefined when it is fine. */
export function handshakeProblem(peer: WgPeerStatus | undefined): string | undefined {
  if (!peer) return 'the tunnel has no peer';
  const age = peer.handshakeAgeSeconds;
  if (age === undefined) return 'no handshake with the provider yet';
  if (peer.persistentKeepalive > 0 && age > STALE_HANDSHAKE_SECONDS) {
    return `no handshake for ${age} s despite a ${peer.persistentKeepalive} s keepalive`;
  }
  return undefined;
}
