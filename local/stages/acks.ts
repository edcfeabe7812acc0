/**
 * Stage: the acknowledgement path (purgeRequires = confirmed). Per region an ack queue (named as
 * the program names it) on the local SQS server, and the real ack handler behind the event-source
 * stand-in, connected to that region's database with a password (in AWS: an IAM token). The DC
 * consumers send their acknowledgements to these queues; `--ack-outage-seconds` makes every send
 * to them fail for a while (acks are then kept by the DC and sent later: purging waits, nothing
 * is lost).
 */
import { CreateQueueCommand } from "@aws-sdk/client-sqs";
import type mysql from "mysql2/promise";
import { regionNames } from "../../config/names";
import type { RelayConfig } from "../../config/schema";
import { SERVICE } from "../../contract/metrics";
import { startEventSource } from "../../emulators/sqs";
import { createAckHandler } from "../../lambda/ack";
import { silentLogger, silentMetrics } from "../../ops/redrive";
import type { Cleanup } from "./cleanup";
import type { LocalQueues } from "./queues";

export interface AcksOptions {
  readonly config: RelayConfig;
  readonly regionPools: Readonly<Record<string, mysql.Pool>>;
  readonly local: LocalQueues;
  readonly log: (line: string) => void;
}

export interface Acks {
  /** Region → ack queue URL, for the DC consumers (`--ack-queue-urls`). */
  readonly queueUrls: Readonly<Record<string, string>>;
  /** The ack queues' names (for the ack outage and the per-queue call counts). */
  readonly queueNames: readonly string[];
  /** Ack Lambda invocations (batches of ack messages) and the failed ones. */
  readonly stats: { invocations: number; failures: number };
}

/** Starts the ack path, or returns none when the stack purges on hand-off. */
export async function startAcks(o: AcksOptions, cleanup: Cleanup): Promise<Acks | undefined> {
  if (o.config.purgeRequires !== "confirmed") return undefined;
  const { sqs } = o.local;
  const queueUrls: Record<string, string> = {};
  const stats = { invocations: 0, failures: 0 };
  for (const { region } of o.config.regions) {
    const client = sqs.client(region, { harness: true });
    const created = await client.send(
      new CreateQueueCommand({
        QueueName: regionNames(o.config, region).ackQueue,
        Attributes: { VisibilityTimeout: "2" },
      }),
    );
    const queueUrl = created.QueueUrl!;
    queueUrls[region] = queueUrl;
    const pool = o.regionPools[region]!;
    const handler = createAckHandler({
      connect: async () => {
        const connection = await pool.getConnection();
        return {
          query: (sql: string, values?: unknown[]) => connection.query(sql, values),
          end: async () => connection.release(),
        };
      },
      logger: silentLogger(SERVICE.ack),
      metrics: silentMetrics(SERVICE.ack),
    });
    const source = startEventSource({
      client: sqs.client(region),
      queueUrl,
      queueArn: `arn:aws:sqs:${region}:000000000000:${regionNames(o.config, region).ackQueue}`,
      awsRegion: region,
      batchSize: 10,
      waitTimeSeconds: 1,
      handler: async (event) => {
        stats.invocations++;
        try {
          return await handler(event);
        } catch (error) {
          stats.failures++;
          throw error;
        }
      },
    });
    cleanup.defer(() => source.stop());
  }
  o.log(
    `acks: ${o.config.regions.map(({ region }) => regionNames(o.config, region).ackQueue).join(", ")} (the real ack handler per region)`,
  );
  return {
    queueUrls,
    queueNames: o.config.regions.map(({ region }) => regionNames(o.config, region).ackQueue),
    stats,
  };
}
