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
 * CLI (`npm run redrive -- --dlq <url> --to <source queue url> [--region r] [--endpoint url]`,
 * `--help` for every flag): against AWS, or against a local SQS endpoint (also read from
 * AWS_ENDPOINT_URL_SQS). Invocation records are re-invoked with the real notify handler code
 * in-process, sending to `--to`.
 */
import {
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics } from "@aws-lambda-powertools/metrics";
import {
  type CommandSpec,
  envSource,
  httpUrl,
  integer,
  type OptionSpecs,
  parseCommandLine,
  required,
  UsageError,
} from "../cli/command";
import {
  CommandError,
  interrupted,
  onInterrupt,
  runMain,
  writeErr,
  writeOut,
} from "../cli/process";
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
  /** Stop after the batch in hand (SIGINT/SIGTERM). */
  readonly signal?: AbortSignal;
}

export interface RedriveResult {
  readonly moved: number;
  readonly reinvoked: number;
  readonly failed: number;
  /** Why the last failed message failed (it stays in the DLQ). */
  readonly lastError?: string;
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
  let lastError: string | undefined;
  const max = options.max ?? Number.POSITIVE_INFINITY;
  while (moved + reinvoked + failed < max && !options.signal?.aborted) {
    const received = await client.send(
      new ReceiveMessageCommand({
        QueueUrl: options.dlqUrl,
        MaxNumberOfMessages: Math.min(10, max - moved - reinvoked - failed),
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
      } catch (error) {
        failed++;
        lastError = ((error as Error).message ?? String(error)).split("\n")[0];
      }
    }
  }
  return lastError === undefined
    ? { moved, reinvoked, failed }
    : { moved, reinvoked, failed, lastError };
}

export const REDRIVE_COMMAND = {
  usage: "npm run redrive --",
  summary:
    "Moves what is in a dead-letter queue back to where it came from: relay messages (from a " +
    "queue's redrive policy) are sent to --to again (FIFO group and dedup ids kept when --to " +
    "ends in .fifo); notify's on-failure invocation records (RetriesExhausted) are re-run by " +
    "running the notify handler's code locally, in this process, on the record's original " +
    "envelope — it sends the records to --to with this machine's AWS credentials (no Lambda is " +
    "invoked). A message is deleted from the DLQ only after it was re-sent or re-run; " +
    "everything downstream is idempotent, so a redrive is safe to repeat.",
  options: {
    dlq: {
      type: "string",
      value: "URL",
      description: "the dead-letter queue to empty (a stack output: deadLetterQueueUrl)",
    },
    to: {
      type: "string",
      value: "URL",
      description: "the source queue its messages go back to (a stack output: queueUrl)",
    },
    region: {
      type: "string",
      value: "REGION",
      env: "AWS_REGION",
      description: "region of the queues",
      defaultText: "from the queue URL (sqs.<region>.amazonaws.com)",
    },
    endpoint: {
      type: "string",
      value: "URL",
      env: "AWS_ENDPOINT_URL_SQS",
      description: "SQS endpoint (a local SQS server, a VPC endpoint)",
      defaultText: "the region's public endpoint",
    },
    max: {
      type: "string",
      value: "N",
      description: "stop after N messages",
      defaultText: "until the DLQ is empty",
    },
  },
  examples: [
    "npm run redrive -- --dlq https://sqs.eu-west-1.amazonaws.com/123456789012/order-relay-prod-eu-west-1-orders-dlq \\",
    "                   --to  https://sqs.eu-west-1.amazonaws.com/123456789012/order-relay-prod-eu-west-1-orders",
    "npm run redrive -- --dlq=$DLQ --to=$QUEUE --max 10",
  ],
  notes: [
    "Credentials: the AWS SDK's standard chain (AWS_PROFILE, aws sso login, environment keys, an " +
      "instance role); they need sqs:ReceiveMessage/DeleteMessage on the DLQ and sqs:SendMessage " +
      "on --to. Exit codes: 0 everything moved; 1 a message could not be moved (it stays in the " +
      "DLQ) or SQS could not be reached (one line says why); 2 a usage error; 130/143 " +
      "interrupted (what was moved so far is printed; a message in hand reappears in the DLQ " +
      "after its 30 s visibility timeout).",
  ],
} as const satisfies CommandSpec<OptionSpecs>;

/** An SQS/SDK failure as one line with the fix. */
function explainSqsError(error: unknown, endpoint: string | undefined): CommandError {
  const e = error as { name?: string; code?: string; message?: string; $metadata?: unknown };
  const text = (e.message ?? String(error)).split("\n")[0];
  const name = e.name ?? e.code ?? "";
  if (/CredentialsProviderError|Could not load credentials/i.test(`${name} ${text}`)) {
    return new CommandError(
      `no AWS credentials (${text}): run aws sso login, set AWS_PROFILE, or export AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY`,
    );
  }
  if (/NonExistentQueue|QueueDoesNotExist/i.test(`${name} ${text}`)) {
    return new CommandError(
      `${text}: check --dlq/--to against the stack outputs (pulumi stack output --json)`,
    );
  }
  if (
    /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|getaddrinfo|connect/i.test(
      `${e.code ?? ""} ${text}`,
    )
  ) {
    return new CommandError(
      `cannot reach SQS${endpoint ? ` at ${endpoint}` : ""} (${text}): check --endpoint/AWS_ENDPOINT_URL_SQS, --region and the network`,
    );
  }
  if (/AccessDenied|not authorized/i.test(`${name} ${text}`)) {
    return new CommandError(
      `${text}: the credentials need sqs:ReceiveMessage/DeleteMessage on the DLQ and sqs:SendMessage on --to`,
    );
  }
  return new CommandError(`${name ? `${name}: ` : ""}${text}`);
}

async function main(): Promise<number> {
  const parsed = parseCommandLine(REDRIVE_COMMAND);
  const v = parsed.values;
  const dlq = httpUrl("dlq", required("dlq", v.dlq, undefined, "the DLQ's URL"))!;
  const to = httpUrl("to", required("to", v.to, undefined, "the source queue's URL"))!;
  const endpoint = httpUrl("endpoint", v.endpoint, envSource(REDRIVE_COMMAND, parsed, "endpoint"));
  const max = integer("max", v.max, { min: 1 });
  const region = v.region ?? /^sqs\.([a-z0-9-]+)\.amazonaws\.com/.exec(new URL(to).hostname)?.[1];
  if (!region) {
    throw new UsageError("--region is needed: the queue URL does not name one (or set AWS_REGION)");
  }
  if (dlq === to) throw new UsageError("--dlq and --to are the same queue");
  const client = new SQSClient({ region, ...(endpoint ? { endpoint } : {}) });
  let printed!: () => void;
  const done = new Promise<void>((resolve) => (printed = resolve));
  onInterrupt(() => done);
  try {
    let result: RedriveResult;
    try {
      result = await redrive({
        client,
        dlqUrl: dlq,
        targetUrl: to,
        fifo: to.endsWith(".fifo"),
        signal: interrupted.signal,
        ...(max !== undefined ? { max } : {}),
      });
    } catch (error) {
      throw explainSqsError(error, endpoint);
    }
    await writeOut(
      `redrive${interrupted.signal.aborted ? " (interrupted)" : ""}: ${result.moved} message(s) moved back to ${to}, ` +
        `${result.reinvoked} notify invocation record(s) re-run locally, ${result.failed} failed` +
        (result.failed > 0 ? " (still in the DLQ; run again, or DEBUG=1 for why)" : "") +
        "\n",
    );
    if (result.failed > 0 && result.lastError) {
      await writeErr(`redrive: last failure: ${result.lastError}\n`);
    }
    return result.failed > 0 ? 1 : 0;
  } finally {
    printed();
  }
}

if (require.main === module) runMain("redrive", main);
