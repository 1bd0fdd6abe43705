import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Data: a few products and variants in the seeded categories. */
export class SeedStarterProducts1709200000000 implements MigrationInterface {
  name = 'SeedStarterProducts1709200000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      INSERT INTO products (category_id, name, price_cents)
      SELECT c.id, p.name, p.price_cents
      FROM (VALUES ('Electronics', 'USB-C cable', 1299),
                   ('Electronics', 'Headphones', 8900),
                   ('Clothing', 'T-shirt', 1900)) AS p (category, name, price_cents)
      JOIN categories c ON c.name = p.category
    `);
    await queryRunner.query(`
      INSERT INTO product_variants (product_id, sku, attributes)
      SELECT id, upper(replace(name, ' ', '-')) || '-STD', jsonb_build_object('edition', 'standard')
      FROM products
    `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      DELETE FROM product_variants WHERE sku IN ('USB-C-CABLE-STD', 'HEADPHONES-STD', 'T-SHIRT-STD')
    `);
    await queryRunner.query(`DELETE FROM products WHERE name IN ('USB-C cable', 'Headphones', 'T-shirt')`);
  }
}
