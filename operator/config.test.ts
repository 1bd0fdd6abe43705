import { describe, expect, it } from '@jest/globals';
import { loadConfig } from './config.js';

const deps = { hostname: () => 'host-1', randomSuffix: () => 'abcd' };
const minimal = { MIGRATOR_IMAGE: 'registry.local/migrator:1.0' };

describe('loadConfig', () => {
  it('applies defaults', () => {
    expect(loadConfig(minimal, deps)).toEqual({
      watchNamespaces: [],
      maxConcurrentReconciles: 4,
      migratorImage: 'registry.local/migrator:1.0',
      migratorImagePullPolicy: 'IfNotPresent',
      leaderElection: true,
      leaseNamespace: 'default',
      leaseName: 'database-migration-operator',
      identity: 'host-1_abcd',
      httpPort: 8080,
      httpHost: '0.0.0.0',
      metricsAuth: true,
      logLevel: 'info',
      resyncSeconds: 300,
      jobDefaults: {},
      jobServiceAccount: 'default',
      allowedServiceAccounts: [],
    });
  });

  it('reads the chart-wide Job defaults (JOB_DEFAULTS, JSON) with the zod schema', () => {
    const defaults = {
      podAnnotations: { 'sidecar.istio.io/inject': 'false' },
      priorityClassName: 'batch-high',
      resources: { requests: { cpu: '250m', memory: '512Mi' } },
      env: [{ name: 'HTTPS_PROXY', value: 'http://proxy:3128' }],
    };
    expect(loadConfig({ ...minimal, JOB_DEFAULTS: JSON.stringify(defaults) }, deps).jobDefaults).toEqual(
      defaults,
    );
  });

  it('reads every variable', () => {
    const c = loadConfig(
      {
        ...minimal,
        WATCH_NAMESPACES: ' team-a, team-b,,team-a ',
        MAX_CONCURRENT_RECONCILES: '16',
        MIGRATOR_IMAGE_PULL_POLICY: 'Always',
        LEADER_ELECTION: 'false',
        POD_NAMESPACE: 'operators',
        LEASE_NAME: 'dbm-lease',
        POD_NAME: 'dbm-operator-7d9f-xyz',
        HTTP_PORT: '9090',
        HTTP_HOST: '127.0.0.1',
        METRICS_AUTH: 'false',
        LOG_LEVEL: 'DEBUG',
        RESYNC_SECONDS: '0',
        JOB_SERVICE_ACCOUNT: 'dbm-jobs',
        JOB_ALLOWED_SERVICE_ACCOUNTS: 'irsa-migrations, dbm-jobs,',
      },
      deps,
    );
    expect(c).toMatchObject({
      watchNamespaces: ['team-a', 'team-b'],
      maxConcurrentReconciles: 16,
      migratorImagePullPolicy: 'Always',
      leaderElection: false,
      leaseNamespace: 'operators',
      leaseName: 'dbm-lease',
      identity: 'dbm-operator-7d9f-xyz_abcd',
      httpPort: 9090,
      httpHost: '127.0.0.1',
      metricsAuth: false,
      logLevel: 'debug',
      resyncSeconds: 0,
      jobServiceAccount: 'dbm-jobs',
      allowedServiceAccounts: ['irsa-migrations', 'dbm-jobs'],
    });
    expect(() => loadConfig({ ...minimal, JOB_ALLOWED_SERVICE_ACCOUNTS: 'ok,Not_OK' }, deps)).toThrow(
      /JOB_ALLOWED_SERVICE_ACCOUNTS/,
    );
    expect(
      loadConfig({ ...minimal, POD_NAMESPACE: 'ops', LEASE_NAMESPACE: 'leases' }, deps).leaseNamespace,
    ).toBe('leases');
  });

  it('treats empty strings as unset', () => {
    expect(loadConfig({ ...minimal, WATCH_NAMESPACES: '', HTTP_PORT: '' }, deps)).toMatchObject({
      watchNamespaces: [],
      httpPort: 8080,
    });
  });

  it('gives each process a distinct identity by default', () => {
    expect(loadConfig(minimal).identity).not.toBe(loadConfig(minimal).identity);
  });

  it.each([
    [{}, /MIGRATOR_IMAGE is required/],
    [{ MIGRATOR_IMAGE: '  ' }, /MIGRATOR_IMAGE is required/],
    [{ ...minimal, MAX_CONCURRENT_RECONCILES: '0' }, /MAX_CONCURRENT_RECONCILES must be >= 1/],
    [{ ...minimal, MAX_CONCURRENT_RECONCILES: '65' }, /MAX_CONCURRENT_RECONCILES must be <= 64/],
    [{ ...minimal, MAX_CONCURRENT_RECONCILES: 'four' }, /MAX_CONCURRENT_RECONCILES must be an integer/],
    [{ ...minimal, MIGRATOR_IMAGE_PULL_POLICY: 'always' }, /MIGRATOR_IMAGE_PULL_POLICY/],
    [{ ...minimal, LEADER_ELECTION: 'maybe' }, /LEADER_ELECTION must be true or false/],
    [{ ...minimal, WATCH_NAMESPACES: 'ok,Not_OK' }, /WATCH_NAMESPACES .*DNS-1123/],
    [{ ...minimal, HTTP_PORT: '70000' }, /HTTP_PORT must be <= 65535/],
    [{ ...minimal, LOG_LEVEL: 'verbose' }, /LOG_LEVEL/],
    [{ ...minimal, RESYNC_SECONDS: '-1' }, /RESYNC_SECONDS must be >= 0/],
    [{ ...minimal, LEASE_NAME: 'Bad Name' }, /LEASE_NAME must be a DNS-1123 subdomain/],
    [{ ...minimal, JOB_DEFAULTS: '{podAnnotations' }, /JOB_DEFAULTS must be JSON/],
    [
      { ...minimal, JOB_DEFAULTS: '{"resources":{"requests":{"cpu":"lots"}}}' },
      /JOB_DEFAULTS \(resources\.requests\.cpu\) is not a Kubernetes quantity/,
    ],
    [
      { ...minimal, JOB_DEFAULTS: '{"env":[{"name":"PGHOST","value":"x"}]}' },
      /JOB_DEFAULTS \(env\.0\.name\) PG\*/,
    ],
  ])('rejects %j naming the variable', (env, message) => {
    expect(() => loadConfig(env, deps)).toThrow(message);
  });

  it('reports every bad variable at once', () => {
    let message = '';
    try {
      loadConfig({ HTTP_PORT: 'x', LEADER_ELECTION: 'x' }, deps);
    } catch (err) {
      message = (err as Error).message;
    }
    for (const name of ['MIGRATOR_IMAGE', 'LEADER_ELECTION', 'HTTP_PORT']) expect(message).toContain(name);
  });
});
