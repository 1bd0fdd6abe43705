import { pino } from 'pino';
import { scrub } from './scrub.js';

// pino JSON on stdout, every line scrubbed of the password.
export const log = pino(
  {
    base: { component: 'migrator' },
    timestamp: pino.stdTimeFunctions.isoTime,
    level: process.env.LOG_LEVEL ?? 'info',
  },
  { write: (line: string) => void process.stdout.write(scrub(line)) },
);
