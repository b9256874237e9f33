// `netvault watch`: follows the tunnel. Link events from the vault tell at once when the tunnel
// disappears or goes down; the handshake age tells when the provider went quiet. On recovery
// it runs `up`, which re-reads the config (a hostname endpoint is resolved again by `wg`), and
// never adds any route outside the tunnel: while the tunnel is down the vault has no way out.
import { namespaceExists, openNamespace } from '@netvault/netns';
import { showInterface } from '@netvault/wg';
import type { Reporter } from './changes.ts';
import { handshakeProblem } from './health.ts';
import type { VaultConfig } from './config.ts';
import { up } from './topology.ts';

export async function watch(
  config: VaultConfig,
  options: {
    intervalSeconds: number;
    report: Reporter;
    say: (line: string) => void;
    rounds?: number;
  },
): Promise<number> {
  let healthy: boolean | undefined;
  let stop = false;
  const onSignal = () => {
    stop = true;
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  for (
    let round = 0;
    !stop && (options.rounds === undefined || round < options.rounds);
    round += 1
  ) {
    let problem: string | undefined;
    if (!namespaceExists(config.vault)) {
      problem = `vault ${config.vault} is gone`;
    } else {
      const vault = openNamespace({ name: config.vault });
      try {
        const link = await vault.linkFind(config.tunnel.interface);
        if (!link) problem = `tunnel ${config.tunnel.interface} is gone`;
        else if (!link.up) problem = `tunnel ${config.tunnel.interface} is down`;
        else {
          const status = await showInterface({ name: config.tunnel.interface, namespace: vault });
          problem = handshakeProblem(status.peers[0]);
        }
      } catch (error) {
        problem = (error as Error).message;
      } finally {
        vault.close();
      }
    }
    const now = new Date().toISOString();
    if (problem && healthy !== false)
      options.say(`${now} tunnel lost: ${problem}; the vault has no way out`);
    if (!problem && healthy !== true)
      options.say(`${now} tunnel ${healthy === false ? 'recovered' : 'up'}`);
    healthy = !problem;
    if (problem) {
      try {
        await up(config, options.report);
      } catch (error) {
        options.say(`${now} repair failed, will retry: ${(error as Error).message}`);
      }
    }
    if (stop) break;
    await new Promise((resolve) => setTimeout(resolve, options.intervalSeconds * 1000));
  }
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  return 0;
}
