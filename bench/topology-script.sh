#!/usr/bin/env bash
# The media-vault topology built the plain way, with iproute2 and wg, as a hand-written systemd
# unit would: the baseline `bench/topology.ts` times `netvault up`/`down` against. It has no
# firewall. Every host-side command runs in the namespace named by HOST (`ip -n`, `ip netns
# exec`), so the machine's own network is never touched.
#
#   topology-script.sh up|down
#
# Settings come from the environment:
#   HOST VAULT                   the host's namespace (exists) and the vault's (made here)
#   VETH_HOST VETH_VAULT         the veth pair's ends
#   HOST_ADDR VAULT_ADDR         their addresses with prefix, e.g. 10.200.1.1/30
#   WG_NAME WG_KEY_FILE          the WireGuard interface, its private key file
#   WG_PEER WG_ENDPOINT WG_ALLOWED   the peer's public key, endpoint, allowed IPs
#   TUNNEL_ADDR DNS METRIC       the tunnel's address, its resolver, the fallback routes' metric
set -euo pipefail
# TRACE_TIMES=1: print every command with a timestamp (the benchmark's per-step breakdown).
if [[ -n "${TRACE_TIMES:-}" ]]; then
	PS4='+ ${EPOCHREALTIME} '
	set -x
fi

up() {
	ip netns add "$VAULT"
	ip -n "$HOST" link add "$VETH_HOST" type veth peer name "$VETH_VAULT" netns "$VAULT"
	ip -n "$HOST" addr add "$HOST_ADDR" dev "$VETH_HOST"
	ip -n "$VAULT" addr add "$VAULT_ADDR" dev "$VETH_VAULT"

	# Born in the host's namespace, so its UDP socket stays there once the link moves. In daemon
	# mode wireguard-go returns once its TUN link and control socket exist.
	ip netns exec "$HOST" wireguard-go "$WG_NAME" >/dev/null 2>&1
	printf '[Interface]\nPrivateKey = %s\n\n[Peer]\nPublicKey = %s\nEndpoint = %s\nAllowedIPs = %s\n' \
		"$(<"$WG_KEY_FILE")" "$WG_PEER" "$WG_ENDPOINT" "$WG_ALLOWED" |
		ip netns exec "$HOST" wg setconf "$WG_NAME" /dev/stdin
	ip -n "$HOST" link set "$WG_NAME" netns "$VAULT"
	ip -n "$VAULT" addr add "$TUNNEL_ADDR" dev "$WG_NAME"

	ip -n "$VAULT" link set lo up
	ip -n "$VAULT" link set "$VETH_VAULT" up
	ip -n "$HOST" link set "$VETH_HOST" up
	ip -n "$VAULT" link set "$WG_NAME" up
	ip -n "$VAULT" route add default dev "$WG_NAME"
	ip -n "$VAULT" route add unreachable default metric "$METRIC"
	ip -n "$VAULT" -6 route add unreachable default metric "$METRIC"

	mkdir -p "/etc/netns/$VAULT"
	printf 'nameserver %s\n' "$DNS" >"/etc/netns/$VAULT/resolv.conf"
}

down() {
	# Deleting the TUN link ends wireguard-go; wait (bounded) until its socket is gone, so the
	# name is free for the next `up`.
	ip -n "$VAULT" link del "$WG_NAME"
	for _ in $(seq 200); do
		[[ -e "/var/run/wireguard/$WG_NAME.sock" ]] || break
		sleep 0.005
	done
	ip -n "$HOST" link del "$VETH_HOST"
	ip netns del "$VAULT"
	rm -rf "/etc/netns/$VAULT"
}

case "${1:-}" in
up) up ;;
down) down ;;
*)
	echo "usage: $0 up|down" >&2
	exit 2
	;;
esac
