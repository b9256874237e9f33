// @netvault/cidr: IPv4/IPv6 allow-lists that answer at the speed of parsing the address.

export { CidrError, type CidrErrorCode, type CidrErrorDetails } from './errors.js';
export {
  formatAddress,
  isValidAddress,
  parseAddress,
  splitHostPort,
  type ParsedAddress,
} from './parse.js';
export { CidrSet, type CidrSetOptions } from './set.js';
export { excludeCidrs, mergeCidrs } from './ops.js';
export { loadCidrSet, parseCidrList, type LoadOptions } from './load.js';
export { LOCAL_RANGES, presets, type PresetRange } from './presets.js';
export {
  IpAllowList,
  IpStrategy,
  clientAddress,
  ipAllowList,
  type AllowDecision,
  type IpAllowListOptions,
  type IpStrategyOptions,
  type RequestLike,
} from './proxy.js';
