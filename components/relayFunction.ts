import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { LAMBDA_VPC_ACCESS_ACTIONS } from "../contract/awsFacts";
import { COMPONENT_TYPE } from "../contract/componentTypes";
import { POWERTOOLS_ENV } from "../contract/lambdaEnv";
import { METRICS_NAMESPACE, type ServiceName } from "../contract/metrics";
import { HandlerName, bundleHandler } from "../lambda/bundle";
import {
  PolicyStatement,
  XRAY_STATEMENT,
  logWriteStatement,
  policyDocument,
  serviceTrustPolicy,
} from "./iamDocuments";

/**
 * The newest Node.js runtime in the AWS provider's own list, so upgrading @pulumi/aws is all it
 * takes to move to a new runtime.
 */
export function newestNodeRuntime(): string {
  const runtimes = Object.values(aws.lambda.Runtime as Record<string, string>)
    .map((runtime) => /^nodejs(\d+)\.x$/.exec(runtime))
    .filter((match): match is RegExpExecArray => match !== null)
    .sort((a, b) => Number(b[1]) - Number(a[1]));
  return runtimes[0][0];
}

export interface RelayFunctionArgs {
  /** Which handler in `lambda/` to bundle and run. */
  readonly handler: HandlerName;
  /** Physical function name (≤ 64 chars, carries the region). */
  readonly functionName: string;
  /** Physical IAM role name (≤ 64 chars, carries the region). */
  readonly roleName: string;
  /** What the function may do besides writing its own logs and X-Ray traces. */
  readonly statements: readonly PolicyStatement[];
  /** Environment variables (names from contract/lambdaEnv.ts). */
  readonly environment: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /** Function timeout (3..900 s; the stack config's `notify`/`forwarder.timeoutSeconds`). */
  readonly timeoutSeconds: number;
  /** Memory (128..10240 MB; the stack config's `notify`/`forwarder.memoryMb`). */
  readonly memoryMb: number;
  /** CloudWatch Logs retention of the function's log group; part of the privacy window. */
  readonly logRetentionDays: number;
  /**
   * Run inside a VPC (to reach a private database): its subnets and security groups. The role
   * then may manage the function's network interfaces. @default - outside any VPC
   */
  readonly vpc?: {
    readonly subnetIds: pulumi.Input<pulumi.Input<string>[]>;
    readonly securityGroupIds: pulumi.Input<string>[];
  };
}

/** The Powertools variables of a handler: its service name and the relay's metric namespace. */
export function powertoolsEnv(service: ServiceName): Record<string, string> {
  return {
    [POWERTOOLS_ENV.serviceName]: service,
    [POWERTOOLS_ENV.metricsNamespace]: METRICS_NAMESPACE,
    [POWERTOOLS_ENV.logLevel]: "INFO",
  };
}

/** What Lambda needs to attach a function to a VPC (AWSLambdaVPCAccessExecutionRole's actions). */
export const VPC_ACCESS_STATEMENT: PolicyStatement = {
  Sid: "VpcNetworkInterfaces",
  Effect: "Allow",
  Action: [...LAMBDA_VPC_ACCESS_ACTIONS],
  // AWS supports no resource-level scoping for these on the function's behalf.
  Resource: "*",
};

/**
 * A Lambda function from a real handler file, bundled by esbuild into an AssetArchive, with its
 * own least-privilege role and a log group with bounded retention created before the function.
 */
export class RelayFunction extends pulumi.ComponentResource {
  public readonly function: aws.lambda.Function;
  public readonly role: aws.iam.Role;
  public readonly logGroup: aws.cloudwatch.LogGroup;
  public readonly arn: pulumi.Output<string>;
  public readonly name: pulumi.Output<string>;
  /** The role ARN, resolved only once its policy is attached (so dependants don't race IAM). */
  public readonly readyRoleArn: pulumi.Output<string>;

  constructor(name: string, args: RelayFunctionArgs, opts?: pulumi.ComponentResourceOptions) {
    super(COMPONENT_TYPE.relayFunction, name, {}, opts);
    const childOpts = { parent: this };

    this.logGroup = new aws.cloudwatch.LogGroup(
      `${name}-logs`,
      { name: `/aws/lambda/${args.functionName}`, retentionInDays: args.logRetentionDays },
      childOpts,
    );
    this.role = new aws.iam.Role(
      `${name}-role`,
      {
        name: args.roleName,
        description: `order relay ${args.handler} (${args.functionName})`,
        assumeRolePolicy: serviceTrustPolicy("lambda.amazonaws.com"),
      },
      childOpts,
    );
    const rolePolicy = new aws.iam.RolePolicy(
      `${name}-role-policy`,
      {
        role: this.role.name,
        name: "least-privilege",
        policy: policyDocument([
          logWriteStatement(this.logGroup.arn),
          XRAY_STATEMENT,
          ...(args.vpc ? [VPC_ACCESS_STATEMENT] : []),
          ...args.statements,
        ]),
      },
      childOpts,
    );
    this.readyRoleArn = pulumi.all([this.role.arn, rolePolicy.id]).apply(([arn]) => arn);

    this.function = new aws.lambda.Function(
      `${name}-function`,
      {
        name: args.functionName,
        role: this.readyRoleArn,
        runtime: newestNodeRuntime(),
        architectures: ["arm64"],
        handler: "index.handler",
        code: new pulumi.asset.AssetArchive({
          "index.js": new pulumi.asset.StringAsset(bundleHandler(args.handler)),
        }),
        timeout: args.timeoutSeconds,
        memorySize: args.memoryMb,
        environment: { variables: args.environment },
        loggingConfig: {
          logFormat: "JSON",
          logGroup: this.logGroup.name,
          applicationLogLevel: "INFO",
        },
        tracingConfig: { mode: "Active" },
        ...(args.vpc
          ? {
              vpcConfig: {
                subnetIds: args.vpc.subnetIds,
                securityGroupIds: args.vpc.securityGroupIds,
              },
            }
          : {}),
      },
      { ...childOpts, dependsOn: [this.logGroup, rolePolicy] },
    );
    this.arn = this.function.arn;
    this.name = this.function.name;
    this.registerOutputs({ arn: this.arn, name: this.name, roleArn: this.role.arn });
  }
}
