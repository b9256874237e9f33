import { packageConfig } from '../../tsup.config.ts';

// The command is one bundled file (the workspace libraries inlined) so start-up stays small;
// only the native modules and execa stay external.
export default packageConfig({ index: 'src/index.ts', netvault: 'src/netvault.ts' }, {
  noExternal: [/^@netvault\//, 'jsonc-parser'],
  external: ['netlink', 'koffi'],
  banner: { js: '#!/usr/bin/env node' },
});
