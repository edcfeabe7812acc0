/**
 * The acknowledgement path (order-relay:purgeRequires = confirmed): only the DC may confirm, the
 * ack Lambda reaches the database through the VPC with IAM database authentication and nothing
 * else, and the database resends what was not confirmed before the queues would drop it.
 */
import * as aws from "@pulumi/aws";
import { PolicyResource } from "@pulumi/policy";
import { actionMatches, allows, list } from "./documents";
import { declarationSchema, declarations } from "./declarations";
import { RelayPolicy, stackRule } from "./factory";
import { ofType, queuePolicies, queueRoles, queueSenders, regionOf, roleStatements } from "./stack";

/** The role the aggregator queue policy lets consume: the DC consumer's. */
function dcConsumerPrincipals(resources: PolicyResource[]): Set<string> {
  const { aggregator } = queueRoles(resources);
  const principals = new Set<string>();
  for (const queue of aggregator) {
    for (const s of queuePolicies(resources).get(queue.props.url) ?? []) {
      if (allows(s) && list(s.Action).some((a) => actionMatches(a, "sqs:ReceiveMessage"))) {
        for (const p of list((s.Principal as { AWS?: string | string[] })?.AWS)) principals.add(p);
      }
    }
  }
  return principals;
}

/** Functions fed by an ack queue. */
function ackFunctions(resources: PolicyResource[]) {
  const { acks } = queueRoles(resources);
  const functions = ofType(resources, aws.lambda.Function);
  return ofType(resources, aws.lambda.EventSourceMapping).flatMap((mapping) => {
    const queue = acks.find((q) => q.props.arn === mapping.props.eventSourceArn);
    const fn = functions.find(
      (f) =>
        f.props.arn === mapping.props.functionName || f.props.name === mapping.props.functionName,
    );
    return queue && fn ? [{ fn, queue }] : [];
  });
}

export const acks: RelayPolicy[] = [
  stackRule({
    name: "ack-queue-accepts-only-dc-consumer",
    source: "order-relay",
    summary:
      "every ack queue's policy lets exactly the DC consumer role send, and denies SendMessage to every other principal (only the DC may confirm a change, and a confirmation lets the purge delete it).",
    check: (args, report) => {
      const { acks: queues } = queueRoles(args.resources);
      if (queues.length === 0) args.notApplicable("no ack queue (purgeRequires: handedOff)");
      const dc = dcConsumerPrincipals(args.resources);
      for (const queue of queues) {
        const { allowed, denyExemptions } = queueSenders(
          queuePolicies(args.resources).get(queue.props.url) ?? [],
        );
        const extra = [...allowed].filter((p) => !dc.has(p));
        if (extra.length > 0 || allowed.size === 0) {
          report(
            `ack queue ${queue.props.name} lets ${extra.length > 0 ? `non-DC principals send: ${extra.join(", ")}` : "no one send (the DC consumer role must)"}`,
            queue.urn,
          );
        }
        const denyOthers = denyExemptions.some(
          (exempt) => exempt.length > 0 && exempt.every((p) => dc.has(p)),
        );
        if (!denyOthers) {
          report(
            `ack queue ${queue.props.name} has no Deny of sqs:SendMessage for every principal except the DC consumer role`,
            queue.urn,
          );
        }
      }
    },
  }),
  stackRule({
    name: "ack-function-vpc-iam-auth",
    source: "order-relay",
    summary:
      "every ack function runs in a VPC, may rds-db:connect only as one named database user of its own region's cluster, and that cluster has IAM database authentication on (no password exists for the user).",
    check: (args, report) => {
      const functions = ackFunctions(args.resources);
      if (functions.length === 0) args.notApplicable("no ack function (purgeRequires: handedOff)");
      const clusters = ofType(args.resources, aws.rds.Cluster);
      for (const { fn } of functions) {
        const vpc = fn.props.vpcConfig as { subnetIds?: string[]; securityGroupIds?: string[] };
        if (!vpc?.subnetIds?.length || !vpc?.securityGroupIds?.length) {
          report(
            `ack function ${fn.props.name} is not in a VPC (subnets + security groups)`,
            fn.urn,
          );
        }
        const connects = roleStatements(args.resources, fn.props.role).filter(
          (s) => allows(s) && list(s.Action).some((a) => actionMatches(a, "rds-db:connect")),
        );
        const resources = connects.flatMap((s) => list(s.Resource));
        const region = regionOf(fn);
        const scoped = resources.every((r) =>
          new RegExp(
            `^arn:aws[a-z-]*:rds-db:${region}:\\d{12}:dbuser:cluster-[A-Z0-9]+/[A-Za-z0-9_]+$`,
          ).test(r),
        );
        if (resources.length !== 1 || !scoped) {
          report(
            `ack function ${fn.props.name} must be allowed rds-db:connect on exactly one dbuser ARN of its region's cluster (got ${resources.join(", ") || "none"})`,
            fn.urn,
          );
        }
        const cluster = clusters.find((c) => regionOf(c) === region);
        if (cluster && cluster.props.iamDatabaseAuthenticationEnabled !== true) {
          report(
            `cluster ${cluster.props.clusterIdentifier} has IAM database authentication off, so the ack function cannot connect`,
            cluster.urn,
          );
        }
      }
    },
  }),
  stackRule({
    name: "confirmed-purge-resends-within-retention",
    source: "order-relay",
    summary:
      "with purgeRequires: confirmed, resendAfterMinutes is shorter than every order queue's retention (a change lost on the way is resent while the queues could still hold a copy; the database, not the queues, is the buffer).",
    configSchema: declarationSchema,
    check: (args, report) => {
      const declared = declarations(args);
      if (declared.purgeRequires !== "confirmed" || declared.resendAfterMinutes === undefined) {
        args.notApplicable("purgeRequires is not confirmed");
      }
      const resendSeconds = declared.resendAfterMinutes! * 60;
      const { regional, aggregator } = queueRoles(args.resources);
      for (const queue of [...regional, ...aggregator]) {
        const retention = Number(queue.props.messageRetentionSeconds);
        if (retention <= resendSeconds) {
          report(
            `queue ${queue.props.name} keeps messages ${retention} s, not longer than resendAfterMinutes (${declared.resendAfterMinutes} min) — raise its retention or lower order-relay:resendAfterMinutes`,
            queue.urn,
          );
        }
      }
    },
  }),
];
