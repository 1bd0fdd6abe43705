export class BackfillBranches1710000002000 {
  async up(queryRunner) {
    await queryRunner.query(`UPDATE "pgbench_branches" SET "filler" = 'backfilled' WHERE "filler" IS NULL`);
  }
  async down() {}
}
