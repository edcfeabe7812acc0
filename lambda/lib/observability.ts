/**
 * Powertools logger and metrics, configured from the standard POWERTOOLS_* variables the program
 * sets. Metrics carry the dimensions `service` (from POWERTOOLS_SERVICE_NAME) and `region` (the
 * function's AWS_REGION); alarms depend on the metric names in `METRIC`.
 */
import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics } from "@aws-lambda-powertools/metrics";
import { METRICS_NAMESPACE } from "../../contract/metrics";

export { METRIC } from "../../contract/metrics";

export function createLogger(defaultService: string): Logger {
  return new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? defaultService });
}

export function createMetrics(defaultService: string): Metrics {
  const region = process.env.AWS_REGION;
  return new Metrics({
    namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? METRICS_NAMESPACE,
    serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? defaultService,
    ...(region ? { defaultDimensions: { region } } : {}),
  });
}

/** A short, non-personal description of an error for logs: name and message only. */
export function errorSummary(error: unknown): { name: string; message: string } {
  if (error instanceof Error) return { name: error.name, message: error.message };
  return { name: "Error", message: String(error) };
}
