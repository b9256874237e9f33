// The two renderings of a tunnel's public parameters that ingest writes: JSON for netvault
// itself and a Nix attribute set for NixOS configurations. Neither ever holds key material,
// only the paths of the key files.
import type { TunnelParams } from './ingest.js';

/** `tunnel.json`: two-space indented, keys in a fixed order, ending with a newline. */
export function formatTunnelJson(tunnel: TunnelParams): string {
  return `${JSON.stringify(tunnel, null, 2)}\n`;
}

/**
 * `tunnel.nix`: the same data as one attribute set, e.g. for
 * `let tunnel = import /var/lib/netvault/tunnel.nix; in …`.
 */
export function formatTunnelNix(tunnel: TunnelParams, comment: string[] = []): string {
  const header = comment.map((line) => `# ${line.replace(/[\r\n]+/g, ' ')}\n`).join('');
  return `${header}${nixValue(tunnel, '')}\n`;
}

type NixInput = string | number | boolean | undefined | NixInput[] | { [key: string]: NixInput };

/**
 * A Nix double-quoted string. Inside one, `\` and `"` must be escaped, `${` would start an
 * interpolation and `$${` has its own quirks, so every `$` is written `\$` (Nix reads `\c` as
 * `c` for any `c` other than n, r and t).
 */
export function nixString(value: string): string {
  const escaped = value.replace(/[\\"$\n\r\t]/g, (char) => {
    switch (char) {
      case '\n':
        return '\\n';
      case '\r':
        return '\\r';
      case '\t':
        return '\\t';
      default:
        return `\\${char}`;
    }
  });
  return `"${escaped}"`;
}

/** An attribute name: bare when it is a Nix identifier (and not a keyword), quoted otherwise. */
function nixName(name: string): string {
  const keywords = ['if', 'then', 'else', 'assert', 'with', 'let', 'in', 'rec', 'inherit', 'or'];
  if (/^[A-Za-z_][A-Za-z0-9_'-]*$/.test(name) && !keywords.includes(name)) return name;
  return nixString(name);
}

function nixValue(value: unknown, indent: string): string {
  const inner = `${indent}  `;

  if (typeof value === 'string') return nixString(value);

  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new TypeError(`not an integer for Nix: ${value}`);
    return String(value);
  }

  if (typeof value === 'boolean') return String(value);

  if (Array.isArray(value)) {
    if (value.length === 0) return '[ ]';
    const items = value.map((item) => `${inner}${nixValue(item, inner)}\n`).join('');
    return `[\n${items}${indent}]`;
  }

  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value as Record<string, NixInput>).filter(
      ([, item]) => item !== undefined,
    );
    if (entries.length === 0) return '{ }';
    const lines = entries
      .map(([name, item]) => `${inner}${nixName(name)} = ${nixValue(item, inner)};\n`)
      .join('');
    return `{\n${lines}${indent}}`;
  }

  throw new TypeError(`cannot write ${typeof value} as Nix`);
}
