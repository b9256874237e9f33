// Error classes of @netvault/wg. Every error says which operation failed (`op`) and keeps the
// underlying error as `cause`. None of them ever carries key material: a bad key is described,
// never echoed.

export interface WgErrorOptions {
  /** The operation that failed, e.g. `parseConfig` or `publicKeyFromPrivate`. */
  op: string;
  cause?: unknown;
}

/** Base class of every error thrown by @netvault/wg. */
export class WgError extends Error {
  readonly op: string;

  constructor(message: string, options: WgErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'WgError';
    this.op = options.op;
  }
}

export interface WgConfigErrorOptions extends WgErrorOptions {
  /** File name given to the parser, if any. */
  source?: string;
  /** 1-based line of the offending text. */
  line: number;
  /** The key as written on that line, when there is one and it is safe to repeat. */
  key?: string;
  /** What the parser expected there, in words. */
  expected: string;
}

/** A wg-quick configuration text that `wg setconf` or wg-quick would refuse. */
export class WgConfigError extends WgError {
  readonly source: string | undefined;
  readonly line: number;
  readonly key: string | undefined;
  readonly expected: string;

  constructor(message: string, options: WgConfigErrorOptions) {
    super(message, options);
    this.name = 'WgConfigError';
    this.source = options.source;
    this.line = options.line;
    this.key = options.key;
    this.expected = options.expected;
  }
}

/** A WireGuard key that is not base64 of 32 bytes. The message never contains the value. */
export class WgKeyError extends WgError {
  constructor(message: string, options: WgErrorOptions) {
    super(message, options);
    this.name = 'WgKeyError';
  }
}
