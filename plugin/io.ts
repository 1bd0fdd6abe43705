// The plugin's terminal: streams and the yes/no question, injected so that
// tests and the real process share every code path.
import { createInterface } from 'node:readline/promises';

export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** Whether a person can answer a question (stdin is a terminal). */
  interactive: boolean;
  /** Asks a yes/no question; true only on an explicit yes. */
  confirm(question: string): Promise<boolean>;
}

export function processIo(): Io {
  return {
    out: (t) => process.stdout.write(t),
    err: (t) => process.stderr.write(t),
    interactive: Boolean(process.stdin.isTTY),
    async confirm(question) {
      const rl = createInterface({ input: process.stdin, output: process.stderr });
      try {
        return /^(y|yes)$/i.test((await rl.question(`${question} [y/N] `)).trim());
      } finally {
        rl.close();
      }
    },
  };
}
