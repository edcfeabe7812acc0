/** Lambda functions: runtime, failure handling, their log groups, environment, tracing. */
import * as aws from "@pulumi/aws";
import { RelayPolicy, resourceRule, stackRule } from "./factory";
import { ofType, queueRoles } from "./stack";

/** Runtimes AWS has deprecated (or will shortly); anything older in a family is deprecated too. */
export function runtimeProblem(runtime: string | undefined): string | undefined {
  if (!runtime) return "no runtime (container images are not used here)";
  const node = /^nodejs(\d+)\.x$/.exec(runtime);
  if (node)
    return Number(node[1]) >= 20 ? undefined : `${runtime} is deprecated — use nodejs20.x or newer`;
  const python = /^python3\.(\d+)$/.exec(runtime);
  if (python)
    return Number(python[1]) >= 10
      ? undefined
      : `${runtime} is deprecated — use python3.10 or newer`;
  if (
    /^(provided\.al2023|provided\.al2|java(17|21|25)|dotnet(8|9|10)|ruby3\.[3-9])$/.test(runtime)
  ) {
    return undefined;
  }
  return `${runtime} is deprecated or unknown`;
}

const SECRET_NAME = /(secret|passw(or)?d|pwd|token|api[_-]?key|private[_-]?key|credential)/i;
const SECRET_VALUE =
  /(AKIA|ASIA)[A-Z0-9]{16}|-----BEGIN [A-Z ]*PRIVATE KEY-----|^[A-Za-z0-9/+]{40}$/;
/** Values that name a secret rather than hold one. */
const SECRET_REFERENCE = /^arn:aws[a-z-]*:(secretsmanager|ssm|kms):|^\{\{resolve:|^\/[\w/.-]+$/;

export const lambda: RelayPolicy[] = [
  resourceRule({
    name: "lambda-supported-runtime",
    source: "CKV_AWS_363",
    summary: "Lambda functions use a runtime AWS still supports.",
    of: aws.lambda.Function,
    check: (fn, _args, report) => {
      const problem = runtimeProblem(fn.runtime as string | undefined);
      if (problem) report(`function ${fn.name}: ${problem}`);
    },
  }),
  stackRule({
    name: "lambda-failure-destination",
    source: "CKV_AWS_116",
    summary:
      "every function keeps what it fails on — an on-failure destination or DLQ for async invokes, or a source queue with a redrive policy.",
    check: (args, report) => {
      const { sources } = queueRoles(args.resources);
      const redriven = new Set(
        sources.filter((q) => q.props.redrivePolicy).map((q) => q.props.arn),
      );
      const invokeConfigs = ofType(args.resources, aws.lambda.FunctionEventInvokeConfig);
      const mappings = ofType(args.resources, aws.lambda.EventSourceMapping);
      for (const fn of ofType(args.resources, aws.lambda.Function)) {
        const names = [fn.props.name, fn.props.arn];
        const onFailure = invokeConfigs.some(
          (c) =>
            names.includes(c.props.functionName) &&
            c.props.destinationConfig?.onFailure?.destination,
        );
        const deadLetter = Boolean(fn.props.deadLetterConfig?.targetArn);
        const fedBy = mappings.filter((m) => names.includes(m.props.functionName));
        const queueFed =
          fedBy.length > 0 && fedBy.every((m) => redriven.has(m.props.eventSourceArn));
        if (!onFailure && !deadLetter && !queueFed) {
          report(
            `function ${fn.props.name} has no on-failure destination, no DLQ and no redriven source queue: failed events would be dropped`,
            fn.urn,
          );
        }
      }
    },
  }),
  stackRule({
    name: "lambda-log-group-managed",
    source: "order-relay",
    summary:
      "every function logs to a log group of this stack (so its retention is ours, not 'never expire').",
    check: (args, report) => {
      const groups = new Set(
        ofType(args.resources, aws.cloudwatch.LogGroup).map((g) => g.props.name),
      );
      for (const fn of ofType(args.resources, aws.lambda.Function)) {
        const group = fn.props.loggingConfig?.logGroup ?? `/aws/lambda/${fn.props.name}`;
        if (!groups.has(group)) {
          report(
            `function ${fn.props.name} logs to ${group}, which this stack does not create (Lambda would create it without retention)`,
            fn.urn,
          );
        }
      }
    },
  }),
  resourceRule({
    name: "lambda-no-secrets-in-environment",
    source: "CKV_AWS_45",
    summary: "no secret-looking values in Lambda environment variables.",
    of: aws.lambda.Function,
    check: (fn, _args, report) => {
      const variables = (fn.environment?.variables ?? {}) as Record<string, string>;
      for (const [key, value] of Object.entries(variables)) {
        const text = String(value);
        if (SECRET_REFERENCE.test(text)) continue;
        if (SECRET_VALUE.test(text) || (SECRET_NAME.test(key) && text.length > 0)) {
          report(
            `function ${fn.name}: environment variable ${key} looks like a secret — pass a Secrets Manager ARN instead`,
          );
        }
      }
    },
  }),
  resourceRule({
    name: "lambda-tracing-active",
    source: "CKV_AWS_50, AVD-AWS-0066",
    summary: "Lambda functions have X-Ray tracing active.",
    enforcementLevel: "advisory",
    of: aws.lambda.Function,
    check: (fn, _args, report) => {
      if (fn.tracingConfig?.mode !== "Active") {
        report(
          `function ${fn.name} has tracing ${fn.tracingConfig?.mode ?? "off"} — set tracingConfig.mode: Active`,
        );
      }
    },
  }),
];
