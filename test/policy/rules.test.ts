/**
 * The policy pack over the offline engine: every stack passes, and every rule has a fixture that
 * makes it fire (a rule that cannot fail is a defect) next to a passing case.
 */
import * as assert from "assert";
import { listStacks } from "../../config/load";
import { DECLARING_COMPONENT_TYPE, PRODUCTION_STACK_TAG } from "../../contract/declarations";
import { LAMBDA_ENV } from "../../contract/lambdaEnv";
import { policies } from "../../policy/rules";
import { PolicyRunOptions, runPolicies } from "../../offline/policy";
import { OfflineRun } from "../../offline/engine";
import { Resources, all, editPolicy, first, mutated, offlineRun, set } from "./support";

interface Fixture {
  readonly rule: string;
  /** The stack whose resources the fixture starts from. @default - "prod" */
  readonly stack?: string;
  /** Makes the rule fire. */
  readonly fire: (resources: Resources) => void;
  /** Expected text in the violation message. */
  readonly message: RegExp;
  /** Pack config for both cases. */
  readonly options?: PolicyRunOptions;
}

const CLUSTER = "aws:rds/cluster:Cluster";
const INSTANCE = "aws:rds/clusterInstance:ClusterInstance";
const QUEUE = "aws:sqs/queue:Queue";
const QUEUE_POLICY = "aws:sqs/queuePolicy:QueuePolicy";
const FUNCTION = "aws:lambda/function:Function";
const ROLE = "aws:iam/role:Role";
const ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy";
const LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup";
const isDlqPolicy = (r: { name: string }) => r.name.endsWith("-dlq-policy");
const isAggregatorQueue = (r: { name: string }) => r.name === "aggregator-queue-queue";
/** Passing case for the bound rules: a bound the stack meets. */
const generousBound: PolicyRunOptions = {
  config: { "privacy-residence-within-bound": { maxResidenceHours: 2000 } },
};

const fixtures: Fixture[] = [
  {
    rule: "aurora-storage-encrypted",
    fire: (rs) => set(first(rs, CLUSTER), "storageEncrypted", false),
    message: /storageEncrypted/,
  },
  {
    rule: "rds-instance-not-public",
    fire: (rs) => set(first(rs, INSTANCE), "publiclyAccessible", true),
    message: /publiclyAccessible/,
  },
  {
    rule: "aurora-deletion-protection-in-production",
    fire: (rs) => set(first(rs, CLUSTER), "deletionProtection", false),
    message: /deletionProtection off/,
  },
  {
    rule: "aurora-backup-retention-bounds",
    fire: (rs) => set(first(rs, CLUSTER), "backupRetentionPeriod", 35),
    message: /35 d exceeds 7 d/,
  },
  {
    rule: "aurora-audit-log-export",
    fire: (rs) => set(first(rs, CLUSTER), "enabledCloudwatchLogsExports", ["error"]),
    message: /"audit"/,
  },
  {
    rule: "aurora-master-password-managed",
    fire: (rs) => {
      set(first(rs, CLUSTER), "manageMasterUserPassword", undefined);
      set(first(rs, CLUSTER), "masterPassword", "hunter2hunter2");
    },
    message: /masterPassword/,
  },
  {
    rule: "aurora-require-secure-transport",
    fire: (rs) => {
      const group = first(rs, "aws:rds/clusterParameterGroup:ClusterParameterGroup");
      set(
        group,
        "parameters",
        group.inputs.parameters.filter(
          (p: { name: string }) => p.name !== "require_secure_transport",
        ),
      );
    },
    message: /require_secure_transport/,
  },
  {
    rule: "rds-instance-performance-insights-off",
    fire: (rs) => set(first(rs, INSTANCE), "performanceInsightsEnabled", true),
    message: /Performance Insights/,
  },
  {
    rule: "rds-instance-auto-minor-upgrade",
    fire: (rs) => set(first(rs, INSTANCE), "autoMinorVersionUpgrade", false),
    message: /autoMinorVersionUpgrade/,
  },
  {
    rule: "sqs-encrypted",
    fire: (rs) => set(first(rs, QUEUE), "sqsManagedSseEnabled", false),
    message: /not encrypted/,
  },
  {
    rule: "sqs-source-queue-has-dlq",
    fire: (rs) => set(first(rs, QUEUE, isAggregatorQueue), "redrivePolicy", undefined),
    message: /no redrive policy/,
  },
  {
    rule: "sqs-tls-only-policy",
    fire: (rs) =>
      editPolicy(first(rs, QUEUE_POLICY, isDlqPolicy), "policy", (doc) => {
        doc.Statement = doc.Statement.filter((s) => s.Sid !== "DenyInsecureTransport");
      }),
    message: /non-TLS/,
  },
  {
    rule: "sqs-policy-no-public-allow",
    fire: (rs) =>
      editPolicy(first(rs, QUEUE_POLICY), "policy", (doc) => {
        doc.Statement.push({ Effect: "Allow", Principal: { AWS: "*" }, Action: "sqs:SendMessage" });
      }),
    message: /Principal "\*"/,
  },
  {
    rule: "sqs-policy-no-wildcard-action",
    fire: (rs) =>
      editPolicy(
        first(rs, QUEUE_POLICY, (r) => r.name === "aggregator-queue-policy"),
        "policy",
        (doc) => {
          doc.Statement[1].Action = "sqs:*";
        },
      ),
    message: /allows sqs:\*/,
  },
  {
    rule: "sqs-retention-within-bound",
    stack: "dev",
    fire: (rs) => set(first(rs, QUEUE), "messageRetentionSeconds", undefined),
    message: /default retention/,
  },
  {
    rule: "sqs-dlq-redrive-allow-restricted",
    fire: (rs) =>
      set(
        first(rs, "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy"),
        "redriveAllowPolicy",
        JSON.stringify({ redrivePermission: "allowAll" }),
      ),
    message: /allowAll/,
  },
  {
    rule: "lambda-supported-runtime",
    fire: (rs) => set(first(rs, FUNCTION), "runtime", "nodejs16.x"),
    message: /nodejs16\.x is deprecated/,
  },
  {
    rule: "lambda-failure-destination",
    fire: (rs) =>
      set(
        first(rs, "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"),
        "destinationConfig",
        undefined,
      ),
    message: /would be dropped/,
  },
  {
    rule: "lambda-log-group-managed",
    fire: (rs) => {
      const fn = first(rs, FUNCTION);
      set(fn, "loggingConfig", { ...fn.inputs.loggingConfig, logGroup: "/aws/lambda/elsewhere" });
    },
    message: /does not create/,
  },
  {
    rule: "lambda-no-secrets-in-environment",
    fire: (rs) => {
      const fn = first(rs, FUNCTION);
      set(fn, "environment", {
        variables: { ...fn.inputs.environment.variables, DB_PASSWORD: "s3cret-value" },
      });
    },
    message: /DB_PASSWORD looks like a secret/,
  },
  {
    rule: "lambda-tracing-active",
    fire: (rs) => set(first(rs, FUNCTION), "tracingConfig", { mode: "PassThrough" }),
    message: /tracing PassThrough/,
  },
  {
    rule: "log-group-retention",
    fire: (rs) => set(first(rs, LOG_GROUP), "retentionInDays", undefined),
    message: /never expires/,
  },
  {
    rule: "iam-no-broad-managed-policies",
    fire: (rs) =>
      set(first(rs, ROLE), "managedPolicyArns", ["arn:aws:iam::aws:policy/AmazonSQSFullAccess"]),
    message: /AmazonSQSFullAccess/,
  },
  {
    rule: "iam-no-wildcard-action",
    fire: (rs) =>
      editPolicy(first(rs, ROLE_POLICY), "policy", (doc) => {
        doc.Statement.push({
          Effect: "Allow",
          Action: "sqs:*",
          Resource: "arn:aws:sqs:us-east-1:1:q",
        });
      }),
    message: /allows sqs:\*/,
  },
  {
    rule: "iam-no-wildcard-resource",
    fire: (rs) =>
      editPolicy(
        first(rs, ROLE_POLICY, (r) => r.name.endsWith("-role-policy")),
        "policy",
        (doc) => {
          // Same Sid as the allowed X-Ray statement: the exemption is by action, not by Sid.
          doc.Statement.push({
            Sid: "XRayTracingAwsRequiresStar",
            Effect: "Allow",
            Action: ["xray:PutTraceSegments", "sqs:SendMessage"],
            Resource: "*",
          });
        },
      ),
    message: /allows sqs:SendMessage on "\*"/,
  },
  {
    rule: "iam-trust-not-public",
    fire: (rs) =>
      editPolicy(first(rs, ROLE), "assumeRolePolicy", (doc) => {
        doc.Statement[0].Principal = { AWS: "*" };
      }),
    message: /Principal "\*"/,
  },
  {
    rule: "iam-service-trust-scoped",
    fire: (rs) =>
      editPolicy(
        first(rs, ROLE, (r) => r.name.endsWith("-rds-invoke-role")),
        "assumeRolePolicy",
        (doc) => {
          delete doc.Statement[0].Condition;
        },
      ),
    message: /rds\.amazonaws\.com without/,
  },
  {
    rule: "topology-every-region-forwards",
    fire: (rs) => {
      const fn = first(rs, FUNCTION, (r) => r.name === "us-west-2-forwarder-function");
      set(fn, "environment", {
        variables: {
          ...fn.inputs.environment.variables,
          [LAMBDA_ENV.aggregatorQueueUrl]: "https://sqs.example/other",
        },
      });
    },
    message: /region us-west-2 has no forwarder/,
  },
  {
    rule: "aggregator-accepts-only-forwarders",
    fire: (rs) =>
      editPolicy(
        first(rs, QUEUE_POLICY, (r) => r.name === "aggregator-queue-policy"),
        "policy",
        (doc) => {
          const send = doc.Statement.find((s) => s.Sid === "ForwardersSend")!;
          send.Principal.AWS = [...send.Principal.AWS, "arn:aws:iam::123456789012:role/intruder"];
        },
      ),
    message: /non-forwarders send: arn:aws:iam::123456789012:role\/intruder/,
  },
  {
    rule: "ack-queue-accepts-only-dc-consumer",
    fire: (rs) =>
      editPolicy(
        first(rs, QUEUE_POLICY, (r) => r.name === "eu-west-1-ack-queue-policy"),
        "policy",
        (doc) => {
          const send = doc.Statement.find((s) => s.Sid === "DcConsumerSends")!;
          send.Principal.AWS = "arn:aws:iam::123456789012:role/intruder";
        },
      ),
    message: /non-DC principals send: arn:aws:iam::123456789012:role\/intruder/,
  },
  {
    rule: "ack-function-vpc-iam-auth",
    fire: (rs) => {
      set(
        first(rs, FUNCTION, (r) => r.name === "us-west-2-ack-function-function"),
        "vpcConfig",
        undefined,
      );
      set(
        first(rs, CLUSTER, (r) => r.name === "eu-west-1-aurora-cluster"),
        "iamDatabaseAuthenticationEnabled",
        undefined,
      );
      editPolicy(
        first(rs, ROLE_POLICY, (r) => r.name === "ap-northeast-1-ack-function-role-policy"),
        "policy",
        (doc) => {
          doc.Statement.find((s) => s.Sid === "ConnectAsAckUserOnly")!.Resource = "*";
        },
      );
    },
    message: /is not in a VPC|IAM database authentication off|exactly one dbuser ARN/,
  },
  {
    rule: "confirmed-purge-resends-within-retention",
    fire: (rs) => set(first(rs, QUEUE, isAggregatorQueue), "messageRetentionSeconds", 600),
    message: /keeps messages 600 s, not longer than resendAfterMinutes \(30 min\)/,
  },
  {
    rule: "production-alarms-notify",
    fire: (rs) =>
      set(
        first(rs, "aws:cloudwatch/metricAlarm:MetricAlarm", (r) => r.name.endsWith("-relay-lag")),
        "alarmActions",
        [],
      ),
    message: /alarm\(s\) notify no one .* set order-relay:alarms.email/,
  },
  {
    rule: "privacy-residence-within-bound",
    stack: "dev",
    fire: (rs) => set(first(rs, DECLARING_COMPONENT_TYPE), "maxResidenceHours", 100),
    message: /exceeds maxResidenceHours 100 h/,
    options: {},
  },
  {
    rule: "every-dlq-alarmed",
    fire: (rs) => {
      const alarm = first(rs, "aws:cloudwatch/metricAlarm:MetricAlarm", (r) =>
        r.name.endsWith("-dlq-messages"),
      );
      set(alarm, "threshold", 5);
    },
    message: /no "any message visible" alarm/,
  },
  {
    rule: "sns-topic-encrypted-cmk",
    stack: "prod+email",
    fire: (rs) => set(first(rs, "aws:sns/topic:Topic"), "kmsMasterKeyId", "alias/aws/sns"),
    message: /alias\/aws\/sns/,
  },
  {
    rule: "kms-key-rotation",
    stack: "prod+email",
    fire: (rs) => set(first(rs, "aws:kms/key:Key"), "enableKeyRotation", false),
    message: /rotation off/,
  },
];

function stackRun(name: string): Promise<OfflineRun> {
  return name === "prod+email"
    ? offlineRun("prod", { alarms: { email: "ops@example.com", oldestMessageAgeSeconds: 300 } })
    : offlineRun(name);
}

describe("policy pack", () => {
  it("has at least 25 rules, each with a unique name, a source id and a level", () => {
    assert.ok(policies.length >= 25, `only ${policies.length} rules`);
    assert.strictEqual(new Set(policies.map((p) => p.name)).size, policies.length);
    for (const p of policies) {
      assert.match(p.source, /CKV_AWS_\d+|AVD-AWS-\d{4}|cfn_nag|awsguard|order-relay/, p.name);
      assert.ok(["mandatory", "advisory"].includes(p.enforcementLevel), p.name);
      // Built by the rule factory: the description leads with the source ids.
      assert.ok(p.description.startsWith(`${p.source.split(", ").join(" / ")}: `), p.name);
    }
  });

  it("has a firing fixture for every rule", () => {
    const covered = new Set(fixtures.map((f) => f.rule));
    assert.deepStrictEqual(
      policies.map((p) => p.name).filter((n) => !covered.has(n)),
      [],
    );
  });

  for (const stack of listStacks()) {
    it(`stack ${stack}: no mandatory violations`, async () => {
      const run = await offlineRun(stack);
      const result = await runPolicies(run.resources);
      const mandatory = result.violations.filter((v) => v.enforcementLevel === "mandatory");
      assert.deepStrictEqual(
        mandatory.map((v) => `${v.policy}: ${v.message}`),
        [],
      );
    });
  }

  for (const fixture of fixtures) {
    const stack = fixture.stack ?? "prod";
    describe(fixture.rule, () => {
      const only = () => policies.filter((p) => p.name === fixture.rule);
      it(`passes on ${stack}`, async () => {
        const run = await stackRun(stack);
        const { violations } = await runPolicies(
          run.resources,
          only(),
          fixture.options ?? generousBound,
        );
        assert.deepStrictEqual(
          violations.map((v) => v.message),
          [],
        );
      });
      it("fires on its fixture", async () => {
        const run = await stackRun(stack);
        const { violations } = await runPolicies(
          mutated(run, fixture.fire),
          only(),
          fixture.options ?? generousBound,
        );
        assert.ok(
          violations.some((v) => fixture.message.test(v.message)),
          `expected ${fixture.message}, got ${JSON.stringify(violations.map((v) => v.message))}`,
        );
      });
    });
  }

  describe("runtime argument shape", () => {
    it("allows the X-Ray '*' and the Deny '*' statements of the real stack", async () => {
      const run = await offlineRun("prod");
      const names = ["iam-no-wildcard-resource", "sqs-policy-no-public-allow"];
      const { violations } = await runPolicies(
        run.resources,
        policies.filter((p) => names.includes(p.name)),
      );
      assert.deepStrictEqual(violations, []);
    });

    it("reports an unknown (preview) value as an advisory 'can't run during preview'", async () => {
      const run = await offlineRun("dev");
      const resources = mutated(run, (rs) => {
        for (const c of all(rs, CLUSTER))
          c.inputs.storageEncrypted = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
      });
      const { violations } = await runPolicies(
        resources,
        policies.filter((p) => p.name === "aurora-storage-encrypted"),
      );
      assert.strictEqual(violations.length, 1);
      assert.strictEqual(violations[0].enforcementLevel, "advisory");
      assert.match(violations[0].message, /can't run during preview/);
    });

    it("records notApplicable (deletion protection outside production) instead of a violation", async () => {
      const run = await offlineRun("dev");
      const rule = policies.filter((p) => p.name === "aurora-deletion-protection-in-production");
      const result = await runPolicies(
        mutated(run, (rs) => set(first(rs, CLUSTER), "deletionProtection", false)),
        rule,
      );
      assert.deepStrictEqual(result.violations, []);
      assert.deepStrictEqual(result.notApplicable, [
        { policy: "aurora-deletion-protection-in-production", reason: "not a production stack" },
      ]);
      // A stack tag marks a stack production when the program declares nothing.
      const tagged = await runPolicies(
        mutated(run, (rs) => {
          set(first(rs, CLUSTER), "deletionProtection", false);
          set(first(rs, DECLARING_COMPONENT_TYPE), "production", undefined);
        }),
        rule,
        { stackTags: { [PRODUCTION_STACK_TAG]: "true" } },
      );
      assert.strictEqual(tagged.violations.length, 1);
    });

    it("honours pack config: enforcement level and rule properties", async () => {
      const run = await offlineRun("prod");
      const rule = policies.filter((p) => p.name === "aurora-backup-retention-bounds");
      const resources = mutated(run, (rs) => set(first(rs, CLUSTER), "backupRetentionPeriod", 10));
      const strict = await runPolicies(resources, rule);
      assert.strictEqual(strict.violations[0]?.enforcementLevel, "mandatory");
      const relaxed = await runPolicies(resources, rule, {
        config: { "aurora-backup-retention-bounds": { maxBackupRetentionDays: 14 } },
      });
      assert.deepStrictEqual(relaxed.violations, []);
      const disabled = await runPolicies(resources, rule, {
        config: { "aurora-backup-retention-bounds": "disabled" },
      });
      assert.deepStrictEqual(disabled.violations, []);
    });
  });
});
