// The fault suite runs on the integration project's local control plane; it
// starts with an empty outcome log, so docs/reliability.md shows this run only.
import integrationSetup from '../setup/global-setup.js';
import { resetReliability } from './reliability-report.js';

export default async function globalSetup(
  globalConfig: unknown,
  projectConfig: { rootDir: string },
): Promise<void> {
  resetReliability();
  await integrationSetup(globalConfig, projectConfig);
}
