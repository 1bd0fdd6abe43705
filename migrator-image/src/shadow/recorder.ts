// What the check records while TypeORM runs the plan on the shadow: every
// statement a migration sends through its QueryRunner (up and down apart), the
// trace of each up() statement, each up()'s duration, and the catalog before
// each up() (what its down() must bring back). One catalog query per migration,
// taken once (the ups run again after the downs and record nothing new).
import type { QueryRunner } from 'typeorm';
import { log } from '../log.js';
import { snapshotCatalog, type Catalog, type LinePool } from './catalog.js';
import type { MigrationInstance } from './instances.js';
import type { Rows } from './schema.js';
import type { Tracer } from './trace.js';

export class Recorder {
  /** The up() statements of each migration reached, from its first run. */
  readonly captured = new Map<string, string[]>();
  /** The down() statements of each migration whose down() ran. */
  readonly downCaptured = new Map<string, string[]>();
  readonly durations = new Map<string, number>();
  /** The catalog before each up(): what its down() must bring back. */
  readonly before = new Map<string, Catalog>();
  /** Migrations whose first up() returned. */
  readonly done = new Set<string>();
  /** Catalog lines shared between the snapshots (most lines are in every one). */
  readonly pool: LinePool = new Map();
  private sink: { migration: string; sqls: string[]; trace: boolean } | undefined;

  constructor(
    private readonly tracer: Tracer,
    private readonly catalog: Rows,
  ) {}

  /** Catalog queries so far (one per migration up, one per migration down). */
  snapshots = 0;

  snapshot(): Promise<Catalog> {
    this.snapshots++;
    return snapshotCatalog(this.catalog, this.pool);
  }

  /** Wraps qr.query: a statement sent while a migration runs is captured (and traced on its first up()). */
  wrapQuery(qr: QueryRunner, original: QueryRunner['query']): void {
    const tracer = this.tracer;
    const sink = () => this.sink;
    qr.query = async function (this: QueryRunner, ...args: Parameters<QueryRunner['query']>) {
      const cur = sink();
      if (!cur || typeof args[0] !== 'string') return original.apply(this, args);
      const index = cur.sqls.length;
      cur.sqls.push(args[0]);
      const started = performance.now();
      const out: unknown = await original.apply(this, args);
      if (cur.trace)
        await tracer
          .after(cur.migration, index, args[0], performance.now() - started)
          .catch((err: unknown) => log.warn({ err: (err as Error).message }, 'trace query failed'));
      return out;
    } as QueryRunner['query'];
  }

  /** Wraps each instance's up() and down() so that what they send is recorded. */
  wrapMigrations(instances: MigrationInstance[]): void {
    for (const inst of instances) {
      const name = inst.name ?? inst.constructor.name;
      const up = inst.up.bind(inst);
      const down = inst.down.bind(inst);
      inst.up = async (q: QueryRunner) => {
        // The first run: the trace's baseline and the catalog its down() must bring back. A run
        // again (after the downs) traces nothing and takes no snapshot: no query of ours at all.
        if (!this.before.has(name)) {
          await this.tracer.settle();
          this.before.set(name, await this.snapshot());
        }
        const sqls: string[] = [];
        if (!this.captured.has(name)) this.captured.set(name, sqls);
        this.sink = { migration: name, sqls, trace: this.captured.get(name) === sqls };
        const started = performance.now();
        try {
          await up(q);
        } finally {
          this.sink = undefined;
        }
        if (!this.durations.has(name)) this.durations.set(name, Math.round(performance.now() - started));
        this.done.add(name);
      };
      inst.down = async (q: QueryRunner) => {
        const sqls: string[] = [];
        this.downCaptured.set(name, sqls);
        this.sink = { migration: name, sqls, trace: false };
        try {
          await down(q);
        } finally {
          this.sink = undefined;
        }
      };
    }
  }
}
