/** The relay's shape across regions: forwarders to the one aggregator queue, and nobody else. */
import * as aws from "@pulumi/aws";
import { LAMBDA_ENV } from "../../contract/lambdaEnv";
import { grants } from "./documents";
import { RelayPolicy, stackRule } from "./factory";
import {
  forwarders,
  ofType,
  queuePolicies,
  queueRoles,
  queueSenders,
  regionOf,
  roleStatements,
} from "./stack";

export const topology: RelayPolicy[] = [
  stackRule({
    name: "topology-every-region-forwards",
    source: "order-relay",
    summary:
      "every region with an Aurora cluster has a forwarder, fed by its regional queue, that sends to the aggregator queue.",
    check: (args, report) => {
      const { aggregator } = queueRoles(args.resources);
      if (aggregator.length !== 1) {
        report(`expected exactly one aggregator queue, found ${aggregator.length}`);
        return;
      }
      const target = aggregator[0];
      const forwarding = forwarders(args.resources).filter(({ fn }) => {
        const env = (fn.props.environment?.variables ?? {}) as Record<string, string>;
        return (
          env[LAMBDA_ENV.aggregatorQueueUrl] === target.props.url &&
          roleStatements(args.resources, fn.props.role).some((s) =>
            grants(s, "sqs:SendMessage", target.props.arn),
          )
        );
      });
      const regions = new Set(ofType(args.resources, aws.rds.Cluster).map(regionOf));
      for (const region of regions) {
        if (
          !forwarding.some(({ fn, queue }) => regionOf(fn) === region && regionOf(queue) === region)
        ) {
          report(
            `region ${region} has no forwarder that reads its regional queue, has ${LAMBDA_ENV.aggregatorQueueUrl} = ${target.props.url} and may sqs:SendMessage to ${target.props.arn}`,
          );
        }
      }
    },
  }),
  stackRule({
    name: "aggregator-accepts-only-forwarders",
    source: "order-relay",
    summary:
      "the aggregator queue policy lets exactly the regional forwarder roles send, and denies SendMessage to every other principal.",
    check: (args, report) => {
      const { aggregator } = queueRoles(args.resources);
      if (aggregator.length !== 1) args.notApplicable("no single aggregator queue");
      const queue = aggregator[0];
      const expected = new Set(forwarders(args.resources).map(({ fn }) => fn.props.role as string));
      const { allowed, denyExemptions } = queueSenders(
        queuePolicies(args.resources).get(queue.props.url) ?? [],
      );
      const extra = [...allowed].filter((p) => !expected.has(p));
      const missing = [...expected].filter((p) => !allowed.has(p));
      if (extra.length > 0)
        report(`the aggregator queue lets non-forwarders send: ${extra.join(", ")}`, queue.urn);
      if (missing.length > 0)
        report(`forwarders not admitted to the aggregator queue: ${missing.join(", ")}`, queue.urn);
      const denyOthers = denyExemptions.some(
        (exempt) => exempt.length === expected.size && exempt.every((p) => expected.has(p)),
      );
      if (!denyOthers) {
        report(
          "the aggregator queue policy has no Deny of sqs:SendMessage for every principal except the forwarder roles (ArnNotEquals aws:PrincipalArn)",
          queue.urn,
        );
      }
    },
  }),
];
