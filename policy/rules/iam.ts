/** IAM: managed policies, identity policy documents, trust policies. */
import * as aws from "@pulumi/aws";
import { LAMBDA_VPC_ACCESS_ACTIONS } from "../../contract/awsFacts";
import { ReportViolation, ResourceValidation } from "@pulumi/policy";
import { Statement, allows, list, principalIsPublic, sidOf, statementsOf } from "./documents";
import { RelayPolicy, forType, resourceRule } from "./factory";

/** Actions AWS accepts only with `Resource: "*"` (no resource-level permissions). */
export const ACTIONS_REQUIRING_STAR: readonly string[] = [
  "xray:PutTraceSegments",
  "xray:PutTelemetryRecords",
  "xray:GetSamplingRules",
  "xray:GetSamplingTargets",
  "xray:GetSamplingStatisticSummaries",
  // A function in a VPC manages its network interfaces (AWSLambdaVPCAccessExecutionRole).
  ...LAMBDA_VPC_ACCESS_ACTIONS,
];

const BROAD_MANAGED_POLICY =
  /:policy\/(service-role\/)?(AdministratorAccess|PowerUserAccess|[A-Za-z0-9]*FullAccess|AWSLambdaRole)$/;

/** One check per identity-policy resource type, each statement of its `policy` document. */
function identityPolicyChecks(
  check: (statement: Statement, report: ReportViolation) => void,
): ResourceValidation[] {
  return [aws.iam.RolePolicy, aws.iam.Policy, aws.iam.UserPolicy, aws.iam.GroupPolicy].map((cls) =>
    forType(cls as typeof aws.iam.RolePolicy, (policy, _args, report) => {
      for (const statement of statementsOf(policy.policy)) check(statement, report);
    }),
  );
}

export const iam: RelayPolicy[] = [
  resourceRule({
    name: "iam-no-broad-managed-policies",
    source: "CKV_AWS_274",
    summary:
      "no AdministratorAccess, PowerUserAccess or *FullAccess managed policy, nor (order-relay) AWSLambdaRole.",
    checks: [
      forType(aws.iam.RolePolicyAttachment, (attachment, _args, report) => {
        if (BROAD_MANAGED_POLICY.test(attachment.policyArn)) {
          report(
            `role ${attachment.role} is attached ${attachment.policyArn} — grant the exact actions on exact ARNs instead`,
          );
        }
      }),
      forType(aws.iam.Role, (role, _args, report) => {
        for (const arn of list(role.managedPolicyArns)) {
          if (BROAD_MANAGED_POLICY.test(arn))
            report(`role ${role.name} uses managed policy ${arn}`);
        }
      }),
    ],
  }),
  resourceRule({
    name: "iam-no-wildcard-action",
    source: "CKV_AWS_63, AVD-AWS-0057",
    summary: "no identity policy allows `*` or `service:*` actions.",
    checks: identityPolicyChecks((s, report) => {
      if (!allows(s)) return;
      const wild = list(s.Action).filter((a) => a === "*" || a.endsWith(":*"));
      if (wild.length > 0 || s.NotAction) {
        report(`statement ${sidOf(s)} allows ${wild.join(", ") || "NotAction"}`);
      }
    }),
  }),
  resourceRule({
    name: "iam-no-wildcard-resource",
    source: "CKV_AWS_355, AVD-AWS-0057",
    summary:
      'no identity policy allows `Resource: "*"`, except for actions AWS supports only on `*` (X-Ray, a VPC function\'s network interfaces).',
    checks: identityPolicyChecks((s, report) => {
      if (!allows(s) || !list(s.Resource).includes("*")) return;
      const restrictable = list(s.Action).filter((a) => !ACTIONS_REQUIRING_STAR.includes(a));
      if (restrictable.length > 0) {
        report(
          `statement ${sidOf(s)} allows ${restrictable.join(", ")} on "*" — name the exact ARNs`,
        );
      }
    }),
  }),
  resourceRule({
    name: "iam-trust-not-public",
    source: "CKV_AWS_60",
    summary: "no role's trust policy lets `*` assume it.",
    of: aws.iam.Role,
    check: (role, _args, report) => {
      for (const s of statementsOf(role.assumeRolePolicy).filter(allows)) {
        if (principalIsPublic(s.Principal))
          report(`role ${role.name} can be assumed by Principal "*"`);
      }
    },
  }),
  resourceRule({
    name: "iam-service-trust-scoped",
    source: "order-relay",
    summary:
      "roles trusted by a service other than Lambda are scoped with aws:SourceArn or aws:SourceAccount (confused deputy).",
    of: aws.iam.Role,
    check: (role, _args, report) => {
      for (const s of statementsOf(role.assumeRolePolicy).filter(allows)) {
        const services = list(
          (s.Principal as { Service?: string | string[] } | undefined)?.Service,
        );
        if (services.length === 0 || services.every((svc) => svc === "lambda.amazonaws.com"))
          continue;
        const keys = Object.values(s.Condition ?? {}).flatMap((c) => Object.keys(c));
        if (!keys.some((k) => /^aws:Source(Arn|Account)$/i.test(k))) {
          report(
            `role ${role.name} trusts ${services.join(", ")} without an aws:SourceArn/SourceAccount condition`,
          );
        }
      }
    },
  }),
];
