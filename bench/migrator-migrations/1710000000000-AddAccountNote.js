export class AddAccountNote1710000000000 {
  async up(queryRunner) {
    await queryRunner.query(`ALTER TABLE "pgbench_accounts" ADD COLUMN "note" text NOT NULL DEFAULT ''`);
  }
  async down(queryRunner) {
    await queryRunner.query(`ALTER TABLE "pgbench_accounts" DROP COLUMN "note"`);
  }
}
