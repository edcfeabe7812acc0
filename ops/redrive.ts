/**
 * Redrive: moves what is in a DLQ back to where it came from.
 *  - A relay message (from a queue's redrive policy) goes back to its source queue (for a FIFO
 *    pair with the same MessageGroupId/MessageDeduplicationId, so the FIFO dedup still holds).
 *  - A notify on-failure invocation record (condition RetriesExhausted) is re-invoked: its
 *    original envelope (`requestPayload`) is handed to the notify handler again, which puts the
 *    records on the regional queue. Everything downstream is idempotent, so a redrive is safe to
 *    repeat.
 * A message is deleted from the DLQ only after it was re-sent / re-invoked successfully.
 *
 * CLI (`npm run redrive -- --dlq <url> --to <source queue url> [--region r] [--endpoint url]`):
 * against AWS, or against a local SQS endpoint (also read from AWS_ENDPOINT_URL_SQS). Invocation
 * records are re-invoked with the real notify handler code in-process, sending to `--to`.
 */
import {
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics } from "@aws-lambda-powertools/metrics";
import { METRICS_NAMESPACE, SERVICE, type ServiceName } from "../contract/metrics";
import { createNotifyHandler } from "../lambda/notify";

export interface RedriveOptions {
  readonly client: SQSClient;
  readonly dlqUrl: string;
  /** The source queue relay messages go back to. */
  readonly targetUrl: string;
  readonly fifo?: boolean;
  /** Re-invokes notify with an invocation record's original envelope (default: the real notify handler sending to targetUrl). */
  readonly invokeNotify?: (payload: unknown) => Promise<unknown>;
  /** Stop after this many messages. @default unlimited */
  readonly max?: number;
}

export interface RedriveResult {
  readonly moved: number;
  readonly reinvoked: number;
  readonly failed: number;
}

function isInvocationRecord(value: unknown): value is { requestPayload: unknown } {
  const v = value as {
    version?: unknown;
    requestContext?: { condition?: unknown };
    requestPayload?: unknown;
  } | null;
  return (
    typeof v === "object" &&
    v !== null &&
    v.version === "1.0" &&
    typeof v.requestContext === "object" &&
    typeof v.requestContext?.condition === "string" &&
    "requestPayload" in v
  );
}

/** A Powertools logger that writes nothing (in-process handlers of the redrive and local runs). */
export function silentLogger(service: ServiceName): Logger {
  return new Logger({ serviceName: service, logLevel: "SILENT" });
}

/** Powertools metrics that emit no EMF output. */
export function silentMetrics(service: ServiceName): Metrics {
  const previous = process.env.POWERTOOLS_METRICS_DISABLED;
  process.env.POWERTOOLS_METRICS_DISABLED = "true";
  try {
    return new Metrics({ namespace: METRICS_NAMESPACE, serviceName: service });
  } finally {
    if (previous === undefined) delete process.env.POWERTOOLS_METRICS_DISABLED;
    else process.env.POWERTOOLS_METRICS_DISABLED = previous;
  }
}

/** A silent notify handler (no logs, no EMF output) for in-process re-invocation. */
export function silentNotify(
  client: SQSClient,
  queueUrl: string,
): (payload: unknown) => Promise<unknown> {
  return createNotifyHandler({
    client,
    queueUrl,
    logger: silentLogger(SERVICE.notify),
    metrics: silentMetrics(SERVICE.notify),
  });
}

export async function redrive(options: RedriveOptions): Promise<RedriveResult> {
  const { client } = options;
  const invoke = options.invokeNotify ?? silentNotify(client, options.targetUrl);
  let moved = 0;
  let reinvoked = 0;
  let failed = 0;
  const max = options.max ?? Number.POSITIVE_INFINITY;
  while (moved + reinvoked + failed < max) {
    const received = await client.send(
      new ReceiveMessageCommand({
        QueueUrl: options.dlqUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 0,
        VisibilityTimeout: 30,
        AttributeNames: ["All"],
        MessageAttributeNames: ["All"],
      }),
    );
    const messages = received.Messages ?? [];
    if (messages.length === 0) break;
    for (const message of messages) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(message.Body ?? "");
      } catch {
        parsed = undefined;
      }
      try {
        if (isInvocationRecord(parsed)) {
          await invoke(parsed.requestPayload);
          reinvoked++;
        } else {
          const attrs = message.Attributes ?? {};
          await client.send(
            new SendMessageCommand({
              QueueUrl: options.targetUrl,
              MessageBody: message.Body ?? "",
              MessageAttributes: message.MessageAttributes,
              ...(options.fifo
                ? {
                    MessageGroupId: attrs.MessageGroupId,
                    MessageDeduplicationId: attrs.MessageDeduplicationId,
                  }
                : {}),
            }),
          );
          moved++;
        }
        await client.send(
          new DeleteMessageCommand({
            QueueUrl: options.dlqUrl,
            ReceiptHandle: message.ReceiptHandle,
          }),
        );
      } catch {
        failed++;
      }
    }
  }
  return { moved, reinvoked, failed };
}

function parseArgs(argv: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith("--")) throw new Error(`unexpected argument ${arg}`);
    const value = argv[i + 1];
    if (value === undefined || value.startsWith("--")) throw new Error(`${arg} needs a value`);
    out[arg.slice(2)] = value;
    i++;
  }
  return out;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (!args.dlq || !args.to) {
    throw new Error(
      "usage: npm run redrive -- --dlq <DLQ url> --to <source queue url> [--region r] [--endpoint url] [--max n]",
    );
  }
  const client = new SQSClient({
    ...(args.region ? { region: args.region } : {}),
    ...(args.endpoint ? { endpoint: args.endpoint } : {}),
  });
  const result = await redrive({
    client,
    dlqUrl: args.dlq,
    targetUrl: args.to,
    fifo: args.to.endsWith(".fifo"),
    ...(args.max ? { max: Number(args.max) } : {}),
  });
  console.log(
    `redrive: ${result.moved} message(s) moved back to ${args.to}, ${result.reinvoked} notify invocation(s) re-run, ${result.failed} failed`,
  );
  if (result.failed > 0) process.exitCode = 1;
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(`redrive: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(2);
  });
}
