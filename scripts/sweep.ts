// Removes what crashed test runs left behind: namespaces named `nvt-<pid>-…` and wireguard-go
// processes and socket files of test interfaces (`nvw-…`) whose process is gone. Objects of a
// running process are never touched. Called by run-tests.mjs before the tests.
import { sweepTestNamespaces } from '@netvault/netns/testing';
import { sweepTestWireguard } from '@netvault/wg/testing';

if (process.getuid?.() === 0) {
  const namespaces = sweepTestNamespaces();
  const wireguard = await sweepTestWireguard();
  for (const name of [...namespaces, ...wireguard]) console.log(`[sweep] removed ${name}`);
}
