// What the CLI tells the user: one line per change it makes to the system, in a fixed form
//   [+] netns add media-vault          created
//   [~] addr replace 10.200.1.1/30 …   changed or re-applied
//   [-] link del veth-host             removed
//   [=] link veth-host                 already as wanted, left alone
// and an undo list so a failed `up` removes what this run created.

export type ChangeSign = '+' | '-' | '~' | '=';

export interface Change {
  sign: ChangeSign;
  text: string;
}

export type Reporter = (change: Change) => void;

export function formatChange(change: Change): string {
  return `[${change.sign}] ${change.text}`;
}

/** Prints changes to stderr (stdout stays free for data); `quiet` keeps only removals on error. */
export function consoleReporter(options: { quiet?: boolean } = {}): Reporter {
  return (change) => {
    if (options.quiet) return;
    process.stderr.write(`${formatChange(change)}\n`);
  };
}

export class StepError extends Error {
  readonly step: string;

  constructor(step: string, cause: unknown) {
    super(`netvault: step "${step}" failed: ${(cause as Error)?.message ?? String(cause)}`, {
      cause,
    });
    this.name = 'StepError';
    this.step = step;
  }
}

/** Records what a run created, and removes it again in reverse order when the run fails. */
export class Transaction {
  readonly changes: Change[] = [];
  #undo: { text: string; run: () => Promise<void> | void }[] = [];
  #report: Reporter;

  constructor(report: Reporter) {
    this.#report = report;
  }

  /** Something was made; `undo` removes it and `undoText` names that removal. */
  created(text: string, undoText: string, undo: () => Promise<void> | void): void {
    this.note('+', text);
    this.#undo.push({ text: undoText, run: undo });
  }

  note(sign: ChangeSign, text: string): void {
    const change = { sign, text };
    this.changes.push(change);
    this.#report(change);
  }

  get changed(): boolean {
    return this.changes.some((change) => change.sign !== '=');
  }

  /** Runs one named step; a failure becomes a StepError naming it. */
  async step<T>(name: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      if (error instanceof StepError) throw error;
      throw new StepError(name, error);
    }
  }

  /** Undoes everything created so far, newest first; failures are reported, not thrown. */
  async rollback(): Promise<string[]> {
    const failures: string[] = [];
    for (const entry of this.#undo.reverse()) {
      try {
        await entry.run();
        this.#report({ sign: '-', text: entry.text });
      } catch (error) {
        failures.push(`${entry.text}: ${(error as Error).message}`);
      }
    }
    this.#undo = [];
    return failures;
  }
}
