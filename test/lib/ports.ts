// A free TCP port on 127.0.0.1 for a server a test or the bench starts (PostgreSQL,
// Prometheus, an operator's HTTP endpoint): the kernel picks one, it is released
// at once and the caller binds it next.
// Loaded by jest's globalSetup through Node's own loader (test/lib/postgres.ts): no
// TypeScript-only syntax, relative imports spelled .ts.
import { createServer } from 'node:net';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}
