// What the linter knows while it walks a plan: the objects created earlier in
// the plan (exempt from "existing table" hazards), the column types it has
// seen, validated NOT NULL checks, and the transaction state.
import type { TypeInfo } from './ast.js';

/** Functions known to be volatile even when the database is not asked (check.ts asks pg_proc). */
export const DEFAULT_VOLATILE = new Set([
  'random',
  'gen_random_uuid',
  'uuid_generate_v1',
  'uuid_generate_v1mc',
  'uuid_generate_v4',
  'clock_timestamp',
  'timeofday',
  'nextval',
  'txid_current',
  'uuidv7',
  'uuidv4',
  'random_normal',
]);

/**
 * Functions known not to be volatile. Without a database, any function outside
 * this list counts as volatile: guessing "safe" would hide a table rewrite.
 */
export const KNOWN_NON_VOLATILE = new Set([
  'now',
  'statement_timestamp',
  'transaction_timestamp',
  'current_date',
  'lower',
  'upper',
  'trim',
  'btrim',
  'ltrim',
  'rtrim',
  'length',
  'char_length',
  'abs',
  'round',
  'floor',
  'ceil',
  'to_jsonb',
  'to_json',
  'jsonb_build_object',
  'jsonb_build_array',
  'json_build_object',
  'json_build_array',
  'make_interval',
  'make_date',
  'make_timestamp',
  'make_timestamptz',
  'to_timestamp',
  'to_char',
  'to_date',
  'date_trunc',
  'concat',
  'concat_ws',
  'md5',
  'replace',
  'substring',
  'substr',
  'left',
  'right',
  'array_length',
  'nullif',
  'current_setting',
  'pg_backend_pid',
]);

export interface LintOptions {
  /** Volatile function names from the database (pg_proc); without it KNOWN_NON_VOLATILE decides. */
  volatile?: Set<string>;
  /** Each migration's SQL runs inside one transaction (TypeORM's default), without a BEGIN in the SQL. */
  implicitTransaction?: boolean;
  /** Report lock-taking statements not preceded by SET lock_timeout (off: the migrator sets one itself). */
  requireLockTimeout?: boolean;
}

/** Objects created earlier in the plan, by qualified name (`public.t`). */
export interface Created {
  tables: Set<string>;
  indexes: Set<string>;
  types: Set<string>;
  sequences: Set<string>;
  functions: Set<string>;
  schemas: Set<string>;
  triggers: Set<string>;
  extensions: Set<string>;
  /** `schema.table.column` */
  columns: Set<string>;
  /** `schema.table.constraint` */
  constraints: Set<string>;
}

export interface TxState {
  open: boolean;
  /** The first table locked ACCESS EXCLUSIVE in the open transaction. */
  exclusive?: string;
  reported: boolean;
  /** `schema.table.constraint` -> contype of constraints added NOT VALID in the open transaction. */
  notValid?: Map<string, string>;
}

export interface LintContext {
  options: LintOptions;
  created: Created;
  /** The objects of the database before the plan, when its schema was seeded (seedSchema); unknown otherwise. */
  existing?: Created;
  /** `schema.table.column` -> type, from CREATE TABLE / ADD COLUMN in the plan or a seeded schema. */
  columnTypes: Map<string, TypeInfo>;
  /** `schema.table.constraint` -> column of a `CHECK (col IS NOT NULL)` (NOT VALID or validated). */
  pendingNotNull: Map<string, string>;
  /** `schema.table.column` set NOT NULL in the plan (a validated NOT NULL check on it is then redundant). */
  setNotNull: Set<string>;
  /** `schema.table.column` with a validated `CHECK (col IS NOT NULL)`. */
  notNullChecked: Set<string>;
  /** Tables with a validated CHECK constraint added in the plan (ATTACH PARTITION can skip its scan). */
  checkedTables: Set<string>;
  /** `schema.table.constraint` of NOT VALID checks, to learn which table VALIDATE makes checked. */
  pendingChecks: Set<string>;
  /** Relations and columns the current migration creates (stand-ins for renamed ones; see compat.ts). */
  standIns: Set<string>;
  /** Functions created in the plan: name -> volatile. */
  planFunctions: Map<string, boolean>;
  tx: TxState;
  lockTimeoutSet: boolean;
  lockTimeoutReported: boolean;
  isVolatile: (fn: string) => boolean;
  /** Rule ids ignored, per migration, as reported by lintSql (in order). */
  ignored: Array<{ migration: string; rule: string; count: number }>;
}

export function newLintContext(
  volatile?: Set<string>,
  options: Omit<LintOptions, 'volatile'> = {},
): LintContext {
  const planFunctions = new Map<string, boolean>();
  const isVolatile = (fn: string): boolean => {
    const f = fn.toLowerCase();
    const own = planFunctions.get(f);
    if (own !== undefined) return own;
    if (volatile) return volatile.has(f);
    return DEFAULT_VOLATILE.has(f) || !KNOWN_NON_VOLATILE.has(f);
  };
  return {
    options: { ...options, ...(volatile ? { volatile } : {}) },
    created: {
      tables: new Set(),
      indexes: new Set(),
      types: new Set(),
      sequences: new Set(),
      functions: new Set(),
      schemas: new Set(),
      triggers: new Set(),
      extensions: new Set(),
      columns: new Set(),
      constraints: new Set(),
    },
    columnTypes: new Map(),
    pendingNotNull: new Map(),
    notNullChecked: new Set(),
    setNotNull: new Set(),
    checkedTables: new Set(),
    pendingChecks: new Set(),
    standIns: new Set(),
    planFunctions,
    tx: { open: false, reported: false },
    lockTimeoutSet: false,
    lockTimeoutReported: false,
    isVolatile,
    ignored: [],
  };
}

function schemaOf(qualified: string): string {
  return qualified.slice(0, qualified.indexOf('.'));
}

/** True when `qualified` (a table, view, index, type...) was created in this plan, or lives in a schema that was. */
export function isNew(ctx: LintContext, kind: keyof Created, qualified: string): boolean {
  return ctx.created[kind].has(qualified) || ctx.created.schemas.has(schemaOf(qualified));
}

/**
 * `DROP ... IF EXISTS` of an object the database does not have (its schema is
 * known) and the plan did not create: a no-op that drops and locks nothing, as
 * the trace shows (Misskey's `DROP TABLE IF EXISTS "sso_service_provider"` on a
 * brand-new database).
 */
export function absentIfExists(
  ctx: LintContext,
  kind: keyof Created | undefined,
  body: { missing_ok?: unknown },
  name: string,
): boolean {
  // Only kinds a schema dump always lists (the public schema, for one, is not in a dump).
  const listed = kind === 'tables' || kind === 'types' || kind === 'indexes' || kind === 'sequences';
  return (
    body.missing_ok === true &&
    listed &&
    !!ctx.existing &&
    !ctx.existing[kind].has(name) &&
    !isNew(ctx, kind, name)
  );
}
