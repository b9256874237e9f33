export { NetnsError, isNetnsError, errnoName, type NetnsErrorDetails } from './errors.ts';
export {
  createNamespace,
  deleteNamespace,
  listNamespaces,
  namespaceExists,
  namespacePath,
  NETNS_RUN_DIR,
} from './namespaces.ts';
export {
  openNamespace,
  currentNamespace,
  NetnsHandle,
  sysctlPath,
  type NamespaceRef,
  type LinkRef,
  type ExecOptions,
  type ExecResult,
  type LinkWaitState,
} from './handle.ts';
export {
  RT_TABLE_MAIN,
  RT_TABLE_LOCAL,
  type Link,
  type OperState,
  type Address,
  type Route,
  type RouteSpec,
  type RouteType,
  type Rule,
  type RuleSpec,
  type TableRef,
} from './codec.ts';
export { NetnsEvents, type NetnsEvent, type EventKind } from './events.ts';
export { parsePrefix, parseAddress, formatAddress, type Family } from './validate.ts';
export { memoryFile, withNetns } from './syscalls.ts';
