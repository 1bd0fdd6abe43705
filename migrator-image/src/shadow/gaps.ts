// What of the target's schema the shadow could not load, by relation, and the
// pending migrations that touch it. pg_dump heads each object with a comment
// ("-- Name: t; Type: TABLE; Schema: public; ..."): psql's error line number
// falls under one of them, which names the relation. A migration whose SQL
// (parsed with PostgreSQL's parser) or trace reaches such a relation was not
// really checked: a blocking finding, where the schema errors alone are not.
import { parse } from 'libpg-query';
import type { Finding } from '../../../crds/job-result.js';
import type { Config } from '../config.js';
import { connect } from '../db.js';
import type { Capture } from './capture.js';
import type { TracedStatement } from './trace.js';

export interface LocatedError {
  message: string;
  /** `schema.name` of the relation whose DDL failed, when the dump's header says. */
  relation?: string;
}

interface Header {
  line: number;
  relation?: string;
  /** An INDEX header: its table comes from the CREATE INDEX line after it. */
  index?: string;
}

const HEADER = /^-- (?:Data for )?Name: (.*?); Type: (.*?); Schema: (.*?);/;
/** Objects whose failure leaves a relation missing or unlike the target's. */
const RELATION_TYPES = new Set([
  'TABLE',
  'VIEW',
  'MATERIALIZED VIEW',
  'FOREIGN TABLE',
  'SEQUENCE',
  'TABLE DATA',
]);
/** Objects named "table object": a failure leaves the table unlike the target's. */
const ON_TABLE_TYPES = new Set([
  'CONSTRAINT',
  'FK CONSTRAINT',
  'DEFAULT',
  'TRIGGER',
  'TABLE ATTACH',
  'POLICY',
  'RULE',
]);

/** Reads the dump as psql reads it (fed chunk by chunk) and remembers where each object's header is. */
export class HeaderIndex {
  private readonly headers: Header[] = [];
  private line = 0;
  private carry = '';

  feed(chunk: Buffer): void {
    const text = this.carry + chunk.toString('utf8');
    const parts = text.split('\n');
    this.carry = parts.pop() ?? '';
    for (const l of parts) this.onLine(l);
  }

  private onLine(l: string): void {
    this.line++;
    if (!l.startsWith('-- ') && !l.startsWith('CREATE ')) return;
    const m = HEADER.exec(l);
    if (m) {
      const [, name = '', type = '', schema = ''] = m;
      const rel = (n: string) => (schema === '-' ? undefined : `${schema}.${n}`);
      this.headers.push({
        line: this.line,
        relation: RELATION_TYPES.has(type)
          ? rel(name)
          : ON_TABLE_TYPES.has(type)
            ? rel(name.split(' ')[0] ?? name)
            : undefined,
        ...(type === 'INDEX' ? { index: schema } : {}),
      });
      return;
    }
    const last = this.headers[this.headers.length - 1];
    if (last?.index !== undefined && last.relation === undefined) {
      const on = / ON (?:ONLY )?([^\s(]+)/.exec(l)?.[1];
      if (on) {
        const parts = on.split('.').map((p) => p.replace(/^"|"$/g, ''));
        last.relation = parts.length > 1 ? parts.join('.') : `${last.index}.${parts[0]}`;
      }
    }
  }

  /** The relation whose header is the last one before psql's line `line`. */
  relationAt(line: number): string | undefined {
    let lo = 0;
    let hi = this.headers.length - 1;
    let found: Header | undefined;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const h = this.headers[mid]!;
      if (h.line <= line) {
        found = h;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found?.relation;
  }
}

/** psql's stderr ERROR lines, each with the relation its line falls under. */
export function locateErrors(stderr: string, index: HeaderIndex): LocatedError[] {
  const out: LocatedError[] = [];
  for (const l of stderr.split('\n')) {
    if (!/ERROR:/.test(l)) continue;
    const line = /^psql:[^:]*:(\d+): /.exec(l)?.[1];
    const message = l.replace(/^psql:[^:]*:\d+: /, '').trim();
    const relation = line ? index.relationAt(Number(line)) : undefined;
    out.push(relation ? { message, relation } : { message });
  }
  return out;
}

/**
 * Relation -> the first schema error about it: those the header names, and
 * the target's tables the shadow does not have after the load (the first error
 * stands for them when no header named them).
 */
export async function schemaGaps(
  shadow: Config,
  cap: Capture,
  errors: readonly LocatedError[],
): Promise<Map<string, string>> {
  const gaps = new Map<string, string>();
  if (errors.length === 0) return gaps;
  for (const e of errors) if (e.relation && !gaps.has(e.relation)) gaps.set(e.relation, e.message);
  const { client } = await connect(shadow);
  try {
    const { rows } = await client.query<{ rel: string }>(
      `SELECT n.nspname || '.' || c.relname AS rel FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p', 'm')`,
    );
    const present = new Set(rows.map((r) => r.rel));
    for (const [rel] of cap.relations)
      if (!present.has(rel) && !gaps.has(rel))
        gaps.set(rel, `not created on the shadow (first schema error: ${errors[0]?.message ?? '?'})`);
  } finally {
    await client.end().catch(() => undefined);
  }
  return gaps;
}

/** The schema a bare name is in: the migrations' schema. */
export function schemaOf(cfg: Config): string {
  return cfg.MIGRATIONS_SCHEMA ?? 'public';
}

type Json = unknown;

function collect(node: Json, schema: string, out: Set<string>): void {
  if (Array.isArray(node)) {
    for (const n of node) collect(n, schema, out);
    return;
  }
  if (!node || typeof node !== 'object') return;
  const o = node as Record<string, Json>;
  // A RangeVar: wrapped where the field is any node, bare where it can only be one (ALTER TABLE's relation).
  const rv = (o.RangeVar ?? ('relpersistence' in o ? o : undefined)) as
    { schemaname?: string; relname?: string } | undefined;
  if (rv?.relname) out.add(`${rv.schemaname || schema}.${rv.relname}`);
  const drop = o.DropStmt as { objects?: Json[] } | undefined;
  for (const obj of drop?.objects ?? []) {
    const items = ((obj as { List?: { items?: Json[] } }).List?.items ?? []).map(
      (i) => (i as { String?: { sval?: string } }).String?.sval ?? '',
    );
    const name = items[items.length - 1];
    if (name) out.add(`${items.length > 1 ? items[items.length - 2] : schema}.${name}`);
  }
  for (const v of Object.values(o)) collect(v, schema, out);
}

/** Relations a migration's SQL names (parsed) or its trace locked; a statement that does not parse is matched by words. */
export async function referencedRelations(
  sqls: readonly string[],
  traced: readonly TracedStatement[],
  schema: string,
  gaps: ReadonlyMap<string, string>,
): Promise<Set<string>> {
  const out = new Set<string>();
  for (const s of traced) for (const l of s.locks) out.add(l.slice(l.indexOf(' ') + 1));
  for (const sql of sqls) {
    try {
      collect(await parse(sql), schema, out);
    } catch {
      const words = new Set(sql.toLowerCase().match(/[a-z_][a-z0-9_$]*(?:\.[a-z_][a-z0-9_$]*)?/g) ?? []);
      for (const rel of gaps.keys())
        if (words.has(rel) || (rel.startsWith(`${schema}.`) && words.has(rel.slice(schema.length + 1))))
          out.add(rel);
    }
  }
  return out;
}

/** The failure of a migration that touches a relation the shadow lacks: a blocking finding, not a failed check. */
export async function failedOnGap(
  failure: unknown,
  gaps: ReadonlyMap<string, string>,
  captured: ReadonlyMap<string, string[]>,
  traced: readonly TracedStatement[],
  schema: string,
): Promise<Finding | undefined> {
  const migration = (failure as { migration?: string } | undefined)?.migration;
  if (!migration || gaps.size === 0) return undefined;
  return (await gapFindings(gaps, [migration], captured, traced, schema))[0];
}

/** A pending migration that touches a relation the shadow could not load: the check did not prove it. */
export async function gapFindings(
  gaps: ReadonlyMap<string, string>,
  pending: readonly string[],
  captured: ReadonlyMap<string, string[]>,
  traced: readonly TracedStatement[],
  schema: string,
  /** Findings already made (the failure's): not repeated. */
  existing: readonly Finding[] = [],
): Promise<Finding[]> {
  if (gaps.size === 0) return [];
  const out: Finding[] = [];
  for (const m of pending) {
    const sqls = captured.get(m);
    if (!sqls || existing.some((f) => f.rule === 'check-incomplete' && f.migration === m)) continue;
    const refs = await referencedRelations(
      sqls,
      traced.filter((t) => t.migration === m),
      schema,
      gaps,
    );
    const hit = [...gaps].find(([rel]) => refs.has(rel));
    if (!hit) continue;
    out.push({
      rule: 'check-incomplete',
      category: 'rehearsal',
      severity: 'error',
      migration: m,
      message: `touches ${hit[0]}, whose DDL failed on the shadow (${hit[1].slice(0, 200)}): this migration was not checked`,
      hint: 'Give spec.check.shadow a server that loads the whole schema (the extensions the target uses), or review the migration by hand and approve its plan hash.',
    });
  }
  return out;
}
