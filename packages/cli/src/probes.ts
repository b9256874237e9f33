// Probes run from inside a namespace: a TCP connect, a UDP send-and-wait, an ICMP echo, an HTTP
// GET. Each runs as a short process in the namespace (`ip netns exec`), so it uses that
// namespace's routes, firewall and resolv.conf exactly as a confined service would.
import type { NetnsHandle } from '@netvault/netns';

export type ProbeKind = 'tcp' | 'udp' | 'icmp' | 'http';

export interface ProbeResult {
  kind: ProbeKind;
  target: string;
  ok: boolean;
  detail: string;
  ms: number;
}

const probeScript = `
const [kind, host, port, timeout] = process.argv.slice(1);
const ms = Number(timeout);
const done = (ok, detail) => { process.stdout.write(JSON.stringify({ ok, detail })); process.exit(0); };
setTimeout(() => done(false, 'timed out'), ms);
if (kind === 'tcp') {
  const s = require('node:net').connect({ host, port: Number(port) });
  s.on('connect', () => { s.destroy(); done(true, 'connected'); });
  s.on('error', (e) => done(false, e.code || e.message));
} else if (kind === 'udp') {
  const s = require('node:dgram').createSocket(host.includes(':') ? 'udp6' : 'udp4');
  s.on('message', () => done(true, 'answered'));
  s.on('error', (e) => done(false, e.code || e.message));
  s.send(Buffer.from('netvault-probe'), Number(port), host, (e) => {
    if (e) done(false, e.code || e.message);
  });
} else if (kind === 'http') {
  fetch(host, { signal: AbortSignal.timeout(ms) }).then(
    async (r) => done(r.ok, (await r.text()).trim().slice(0, 200)),
    (e) => done(false, (e.cause && e.cause.code) || e.name || String(e)));
}
`;

export async function probe(
  handle: NetnsHandle,
  kind: ProbeKind,
  target: string,
  options: { port?: number; timeoutMs?: number } = {},
): Promise<ProbeResult> {
  const timeoutMs = options.timeoutMs ?? 2000;
  const start = performance.now();
  if (kind === 'icmp') {
    const ping = await handle.exec('ping', [
      target.includes(':') ? '-6' : '-4',
      '-c',
      '1',
      '-n',
      '-W',
      String(Math.max(1, Math.round(timeoutMs / 1000))),
      target,
    ]);
    const line = (ping.stdout + ping.stderr)
      .split('\n')
      .find((l) => /bytes from|unreachable|connect:|100% packet loss/i.test(l));
    return {
      kind,
      target,
      ok: ping.exitCode === 0,
      detail: (line ?? `exit ${ping.exitCode}`).trim(),
      ms: performance.now() - start,
    };
  }
  const result = await handle.exec(
    process.execPath,
    ['-e', probeScript, kind, target, String(options.port ?? 0), String(timeoutMs)],
    { timeoutMs: timeoutMs + 5000 },
  );
  let parsed = {
    ok: false,
    detail: `probe failed: ${result.stderr.trim() || `exit ${result.exitCode}`}`,
  };
  try {
    parsed = JSON.parse(result.stdout);
  } catch {
    // keep the failure above
  }
  const shown =
    kind === 'http' ? target : `${target.includes(':') ? `[${target}]` : target}:${options.port}`;
  return {
    kind,
    target: shown,
    ok: parsed.ok,
    detail: parsed.detail,
    ms: performance.now() - start,
  };
}
