// spec.safety and spec.check: what the pre-deployment check may block, and how it runs.
import { z } from 'zod';
import { FindingCategory, findingCategories } from '../job-result.js';
import { BYTES } from './backup.js';
import { SecretKeyRef } from './database.js';
import { SeedTables } from './seed-tables.js';

export const SafetySpec = z
  .object({
    block: z
      .array(FindingCategory)
      .max(findingCategories.length)
      .default(['destructive', 'dataLoss', 'rehearsal'])
      .describe('Finding categories of the pre-deployment check that block the run until approved.'),
    approval: z
      .string()
      .max(128)
      .optional()
      .describe('The plan hash (status.plan.hash) of a blocked plan that a human accepts.'),
    compatibility: z
      .object({
        queries: z
          .array(z.string().min(1).max(4000))
          .max(20)
          .default([])
          .describe(
            'SQL the running app version depends on: each must still run on the shadow database after the pending migrations, else a backwardIncompatible finding names it.',
          ),
      })
      .optional()
      .describe('Backward compatibility of the migrated schema with the app version still running.'),
  })
  .describe('What the pre-deployment check may block.');

export const CheckSpec = z
  .object({
    shadow: z
      .object({
        host: z
          .string()
          .min(1)
          .max(253)
          .describe('Host of a PostgreSQL server the check may create databases on.'),
        port: z.number().int().min(1).max(65535).default(5432).describe('Its TCP port.'),
        user: z
          .string()
          .min(1)
          .max(63)
          .describe('A role with CREATEDB there (and CREATEROLE, to mirror roles).'),
        passwordSecretRef: SecretKeyRef.describe('Where its password is: a Secret key.'),
        database: z
          .string()
          .min(1)
          .max(63)
          .default('postgres')
          .describe('The database connected to for CREATE/DROP DATABASE.'),
        sslMode: z
          .enum(['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'])
          .default('prefer')
          .describe('libpq sslmode.'),
      })
      .optional()
      .describe(
        "An external shadow server, for targets using extensions the migrator image lacks: each check creates a fresh database there, runs the plan on it and drops it. Default: a throwaway PostgreSQL 18 server inside the check Pod. It must run the target's major version or a newer one.",
      ),
    rehearsal: z
      .object({
        maxSize: z
          .string()
          .regex(BYTES, 'is not a size quantity (e.g. 1Gi, 500M, 0)')
          .default('1Gi')
          .describe(
            'Largest database (pg_database_size) the check copies whole (schema and rows, pg_dump from one snapshot) into its private server to rehearse the pending migrations on real data: real durations, and failures that only real rows cause (a constraint existing rows violate) block the run. Above it the check runs on the schema alone. 0: never copy the rows.',
          ),
      })
      .prefault({})
      .describe('The rehearsal of the pending migrations on a private copy of the data.'),
    seedTables: SeedTables,
  })
  .describe('How the pre-deployment check runs.');
