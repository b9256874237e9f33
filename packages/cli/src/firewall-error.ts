// The one error class of the firewall layer. Options refused before nft runs carry `reason`;
// failures of `nft` itself carry its exit code, its own text, and, when nft named a line of the
// script, that line.

export interface FirewallErrorDetails {
  /** What was being done: `ruleset` (building the script), `nft apply`, `nft list`, … */
  op: string;
  /** The table concerned, as `FAMILY NAME`, when there is one. */
  table?: string;
  /** nft's exit code. */
  exitCode?: number;
  /** nft's standard error, as it printed it. */
  stderr?: string;
  /** 1-based line of the script that nft complained about first. */
  line?: number;
  /** That line's text. */
  lineText?: string;
  /** A short reason for errors that have no nft output (bad options, unreadable output). */
  reason?: string;
  cause?: unknown;
}

/** nft's first located complaint: `/dev/stdin:12:3-10: Error: …`. */
const NFT_LOCATION = /^[^\n:]*:(\d+):\d+(?:-\d+)?: Error: (.*)$/m;

/** The first error line of nft's stderr, without the caret drawing under it. */
function firstNftError(stderr: string): string | undefined {
  const located = NFT_LOCATION.exec(stderr);
  if (located) return located[2];
  const plain = /^Error: (.*)$/m.exec(stderr);
  if (plain) return plain[1];
  const first = stderr.split('\n').find((line) => line.trim() !== '');
  return first?.trim();
}

export class FirewallError extends Error {
  readonly op: string;
  readonly table: string | undefined;
  readonly exitCode: number | undefined;
  readonly stderr: string | undefined;
  readonly line: number | undefined;
  readonly lineText: string | undefined;
  readonly reason: string | undefined;

  constructor(details: FirewallErrorDetails) {
    const target = details.table === undefined ? '' : ` of table ${details.table}`;
    const parts = [
      details.exitCode === undefined ? undefined : `exit ${details.exitCode}`,
      details.reason,
      details.stderr === undefined ? undefined : firstNftError(details.stderr),
      details.line === undefined
        ? undefined
        : `at script line ${details.line}${details.lineText ? `: ${details.lineText.trim()}` : ''}`,
    ].filter(Boolean);
    super(
      `firewall: ${details.op}${target} failed: ${parts.join(': ')}`,
      details.cause === undefined ? undefined : { cause: details.cause },
    );
    this.name = 'FirewallError';
    this.op = details.op;
    this.table = details.table;
    this.exitCode = details.exitCode;
    this.stderr = details.stderr;
    this.line = details.line;
    this.lineText = details.lineText;
    this.reason = details.reason;
  }

  /** nft said the table (or another object named in the command) does not exist. */
  isNotFound(): boolean {
    return /No such file or directory/.test(this.stderr ?? '');
  }
}

export function isFirewallError(error: unknown): error is FirewallError {
  return error instanceof FirewallError;
}

/** An option refused while building a ruleset; nothing was sent to nft. */
export function invalidOption(
  what: string,
  value: unknown,
  reason: string,
  cause?: unknown,
): FirewallError {
  return new FirewallError({
    op: 'ruleset',
    reason: `${what} ${JSON.stringify(value)}: ${reason}`,
    cause,
  });
}

/**
 * The error for a failed `nft` run. When nft points at a line of `script`, the error carries
 * that line number and text.
 */
export function nftFailure(
  op: string,
  table: string | undefined,
  result: { exitCode: number | undefined; stderr: string },
  script?: string,
): FirewallError {
  const located = NFT_LOCATION.exec(result.stderr);
  const line = located ? Number(located[1]) : undefined;
  const lineText =
    line !== undefined && script !== undefined ? script.split('\n')[line - 1] : undefined;
  return new FirewallError({
    op,
    table,
    exitCode: result.exitCode,
    stderr: result.stderr,
    line,
    lineText,
  });
}
