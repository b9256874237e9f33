// Every file of the configuration corpus (test/fixtures/configs) against what its header says:
// accepted, or refused at that line for that key. Formatting an accepted file and parsing the
// result gives the same config. No root needed; config-wg.test.ts holds the same corpus against
// the real `wg`.
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { formatConfig, parseConfig, stripWgQuickKeys } from '../src/config.js';
import { WgConfigError } from '../src/errors.js';
import { readCorpus } from './fixtures/configs/corpus.js';

const corpus = readCorpus();

test('the corpus holds at least 40 files, accepted and refused ones, several providers', () => {
  assert.ok(corpus.length >= 40, `${corpus.length} files`);
  assert.ok(corpus.filter((file) => file.expect.ok).length >= 15);
  assert.ok(corpus.filter((file) => !file.expect.ok && file.wg === 'rejects').length >= 15);
  assert.ok(corpus.filter((file) => !file.expect.ok && file.wg === 'accepts').length >= 10);
  assert.ok(corpus.some((file) => file.wg === 'unresolvable'));
});

for (const file of corpus) {
  const { expect } = file;
  if (expect.ok) {
    test(`${file.name}: accepted, and formatted text parses back the same`, () => {
      const config = parseConfig(file.text, { source: file.path });

      assert.equal(parseConfig(formatConfig(config)), config);
      const bare = parseConfig(formatConfig(config, { wgQuickKeys: false }));
      assert.equal(bare.peers, config.peers);
      assert.equal(parseConfig(stripWgQuickKeys(file.text)).peers, config.peers);
    });
    continue;
  }

  test(`${file.name}: refused at line ${expect.line}, key ${expect.key ?? '(none)'}`, () => {
    try {
      parseConfig(file.text, { source: file.path });
      assert.unreachable('parsed without error');
    } catch (error) {
      assert.instance(error, WgConfigError);
      const configError = error as WgConfigError;
      assert.is(configError.line, expect.line, configError.message);
      assert.is(configError.key, expect.key, configError.message);
      assert.ok(configError.message.startsWith(`wg config ${file.path}:${expect.line}: `));

      // Throwaway keys or not, no key of the file shows up in the message.
      for (const run of file.text.match(/[A-Za-z0-9+/]{20,}/g) ?? []) {
        assert.not.ok(configError.message.includes(run.slice(0, 20)), configError.message);
      }
    }
  });
}

test.run();
