// One command line of `kubectl dbm`, from argv to exit code. The Kubernetes
// client (a large module graph) is loaded only once the arguments are good:
// --help and a usage error answer at once.
import { parseArgs, USAGE } from './args.js';
import type { Io } from './io.js';

/** The exit code: 0 ok, 1 failed or not confirmed, 2 a usage error. */
export async function run(argv: readonly string[], io: Io): Promise<number> {
  const parsed = parseArgs(argv);
  if (!parsed.ok) {
    if (parsed.error) io.err(`error: ${parsed.error}\n\n`);
    (parsed.error ? io.err : io.out)(USAGE);
    return parsed.error ? 2 : 0;
  }
  const inv = parsed.invocation;
  const [{ handlers }, { apiMessage, connect, httpCode, UserError }] = await Promise.all([
    import('./commands.js'),
    import('./kube.js'),
  ]);
  try {
    return await handlers[inv.command](connect(inv), inv, io);
  } catch (err) {
    if (err instanceof UserError) io.err(`error: ${err.message}\n`);
    else if (httpCode(err) !== undefined)
      io.err(`error: the API server answered ${httpCode(err)}: ${apiMessage(err)}\n`);
    else io.err(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}
