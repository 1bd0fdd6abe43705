// spec.migrations: where the compiled migrations come from and how they run.
import { z } from 'zod';
import { cel, dnsName } from './common.js';

/** path is root or below it (both absolute; the same rule as the CRD's CEL one). */
export function isWithin(path: string, root: string): boolean {
  return path === root || path.startsWith(root.endsWith('/') ? root : `${root}/`);
}

export const MigrationsSource = z
  .object({
    image: z
      .string()
      .min(1)
      .optional()
      .describe('The application image that contains the compiled TypeORM migrations.'),
    path: z
      .string()
      .regex(/^\//, 'must be an absolute path')
      .default('/app/dist/migrations')
      .describe('Directory inside the image holding the compiled migrations (.js files).'),
    copyRoot: z
      .string()
      .regex(/^\//, 'must be an absolute path')
      .optional()
      .describe(
        "Directory of the image copied into the Job (default: path itself): the app's whole dist, so migrations that import sibling modules find them. Must contain path.",
      ),
    source: z
      .enum(['copy', 'imageVolume'])
      .optional()
      .describe(
        'How the Jobs get the image files (default copy). copy: init containers copy copyRoot into an emptyDir with a static copier (no shell needed in the image). imageVolume: the image is mounted read-only as a Kubernetes image volume (beta, on by default from 1.35; needs a runtime that supports it, e.g. containerd 2.1+), no copy; image must then be a digest reference (...@sha256:...), since a mounted image reports no digest to pin.',
      ),
    configMapRef: z
      .object({ name: dnsName.describe('Name of a ConfigMap of the namespace.') })
      .optional()
      .describe('A ConfigMap whose keys are compiled migration files. Alternative to image.'),
    transactionMode: z
      .enum(['all', 'each', 'none'])
      .default('all')
      .describe('TypeORM transaction mode: one transaction for all, one per migration, or none.'),
    tableName: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
      .max(63)
      .default('migrations')
      .describe('The TypeORM migrations table.'),
  })
  .meta({
    'x-kubernetes-validations': [
      cel(
        'has(self.image) != has(self.configMapRef)',
        'set exactly one of migrations.image and migrations.configMapRef',
      ),
      cel(
        "!has(self.copyRoot) || self.path == self.copyRoot || self.path.startsWith(self.copyRoot.endsWith('/') ? self.copyRoot : self.copyRoot + '/')",
        'migrations.path must be inside migrations.copyRoot',
        '.copyRoot',
      ),
      cel(
        "!has(self.source) || self.source != 'imageVolume' || (has(self.image) && self.image.contains('@sha256:'))",
        'migrations.source imageVolume needs migrations.image as a digest reference (image@sha256:...)',
        '.source',
      ),
    ],
  })
  .refine((m) => m.copyRoot === undefined || isWithin(m.path, m.copyRoot), {
    message: 'migrations.path must be inside migrations.copyRoot',
    path: ['copyRoot'],
  })
  .refine((m) => m.source !== 'imageVolume' || (m.image?.includes('@sha256:') ?? false), {
    message: 'migrations.source imageVolume needs migrations.image as a digest reference (image@sha256:...)',
    path: ['source'],
  })
  .describe('Where the compiled migrations come from.');
