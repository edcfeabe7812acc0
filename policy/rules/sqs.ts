/** SQS queues, their queue policies and redrive. */
import * as aws from "@pulumi/aws";
import { allows, list, principalIsPublic, sidOf, statementsOf } from "./documents";
import { declarationSchema, declarations } from "./declarations";
import { RelayPolicy, resourceRule, stackRule } from "./factory";
import { AWS_DEFAULT_SQS_RETENTION_SECONDS, ofType, queuePolicies, queueRoles } from "./stack";

export const sqs: RelayPolicy[] = [
  resourceRule({
    name: "sqs-encrypted",
    source: "CKV_AWS_27, AVD-AWS-0096",
    summary: "every queue is encrypted at rest (SSE-SQS or KMS).",
    of: aws.sqs.Queue,
    check: (queue, _args, report) => {
      if (queue.sqsManagedSseEnabled !== true && !queue.kmsMasterKeyId) {
        report(`queue ${queue.name} is not encrypted — set sqsManagedSseEnabled: true`);
      }
    },
  }),
  stackRule({
    name: "sqs-source-queue-has-dlq",
    source: "order-relay",
    summary: "every queue that is not itself a dead-letter queue redrives to a DLQ in the stack.",
    check: (args, report) => {
      const { queues, sources } = queueRoles(args.resources);
      const arns = new Set(queues.map((q) => q.props.arn));
      for (const queue of sources) {
        const redrive = queue.props.redrivePolicy;
        const target = redrive
          ? (JSON.parse(redrive) as { deadLetterTargetArn?: string }).deadLetterTargetArn
          : undefined;
        if (!target) {
          report(
            `queue ${queue.props.name} has no redrive policy: failed messages would be lost or loop`,
            queue.urn,
          );
        } else if (!arns.has(target)) {
          report(
            `queue ${queue.props.name} redrives to ${target}, which is not a queue of this stack`,
            queue.urn,
          );
        }
      }
    },
  }),
  stackRule({
    name: "sqs-tls-only-policy",
    source: "order-relay",
    summary: "every queue's policy denies requests without TLS (aws:SecureTransport = false).",
    check: (args, report) => {
      const policies = queuePolicies(args.resources);
      for (const queue of ofType(args.resources, aws.sqs.Queue)) {
        const statements = policies.get(queue.props.url) ?? [];
        const tlsOnly = statements.some(
          (s) =>
            s.Effect === "Deny" &&
            principalIsPublic(s.Principal) &&
            list(s.Action).some((a) => a === "sqs:*" || a === "*") &&
            String(s.Condition?.Bool?.["aws:SecureTransport"]) === "false",
        );
        if (!tlsOnly) {
          report(
            `queue ${queue.props.name} has no policy denying non-TLS access (Deny sqs:* when aws:SecureTransport is false)`,
            queue.urn,
          );
        }
      }
    },
  }),
  resourceRule({
    name: "sqs-policy-no-public-allow",
    source: "CKV_AWS_168",
    summary: "no queue policy allows the `*` principal (Deny statements with `*` are fine).",
    of: aws.sqs.QueuePolicy,
    check: (policy, _args, report) => {
      for (const s of statementsOf(policy.policy).filter(allows)) {
        if (principalIsPublic(s.Principal)) {
          report(`statement ${sidOf(s)} allows Principal "*" on ${policy.queueUrl}`);
        }
      }
    },
  }),
  resourceRule({
    name: "sqs-policy-no-wildcard-action",
    source: "CKV_AWS_72, AVD-AWS-0097",
    summary: "no queue policy allows `*` or `sqs:*` actions.",
    of: aws.sqs.QueuePolicy,
    check: (policy, _args, report) => {
      for (const s of statementsOf(policy.policy).filter(allows)) {
        const wild = list(s.Action).filter((a) => a === "*" || a.toLowerCase() === "sqs:*");
        if (wild.length > 0 || s.NotAction) {
          report(
            `statement ${sidOf(s)} allows ${wild.join(", ") || "NotAction"} on ${policy.queueUrl}`,
          );
        }
      }
    },
  }),
  stackRule({
    name: "sqs-retention-within-bound",
    source: "order-relay",
    summary:
      "every queue sets its retention explicitly and keeps messages no longer than the stack's privacy bound.",
    configSchema: declarationSchema,
    check: (args, report) => {
      const { maxResidenceHours } = declarations(args);
      for (const queue of ofType(args.resources, aws.sqs.Queue)) {
        const seconds = queue.props.messageRetentionSeconds as number | undefined;
        if (seconds === undefined) {
          report(
            `queue ${queue.props.name} relies on the default retention (${AWS_DEFAULT_SQS_RETENTION_SECONDS / 86400} days) — set messageRetentionSeconds`,
            queue.urn,
          );
        } else if (maxResidenceHours !== undefined && seconds / 3600 > maxResidenceHours) {
          report(
            `queue ${queue.props.name} keeps messages ${seconds / 3600} h, above maxResidenceHours ${maxResidenceHours} h`,
            queue.urn,
          );
        }
      }
    },
  }),
  stackRule({
    name: "sqs-dlq-redrive-allow-restricted",
    source: "order-relay",
    summary:
      "a dead-letter queue accepts redrives only from its own source queue (redrivePermission byQueue).",
    enforcementLevel: "advisory",
    check: (args, report) => {
      const { dlqs } = queueRoles(args.resources);
      const allowPolicies = ofType(args.resources, aws.sqs.RedriveAllowPolicy);
      for (const dlq of dlqs) {
        const policy =
          allowPolicies.find((p) => p.props.queueUrl === dlq.props.url)?.props.redriveAllowPolicy ??
          dlq.props.redriveAllowPolicy;
        const permission = policy
          ? (JSON.parse(policy) as { redrivePermission?: string }).redrivePermission
          : undefined;
        if (permission !== "byQueue") {
          report(
            `DLQ ${dlq.props.name} has redrivePermission ${permission ?? "unset (allowAll)"} — use byQueue`,
            dlq.urn,
          );
        }
      }
    },
  }),
];
