/**
 * IAM/SQS policy documents as typed values, serialised once. Every statement names exact ARNs;
 * the only `*` resource is X-Ray's, which AWS requires (X-Ray actions support no resource ARNs).
 */
import * as pulumi from "@pulumi/pulumi";

export interface PolicyStatement {
  readonly Sid?: string;
  readonly Effect: "Allow" | "Deny";
  readonly Action: string | readonly string[];
  readonly Resource?: pulumi.Input<string> | readonly pulumi.Input<string>[];
  readonly Principal?: pulumi.Input<unknown>;
  readonly Condition?: pulumi.Input<Record<string, unknown>>;
}

/** Serialises statements (which may hold outputs) into a policy document JSON string. */
export function policyDocument(statements: readonly PolicyStatement[]): pulumi.Output<string> {
  const resolved = pulumi.output(
    statements as unknown as pulumi.Input<object>,
  ) as pulumi.Output<unknown>;
  return resolved.apply((statement) =>
    JSON.stringify({ Version: "2012-10-17", Statement: statement }),
  );
}

/** Trust policy for an AWS service principal, optionally scoped to a source ARN/account. */
export function serviceTrustPolicy(
  service: string,
  condition?: pulumi.Input<Record<string, unknown>>,
): pulumi.Output<string> {
  return policyDocument([
    {
      Effect: "Allow",
      Principal: { Service: service },
      Action: "sts:AssumeRole",
      ...(condition ? { Condition: condition } : {}),
    },
  ]);
}

/** What a consumer of a queue needs: receive, delete, extend visibility, read attributes. */
export const SQS_CONSUME_ACTIONS: readonly string[] = [
  "sqs:ReceiveMessage",
  "sqs:DeleteMessage",
  "sqs:ChangeMessageVisibility",
  "sqs:GetQueueAttributes",
];

/** Lets a Lambda function write only to its own log group. */
export function logWriteStatement(logGroupArn: pulumi.Input<string>): PolicyStatement {
  return {
    Sid: "WriteOwnLogs",
    Effect: "Allow",
    Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
    Resource: pulumi.interpolate`${logGroupArn}:*`,
  };
}

/** X-Ray tracing: AWS supports no resource-level permissions for these actions, so `*` is required. */
export const XRAY_STATEMENT: PolicyStatement = {
  Sid: "XRayTracingAwsRequiresStar",
  Effect: "Allow",
  Action: ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
  Resource: "*",
};

/** Denies any access to a queue that does not use TLS. */
export function denyInsecureTransport(queueArn: pulumi.Input<string>): PolicyStatement {
  return {
    Sid: "DenyInsecureTransport",
    Effect: "Deny",
    Principal: "*",
    Action: "sqs:*",
    Resource: queueArn,
    Condition: { Bool: { "aws:SecureTransport": "false" } },
  };
}
