/** Reads the handlers' environment (names in contract/lambdaEnv.ts) with clear errors. */
export function requireEnv(name: string, env: NodeJS.ProcessEnv = process.env): string {
  const value = env[name];
  if (value === undefined || value.trim() === "") {
    throw new Error(
      `environment variable ${name} is not set — the Pulumi program sets it on the function`,
    );
  }
  return value;
}

export function booleanEnv(name: string, env: NodeJS.ProcessEnv = process.env): boolean {
  const value = requireEnv(name, env);
  if (value === "true") return true;
  if (value === "false") return false;
  throw new Error(`environment variable ${name} must be "true" or "false", got "${value}"`);
}
