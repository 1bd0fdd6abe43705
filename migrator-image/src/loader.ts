// Loads the compiled TypeORM migrations (.js, ESM or CommonJS) of MIGRATIONS_DIR.
// Migrations import 'typeorm' (or other packages) at run time; the directory
// usually has no node_modules, so bare specifiers that do not resolve from the
// file fall back to the migrator's own node_modules (module.registerHooks runs
// in-thread and covers both import and require).
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createRequire, registerHooks } from 'node:module';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { MigrationInterface } from 'typeorm';
import { MigratorError } from './result.js';

export interface LoadedMigration {
  name: string;
  timestamp: number;
  file: string;
  checksum: string;
  cls: new () => MigrationInterface;
  /** Why revert must refuse this migration's down(): missing or empty; undefined when it has a body. */
  downProblem?: 'missing' | 'empty';
}

let hooked = false;
const isBare = (s: string) => !/^(\.{0,2}\/|[a-zA-Z][a-zA-Z0-9+.-]*:)/.test(s);

export function installResolutionFallback(): void {
  if (hooked) return;
  hooked = true;
  const self = import.meta.url;
  const req = createRequire(self);
  // The fallback's own resolution passes through this hook too: without this flag a
  // package that is nowhere (TypeORM's optional require('pg-native')) recursed through
  // hundreds of failing node_modules walks, a second of a migrate's start-up.
  let falling = false;
  registerHooks({
    resolve(specifier, context, nextResolve) {
      if (falling) return nextResolve(specifier, context);
      try {
        return nextResolve(specifier, context);
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (!isBare(specifier) || (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND')) throw err;
        // Resolve from the migrator itself, with the same flavour (require or import).
        falling = true;
        try {
          const viaRequire = context.conditions?.includes('require') ?? false;
          const url = viaRequire
            ? pathToFileURL(req.resolve(specifier)).href
            : import.meta.resolve(specifier);
          return { url, shortCircuit: true };
        } catch {
          throw err;
        } finally {
          falling = false;
        }
      }
    },
  });
}

const MIGRATION_FILE = /\.(c|m)?js$/;

export function migrationFiles(dir: string): string[] {
  if (!existsSync(dir)) throw new MigratorError(`migrations directory ${dir} does not exist`);
  if (!statSync(dir).isDirectory()) throw new MigratorError(`migrations directory ${dir} is not a directory`);
  return readdirSync(dir)
    .filter((f) => MIGRATION_FILE.test(f) && !f.startsWith('.') && !f.endsWith('.d.js'))
    .sort()
    .map((f) => join(dir, f));
}

// down() is optional here so that a migration without one still loads (and
// applies); revert is what refuses it.
function isMigrationClass(v: unknown): v is new () => MigrationInterface {
  if (typeof v !== 'function') return false;
  const proto = (v as { prototype?: Record<string, unknown> }).prototype;
  return !!proto && typeof proto.up === 'function';
}

/**
 * 'empty' when down()'s body does nothing: `{}`, only comments, or tsc's
 * down-level `return __awaiter(this, void 0, void 0, function* () { })`.
 */
export function downProblem(down: unknown): LoadedMigration['downProblem'] {
  if (typeof down !== 'function') return 'missing';
  const src = Function.prototype.toString
    .call(down)
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/\/\/[^\n]*/g, '');
  const open = src.indexOf('{');
  const close = src.lastIndexOf('}');
  if (open < 0 || close <= open) return undefined; // an arrow with an expression body does something
  let body = src.slice(open + 1, close).replace(/\s+/g, '');
  const awaiter = /^return__awaiter\(this,void0,void0,function\*\(\)\{(.*)\}\);?$/.exec(body);
  if (awaiter) body = awaiter[1] ?? '';
  return body === '' || /^(return;?|returnPromise\.resolve\(\);?)$/.test(body) ? 'empty' : undefined;
}

function firstLine(s: string): string {
  return s.split(/\r?\n/)[0] ?? s;
}

/** TypeScript sources (not declarations): present where compiled JavaScript was expected. */
function typescriptSources(dir: string): number {
  return readdirSync(dir).filter((f) => /\.(c|m)?ts$/.test(f) && !/\.d\.(c|m)?ts$/.test(f)).length;
}

export async function loadMigrations(dirIn: string): Promise<LoadedMigration[]> {
  installResolutionFallback();
  const dir = resolve(dirIn);
  const out: LoadedMigration[] = [];
  const seen = new Map<string, string>();
  const files = migrationFiles(dir);
  // An empty (or TypeScript-only) directory is a wrong path, not "nothing to do":
  // reporting ok with zero migrations would let a broken deploy pass.
  if (files.length === 0)
    throw new MigratorError(
      `no compiled migrations in ${dirIn}: found ${typescriptSources(dir)} .ts files; point migrations.path at the compiled JavaScript`,
    );
  for (const file of files) {
    const base = file.slice(dir.length + 1);
    const content = readFileSync(file);
    const checksum = createHash('sha256').update(content).digest('hex');
    let mod: Record<string, unknown>;
    try {
      mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    } catch (err) {
      throw new MigratorError(
        `cannot load migration file ${base}: ${firstLine((err as Error)?.message ?? String(err))}`,
        base,
      );
    }
    const candidates = new Set<new () => MigrationInterface>();
    for (const v of Object.values(mod)) {
      if (isMigrationClass(v)) candidates.add(v);
      else if (v && typeof v === 'object')
        for (const w of Object.values(v)) if (isMigrationClass(w)) candidates.add(w);
    }
    for (const cls of candidates) {
      let name = cls.name;
      try {
        const inst = new cls() as MigrationInterface & { name?: string };
        if (typeof inst.name === 'string' && inst.name) name = inst.name;
      } catch (err) {
        throw new MigratorError(
          `cannot instantiate migration ${cls.name} of ${base}: ${firstLine((err as Error).message)}`,
          cls.name,
        );
      }
      const ts = /(\d{13})$/.exec(name);
      if (!ts)
        throw new MigratorError(
          `migration ${name} in ${base}: the class name must end with a 13-digit timestamp`,
          name,
        );
      const dup = seen.get(name);
      if (dup) throw new MigratorError(`migration ${name} is defined twice (${dup} and ${base})`, name);
      seen.set(name, base);
      out.push({
        name,
        timestamp: Number(ts[1]),
        file: base,
        checksum,
        cls,
        downProblem: downProblem((cls.prototype as { down?: unknown }).down),
      });
    }
  }
  out.sort((a, b) => a.timestamp - b.timestamp || a.name.localeCompare(b.name));
  return out;
}

/**
 * The app's compiled entities (ENTITIES_DIR): every exported class of its .js
 * files, recursively. Data migrations that use the query builder with entity
 * classes need their metadata in the DataSource; TypeORM ignores classes that
 * are not decorated entities only if we do not hand them over, so we keep the
 * ones TypeORM registered metadata for.
 */
export async function loadEntities(dirIn: string): Promise<Array<new () => unknown>> {
  installResolutionFallback();
  const dir = resolve(dirIn);
  if (!existsSync(dir)) throw new MigratorError(`entities directory ${dirIn} does not exist`);
  const files = statSync(dir).isDirectory()
    ? (readdirSync(dir, { recursive: true }) as string[])
        .filter((f) => MIGRATION_FILE.test(f) && !f.split('/').some((p) => p.startsWith('.')))
        .sort()
        .map((f) => join(dir, f))
    : [dir];
  const { getMetadataArgsStorage } = await import('typeorm');
  const out = new Set<new () => unknown>();
  for (const file of files) {
    try {
      await import(pathToFileURL(file).href);
    } catch (err) {
      throw new MigratorError(
        `cannot load entity file ${file.slice(dir.length + 1) || file}: ${firstLine((err as Error)?.message ?? String(err))}`,
      );
    }
  }
  // Decorators register into TypeORM's global metadata storage as the files load.
  for (const t of getMetadataArgsStorage().tables)
    if (typeof t.target === 'function') out.add(t.target as new () => unknown);
  return [...out];
}
