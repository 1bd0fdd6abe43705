// The smallest valid DatabaseMigration spec (before defaults), for unit tests to
// extend: one copy instead of one per test file.

/** `overrides` replace top-level fields; `overrides.database` is merged into the database block. */
export function minimalSpec(
  overrides: Record<string, unknown> & { database?: Record<string, unknown> } = {},
): Record<string, unknown> {
  const { database, ...rest } = overrides;
  return {
    database: {
      host: 'pg.db',
      database: 'shop',
      user: 'app',
      passwordSecretRef: { name: 'db', key: 'password' },
      ...database,
    },
    migrations: { image: 'shop:2' },
    backup: { pvcName: 'backups' },
    ...rest,
  };
}
