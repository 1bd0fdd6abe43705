import { writeReliabilityDoc } from './reliability-report.js';

export default async function globalTeardown(): Promise<void> {
  writeReliabilityDoc();
}
