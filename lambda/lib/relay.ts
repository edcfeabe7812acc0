/**
 * How a relay message becomes an SQS entry — one definition for notify (regional queue) and the
 * forwarder (aggregator queue), so both queues carry identical bodies and attributes.
 */
import { createHash } from "crypto";
import type { MessageAttributeValue, SendMessageBatchRequestEntry } from "@aws-sdk/client-sqs";
import { DEDUP_KEY_ATTRIBUTE, type RelayMessage } from "../../contract/envelope";

/** SQS: MessageDeduplicationId / MessageGroupId are 1..128 chars of ASCII alphanumerics + punctuation. */
const FIFO_ID_PATTERN = /^[A-Za-z0-9!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]{1,128}$/;

/**
 * A FIFO id (MessageDeduplicationId or MessageGroupId) for a key: the key itself when SQS accepts
 * it (readable in the console: `ap-northeast-1:1042`), otherwise `sha256:<hex>` (71 chars). A
 * row key holds the row's primary key as JSON (`ap-northeast-1:order_data:[["id",42]]`), so a
 * long, non-ASCII or space-containing key (or table name) takes the hashed form. The mapping is a
 * pure function of the key, so every duplicate — from any hop, any retry — gets the same id.
 */
export function fifoSafeId(key: string): string {
  if (FIFO_ID_PATTERN.test(key)) return key;
  return `sha256:${createHash("sha256").update(key, "utf8").digest("hex")}`;
}

/**
 * MessageDeduplicationId: one per change (`<region>:<outboxId>`). Per change, not per row: an
 * UPDATE captured within 5 minutes of its INSERT is a different change and must pass SQS's
 * deduplication window, while a retried delivery of the same change is dropped.
 */
export function fifoDedupId(message: RelayMessage): string {
  return fifoSafeId(message.dedupKey);
}

/**
 * MessageGroupId: one group per row (`<region>:<table>:<canonical key>`; a table's SCHEMA
 * records have a group of their own). FIFO keeps a group's messages in order and hands out none
 * of a group while one is in flight, so a row's changes reach the DC in outbox order, while
 * different rows flow in parallel: one poison message blocks only its own row, and several DC
 * consumers (and receive loops) share the queue. The DC still applies changes by outboxId, so
 * order is a help, not a requirement. With `DeduplicationScope: messageGroup`, deduplication is
 * per row: the dedup id is unique per change, so that scope drops exactly the same duplicates.
 */
export function fifoGroupId(message: RelayMessage): string {
  return fifoSafeId(message.rowKey);
}

export function dedupAttributes(dedupKey: string): Record<string, MessageAttributeValue> {
  return { [DEDUP_KEY_ATTRIBUTE]: { DataType: "String", StringValue: dedupKey } };
}

/** The SQS entry (without Id) for a relay message; `body` defaults to its canonical JSON. */
export function relayEntry(
  message: RelayMessage,
  options: { fifo: boolean; body?: string },
): Omit<SendMessageBatchRequestEntry, "Id"> {
  return {
    MessageBody: options.body ?? JSON.stringify(message),
    MessageAttributes: dedupAttributes(message.dedupKey),
    ...(options.fifo
      ? {
          MessageDeduplicationId: fifoDedupId(message),
          MessageGroupId: fifoGroupId(message),
        }
      : {}),
  };
}
