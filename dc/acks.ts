/**
 * The DC's end of the acknowledgement path (order-relay:purgeRequires = confirmed): after each
 * commit the consumer hands the committed changes here; their `outboxId`s are collected per
 * region and sent to that region's ack queue (contract/ack.ts) — many ids per message, on a timer
 * or when a message is full — so a region's database may purge what the DC now holds.
 *
 * Acknowledging is idempotent and may be late or lost: an id whose ack never arrives is resent by
 * its region after resendAfterMinutes, the DC finds it stale, and acknowledges it again. So a
 * failed send keeps the ids for the next flush, and a crash loses nothing but time.
 */
import { SendMessageBatchCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { Logger } from "@aws-lambda-powertools/logger";
import { ackMessages, MAX_ACK_IDS_PER_MESSAGE } from "../contract/ack";
import type { RelayMessage } from "../contract/envelope";

export interface AckSenderOptions {
  /** Region → URL of its ack queue (the stack output `regions.<region>.ackQueueUrl`). */
  readonly queueUrls: Readonly<Record<string, string>>;
  /** An SQS client for a region (each ack queue lives in its own region). */
  readonly clientFor: (region: string) => SQSClient;
  /** How long ids may wait to share a message. @default - 5000 ms */
  readonly flushIntervalMs?: number;
  readonly logger: Logger;
}

export interface AckSenderStats {
  /** Ids sent (acknowledged to their region). */
  acknowledged: number;
  /** SendMessageBatch calls. */
  calls: number;
  /** Failed sends (their ids were kept for the next flush). */
  failures: number;
  /** Ids of regions without an ack queue (never acknowledged: handedOff regions). */
  unrouted: number;
}

export interface AckSender {
  /** Collects the committed changes' ids (SCHEMA records included: they are outbox rows too). */
  add(messages: readonly RelayMessage[]): Promise<void>;
  /** Sends everything collected now. */
  flush(): Promise<void>;
  /** Stops the timer and sends what is left. */
  stop(): Promise<void>;
  readonly stats: AckSenderStats;
}

/** SQS takes at most 10 entries per SendMessageBatch. */
const ENTRIES_PER_CALL = 10;

export function createAckSender(options: AckSenderOptions): AckSender {
  const pending = new Map<string, number[]>();
  const stats: AckSenderStats = { acknowledged: 0, calls: 0, failures: 0, unrouted: 0 };
  const warned = new Set<string>();
  let flushing: Promise<void> = Promise.resolve();

  const sendRegion = async (region: string): Promise<void> => {
    const ids = pending.get(region);
    if (!ids || ids.length === 0) return;
    pending.set(region, []);
    const messages = ackMessages(region, ids, new Date());
    for (let i = 0; i < messages.length; i += ENTRIES_PER_CALL) {
      const chunk = messages.slice(i, i + ENTRIES_PER_CALL);
      try {
        stats.calls++;
        const result = await options.clientFor(region).send(
          new SendMessageBatchCommand({
            QueueUrl: options.queueUrls[region],
            Entries: chunk.map((message, j) => ({
              Id: String(j),
              MessageBody: JSON.stringify(message),
            })),
          }),
        );
        const failed = new Set((result.Failed ?? []).map((f) => Number(f.Id)));
        chunk.forEach((message, j) => {
          if (failed.has(j)) pending.get(region)!.push(...message.outboxIds);
          else stats.acknowledged += message.outboxIds.length;
        });
        if (failed.size > 0) stats.failures++;
      } catch (error) {
        stats.failures++;
        for (const message of chunk) pending.get(region)!.push(...message.outboxIds);
        options.logger.warn("could not send acknowledgements; kept for the next flush", {
          region,
          ids: chunk.reduce((n, m) => n + m.outboxIds.length, 0),
          error: (error as Error).name,
        });
      }
    }
  };

  const flush = (): Promise<void> => {
    flushing = flushing.then(async () => {
      for (const region of [...pending.keys()]) await sendRegion(region);
    });
    return flushing;
  };

  const timer = setInterval(() => void flush(), options.flushIntervalMs ?? 5000);
  timer.unref();

  return {
    stats,
    async add(messages) {
      for (const message of messages) {
        if (!options.queueUrls[message.region]) {
          stats.unrouted++;
          if (!warned.has(message.region)) {
            warned.add(message.region);
            options.logger.warn(
              "no ack queue for this region: its changes are never confirmed (set --ack-queue-urls)",
              { region: message.region },
            );
          }
          continue;
        }
        const ids = pending.get(message.region) ?? [];
        ids.push(message.outboxId);
        pending.set(message.region, ids);
        if (ids.length >= MAX_ACK_IDS_PER_MESSAGE) await flush();
      }
    },
    flush,
    async stop() {
      clearInterval(timer);
      await flush();
    },
  };
}

/** `--ack-queue-urls '{"ap-northeast-1": "https://…"}'`: region → ack queue URL. */
export function parseAckQueueUrls(text: string): Record<string, string> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error(`is not JSON; expected {"<region>": "<ack queue URL>", …}`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new Error(`must be an object {"<region>": "<ack queue URL>", …}`);
  }
  for (const [region, url] of Object.entries(value)) {
    if (typeof url !== "string" || !/^https?:\/\//.test(url)) {
      throw new Error(`"${region}" must map to an http(s) queue URL`);
    }
  }
  return value as Record<string, string>;
}
