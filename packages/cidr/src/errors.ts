/** What went wrong, as a stable string a caller can switch on. */
export type CidrErrorCode =
  /** Not an IPv4 or IPv6 address (`parseAddress`). */
  | 'ERR_CIDR_ADDRESS'
  /** An entry given to a set is neither an address nor a prefix. */
  | 'ERR_CIDR_ENTRY'
  /** A prefix has bits set past its length, e.g. `10.0.0.1/8`, and `loose` is off. */
  | 'ERR_CIDR_HOST_BITS'
  /** A `host:port` string that `splitHostPort` cannot split. */
  | 'ERR_CIDR_HOST_PORT'
  /** An option out of range (`depth`, `ipv6Subnet`, …). */
  | 'ERR_CIDR_OPTION'
  /** Reading a list from a file or stream failed; `cause` holds the I/O error. */
  | 'ERR_CIDR_READ';

export interface CidrErrorDetails {
  code: CidrErrorCode;
  /** The text that was refused, as given. */
  entry?: string;
  /** Position of the entry in the iterable given to `CidrSet.from` (0-based). */
  index?: number;
  /** Line of the entry in a loaded list (1-based). */
  line?: number;
  /** Where a list was loaded from, when it was a file. */
  source?: string;
  /** The reason alone, without the operation and the entry: `IPv4 field has value >255`. */
  reason: string;
  cause?: unknown;
}

/**
 * The one error this package throws. The message starts with the operation
 * (`parse address`, `build set`, `load list`, `split host:port`, …), then names the entry and
 * where it was, then the reason.
 */
export class CidrError extends Error {
  override name = 'CidrError';
  readonly code: CidrErrorCode;
  readonly entry: string | undefined;
  readonly index: number | undefined;
  readonly line: number | undefined;
  readonly source: string | undefined;
  readonly reason: string;

  constructor(message: string, details: CidrErrorDetails) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = details.code;
    this.entry = details.entry;
    this.index = details.index;
    this.line = details.line;
    this.source = details.source;
    this.reason = details.reason;
  }
}

/** Quotes an entry for a message, cut short so a huge line does not flood a log. */
export function quoteEntry(text: string): string {
  const shown = text.length > 80 ? `${text.slice(0, 77)}...` : text;
  return JSON.stringify(shown);
}
