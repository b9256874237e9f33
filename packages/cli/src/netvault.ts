// The `netvault` executable. It only switches on Node's compile cache and then loads the
// command: the cache keeps the compiled code of everything loaded after this point on disk (in
// Node's cache directory under the system's temp directory), so later runs start faster.
import { enableCompileCache } from 'node:module';

enableCompileCache?.();

// Built, the command is the bundle next to this file; run from source, it is main.ts.
const entry = import.meta.url.endsWith('.ts') ? './main.ts' : './netvault-main.js';
const { main } = (await import(entry)) as typeof import('./main.ts');
process.exitCode = await main();
