import { pino } from 'pino';
import { scrub } from './scrub.js';

let toStderr = false;
/** The local CLIs print their answer on stdout: their log lines go to stderr instead. */
export function logToStderr(): void {
  toStderr = true;
}

/** Where log lines go now: a child process's lines are passed on there. */
export function logStream(): NodeJS.WritableStream {
  return toStderr ? process.stderr : process.stdout;
}

// pino JSON on stdout (a Job's log), every line scrubbed of the password.
export const log = pino(
  {
    base: { component: 'migrator' },
    timestamp: pino.stdTimeFunctions.isoTime,
    level: process.env.LOG_LEVEL ?? 'info',
  },
  { write: (line: string) => void logStream().write(scrub(line)) },
);
