/**
 * The acknowledgement the DC sends back to a region once it has committed that region's changes:
 * the contract between the DC consumer (producer, after each commit, batched per region) and the
 * region's ack Lambda (consumer, which marks the outbox rows confirmed so the purge may remove
 * them). Many ids per message keeps the ack path cheap: one SQS message confirms thousands.
 */
import * as z from "zod/mini";

/** Ids per ack message: ~12 bytes each keeps a full message far below SQS's 1 MiB. */
export const MAX_ACK_IDS_PER_MESSAGE = 5000;

export const ackMessageSchema = z.strictObject({
  /** The region whose outbox the ids belong to (each region has its own ack queue). */
  region: z.string().check(z.minLength(1)),
  /** `outboxId`s of changes the DC committed (applied, or found older than what it holds). */
  outboxIds: z
    .array(z.int().check(z.positive()))
    .check(z.minLength(1), z.maxLength(MAX_ACK_IDS_PER_MESSAGE)),
  /** When the DC committed the newest of them (UTC ISO-8601), for the confirmation lag metric. */
  committedAt: z.string().check(z.regex(/^\d{4}-\d{2}-\d{2}T[\d:.]+Z$/)),
});
export type AckMessage = z.infer<typeof ackMessageSchema>;

export class InvalidAckError extends Error {
  constructor(readonly issues: string[]) {
    super(`invalid ack message: ${issues.join("; ")}`);
    this.name = "InvalidAckError";
  }
}

/** Validates an SQS message body as an ack message (never echoes values). */
export function parseAckMessage(body: string): AckMessage {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new InvalidAckError(["body: not JSON"]);
  }
  const result = ackMessageSchema.safeParse(json);
  if (!result.success) {
    throw new InvalidAckError(
      result.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.code}`),
    );
  }
  return result.data;
}

/** Splits a region's committed ids into ack messages of at most MAX_ACK_IDS_PER_MESSAGE ids. */
export function ackMessages(
  region: string,
  outboxIds: readonly number[],
  committedAt: Date,
): AckMessage[] {
  const unique = [...new Set(outboxIds)].sort((a, b) => a - b);
  const messages: AckMessage[] = [];
  for (let i = 0; i < unique.length; i += MAX_ACK_IDS_PER_MESSAGE) {
    messages.push({
      region,
      outboxIds: unique.slice(i, i + MAX_ACK_IDS_PER_MESSAGE),
      committedAt: committedAt.toISOString(),
    });
  }
  return messages;
}
