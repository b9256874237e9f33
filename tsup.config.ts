// The one build configuration every package uses: ESM for Node 22, with type declarations.
// A package's own tsup.config.ts calls packageConfig() with its entry points.
import { defineConfig, type Options } from 'tsup';

export function packageConfig(entry: Record<string, string>, extra: Options = {}) {
  return defineConfig({
    entry,
    format: ['esm'],
    target: 'node22',
    platform: 'node',
    dts: true,
    sourcemap: true,
    clean: true,
    splitting: false,
    treeshake: true,
    ...extra,
  });
}
