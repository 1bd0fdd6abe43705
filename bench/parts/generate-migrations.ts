// Generated TypeORM migrations (plain ESM classes, as an app compiles them):
// a repeating cycle of schema and data changes, each with an exact down().
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

function body(i: number, rows: number): { up: string[]; down: string[] } {
  const t = `bench_t${Math.floor(i / 4)}`;
  switch (i % 4) {
    case 0:
      return {
        up: [
          `CREATE TABLE "${t}" ("id" bigserial PRIMARY KEY, "name" text NOT NULL, "payload" jsonb, "created_at" timestamptz NOT NULL DEFAULT now())`,
        ],
        down: [`DROP TABLE "${t}"`],
      };
    case 1:
      return {
        up: [
          `INSERT INTO "${t}" ("name", "payload") SELECT 'item-' || g, jsonb_build_object('g', g, 'tag', md5(g::text)) FROM generate_series(1, ${rows}) g`,
        ],
        down: [`DELETE FROM "${t}"`],
      };
    case 2:
      return {
        up: [`ALTER TABLE "${t}" ADD COLUMN "note" text NOT NULL DEFAULT ''`],
        down: [`ALTER TABLE "${t}" DROP COLUMN "note"`],
      };
    default:
      return {
        up: [
          `CREATE INDEX "${t}_name_idx" ON "${t}" ("name")`,
          `UPDATE "${t}" SET "note" = left("name", 6) WHERE "id" % 10 = 0`,
        ],
        down: [`UPDATE "${t}" SET "note" = ''`, `DROP INDEX "${t}_name_idx"`],
      };
  }
}

/** Writes `count` migrations into `dir`; `rows` per data migration. Returns `dir`. */
export function generateMigrations(dir: string, count: number, rows = 500): string {
  mkdirSync(dir, { recursive: true });
  const base = 1_750_000_000_000;
  for (let i = 0; i < count; i++) {
    const ts = base + i * 1000;
    const name = `Bench${String(i).padStart(4, '0')}`;
    const { up, down } = body(i, rows);
    const q = (sqls: string[]) =>
      sqls.map((s) => `    await queryRunner.query(${JSON.stringify(s)});`).join('\n');
    writeFileSync(
      path.join(dir, `${ts}-${name}.js`),
      `export class ${name}${ts} {\n  async up(queryRunner) {\n${q(up)}\n  }\n  async down(queryRunner) {\n${q(down)}\n  }\n}\n`,
    );
  }
  return dir;
}
