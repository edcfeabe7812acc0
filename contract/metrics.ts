/**
 * CloudWatch metrics: the contract between the handlers (which emit them through Powertools EMF)
 * and the alarms and dashboard (which read them). Every metric carries the dimensions `service`
 * and `region`.
 */
export const METRICS_NAMESPACE = "OrderRelay";

/** Powertools service names; the `service` dimension of every metric and the log field. */
export const SERVICE = {
  notify: "order-relay-notify",
  forwarder: "order-relay-forwarder",
  dcConsumer: "order-relay-dc-consumer",
  ack: "order-relay-ack",
} as const;

export type ServiceName = (typeof SERVICE)[keyof typeof SERVICE];

export const METRIC = {
  enqueued: "Enqueued",
  forwarded: "Forwarded",
  forwardFailed: "ForwardFailed",
  relayLag: "RelayLag",
  /** notify, from relay_heartbeat(): 1 per minute per region while the database reaches Lambda. */
  heartbeat: "Heartbeat",
  outboxPending: "OutboxPending",
  outboxOldestPending: "OutboxOldestPendingSeconds",
  outboxOverdue: "OutboxOverdue",
  /** notify, from the heartbeat: changes too large to send, waiting for an operator. */
  outboxQuarantined: "OutboxQuarantined",
  /** notify, from the heartbeat: purge runs in a row that failed. */
  purgeFailures: "PurgeFailures",
  /** notify, from the heartbeat: listed tables whose backfill is not verified complete. */
  backfillIncomplete: "BackfillIncomplete",
  /** ack: outbox rows marked confirmed. */
  confirmed: "Confirmed",
  /** ack: now − committedAt of the newest id in an ack message. */
  confirmationLag: "ConfirmationLag",
  /** notify, from the heartbeat: changes past the retention that the DC has not confirmed. */
  unconfirmedOverdue: "UnconfirmedOverdue",
} as const;

/** The dimensions a handler's metric carries, as alarms must name them. */
export function metricDimensions(service: ServiceName, region: string): Record<string, string> {
  return { service, region };
}
