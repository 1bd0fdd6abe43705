import { pino } from 'pino';
import { scrub } from './scrub.js';

let toStderr = false;
/** The local CLIs print their answer on stdout: their log lines go to stderr instead. */
export function logToStderr(): void {
  toStderr = true;
}

// pino JSON on stdout (a Job's log), every line scrubbed of the password.
export const log = pino(
  {
    base: { component: 'migrator' },
    timestamp: pino.stdTimeFunctions.isoTime,
    level: process.env.LOG_LEVEL ?? 'info',
  },
  { write: (line: string) => void (toStderr ? process.stderr : process.stdout).write(scrub(line)) },
);
