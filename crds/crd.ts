// Builds the CustomResourceDefinition object from the zod schemas. Pure: the
// generator script writes it to disk, the staleness test compares it.
import { z } from 'zod';
import {
  DatabaseMigrationSpec,
  DatabaseMigrationStatus,
  GROUP,
  KIND,
  PLURAL,
  VERSION,
} from './database-migration.js';

type JsonSchema = { [key: string]: unknown };

/**
 * zod emits a few keywords a structural CRD schema rejects or does not need;
 * drop them recursively. `additionalProperties: false` is forbidden next to
 * `properties` in a structural schema, and `$schema` is not accepted at all.
 */
function toStructural(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(toStructural);
  if (node === null || typeof node !== 'object') return node;
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(node as JsonSchema)) {
    if (key === '$schema' || key === 'id') continue;
    if (key === 'additionalProperties' && value === false) continue;
    out[key] = toStructural(value);
  }
  const isEmpty = (v: unknown) => !v || (typeof v === 'object' && Object.keys(v).length === 0);
  // An object with no declared fields (e.g. z.looseObject({})) keeps whatever it is given.
  if (out.type === 'object' && isEmpty(out.properties) && isEmpty(out.additionalProperties)) {
    delete out.properties;
    delete out.additionalProperties;
    out['x-kubernetes-preserve-unknown-fields'] = true;
  }
  // A loose object with declared fields (a core/v1 Volume checked by name only):
  // structural schemas forbid properties next to additionalProperties.
  if (
    out.type === 'object' &&
    !isEmpty(out.properties) &&
    isEmpty(out.additionalProperties) &&
    out.additionalProperties !== undefined
  ) {
    delete out.additionalProperties;
    out['x-kubernetes-preserve-unknown-fields'] = true;
  }
  return out;
}

function schemaOf(type: z.ZodType): JsonSchema {
  return toStructural(
    z.toJSONSchema(type, { target: 'openapi-3.0', io: 'input', unrepresentable: 'any' }),
  ) as JsonSchema;
}

export function buildCrd(): JsonSchema {
  const spec = schemaOf(DatabaseMigrationSpec);
  const status = schemaOf(DatabaseMigrationStatus);
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${PLURAL}.${GROUP}`,
      labels: { 'app.kubernetes.io/name': 'database-migration-operator' },
    },
    spec: {
      group: GROUP,
      names: {
        kind: KIND,
        listKind: `${KIND}List`,
        plural: PLURAL,
        singular: 'databasemigration',
        shortNames: ['dbm'],
        categories: ['all', 'dbmigrate'],
      },
      scope: 'Namespaced',
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [
            {
              name: 'Ready',
              type: 'string',
              jsonPath: '.status.conditions[?(@.type=="Ready")].status',
              description: 'True only when the last run succeeded',
            },
            { name: 'Phase', type: 'string', jsonPath: '.status.phase', description: 'Where the run is' },
            {
              name: 'Applied',
              type: 'integer',
              jsonPath: '.status.appliedCount',
              description: 'Migrations applied by the last run',
            },
            {
              name: 'Progress',
              type: 'string',
              jsonPath: '.status.progress.message',
              description: 'The migrate step: migration n of N and its name while it runs',
            },
            // -o wide: what a person looks at next, without crowding the default view.
            {
              name: 'Target',
              type: 'string',
              jsonPath: '.status.target',
              priority: 1,
              description: 'host:port/database, the key runs are serialized on',
            },
            {
              name: 'Reason',
              type: 'string',
              jsonPath: '.status.conditions[?(@.type=="Ready")].reason',
              priority: 1,
              description: 'Why Ready is what it is',
            },
            {
              name: 'Backup',
              type: 'string',
              jsonPath: '.status.backup.path',
              priority: 1,
              description: 'The backup the last run took',
            },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description:
                'DatabaseMigration runs the pending TypeORM migrations of an application against a PostgreSQL database: plan check, verified backup, migrate, verify, and revert or restore on failure.',
              required: ['spec'],
              properties: {
                apiVersion: {
                  type: 'string',
                  description:
                    'APIVersion defines the versioned schema of this representation of an object: dbmigrate.io/v1alpha1.',
                },
                kind: {
                  type: 'string',
                  description: 'Kind is the REST resource this object represents: DatabaseMigration.',
                },
                // The API server describes metadata itself (ObjectMeta) and refuses anything else here.
                metadata: { type: 'object' },
                spec,
                status: {
                  ...status,
                  // kstatus reads an object without status as Current; a default
                  // observedGeneration of -1 makes a brand-new resource read as
                  // in progress until the operator writes the real one.
                  default: { observedGeneration: -1 },
                },
              },
            },
          },
        },
      ],
    },
  };
}
