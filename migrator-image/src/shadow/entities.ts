// Backward compatibility with the running app's compiled TypeORM entities:
// after the pending migrations, on the shadow, each entity's table and columns
// must exist with a type of the same family. The running version's entities are
// what it reads and writes until the new version is rolled out.
import { DataSource, getMetadataArgsStorage } from 'typeorm';
import type { Finding } from '../../../crds/job-result.js';
import { loadEntities } from '../loader.js';
import type { Rows } from './schema.js';

/** Type families whose values a running app reads the same way; anything else is not compared. */
const FAMILIES: Record<string, string> = {
  'character varying': 'text',
  varchar: 'text',
  text: 'text',
  character: 'text',
  char: 'text',
  citext: 'text',
  integer: 'int',
  int: 'int',
  int2: 'int',
  int4: 'int',
  int8: 'int',
  smallint: 'int',
  bigint: 'int',
  numeric: 'number',
  decimal: 'number',
  real: 'number',
  float4: 'number',
  float8: 'number',
  'double precision': 'number',
  boolean: 'bool',
  bool: 'bool',
  'timestamp without time zone': 'time',
  'timestamp with time zone': 'time',
  timestamp: 'time',
  timestamptz: 'time',
  date: 'date',
  json: 'json',
  jsonb: 'json',
  uuid: 'uuid',
  bytea: 'bytea',
};

export interface ShadowColumn {
  type: string;
}

/** Columns of every user table and view on the shadow, by "schema.table" then column name. */
export async function shadowColumns(rows: Rows): Promise<Map<string, Map<string, ShadowColumn>>> {
  const out = new Map<string, Map<string, ShadowColumn>>();
  for (const r of await rows(
    `SELECT table_schema AS s, table_name AS t, column_name AS c, data_type AS d
       FROM information_schema.columns
      WHERE table_schema NOT IN ('pg_catalog', 'information_schema')`,
  )) {
    const key = `${String(r.s)}.${String(r.t)}`;
    if (!out.has(key)) out.set(key, new Map());
    out.get(key)!.set(String(r.c), { type: String(r.d) });
  }
  return out;
}

/**
 * Findings for each entity of `ds` (built from the running app's entities, not
 * connected anywhere it could write) whose table or column is missing on the
 * migrated shadow, or whose column changed type family.
 */
export function entityFindings(
  ds: DataSource,
  columns: Map<string, Map<string, ShadowColumn>>,
  migration: string,
  defaultSchema = 'public',
): Finding[] {
  const out: Finding[] = [];
  const finding = (message: string): Finding => ({
    rule: 'compatibility-entity',
    category: 'backwardIncompatible',
    severity: 'error',
    migration,
    message,
    hint: 'Expand first (add, keep the old shape), deploy the app that no longer needs it, contract in a later release.',
  });
  for (const m of ds.entityMetadatas) {
    if (m.tableType === 'view' || m.tableType === 'entity-child') continue;
    const table = `${m.schema ?? defaultSchema}.${m.tableName}`;
    const have = columns.get(table);
    if (!have) {
      out.push(
        finding(
          `entity ${m.name} of the running app reads table ${table}, which is gone after the migrations`,
        ),
      );
      continue;
    }
    for (const c of m.columns) {
      if (c.isVirtual) continue;
      const col = have.get(c.databaseName);
      if (!col) {
        out.push(
          finding(
            `entity ${m.name} of the running app uses column ${table}.${c.databaseName}, which is gone after the migrations`,
          ),
        );
        continue;
      }
      const expected = String(ds.driver.normalizeType(c)).toLowerCase();
      const want = FAMILIES[expected];
      const got = FAMILIES[col.type.toLowerCase()];
      if (want && got && want !== got)
        out.push(
          finding(
            `entity ${m.name} of the running app maps ${table}.${c.databaseName} as ${expected}, but it is ${col.type} after the migrations`,
          ),
        );
    }
  }
  return out;
}

/**
 * Loads the running app's entities from `dir` and checks them against the
 * migrated shadow. Only the classes `dir` registers are used (the new
 * version's ENTITIES_DIR, loaded for data migrations, is left out).
 */
export async function runningAppEntityFindings(
  dir: string,
  rows: Rows,
  migration: string,
  defaultSchema?: string,
): Promise<Finding[]> {
  const known = new Set(getMetadataArgsStorage().tables.map((t) => t.target));
  const entities = (await loadEntities(dir)).filter((e) => !known.has(e));
  const ds = new DataSource({ type: 'postgres', entities });
  // Metadata only, never a connection: buildMetadatas is what initialize() runs before connecting,
  // typed protected in TypeORM (public in its JS), so it is called through a narrowed view.
  await (ds as unknown as { buildMetadatas(): Promise<void> }).buildMetadatas();
  return entityFindings(ds, await shadowColumns(rows), migration, defaultSchema);
}
