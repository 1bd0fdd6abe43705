// Keeps the database password out of everything the migrator prints or reports.
let secrets: string[] = [];

export function registerSecret(secret: string | undefined): void {
  if (!secret) return;
  const forms = new Set([secret, JSON.stringify(secret).slice(1, -1), encodeURIComponent(secret)]);
  secrets = [...new Set([...secrets, ...forms])]
    .filter((s) => s.length > 0)
    .sort((a, b) => b.length - a.length);
}

export function scrub(text: string): string {
  let out = text;
  for (const s of secrets) out = out.split(s).join('***');
  return out;
}

/**
 * SQL for a report: the password, plus literals that look like credentials
 * (PASSWORD '...', password = '...', a URL's user:password@) whatever their value.
 */
export function scrubSql(sql: string): string {
  return scrub(sql)
    .replace(
      /((?:password|passwd|pwd|secret|token)\w*["']?\s*(?:=|:|=>)?\s*)('(?:[^']|'')*'|"[^"]*"|\$\$[\s\S]*?\$\$)/gi,
      "$1'***'",
    )
    .replace(/(\/\/[^/\s:@'"]+:)[^@\s'"]+@/g, '$1***@');
}
