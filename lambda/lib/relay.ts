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
 * The FIFO id for a dedup key: the key itself when SQS accepts it (readable in the console:
 * `ap-northeast-1:order_data:42`), otherwise `sha256:<hex>` (71 chars). A region is short ASCII
 * and rowId is a number, so only an unusual table name (non-ASCII, spaces, 64 chars long) ever
 * takes the hashed form. The mapping is a pure function of the key, so every duplicate of a row —
 * from any hop, any retry — gets the same id and SQS drops it within the 5-minute window.
 */
export function fifoSafeId(dedupKey: string): string {
  if (FIFO_ID_PATTERN.test(dedupKey)) return dedupKey;
  return `sha256:${createHash("sha256").update(dedupKey, "utf8").digest("hex")}`;
}

/**
 * MessageGroupId: one group per row (= the FIFO-safe dedup key), i.e. finer than per region.
 * Why: every message is an independent INSERT of a different row and the DC upserts by key, so
 * nothing depends on cross-row order. A FIFO queue hands out no further message of a group while
 * one is in flight, so a per-region group would (a) let one poison message block its whole region
 * for maxReceiveCount × visibility timeout before it reaches the DLQ, and (b) cap each region at
 * one in-flight batch, i.e. one DC consumer, and — in high-throughput mode, where limits are per
 * group — at one group's throughput. The group is a function of the dedup key, so deduplication
 * also holds with `DeduplicationScope: messageGroup`.
 */
export function fifoGroupId(message: RelayMessage): string {
  return fifoSafeId(message.dedupKey);
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
          MessageDeduplicationId: fifoSafeId(message.dedupKey),
          MessageGroupId: fifoGroupId(message),
        }
      : {}),
  };
}
