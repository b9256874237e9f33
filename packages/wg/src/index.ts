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
export {
  WgIngestError,
  ingest,
  ingestMaxBytes,
  recoverIngest,
  type IngestOptions,
  type IngestRecovery,
  type IngestRefusal,
  type IngestRefusalCode,
  type IngestResult,
  type IngestStep,
  type IngestStepName,
  type IngestSuccess,
  type IngestedFiles,
  type TunnelParams,
  type TunnelPeerParams,
  type WgIngestErrorOptions,
} from './ingest.js';
export {
  isIgnoredLandingName,
  watchLandingZone,
  type LandingEvent,
  type LandingWatcher,
  type WatchLandingOptions,
} from './ingest-watch.js';
export { formatTunnelJson, formatTunnelNix } from './ingest-format.js';
export {
  WgInterface,
  WgInterfaceError,
  createInterface,
  deleteInterface,
  detectImplementation,
  moveInterface,
  openInterface,
  waitForHandshake,
  type CreateInterfaceOptions,
  type DeleteInterfaceOptions,
  type WaitForHandshakeOptions,
  type WgImplementation,
  type WgInterfaceErrorDetails,
} from './interface.js';
export {
  WgToolError,
  configureInterface,
  removePeer,
  setInterface,
  setPeer,
  showInterface,
  setconfText,
  syncConfig,
  type WgDeviceConfig,
  type WgInterfaceUpdate,
  type WgPeerUpdate,
  type WgRunOptions,
  type WgTarget,
  type WgToolErrorDetails,
} from './wgtool.js';
export {
  formatDuration,
  formatStatus,
  handshakeAge,
  parseDump,
  type ParseDumpOptions,
  type WgPeerStatus,
  type WgStatus,
} from './status.js';
