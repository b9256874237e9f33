export { main } from './main.ts';
export { loadConfig, parseConfigText, ConfigError, DEFAULTS, type VaultConfig } from './config.ts';
export { up, down, status, type TopologyStatus, type UpResult } from './topology.ts';
export { verify, formatVerify, type VerifyReport } from './verify.ts';
export { formatChange, type Change, type Reporter } from './changes.ts';
