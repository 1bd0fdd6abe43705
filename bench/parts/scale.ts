import type { Result } from '../lib/stats.js';
export interface ScaleOptions {
  resources: number;
  namespaces: number;
  queued: number;
}
export async function benchScale(_o: ScaleOptions): Promise<Result[]> {
  throw new Error('not yet');
}
