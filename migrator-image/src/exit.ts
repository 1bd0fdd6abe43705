// Leaving once stdout and stderr are written out: apart from shutdown.ts so that
// main.ts can exit without loading anything else (usage, a bad argument).
/** Resolves once everything written to `stream` so far has reached the OS (or at once if nothing is queued). */
export function drained(stream: NodeJS.WritableStream & { writableLength?: number }): Promise<void> {
  if (!stream.writableLength) return Promise.resolve();
  return new Promise((resolve) => stream.write('', () => resolve()));
}

/**
 * Exits with `code` once stdout and stderr are written out, or after `maxMs`
 * (a reader that stopped reading must not keep a finished step alive forever).
 */
export async function exitFlushed(code: number, maxMs: number): Promise<void> {
  process.exitCode = code;
  const bound = new Promise<void>((resolve) => setTimeout(resolve, maxMs).unref());
  await Promise.race([Promise.all([drained(process.stdout), drained(process.stderr)]), bound]);
  setTimeout(() => process.exit(code), 50).unref();
}
