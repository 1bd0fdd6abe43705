// spec.database: the target database, how the Job reaches it (inline fields or
// one connection Secret) and its TLS material; and the key runs are serialized on.
import { isIPv4, isIPv6 } from 'node:net';
import { z } from 'zod';
import { cel, dataKey, dnsName } from './common.js';

// A host name (RFC 1123: labels of letters, digits and inner hyphens, dots between)
// or an IP address (IPv4, or IPv6 without brackets: libpq's host= and PGHOST take it
// bare). Never a URL: "postgres://admin:secret@db:5432/shop" would carry a password
// into status.target, the Job's annotation and the metrics' database label. Plain
// regular expressions both JavaScript and the API server's RE2 run: the CRD's
// pattern refuses what the operator refuses.
const LABEL = '[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?';
const IPV6 = '([0-9A-Fa-f]{0,4}:){2,7}([0-9A-Fa-f]{0,4}|[0-9]{1,3}(\\.[0-9]{1,3}){3})';
export const HOST_PATTERN = new RegExp(`^(${LABEL}(\\.${LABEL})*|${IPV6})$`);
export const HOST_MESSAGE =
  'must be a host name (RFC 1123) or an IP address (IPv6 without brackets), not a URL or user@host: the password goes in passwordSecretRef';

export const hostName = z
  .string()
  .min(1)
  .max(253)
  .regex(HOST_PATTERN, HOST_MESSAGE)
  .refine((h) => (h.includes(':') ? isIPv6(h) : !/^[0-9.]+$/.test(h) || isIPv4(h)), {
    message: 'is not a valid IP address',
  });

/**
 * A target or host as people and metrics see it, from whatever was stored: an
 * object written before host was checked may hold a URL, so drop a scheme and
 * everything up to the last "@" (user and password), whatever else is left.
 */
export function scrubTarget(target: string): string {
  const noScheme = target.replace(/^[A-Za-z][-A-Za-z0-9+.]*:\/\//, '');
  const at = noScheme.lastIndexOf('@');
  return at < 0 ? noScheme : noScheme.slice(at + 1);
}

export const SecretKeyRef = z
  .object({
    name: dnsName.describe('Name of a Secret in the resource namespace.'),
    key: z
      .string()
      .min(1)
      .max(253)
      .regex(/^[-._a-zA-Z0-9]+$/, 'must be a Secret key: letters, digits, "-", "_" and "."')
      .describe('Key within the Secret.'),
  })
  .describe(
    'A key of a Secret in the same namespace. Only the Job reads it (through secretKeyRef); the operator never does.',
  );

export const ConnectionSecretRef = z
  .object({
    name: dnsName.describe('Name of a Secret in the resource namespace.'),
    keys: z
      .object({
        host: dataKey.default('host').describe('Key holding the host name.'),
        port: dataKey.default('port').describe('Key holding the TCP port.'),
        dbname: dataKey.default('dbname').describe('Key holding the database name.'),
        user: dataKey.default('user').describe('Key holding the role name.'),
        password: dataKey.default('password').describe('Key holding the password.'),
      })
      .prefault({})
      .describe(
        "The Secret's keys; the defaults are CloudNativePG's <cluster>-app Secret (host, port, dbname, user, password).",
      ),
  })
  .describe(
    'Take host, port, database, user and password from one Secret (e.g. the <cluster>-app Secret CloudNativePG creates). Only the Job reads it, through secretKeyRef; the operator never does, so runs are serialized on this Secret (namespace/name) instead of on host:port/database, and the PostgreSQL advisory lock the migrator takes is what keeps two runs on one database apart.',
  );

export const ConfigMapKeyRef = z
  .object({
    name: dnsName.describe('Name of a ConfigMap in the resource namespace.'),
    key: dataKey.default('ca.crt').describe('Key within the ConfigMap.'),
  })
  .describe('A key of a ConfigMap in the same namespace.');

const SecretKeyWithDefault = z
  .object({
    name: dnsName.describe('Name of a Secret in the resource namespace.'),
    key: dataKey.default('ca.crt').describe('Key within the Secret.'),
  })
  .describe('A key of a Secret in the same namespace (read by the kubelet, never by the operator).');

export const TlsSpec = z
  .object({
    caSecretRef: SecretKeyWithDefault.optional().describe(
      'CA bundle that signs the server certificate, from a Secret key (e.g. cert-manager or CloudNativePG <cluster>-ca, key ca.crt). Mounted read-only as PGSSLROOTCERT.',
    ),
    caConfigMapRef: ConfigMapKeyRef.optional().describe(
      'CA bundle that signs the server certificate, from a ConfigMap key (e.g. a trust-manager bundle). Mounted read-only as PGSSLROOTCERT.',
    ),
    clientCertSecretRef: z
      .object({
        name: dnsName.describe(
          'Name of a Secret in the resource namespace (e.g. a kubernetes.io/tls Secret).',
        ),
        certKey: dataKey.default('tls.crt').describe('Key holding the client certificate (PEM).'),
        keyKey: dataKey.default('tls.key').describe('Key holding the private key (PEM).'),
      })
      .optional()
      .describe(
        'Client certificate and key for certificate authentication, mounted read-only (key mode 0400, group of the Pod fsGroup) as PGSSLCERT and PGSSLKEY.',
      ),
  })
  .refine((t) => !(t.caSecretRef && t.caConfigMapRef), {
    message: 'set at most one of tls.caSecretRef and tls.caConfigMapRef',
    path: ['caConfigMapRef'],
  })
  .meta({
    'x-kubernetes-validations': [
      cel(
        '!(has(self.caSecretRef) && has(self.caConfigMapRef))',
        'set at most one of tls.caSecretRef and tls.caConfigMapRef',
      ),
    ],
  })
  .describe(
    'Certificates for verify-ca / verify-full and client certificate authentication, mounted into the Job; the migrator, pg_dump and pg_restore all use them.',
  );

const CONNECTION_FIELDS = ['host', 'database', 'user', 'passwordSecretRef'] as const;

export const DatabaseSpec = z
  .object({
    host: hostName
      .optional()
      .describe(
        'Host name (RFC 1123) or IP address (IPv6 without brackets) of the PostgreSQL server, as the Job Pods reach it; not a URL, no user or password. Required unless connectionSecretRef is set.',
      ),
    port: z
      .number()
      .int()
      .min(1)
      .max(65535)
      .default(5432)
      .describe("TCP port of the PostgreSQL server (with connectionSecretRef, the Secret's port is used)."),
    database: z
      .string()
      .min(1)
      .max(63)
      .optional()
      .describe(
        'Database name. Host, port and database identify the target: one run at a time per target. Required unless connectionSecretRef is set.',
      ),
    user: z
      .string()
      .min(1)
      .max(63)
      .optional()
      .describe('Role the migrator connects as. Required unless connectionSecretRef is set.'),
    sslMode: z
      .enum(['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'])
      .optional()
      .describe(
        'libpq sslmode of the migrator, pg_dump and pg_restore. Default: verify-full when tls names a CA bundle (the server certificate must chain to it and name the host), else require (encrypted, the server not verified). disable, allow and prefer may send the password in clear text: only when chosen here (e.g. a test server without TLS).',
      ),
    passwordSecretRef: SecretKeyRef.optional().describe(
      'Where the password is: a Secret key. Inline passwords are not accepted. Required unless connectionSecretRef is set.',
    ),
    connectionSecretRef: ConnectionSecretRef.optional(),
    tls: TlsSpec.optional(),
    schema: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be a plain SQL identifier')
      .max(63)
      .optional()
      .describe(
        "Schema of the migrations table (TypeORM's DataSource schema), when it is not the role's default (public). It must exist. Migration SQL without a schema still follows the role's search_path, as it does when the app runs its migrations itself.",
      ),
  })
  .superRefine((db, ctx) => {
    if (db.connectionSecretRef) {
      for (const f of CONNECTION_FIELDS)
        if (db[f] !== undefined)
          ctx.addIssue({ code: 'custom', path: [f], message: 'must not be set with connectionSecretRef' });
    } else {
      for (const f of CONNECTION_FIELDS)
        if (db[f] === undefined)
          ctx.addIssue({ code: 'custom', path: [f], message: 'is required (or set connectionSecretRef)' });
    }
  })
  .meta({
    'x-kubernetes-validations': [
      cel(
        'has(self.connectionSecretRef) ? !has(self.host) && !has(self.database) && !has(self.user) && !has(self.passwordSecretRef) : has(self.host) && has(self.database) && has(self.user) && has(self.passwordSecretRef)',
        'set either connectionSecretRef or all of host, database, user and passwordSecretRef',
      ),
    ],
  })
  .describe('The target database.');
export type DatabaseSpec = z.infer<typeof DatabaseSpec>;

export type SslMode = NonNullable<DatabaseSpec['sslMode']>;

/**
 * The sslmode the Jobs use: the one chosen, else verify-full with a CA bundle and
 * require without (never libpq's prefer, which falls back to clear text unasked).
 */
export function sslModeOf(db: Pick<DatabaseSpec, 'sslMode' | 'tls'>): SslMode {
  if (db.sslMode) return db.sslMode;
  return db.tls?.caSecretRef || db.tls?.caConfigMapRef ? 'verify-full' : 'require';
}

/**
 * The key runs are serialized on. Inline connection fields: host:port/database.
 * A connection Secret: the operator never reads it, so the key is the Secret
 * (secret:namespace/name); two resources reaching one database through different
 * Secrets, or one inline and one through a Secret, are then kept apart only by the
 * migrator's PostgreSQL advisory lock (the second waits for it, then fails after
 * timeouts.advisoryLockWaitSeconds).
 */
export function targetKeyOf(
  db: { host?: string; port?: number; database?: string; connectionSecretRef?: { name: string } },
  namespace: string,
): string | undefined {
  if (db.connectionSecretRef) return `secret:${namespace}/${db.connectionSecretRef.name}`;
  if (db.host === undefined || db.database === undefined) return undefined;
  return `${scrubTarget(db.host).toLowerCase()}:${db.port ?? 5432}/${db.database}`;
}

/** targetKeyOf a validated spec, which always names its target one way or the other. */
export function targetKey(db: DatabaseSpec, namespace: string): string {
  const key = targetKeyOf(db, namespace);
  if (key === undefined) throw new Error('spec.database names no target (validate the spec first)');
  return key;
}
