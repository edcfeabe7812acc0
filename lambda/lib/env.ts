/** Environment variable names: the fixed contract between the program and the handlers. */
export const LAMBDA_ENV = {
  /** notify: URL of the regional queue. */
  queueUrl: "QUEUE_URL",
  /** forwarder: URL of the aggregator queue. */
  aggregatorQueueUrl: "AGGREGATOR_QUEUE_URL",
  /** forwarder: region of the aggregator queue (the SQS client is built for it). */
  aggregatorRegion: "AGGREGATOR_REGION",
  /** forwarder: "true" when the aggregator is FIFO (MessageGroupId + MessageDeduplicationId). */
  aggregatorFifo: "AGGREGATOR_FIFO",
} as const;

/** Reads the handlers' environment (names in LAMBDA_ENV above) with clear errors. */
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
