import type { Result } from '../lib/stats.js';
export async function benchCluster(_o: { runs: number }): Promise<Result[]> {
  throw new Error('not yet');
}
