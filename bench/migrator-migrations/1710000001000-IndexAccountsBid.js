export class IndexAccountsBid1710000001000 {
  async up(queryRunner) {
    await queryRunner.query(`CREATE INDEX "pgbench_accounts_bid_idx" ON "pgbench_accounts" ("bid")`);
  }
  async down(queryRunner) {
    await queryRunner.query(`DROP INDEX "pgbench_accounts_bid_idx"`);
  }
}
