/** IAM / SQS policy documents: statements, principals and action or resource patterns. */

export interface Statement {
  Sid?: string;
  Effect?: string;
  Principal?: unknown;
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: string | string[];
  Condition?: Record<string, Record<string, unknown>>;
}

/** A value that may be one item, a list or absent, as a list. */
export const list = <T>(value: T | T[] | undefined | null): T[] =>
  value === undefined || value === null ? [] : Array.isArray(value) ? value : [value];

/** Statements of a policy document given as JSON text or an object; [] when absent. */
export function statementsOf(document: unknown): Statement[] {
  if (document === undefined || document === null || document === "") return [];
  const parsed = typeof document === "string" ? JSON.parse(document) : document;
  return list((parsed as { Statement?: Statement | Statement[] }).Statement);
}

/** How a violation names a statement. */
export const sidOf = (s: Statement) => s.Sid ?? "(no Sid)";

export function principalIsPublic(principal: unknown): boolean {
  if (principal === "*") return true;
  if (principal && typeof principal === "object") {
    return list((principal as { AWS?: unknown }).AWS as unknown[]).some((p) => p === "*");
  }
  return false;
}

export const allows = (s: Statement) => s.Effect === "Allow";

/** IAM wildcard matching (`*`), case-insensitive as IAM matches actions. */
export const actionMatches = (pattern: string, action: string) =>
  pattern === "*" ||
  new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`, "i").test(
    action,
  );

/** The statement allows `action` on `resource`. */
export const grants = (s: Statement, action: string, resource: string) =>
  allows(s) &&
  list(s.Action).some((a) => actionMatches(a, action)) &&
  list(s.Resource).some((r) => actionMatches(r, resource));
