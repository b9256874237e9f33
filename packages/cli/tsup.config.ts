import { packageConfig } from '../../tsup.config.ts';

// The command is one bundle, its dependencies inlined, so start-up stays small; only the native
// modules stay external (they find their prebuilt binaries next to their own files). The small
// `netvault.js` switches on Node's compile cache and then loads `netvault-main.js`, so that the
// bundle itself is cached.
export default packageConfig({
  index: 'src/index.ts',
  netvault: 'src/netvault.ts',
  'netvault-main': 'src/main.ts',
}, {
  noExternal: [/^(?!netlink$|koffi$)/],
  external: ['netlink', 'koffi'],
  banner: { js: '#!/usr/bin/env node' },
});
