/**
 * SQS helpers shared by the handlers (and the DC consumer): client factory and SendMessageBatch
 * with per-entry retry and backoff.
 *
 * Endpoints: we never pass `endpoint` — the SDK resolves it from its standard settings
 * (`AWS_ENDPOINT_URL_SQS`, `AWS_ENDPOINT_URL`, shared config `services`), so the same code runs
 * against AWS and against a local SQS-protocol server.
 */
import {
  SQSClient,
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
} from "@aws-sdk/client-sqs";
import { SQS_MESSAGE_LIMIT_BYTES } from "../../contract/envelope";

/** SQS's limit on entries per batch call (SendMessageBatch, DeleteMessageBatch, …). */
export const SQS_BATCH_LIMIT = 10;

/**
 * SQS counts a message's size as its body plus every attribute's name, data type and value, and
 * limits one message and the sum of one SendMessageBatch call to the same 1 MiB
 * (`SQS_MESSAGE_LIMIT_BYTES`, the queues' MaximumMessageSize).
 */
export function entryBytes(entry: Omit<SendMessageBatchRequestEntry, "Id">): number {
  let bytes = Buffer.byteLength(entry.MessageBody ?? "", "utf8");
  for (const [name, value] of Object.entries(entry.MessageAttributes ?? {})) {
    bytes += Buffer.byteLength(name, "utf8") + Buffer.byteLength(value.DataType ?? "", "utf8");
    if (value.StringValue !== undefined) bytes += Buffer.byteLength(value.StringValue, "utf8");
    if (value.BinaryValue !== undefined) bytes += value.BinaryValue.byteLength;
  }
  return bytes;
}

/**
 * Groups items into SendMessageBatch calls: at most 10 entries and at most `limitBytes` in total
 * per call, in order. Ten records near MAX_RECORD_BYTES (≈ 255 KiB) would exceed 1 MiB together,
 * so such a batch is split instead of failing as a whole (BatchRequestTooLong).
 */
export function batchGroups<T>(
  items: readonly T[],
  sizeOf: (item: T) => number,
  limitBytes = SQS_MESSAGE_LIMIT_BYTES,
): T[][] {
  const groups: T[][] = [];
  let current: T[] = [];
  let currentBytes = 0;
  for (const item of items) {
    const bytes = sizeOf(item);
    if (
      current.length > 0 &&
      (current.length >= SQS_BATCH_LIMIT || currentBytes + bytes > limitBytes)
    ) {
      groups.push(current);
      current = [];
      currentBytes = 0;
    }
    current.push(item);
    currentBytes += bytes;
  }
  if (current.length > 0) groups.push(current);
  return groups;
}

/** An SQS client for `region` (default: the SDK's own resolution, i.e. AWS_REGION). */
export function createSqsClient(region?: string): SQSClient {
  // With an explicit SQS endpoint (AWS_ENDPOINT_URL_SQS: a local or private endpoint), every call
  // goes there — even for queue URLs on sqs.<region>.amazonaws.com, which the SDK would otherwise
  // prefer (useQueueUrlAsEndpoint). Without it the SDK's defaults apply unchanged.
  const explicitEndpoint = Boolean(
    process.env.AWS_ENDPOINT_URL_SQS || process.env.AWS_ENDPOINT_URL,
  );
  return new SQSClient({
    ...(region ? { region } : {}),
    ...(explicitEndpoint ? { useQueueUrlAsEndpoint: false } : {}),
  });
}

export interface RetryOptions {
  /** Attempts per entry, including the first (default 5). */
  readonly maxAttempts?: number;
  /** Base of the exponential backoff, full jitter (default 100 ms). */
  readonly baseDelayMs?: number;
  /** Cap of one backoff delay (default 2 s). */
  readonly maxDelayMs?: number;
  /** Injectable for tests. */
  readonly sleep?: (ms: number) => Promise<void>;
}

export interface BatchEntryFailure {
  readonly code: string;
  readonly message: string;
  /** True when SQS blames the request (retrying the same entry cannot help). */
  readonly senderFault: boolean;
  readonly attempts: number;
}

export interface BatchSendResult<K> {
  readonly sent: K[];
  readonly failed: { key: K; failure: BatchEntryFailure }[];
  /** SendMessageBatch calls made (including retries). */
  readonly calls: number;
}

export type BatchItem<K> = { key: K; entry: Omit<SendMessageBatchRequestEntry, "Id"> };

const THROTTLING = new Set([
  "RequestThrottled",
  "ThrottlingException",
  "Throttling",
  "TooManyRequestsException",
  "KmsThrottled",
  "KMS.ThrottlingException",
]);

/** Whether a whole-call error is worth retrying (throttling, 5xx, network). */
export function isRetryableError(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const e = error as {
    name?: string;
    $retryable?: unknown;
    $metadata?: { httpStatusCode?: number };
    code?: string;
  };
  if (e.$retryable) return true;
  if (e.name && THROTTLING.has(e.name)) return true;
  const status = e.$metadata?.httpStatusCode;
  if (status === undefined) return true; // no HTTP response at all: network error or timeout
  return status >= 500 || status === 429;
}

function errorCode(error: unknown): string {
  if (typeof error === "object" && error !== null) {
    const e = error as { name?: string; code?: string };
    return e.name ?? e.code ?? "Error";
  }
  return "Error";
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function backoffDelayMs(attempt: number, options: RetryOptions): number {
  const base = options.baseDelayMs ?? 100;
  const cap = options.maxDelayMs ?? 2000;
  return Math.floor(Math.random() * Math.min(cap, base * 2 ** attempt));
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * Sends `items` with SendMessageBatch, up to 10 (and up to 1 MiB) per call. An entry larger than
 * an SQS message can be fails at once (`MessageTooLarge`, sender fault) without holding up the
 * others. Entries that fail with a server-side fault
 * (SenderFault=false) and whole calls that fail with throttling/5xx/network errors are retried
 * with exponential backoff (full jitter); sender faults are final at once. The SDK's own retries
 * still run inside each call. Never throws: every key ends up in `sent` or `failed`.
 */
export async function sendMessageBatchWithRetry<K>(
  client: SQSClient,
  queueUrl: string,
  items: readonly BatchItem<K>[],
  options: RetryOptions = {},
): Promise<BatchSendResult<K>> {
  const maxAttempts = Math.max(1, options.maxAttempts ?? 5);
  const sleep = options.sleep ?? defaultSleep;
  const sent: K[] = [];
  const failed: { key: K; failure: BatchEntryFailure }[] = [];
  let calls = 0;

  const sized: { item: BatchItem<K>; bytes: number }[] = [];
  for (const item of items) {
    const bytes = entryBytes(item.entry);
    if (bytes > SQS_MESSAGE_LIMIT_BYTES) {
      failed.push({
        key: item.key,
        failure: {
          code: "MessageTooLarge",
          message: `message is ${bytes} bytes; SQS accepts at most ${SQS_MESSAGE_LIMIT_BYTES}`,
          senderFault: true,
          attempts: 0,
        },
      });
    } else sized.push({ item, bytes });
  }

  for (const group of batchGroups(sized, (s) => s.bytes)) {
    // Entry ids are positions in this group: unique, valid ([0-9]), and map back to the key.
    let pending = group.map(({ item }, index) => ({ item, id: String(index) }));
    for (let attempt = 1; pending.length > 0; attempt++) {
      const last = attempt >= maxAttempts;
      const retry: typeof pending = [];
      calls++;
      try {
        const result = await client.send(
          new SendMessageBatchCommand({
            QueueUrl: queueUrl,
            Entries: pending.map(({ item, id }) => ({ ...item.entry, Id: id })),
          }),
        );
        const byId = new Map(pending.map((p) => [p.id, p]));
        for (const ok of result.Successful ?? []) {
          const p = ok.Id !== undefined ? byId.get(ok.Id) : undefined;
          if (p) {
            sent.push(p.item.key);
            byId.delete(p.id);
          }
        }
        for (const bad of result.Failed ?? []) {
          const p = bad.Id !== undefined ? byId.get(bad.Id) : undefined;
          if (!p) continue;
          byId.delete(p.id);
          const senderFault = bad.SenderFault === true;
          if (!senderFault && !last) retry.push(p);
          else {
            failed.push({
              key: p.item.key,
              failure: {
                code: bad.Code ?? "Unknown",
                message: bad.Message ?? "",
                senderFault,
                attempts: attempt,
              },
            });
          }
        }
        // An entry SQS reported neither way: treat as a server fault.
        for (const p of byId.values()) {
          if (!last) retry.push(p);
          else {
            failed.push({
              key: p.item.key,
              failure: {
                code: "MissingResult",
                message: "no result for entry",
                senderFault: false,
                attempts: attempt,
              },
            });
          }
        }
      } catch (error) {
        const retryable = isRetryableError(error);
        if (retryable && !last) retry.push(...pending);
        else {
          for (const p of pending) {
            failed.push({
              key: p.item.key,
              failure: {
                code: errorCode(error),
                message: errorMessage(error),
                senderFault: !retryable,
                attempts: attempt,
              },
            });
          }
        }
      }
      pending = retry;
      if (pending.length > 0) await sleep(backoffDelayMs(attempt, options));
    }
  }
  return { sent, failed, calls };
}
