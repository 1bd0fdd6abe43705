// The operator's logger: JSON lines (one object per line, for Loki/Elasticsearch), ISO
// timestamps, and secrets redacted by path. The logger is created once in main and passed
// down explicitly; modules take a child logger rather than importing a global.
import { pino, stdTimeFunctions, type Logger } from 'pino';

/**
 * Paths pino censors before a line is written. The operator never reads database passwords
 * (Jobs resolve them via secretKeyRef), but objects it logs — API errors carrying request
 * headers, Secret-like maps, kubeconfig fragments — may still contain them.
 */
export const REDACT_PATHS: readonly string[] = [
  'password',
  '*.password',
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'headers.Authorization',
  '*.headers.Authorization',
  'bearerToken',
  '*.bearerToken',
];

export function createLogger(opts: {
  level?: string;
  destination?: NodeJS.WritableStream;
  /** Extra fields on every line; merged over { component: 'operator' }. */
  base?: Record<string, unknown>;
}): Logger {
  const options = {
    level: opts.level ?? 'info',
    base: { component: 'operator', ...opts.base },
    timestamp: stdTimeFunctions.isoTime,
    redact: { paths: [...REDACT_PATHS], censor: '[REDACTED]' },
    // Level as a label ("info"), not pino's number, so humans and log queries can read it.
    formatters: { level: (label: string) => ({ level: label }) },
  };
  return opts.destination ? pino(options, opts.destination) : pino(options);
}
