// Lists of prefixes kept in files: one entry a line, "#" starts a comment, blank lines skipped.

import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { CidrError, quoteEntry } from './errors.js';
import { CidrSetBuilder, type CidrSet, type CidrSetOptions } from './set.js';

export interface LoadOptions extends CidrSetOptions {
  /** Name used in error messages for a stream (a file's path is used by default). */
  source?: string;
}

/**
 * Builds a set from the text of a list: one entry a line, `#` to the end of a line is a
 * comment, blank lines and spaces around an entry are ignored. Errors name the line.
 *
 * ```ts
 * parseCidrList('# office\n10.1.0.0/16\n\n192.168.2.0/24  # lab\n')
 * ```
 */
export function parseCidrList(text: string, options: LoadOptions = {}): CidrSet {
  const builder = new CidrSetBuilder(options);
  const lines = new LineReader(builder, options.source);
  lines.push(text);
  return lines.finish();
}

/**
 * Loads a list from a file (a path or `file:` URL) or from a stream of text or bytes (UTF-8),
 * in the format of `parseCidrList`. A read error becomes a `CidrError` with code
 * `ERR_CIDR_READ` and the original error as `cause`.
 *
 * ```ts
 * const allowed = await loadCidrSet('/etc/netvault/allow.txt');
 * const fromStdin = await loadCidrSet(process.stdin, { source: 'stdin' });
 * ```
 */
export async function loadCidrSet(
  input: string | URL | AsyncIterable<string | Uint8Array>,
  options: LoadOptions = {},
): Promise<CidrSet> {
  if (typeof input === 'string' || input instanceof URL) {
    const path = typeof input === 'string' ? input : fileURLToPath(input);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      throw readError(options.source ?? path, error);
    }
    return parseCidrList(text, { ...options, source: options.source ?? path });
  }

  const builder = new CidrSetBuilder(options);
  const lines = new LineReader(builder, options.source);
  const decoder = new TextDecoder('utf-8', { fatal: true });
  try {
    for await (const chunk of input) {
      lines.push(typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true }));
    }
    lines.push(decoder.decode());
  } catch (error) {
    if (error instanceof CidrError) throw error;
    throw readError(options.source ?? 'stream', error);
  }
  return lines.finish();
}

function readError(source: string, cause: unknown): CidrError {
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new CidrError(`load list ${quoteEntry(source)}: ${detail}`, {
    code: 'ERR_CIDR_READ',
    source,
    reason: detail,
    cause,
  });
}

/** Cuts text arriving in chunks into lines and feeds their entries to a builder. */
class LineReader {
  private rest = '';
  private line = 0;

  constructor(
    private readonly builder: CidrSetBuilder,
    private readonly source: string | undefined,
  ) {}

  push(chunk: string): void {
    const text = this.rest + chunk;
    let from = 0;
    for (let newline = text.indexOf('\n'); newline >= 0; newline = text.indexOf('\n', from)) {
      this.entry(text, from, newline);
      from = newline + 1;
    }
    this.rest = text.slice(from);
  }

  finish(): CidrSet {
    if (this.rest !== '') this.entry(this.rest, 0, this.rest.length);
    this.rest = '';
    return this.builder.build();
  }

  private entry(text: string, from: number, to: number): void {
    this.line++;
    for (let i = from; i < to; i++) {
      if (text.charCodeAt(i) === 35) {
        to = i;
        break;
      }
    }
    while (from < to && isSpace(text.charCodeAt(from))) from++;
    while (to > from && isSpace(text.charCodeAt(to - 1))) to--;
    if (from === to) return;
    this.builder.add(text.slice(from, to), { line: this.line, source: this.source });
  }
}

/** Space, tab, carriage return (a CRLF file), form feed, vertical tab, BOM. */
function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 13 || c === 12 || c === 11 || c === 0xfeff;
}
