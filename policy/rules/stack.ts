/**
 * Queries over a stack's resources (stack rules get every resource's outputs, with `parent` and
 * `provider` linked): the queues by role, the forwarders, a role's or a queue's policy.
 */
import * as aws from "@pulumi/aws";
import { PolicyResource } from "@pulumi/policy";
import { Resource } from "@pulumi/pulumi";
import {
  Statement,
  actionMatches,
  allows,
  list,
  principalIsPublic,
  statementsOf,
} from "./documents";
import { ACK_PATH_COMPONENT_TYPE, AGGREGATOR_COMPONENT_TYPE } from "./types";

/** `messageRetentionSeconds` AWS applies to a queue that sets none (4 days). */
export const AWS_DEFAULT_SQS_RETENTION_SECONDS = 4 * 24 * 3600;

/** The resources of one `@pulumi/aws` class. */
export const ofType = (
  resources: PolicyResource[],
  type: { new (...rest: any[]): Resource },
): PolicyResource[] => resources.filter((r) => r.isType(type));

function hasAncestor(resource: PolicyResource, type: string): boolean {
  for (let p = resource.parent; p; p = p.parent) if (p.type === type) return true;
  return false;
}

/** The region of a custom resource, from its provider. */
export const regionOf = (resource: PolicyResource): string | undefined =>
  resource.provider?.props?.region as string | undefined;

/** Queues split into dead-letter queues (targets of a redrive policy) and source queues. */
export function queueRoles(resources: PolicyResource[]) {
  const queues = ofType(resources, aws.sqs.Queue);
  const dlqArns = new Set(
    queues
      .map((q) => q.props.redrivePolicy)
      .filter((p): p is string => typeof p === "string" && p !== "")
      .map((p) => (JSON.parse(p) as { deadLetterTargetArn?: string }).deadLetterTargetArn),
  );
  const dlqs = queues.filter((q) => dlqArns.has(q.props.arn));
  const sources = queues.filter((q) => !dlqArns.has(q.props.arn));
  const aggregator = sources.filter((q) => hasAncestor(q, AGGREGATOR_COMPONENT_TYPE));
  // The DC's acknowledgements back to a region (issue 14), not orders.
  const acks = sources.filter((q) => hasAncestor(q, ACK_PATH_COMPONENT_TYPE));
  const regional = sources.filter(
    (q) => !hasAncestor(q, AGGREGATOR_COMPONENT_TYPE) && !hasAncestor(q, ACK_PATH_COMPONENT_TYPE),
  );
  return { queues, dlqs, sources, aggregator, regional, acks };
}

/** Functions fed by an SQS event source mapping from a regional queue: the forwarders. */
export function forwarders(resources: PolicyResource[]) {
  const { regional } = queueRoles(resources);
  const functions = ofType(resources, aws.lambda.Function);
  const result: { fn: PolicyResource; queue: PolicyResource }[] = [];
  for (const mapping of ofType(resources, aws.lambda.EventSourceMapping)) {
    const queue = regional.find((q) => q.props.arn === mapping.props.eventSourceArn);
    const target = mapping.props.functionName;
    const fn = functions.find((f) => f.props.arn === target || f.props.name === target);
    if (queue && fn) result.push({ fn, queue });
  }
  return result;
}

/** Statements of every inline policy of the role with this ARN. */
export function roleStatements(resources: PolicyResource[], roleArn: string): Statement[] {
  const role = ofType(resources, aws.iam.Role).find((r) => r.props.arn === roleArn);
  if (!role) return [];
  return ofType(resources, aws.iam.RolePolicy)
    .filter((p) => p.props.role === role.props.name || p.props.role === role.props.id)
    .flatMap((p) => statementsOf(p.props.policy));
}

/** Queue policy documents keyed by queue URL. */
export function queuePolicies(resources: PolicyResource[]): Map<string, Statement[]> {
  const byUrl = new Map<string, Statement[]>();
  for (const p of ofType(resources, aws.sqs.QueuePolicy)) {
    byUrl.set(p.props.queueUrl, [
      ...(byUrl.get(p.props.queueUrl) ?? []),
      ...statementsOf(p.props.policy),
    ]);
  }
  return byUrl;
}

/**
 * Who a queue policy lets `sqs:SendMessage` ("*" for a public principal), and the exempted
 * principals of each of its "deny every other sender" statements (Deny, Principal "*",
 * ArnNotEquals aws:PrincipalArn).
 */
export function queueSenders(statements: readonly Statement[]) {
  const sends = (s: Statement) => list(s.Action).some((a) => actionMatches(a, "sqs:SendMessage"));
  const allowed = new Set(
    statements
      .filter((s) => allows(s) && sends(s))
      .flatMap((s) =>
        principalIsPublic(s.Principal)
          ? ["*"]
          : list((s.Principal as { AWS?: string | string[] })?.AWS),
      ),
  );
  const denyExemptions = statements
    .filter((s) => s.Effect === "Deny" && principalIsPublic(s.Principal) && sends(s))
    .map((s) => list(s.Condition?.ArnNotEquals?.["aws:PrincipalArn"] as string | string[]));
  return { allowed, denyExemptions };
}
