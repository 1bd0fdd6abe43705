import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Data: the first categories (the example of the migration strategy). */
export class SeedProductCategories1709123456790 implements MigrationInterface {
  name = 'SeedProductCategories1709123456790';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      INSERT INTO categories (id, name, description)
      VALUES
        (gen_random_uuid(), 'Electronics', 'Electronic devices and accessories'),
        (gen_random_uuid(), 'Clothing', 'Apparel and fashion items')
    `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      DELETE FROM categories
      WHERE name IN ('Electronics', 'Clothing')
    `);
  }
}
