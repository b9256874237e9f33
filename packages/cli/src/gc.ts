// `netvault gc`: removes what netvault made for vaults that no longer exist, for example after
// a crash or after a vault was renamed in the config. Only objects carrying netvault's mark are
// considered: links whose alias is `netvault:VAULT`, nft tables whose comment is
// `netvault:vault=VAULT,…`, and /etc/netns/VAULT/resolv.conf files that netvault wrote.
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { namespaceExists, type NetnsHandle } from '@netvault/netns';
import { deleteInterface } from '@netvault/wg';
import { Transaction, type Reporter } from './changes.ts';
import { deleteTable, listNetvaultTables } from './firewall.ts';
import { MARK } from './topology.ts';

export const RESOLV_MARK = '# written by netvault';

function vaultOfAlias(alias: string | undefined): string | undefined {
  return alias?.startsWith(`${MARK}:`) ? alias.slice(MARK.length + 1) : undefined;
}

/** Removes orphaned netvault objects seen from `host`; `keep` names vaults never to touch. */
export async function gc(
  host: NetnsHandle,
  report: Reporter,
  keep: string[] = [],
): Promise<{ changed: boolean }> {
  const tx = new Transaction(report);
  const orphan = (vault: string) => !keep.includes(vault) && !namespaceExists(vault);

  for (const link of await host.linkList()) {
    const vault = vaultOfAlias(link.alias);
    if (!vault || !orphan(vault)) continue;
    if (link.kind === 'wireguard' || link.kind === 'tun') {
      await deleteInterface({ name: link.name, namespace: host }, { missingOk: true });
    } else {
      await host.linkDelete(link.index).catch(() => undefined);
    }
    tx.note('-', `link del ${link.name} (${host.label}; vault ${vault} is gone)`);
  }

  for (const table of await listNetvaultTables(host)) {
    if (!orphan(table.mark.vault)) continue;
    if (await deleteTable(host, table.family, table.name)) {
      tx.note(
        '-',
        `nft delete table ${table.family} ${table.name} (vault ${table.mark.vault} is gone)`,
      );
    }
  }

  if (existsSync('/etc/netns')) {
    for (const vault of readdirSync('/etc/netns')) {
      const resolv = `/etc/netns/${vault}/resolv.conf`;
      if (!orphan(vault) || !existsSync(resolv)) continue;
      if (!readFileSync(resolv, 'utf8').startsWith(RESOLV_MARK)) continue;
      rmSync(`/etc/netns/${vault}`, { recursive: true, force: true });
      tx.note('-', `rm /etc/netns/${vault} (vault ${vault} is gone)`);
    }
  }

  if (!tx.changed) tx.note('=', "nothing of netvault's is orphaned");
  return { changed: tx.changed };
}
