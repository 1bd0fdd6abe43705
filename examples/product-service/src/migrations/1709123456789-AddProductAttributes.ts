import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Schema: variants get free-form attributes (the example of the migration strategy). */
export class AddProductAttributes1709123456789 implements MigrationInterface {
  name = 'AddProductAttributes1709123456789';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE product_variants
      ADD COLUMN attributes JSONB NOT NULL DEFAULT '{}'
    `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE product_variants
      DROP COLUMN attributes
    `);
  }
}
