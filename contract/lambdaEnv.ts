/**
 * Environment variable names: the fixed contract between the program (which sets them on each
 * function) and the handlers (which read them). No other module spells these strings.
 */
export const LAMBDA_ENV = {
  /** notify: URL of the regional queue. */
  queueUrl: "QUEUE_URL",
  /** forwarder: URL of the aggregator queue. */
  aggregatorQueueUrl: "AGGREGATOR_QUEUE_URL",
  /** forwarder: region of the aggregator queue (the SQS client is built for it). */
  aggregatorRegion: "AGGREGATOR_REGION",
  /** forwarder: "true" when the aggregator is FIFO (MessageGroupId + MessageDeduplicationId). */
  aggregatorFifo: "AGGREGATOR_FIFO",
  /** ack: `host:port` of the region's cluster (writer endpoint). */
  ackDbEndpoint: "ACK_DB_ENDPOINT",
  /** ack: the storefront database holding the outbox. */
  ackDbName: "ACK_DB_NAME",
  /** ack: the MySQL user it connects as with IAM database authentication (no password). */
  ackDbUser: "ACK_DB_USER",
} as const;

/** Powertools' own variables, set by the program on every function. */
export const POWERTOOLS_ENV = {
  serviceName: "POWERTOOLS_SERVICE_NAME",
  metricsNamespace: "POWERTOOLS_METRICS_NAMESPACE",
  logLevel: "POWERTOOLS_LOG_LEVEL",
} as const;
