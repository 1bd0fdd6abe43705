// Building blocks the DatabaseMigration schema shares across its sections.
import { z } from 'zod';

// An RFC 1123 subdomain, label by label, exactly as the API server checks the
// names the Jobs carry: a looser pattern ("a..b", "a.-b") passed here and was
// then refused on the Job, whose error names the Job's field, not this one.
export const dnsName = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/);

export const cel = (rule: string, message: string, fieldPath?: string) => ({
  rule,
  message,
  ...(fieldPath ? { fieldPath } : {}),
});

// A key of a Secret or ConfigMap: same rules (Kubernetes checks them the same way).
export const dataKey = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[-._a-zA-Z0-9]+$/, 'must be a key: letters, digits, "-", "_" and "."');
