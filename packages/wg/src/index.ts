export type { WgInterfaceSection, WgPeerSection, WgQuickConfig } from './config-types.js';
export {
  formatConfig,
  parseConfig,
  stripWgQuickKeys,
  type FormatConfigOptions,
  type ParseConfigOptions,
} from './config.js';
export {
  WgConfigError,
  WgError,
  WgKeyError,
  type WgConfigErrorOptions,
  type WgErrorOptions,
} from './errors.js';
export {
  generateKeyPair,
  generatePresharedKey,
  generatePrivateKey,
  isValidKey,
  publicKeyFromPrivate,
} from './keys.js';
