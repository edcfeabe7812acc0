/**
 * Shared by the handler and DC tests: the example stack config, queues built from the program's
 * own queueSpecs, hostile rows, and capture of everything written to stdout/stderr (logs, EMF).
 */
import {
  ReceiveMessageCommand,
  GetQueueAttributesCommand,
  type Message,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { queueSpecs } from "../../config/names";
import { parseConfig, type RelayConfig } from "../../config/schema";
import type { RelayEnvelope, RelayRecord } from "../../contract/envelope";
import { createQueuesFromSpecs, type CreatedQueues, type LocalSqs } from "../../emulators/sqs";

export const EXAMPLE_CONFIG = {
  regions: [{ region: "ap-northeast-1" }, { region: "us-west-2" }],
  aggregator: { region: "eu-central-1" },
  retentionHours: 24,
};

let counter = 0;

/** The example config under a fresh name prefix, so every test gets its own set of queues. */
export function freshConfig(extra: Record<string, unknown> = {}): RelayConfig {
  counter++;
  return parseConfig(
    { ...EXAMPLE_CONFIG, namePrefix: `t${process.pid % 10000}-${counter}`, ...extra },
    "test",
  );
}

/**
 * Every queue exactly as `queueSpecs(config)` declares it, except VisibilityTimeout → 1 s on the
 * two queues that have one: the real values (6 × forwarder timeout = 180 s, aggregator 60 s) would
 * make redelivery, outage recovery and redrive take minutes. FIFO, dedup scope, redrive target
 * and maxReceiveCount stay as the program sets them.
 */
export async function createTestQueues(
  client: SQSClient,
  config: RelayConfig,
  visibilitySeconds = 1,
): Promise<CreatedQueues> {
  return createQueuesFromSpecs(client, queueSpecs(config), (spec) =>
    spec.attributes.VisibilityTimeout !== undefined
      ? { VisibilityTimeout: String(visibilitySeconds) }
      : undefined,
  );
}

/** Values that break naive JSON/SQL/log handling; none may ever appear in a log line. */
export const HOSTILE = {
  quote: `O'Brien "the \`tick\`"); DROP TABLE order_data;--`,
  backslash: "C:\\new\\table\\\\x",
  newline: "line1\nline2\r\nline3\tend",
  japanese: "山田太郎 東京都千代田区",
  emoji: "🍣🎉👨‍👩‍👧",
  email: "alice.secret@example.com",
} as const;

/** Substrings that prove a leak if they show up in captured output. */
export const LEAK_MARKERS = [
  "DROP TABLE",
  "O'Brien",
  "C:\\\\new",
  "line1",
  "山田",
  "千代田",
  "🍣",
  "alice.secret",
];

export function hostileRow(i: number): Record<string, unknown> {
  return {
    id: i,
    customer: `${HOSTILE.quote} #${i}`,
    note: HOSTILE.newline,
    path: HOSTILE.backslash,
    address: HOSTILE.japanese,
    item: `${HOSTILE.emoji} x${i}`,
    email: HOSTILE.email,
    price: 12.5 + i,
    nested: { tags: ["a", HOSTILE.quote], nothing: null, ok: true },
  };
}

/** An UPSERT of row `i` (key `{ id: i }`, outboxId 1000 + i) with hostile values. */
export function makeRecord(i: number, table = "order_data"): RelayRecord {
  return {
    outboxId: 1000 + i,
    table,
    op: "UPSERT",
    key: { id: i },
    occurredAt: new Date(Date.now() - 1500).toISOString(),
    row: hostileRow(i),
  };
}

/** The row id (`key.id`) of a relay message body or record. */
export function idOf(bodyOrRecord: string | { key?: Record<string, unknown> }): number {
  const value = typeof bodyOrRecord === "string" ? JSON.parse(bodyOrRecord) : bodyOrRecord;
  return Number(value.key?.id);
}

export function makeEnvelope(region: string, from: number, count: number): RelayEnvelope {
  return { region, records: Array.from({ length: count }, (_, k) => makeRecord(from + k)) };
}

/** Receives until `count` messages arrived or `timeoutMs` passed; leaves them in flight. */
export async function drain(
  client: SQSClient,
  queueUrl: string,
  count: number,
  timeoutMs = 5000,
): Promise<Message[]> {
  const out: Message[] = [];
  const deadline = Date.now() + timeoutMs;
  while (out.length < count && Date.now() < deadline) {
    const r = await client.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 0,
        VisibilityTimeout: 30,
        AttributeNames: ["All"],
        MessageAttributeNames: ["All"],
      }),
    );
    out.push(...(r.Messages ?? []));
    if (!r.Messages?.length) await new Promise((res) => setTimeout(res, 50));
  }
  return out;
}

export async function queueDepth(
  client: SQSClient,
  queueUrl: string,
): Promise<{ visible: number; inFlight: number }> {
  const r = await client.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    }),
  );
  // local-aws-sqs counts in-flight messages in ApproximateNumberOfMessages too (AWS does not).
  const all = Number(r.Attributes?.ApproximateNumberOfMessages ?? 0);
  const inFlight = Number(r.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
  return { visible: all - inFlight, inFlight };
}

export interface Captured {
  /** Everything written to stdout/stderr while capturing. */
  text(): string;
  /** Lines that parse as JSON (Powertools logs and EMF). */
  json(): Record<string, unknown>[];
  restore(): void;
}

/** Captures process.stdout/stderr writes (Powertools' Console writes through them). */
export function captureOutput(): Captured {
  const chunks: string[] = [];
  const out = process.stdout.write;
  const err = process.stderr.write;
  const grab = (chunk: unknown, ...rest: unknown[]) => {
    chunks.push(
      typeof chunk === "string" ? chunk : Buffer.from(chunk as Uint8Array).toString("utf8"),
    );
    const cb = rest.find((r) => typeof r === "function") as (() => void) | undefined;
    cb?.();
    return true;
  };
  process.stdout.write = grab as typeof process.stdout.write;
  process.stderr.write = grab as typeof process.stderr.write;
  return {
    text: () => chunks.join(""),
    json: () =>
      chunks
        .join("")
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => {
          try {
            return JSON.parse(l) as Record<string, unknown>;
          } catch {
            return {};
          }
        }),
    restore: () => {
      process.stdout.write = out;
      process.stderr.write = err;
    },
  };
}

/** Asserts that no hostile row value leaked into captured output. */
export function assertNoRowContents(text: string): void {
  for (const marker of LEAK_MARKERS) {
    if (text.includes(marker)) {
      throw new Error(
        `log output contains row contents (${JSON.stringify(marker)}):\n${text.slice(0, 2000)}`,
      );
    }
  }
}

/** EMF documents in captured output: metric name → values, with their dimension sets. */
export function emfMetrics(
  captured: Captured,
): { name: string; values: number[]; dims: Record<string, unknown>; unit?: string }[] {
  const out: { name: string; values: number[]; dims: Record<string, unknown>; unit?: string }[] =
    [];
  for (const doc of captured.json()) {
    const aws = doc._aws as
      | {
          CloudWatchMetrics?: {
            Metrics: { Name: string; Unit?: string }[];
            Dimensions: string[][];
          }[];
        }
      | undefined;
    if (!aws?.CloudWatchMetrics) continue;
    for (const directive of aws.CloudWatchMetrics) {
      const dims: Record<string, unknown> = {};
      for (const name of directive.Dimensions.flat()) dims[name] = doc[name];
      for (const metric of directive.Metrics) {
        const v = doc[metric.Name];
        out.push({
          name: metric.Name,
          values: Array.isArray(v) ? (v as number[]) : [v as number],
          dims,
          unit: metric.Unit,
        });
      }
    }
  }
  return out;
}

export type { LocalSqs };
