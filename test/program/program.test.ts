/**
 * The program on the offline engine: dev and prod stacks, per-region completeness through each
 * region's own provider, wiring, AWS name limits, least privilege, URN stability.
 */
import * as assert from "assert";
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { promisify } from "util";
import { stringify as toYaml } from "yaml";
import { readStackFile, stackFilePath } from "../../config/load";
import { NAME_LIMITS } from "../../config/names";
import { LAMBDA_ENV } from "../../contract/lambdaEnv";
import { ConfigError } from "../../config/schema";
import { DATABASE_SETTINGS_ENV, parseDatabaseSettings } from "../../contract/databaseSettings";
import { sqlChecksum } from "../../sql/migrate";
import { VPC_ACCESS_STATEMENT } from "../../components/relayFunction";
import {
  OfflineRun,
  RecordedResource,
  mockInvoke,
  runOffline,
  runStack,
} from "../../offline/engine";

const ROOT = path.join(__dirname, "..", "..");

/** Custom resources a region must have exactly once (or the count given). */
const PER_REGION: Record<string, number> = {
  "aws:ec2/vpc:Vpc": 1,
  "aws:ec2/subnet:Subnet": 2,
  "aws:ec2/vpcEndpoint:VpcEndpoint": 1,
  "aws:rds/subnetGroup:SubnetGroup": 1,
  "aws:rds/clusterParameterGroup:ClusterParameterGroup": 1,
  "aws:rds/cluster:Cluster": 1,
  "aws:rds/clusterRoleAssociation:ClusterRoleAssociation": 1,
  // notify, forwarder and ack
  "aws:lambda/function:Function": 3,
  "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig": 1,
  // forwarder ← regional queue, ack ← ack queue
  "aws:lambda/eventSourceMapping:EventSourceMapping": 2,
  "mysql:index/database:Database": 1,
  // relay (password) and relay_ack (IAM database authentication)
  "mysql:index/user:User": 2,
  "command:local:Command": 1,
};

const ofType = (run: OfflineRun, type: string, region?: string) =>
  run.resources.filter((r) => r.type === type && (region === undefined || r.region === region));

const policyOf = (resource: RecordedResource, key = "policy") =>
  JSON.parse(resource.inputs[key]) as { Statement: Record<string, any>[] };

function regionsOf(run: OfflineRun): string[] {
  return ofType(run, "order-relay:relay:RegionalRelay").map((r) => r.name);
}

for (const stack of ["dev", "prod"]) {
  describe(`program on the offline engine: stack ${stack}`, () => {
    let run: OfflineRun;
    const file = readStackFile(stackFilePath(stack), stack);
    const aggregatorRegion = (file.relay.aggregator as { region: string }).region;

    before(async () => {
      run = await runStack({ stack });
    });

    it("creates one RegionalRelay per configured region, keyed by region name", () => {
      const configured = (file.relay.regions as { region: string }[]).map((r) => r.region).sort();
      assert.deepStrictEqual(regionsOf(run).sort(), configured);
      if (stack === "prod") assert.ok(configured.length >= 3);
    });

    it("gives each region its complete set of resources, all through that region's provider", () => {
      const providers = ofType(run, "pulumi:providers:aws");
      for (const region of regionsOf(run)) {
        const provider = providers.find((p) => p.inputs.region === region);
        assert.ok(provider, `no aws provider for ${region}`);
        const providerRef = `${provider.urn}::${provider.id}`;
        for (const [type, count] of Object.entries(PER_REGION)) {
          assert.strictEqual(ofType(run, type, region).length, count, `${region}: ${type}`);
        }
        const relay = ofType(run, "order-relay:relay:RegionalRelay").find(
          (r) => r.name === region,
        )!;
        const isDescendant = (r: RecordedResource): boolean =>
          r.parent === relay.urn ||
          (!!r.parent && isDescendant(run.resources.find((p) => p.urn === r.parent)!));
        const awsInRegion = run.resources.filter(
          (r) => r.custom && r.type.startsWith("aws:") && isDescendant(r),
        );
        assert.ok(awsInRegion.length > 30, `${region}: only ${awsInRegion.length} AWS resources`);
        for (const resource of awsInRegion) {
          assert.strictEqual(
            resource.provider,
            providerRef,
            `${resource.urn} must use the ${region} provider`,
          );
        }
      }
    });

    it("creates every AWS resource through an explicit provider", () => {
      for (const resource of run.resources.filter((r) => r.custom && r.type.startsWith("aws:"))) {
        assert.ok(
          resource.provider?.includes("pulumi:providers:aws"),
          `${resource.urn} uses the default provider`,
        );
      }
    });

    it("has exactly one aggregator (FIFO queue + DLQ) and every forwarder targets it", () => {
      const aggregators = ofType(run, "order-relay:aggregator:Aggregator");
      assert.strictEqual(aggregators.length, 1);
      const queues = ofType(run, "aws:sqs/queue:Queue");
      const aggregatorQueue = queues.find((q) => q.inputs.name.endsWith("-aggregator.fifo"));
      assert.ok(aggregatorQueue, "no FIFO aggregator queue");
      assert.strictEqual(aggregatorQueue.region, aggregatorRegion);
      assert.strictEqual(aggregatorQueue.inputs.fifoQueue, true);
      assert.strictEqual(aggregatorQueue.inputs.contentBasedDeduplication, false);
      const redrive = JSON.parse(aggregatorQueue.inputs.redrivePolicy);
      assert.ok(redrive.deadLetterTargetArn.endsWith("-aggregator-dlq.fifo"));
      const forwarders = ofType(run, "aws:lambda/function:Function").filter((f) =>
        f.inputs.name.endsWith("-forwarder"),
      );
      assert.strictEqual(forwarders.length, regionsOf(run).length);
      for (const forwarder of forwarders) {
        const env = forwarder.inputs.environment.variables;
        assert.strictEqual(env[LAMBDA_ENV.aggregatorQueueUrl], aggregatorQueue.state.url);
        assert.strictEqual(env[LAMBDA_ENV.aggregatorRegion], aggregatorRegion);
        assert.strictEqual(env[LAMBDA_ENV.aggregatorFifo], "true");
      }
    });

    it("wires notify: regional queue URL, async retries and on-failure destination = regional DLQ", () => {
      for (const region of regionsOf(run)) {
        const notify = ofType(run, "aws:lambda/function:Function", region).find((f) =>
          f.inputs.name.endsWith("-notify"),
        )!;
        const queue = ofType(run, "aws:sqs/queue:Queue", region).find((q) =>
          q.inputs.name.endsWith(`${region}-orders`),
        )!;
        const dlq = ofType(run, "aws:sqs/queue:Queue", region).find((q) =>
          q.inputs.name.endsWith(`${region}-orders-dlq`),
        )!;
        assert.strictEqual(
          notify.inputs.environment.variables[LAMBDA_ENV.queueUrl],
          queue.state.url,
        );
        const [asyncConfig] = ofType(
          run,
          "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig",
          region,
        );
        assert.strictEqual(asyncConfig.inputs.functionName, notify.state.name);
        assert.strictEqual(asyncConfig.inputs.maximumRetryAttempts, 2);
        assert.strictEqual(
          asyncConfig.inputs.destinationConfig.onFailure.destination,
          dlq.state.arn,
        );
        assert.strictEqual(
          JSON.parse(queue.inputs.redrivePolicy).deadLetterTargetArn,
          dlq.state.arn,
        );
        assert.strictEqual(queue.inputs.sqsManagedSseEnabled, true);
        assert.strictEqual(queue.inputs.maxMessageSize, 1048576);
      }
    });

    it("wires the forwarder: event source = regional queue, batch 10, ReportBatchItemFailures", () => {
      for (const region of regionsOf(run)) {
        const forwarder = ofType(run, "aws:lambda/function:Function", region).find((f) =>
          f.inputs.name.endsWith("-forwarder"),
        )!;
        const queue = ofType(run, "aws:sqs/queue:Queue", region).find((q) =>
          q.inputs.name.endsWith(`${region}-orders`),
        )!;
        const [mapping] = ofType(run, "aws:lambda/eventSourceMapping:EventSourceMapping", region);
        assert.strictEqual(mapping.inputs.eventSourceArn, queue.state.arn);
        assert.strictEqual(mapping.inputs.functionName, forwarder.state.arn);
        assert.strictEqual(mapping.inputs.batchSize, 10);
        assert.deepStrictEqual(mapping.inputs.functionResponseTypes, ["ReportBatchItemFailures"]);
        // AWS advises a visibility timeout of 6x the function timeout for SQS event sources.
        assert.ok(queue.inputs.visibilityTimeoutSeconds >= 6 * forwarder.inputs.timeout);
      }
    });

    it("runs the newest Node.js runtime, arm64, with JSON logs into a log group with retention", () => {
      const logGroups = ofType(run, "aws:cloudwatch/logGroup:LogGroup");
      for (const fn of ofType(run, "aws:lambda/function:Function")) {
        assert.match(fn.inputs.runtime, /^nodejs\d+\.x$/);
        assert.strictEqual(fn.inputs.runtime, "nodejs24.x");
        assert.deepStrictEqual(fn.inputs.architectures, ["arm64"]);
        assert.strictEqual(fn.inputs.handler, "index.handler");
        assert.strictEqual(fn.inputs.loggingConfig.logFormat, "JSON");
        const group = logGroups.find((g) => g.inputs.name === fn.inputs.loggingConfig.logGroup);
        assert.ok(
          group && group.inputs.retentionInDays > 0,
          `${fn.inputs.name}: log group with retention`,
        );
        assert.strictEqual(fn.inputs.tracingConfig.mode, "Active");
      }
    });

    it("packages handler bundles as an AssetArchive (index.handler), not closures", () => {
      for (const fn of ofType(run, "aws:lambda/function:Function")) {
        assert.strictEqual(fn.inputs.code.__pulumiArchive, true, `${fn.inputs.name}: an archive`);
        assert.strictEqual(fn.inputs.handler, "index.handler");
      }
      // CallbackFunction would register closures; the real bundles run in wiring.test.ts.
      assert.ok(!run.resources.some((r) => JSON.stringify(r.inputs).includes("__pulumiClosure")));
    });

    it("builds Aurora MySQL 3: encrypted, private, managed password, log exports, parameters", () => {
      for (const region of regionsOf(run)) {
        const [cluster] = ofType(run, "aws:rds/cluster:Cluster", region);
        assert.strictEqual(cluster.inputs.engine, "aurora-mysql");
        assert.match(cluster.inputs.engineVersion, /^8\.0\.mysql_aurora\.3\./);
        assert.strictEqual(cluster.inputs.storageEncrypted, true);
        assert.strictEqual(cluster.inputs.manageMasterUserPassword, true);
        assert.strictEqual(cluster.inputs.masterPassword, undefined);
        assert.deepStrictEqual(cluster.inputs.enabledCloudwatchLogsExports, [
          "audit",
          "error",
          "slowquery",
        ]);
        assert.ok(
          cluster.inputs.backupRetentionPeriod >= 1 && cluster.inputs.backupRetentionPeriod <= 35,
        );
        assert.strictEqual(cluster.inputs.deletionProtection, stack === "prod");
        assert.strictEqual(cluster.inputs.skipFinalSnapshot, stack !== "prod");
        for (const instance of ofType(run, "aws:rds/clusterInstance:ClusterInstance", region)) {
          assert.strictEqual(instance.inputs.publiclyAccessible, false);
          assert.strictEqual(instance.inputs.clusterIdentifier, cluster.state.id ?? cluster.id);
        }
        const [params] = ofType(run, "aws:rds/clusterParameterGroup:ClusterParameterGroup", region);
        const value = (name: string) =>
          params.inputs.parameters.find((p: any) => p.name === name)?.value;
        const invokeRole = ofType(run, "aws:iam/role:Role", region).find((r) =>
          r.inputs.name.endsWith("-rds-invoke"),
        )!;
        assert.strictEqual(value("aws_default_lambda_role"), invokeRole.state.arn);
        assert.strictEqual(value("event_scheduler"), "ON");
        assert.strictEqual(value("activate_all_roles_on_login"), "1");
        assert.strictEqual(value("require_secure_transport"), "ON");
        assert.strictEqual(params.inputs.family, "aurora-mysql8.0");
        assert.strictEqual(cluster.inputs.dbClusterParameterGroupName, params.state.name);
        const [association] = ofType(
          run,
          "aws:rds/clusterRoleAssociation:ClusterRoleAssociation",
          region,
        );
        assert.strictEqual(association.inputs.roleArn, invokeRole.state.arn);
        assert.ok(
          !association.inputs.featureName,
          "Aurora MySQL's Lambda association has no feature name",
        );
      }
    });

    it("keeps instances keyed by their configured names", () => {
      for (const entry of file.relay.regions as { region: string; instances?: string[] }[]) {
        const names = ofType(run, "aws:rds/clusterInstance:ClusterInstance", entry.region)
          .map((i) => i.name)
          .sort();
        assert.deepStrictEqual(
          names,
          (entry.instances ?? ["a"]).map((n) => `${entry.region}-aurora-instance-${n}`).sort(),
        );
      }
    });

    it("lets Aurora reach Lambda: interface endpoint with private DNS, 443 from the DB only", () => {
      for (const region of regionsOf(run)) {
        const [endpoint] = ofType(run, "aws:ec2/vpcEndpoint:VpcEndpoint", region);
        assert.strictEqual(endpoint.inputs.serviceName, `com.amazonaws.${region}.lambda`);
        assert.strictEqual(endpoint.inputs.vpcEndpointType, "Interface");
        assert.strictEqual(endpoint.inputs.privateDnsEnabled, true);
        const notify = ofType(run, "aws:lambda/function:Function", region).find((f) =>
          f.inputs.name.endsWith("-notify"),
        )!;
        const invokeRole = ofType(run, "aws:iam/role:Role", region).find((r) =>
          r.inputs.name.endsWith("-rds-invoke"),
        )!;
        const [endpointStatement] = JSON.parse(endpoint.inputs.policy).Statement;
        assert.strictEqual(endpointStatement.Action, "lambda:InvokeFunction");
        assert.strictEqual(endpointStatement.Resource, notify.state.arn);
        assert.strictEqual(
          endpointStatement.Condition.ArnEquals["aws:PrincipalArn"],
          invokeRole.state.arn,
        );
        const egress = ofType(
          run,
          "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
          region,
        );
        // 443 from Aurora to Lambda; MySQL from the ack Lambda to Aurora; nothing else goes out.
        assert.ok(
          egress.every(
            (rule) =>
              (rule.inputs.fromPort === 443 && rule.inputs.toPort === 443) ||
              (rule.name.endsWith("-ack-out-mysql") &&
                rule.inputs.fromPort === 3306 &&
                rule.inputs.referencedSecurityGroupId !== undefined),
          ),
        );
        const ingress = ofType(
          run,
          "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
          region,
        );
        for (const rule of ingress) {
          assert.ok([443, 3306].includes(rule.inputs.fromPort));
          assert.notStrictEqual(rule.inputs.cidrIpv4, "0.0.0.0/0");
        }
        const subnets = ofType(run, "aws:ec2/subnet:Subnet", region);
        assert.strictEqual(new Set(subnets.map((s) => s.inputs.availabilityZone)).size, 2);
        assert.ok(subnets.every((s) => s.inputs.mapPublicIpOnLaunch === false));
      }
    });

    it("declares complete CloudWatch alarms (what PutMetricAlarm requires)", () => {
      const alarms = ofType(run, "aws:cloudwatch/metricAlarm:MetricAlarm");
      assert.ok(alarms.length >= regionsOf(run).length * 9);
      for (const a of alarms) {
        const i = a.inputs;
        assert.ok(i.period >= 10 && i.period % 60 === 0, `${i.name}: period ${i.period}`);
        assert.ok(i.evaluationPeriods >= 1, `${i.name}: evaluationPeriods`);
        assert.ok(typeof i.threshold === "number", `${i.name}: threshold`);
        assert.ok(i.comparisonOperator && i.namespace && i.metricName, `${i.name}: metric`);
        assert.ok(
          Boolean(i.statistic) !== Boolean(i.extendedStatistic),
          `${i.name}: one statistic`,
        );
        assert.ok(i.name.length <= 255);
      }
    });

    it("keeps every physical name within AWS limits", () => {
      for (const role of ofType(run, "aws:iam/role:Role")) {
        assert.ok(role.inputs.name.length <= NAME_LIMITS.iamRole, role.inputs.name);
      }
      for (const fn of ofType(run, "aws:lambda/function:Function")) {
        assert.match(fn.inputs.name, /^[A-Za-z0-9_-]{1,64}$/);
      }
      for (const queue of ofType(run, "aws:sqs/queue:Queue")) {
        assert.match(queue.inputs.name, /^[A-Za-z0-9_-]{1,75}(\.fifo)?$/);
        assert.ok(queue.inputs.name.length <= NAME_LIMITS.sqsQueue);
        assert.strictEqual(
          queue.inputs.name.endsWith(".fifo"),
          queue.inputs.fifoQueue === true,
          queue.inputs.name,
        );
      }
      for (const cluster of ofType(run, "aws:rds/cluster:Cluster")) {
        assert.match(cluster.inputs.clusterIdentifier, /^[a-z][a-z0-9-]{0,62}$/);
        assert.ok(
          !cluster.inputs.clusterIdentifier.includes("--") &&
            !cluster.inputs.clusterIdentifier.endsWith("-"),
        );
      }
      for (const instance of ofType(run, "aws:rds/clusterInstance:ClusterInstance")) {
        assert.match(instance.inputs.identifier, /^[a-z][a-z0-9-]{0,62}$/);
      }
      for (const group of ofType(run, "aws:rds/clusterParameterGroup:ClusterParameterGroup")) {
        assert.ok(group.inputs.name.length <= 255 && /^[a-z][a-z0-9-]*$/.test(group.inputs.name));
      }
    });

    it("names IAM roles with their region and keeps them least-privilege", () => {
      for (const role of ofType(run, "aws:iam/role:Role")) {
        assert.ok(
          role.inputs.name.includes(role.region!),
          `${role.inputs.name} carries ${role.region}`,
        );
        assert.strictEqual(role.inputs.managedPolicyArns, undefined);
      }
      for (const policy of ofType(run, "aws:iam/rolePolicy:RolePolicy")) {
        for (const statement of policyOf(policy).Statement) {
          const actions = [statement.Action].flat();
          assert.ok(
            !actions.includes("*") && !actions.some((a: string) => a.endsWith(":*")),
            `${policy.urn}: ${actions}`,
          );
          const resources = [statement.Resource].flat();
          if (resources.includes("*")) {
            // X-Ray, and the ENI actions of a function in a VPC, have no resource-level scope.
            const vpcFunction = statement.Sid === VPC_ACCESS_STATEMENT.Sid;
            assert.ok(
              actions.every(
                (a: string) => a.startsWith("xray:") || (vpcFunction && a.startsWith("ec2:")),
              ),
              `${policy.urn}: * only for X-Ray (and a VPC function's network interfaces)`,
            );
          }
        }
      }
      assert.strictEqual(
        ofType(run, "aws:iam/rolePolicyAttachment:RolePolicyAttachment").length,
        0,
      );
    });

    it("scopes each role to its own ARNs", () => {
      const aggregatorQueue = ofType(run, "aws:sqs/queue:Queue").find((q) =>
        q.inputs.name.endsWith("-aggregator.fifo"),
      )!;
      for (const region of regionsOf(run)) {
        const policies = ofType(run, "aws:iam/rolePolicy:RolePolicy", region);
        const roles = ofType(run, "aws:iam/role:Role", region);
        const policyFor = (suffix: string) => {
          const role = roles.find((r) => r.inputs.name.endsWith(suffix))!;
          return policyOf(policies.find((p) => p.inputs.role === role.state.name)!).Statement;
        };
        const notify = ofType(run, "aws:lambda/function:Function", region).find((f) =>
          f.inputs.name.endsWith("-notify"),
        )!;
        const queue = ofType(run, "aws:sqs/queue:Queue", region).find((q) =>
          q.inputs.name.endsWith(`${region}-orders`),
        )!;
        const invoke = policyFor("-rds-invoke");
        assert.deepStrictEqual(
          invoke.map((s) => [s.Action, s.Resource]),
          [["lambda:InvokeFunction", notify.state.arn]],
        );
        const rdsRole = roles.find((r) => r.inputs.name.endsWith("-rds-invoke"))!;
        const trust = policyOf(rdsRole, "assumeRolePolicy").Statement[0];
        assert.deepStrictEqual(trust.Principal, { Service: "rds.amazonaws.com" });
        assert.ok(trust.Condition.ArnLike["aws:SourceArn"].includes(`:cluster:`));
        const sends = policyFor("-notify").filter((s) =>
          [s.Action].flat().includes("sqs:SendMessage"),
        );
        assert.ok(sends.some((s) => s.Resource === queue.state.arn));
        const forwarder = policyFor("-forwarder");
        const toAggregator = forwarder.find((s) => s.Sid === "SendToAggregator")!;
        assert.strictEqual(toAggregator.Resource, aggregatorQueue.state.arn);
        const consume = forwarder.find((s) => s.Sid === "ConsumeRegionalQueue")!;
        assert.strictEqual(consume.Resource, queue.state.arn);
      }
    });

    it("admits only the forwarder roles to the aggregator and denies non-TLS access", () => {
      const aggregatorQueue = ofType(run, "aws:sqs/queue:Queue").find((q) =>
        q.inputs.name.endsWith("-aggregator.fifo"),
      )!;
      const policy = ofType(run, "aws:sqs/queuePolicy:QueuePolicy").find(
        (p) => p.inputs.queueUrl === aggregatorQueue.state.url,
      )!;
      const statements = policyOf(policy).Statement;
      const forwarderArns = ofType(run, "aws:iam/role:Role")
        .filter((r) => r.inputs.name.endsWith("-forwarder"))
        .map((r) => r.state.arn)
        .sort();
      const send = statements.find((s) => s.Sid === "ForwardersSend")!;
      assert.deepStrictEqual([...send.Principal.AWS].sort(), forwarderArns);
      const deny = statements.find((s) => s.Sid === "OnlyForwardersSend")!;
      assert.strictEqual(deny.Effect, "Deny");
      assert.deepStrictEqual(
        [...deny.Condition.ArnNotEquals["aws:PrincipalArn"]].sort(),
        forwarderArns,
      );
      const tls = statements.find((s) => s.Sid === "DenyInsecureTransport")!;
      assert.strictEqual(tls.Condition.Bool["aws:SecureTransport"], "false");
      // Every queue, DLQs included, has a TLS-only policy.
      for (const queue of ofType(run, "aws:sqs/queue:Queue")) {
        const own = ofType(run, "aws:sqs/queuePolicy:QueuePolicy").filter(
          (p) => p.inputs.queueUrl === queue.state.url,
        );
        assert.strictEqual(own.length, 1, `${queue.inputs.name} has one queue policy`);
        assert.ok(policyOf(own[0]).Statement.some((s) => s.Sid === "DenyInsecureTransport"));
      }
    });

    it("gives the DC consumer role receive/delete/change-visibility on the aggregator only", () => {
      const role = ofType(run, "aws:iam/role:Role").find((r) =>
        r.inputs.name.endsWith("-dc-consumer"),
      )!;
      assert.strictEqual(role.region, aggregatorRegion);
      const policies = ofType(run, "aws:iam/rolePolicy:RolePolicy").filter(
        (p) => p.inputs.role === role.state.name,
      );
      assert.strictEqual(policies.length, 2);
      const acks = policies.find((p) => p.inputs.name === "send-acks")!;
      const policy = policies.find((p) => p !== acks)!;
      // Besides consuming the aggregator: sending acknowledgements to every region's ack queue.
      const [send] = policyOf(acks).Statement;
      assert.strictEqual(send.Action, "sqs:SendMessage");
      const ackQueues = ofType(run, "aws:sqs/queue:Queue").filter((q) =>
        q.inputs.name.endsWith("-acks"),
      );
      assert.strictEqual(ackQueues.length, regionsOf(run).length);
      assert.deepStrictEqual([...send.Resource].sort(), ackQueues.map((q) => q.state.arn).sort());
      const [statement] = policyOf(policy).Statement;
      assert.deepStrictEqual([...statement.Action].sort(), [
        "sqs:ChangeMessageVisibility",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "sqs:ReceiveMessage",
      ]);
      assert.ok(statement.Resource.endsWith("-aggregator.fifo"));
      const trust = policyOf(role, "assumeRolePolicy").Statement[0];
      assert.notStrictEqual(trust.Principal.AWS, "*");
    });

    it("creates the DB objects: database, relay user with AWS_LAMBDA_ACCESS, narrow grants, migration", () => {
      for (const region of regionsOf(run)) {
        const grants = ofType(run, "mysql:index/grant:Grant", region);
        assert.ok(
          grants.some(
            (g) => JSON.stringify(g.inputs.roles) === JSON.stringify(["AWS_LAMBDA_ACCESS"]),
          ),
        );
        const privileges = grants.find((g) => g.inputs.privileges && g.inputs.user === "relay")!;
        assert.ok(
          !privileges.inputs.privileges.includes("ALL") &&
            !privileges.inputs.privileges.includes("SUPER"),
        );
        assert.strictEqual(privileges.inputs.database, "storefront");
        const users = ofType(run, "mysql:index/user:User", region);
        const user = users.find((u) => u.inputs.user === "relay")!;
        const ackUser = users.find((u) => u.inputs.user === "relay_ack")!;
        assert.strictEqual(user.inputs.tlsOption, "SSL");
        // The ack Lambda's user: IAM database authentication, EXECUTE on relay_confirm only.
        assert.strictEqual(ackUser.inputs.user, "relay_ack");
        assert.strictEqual(ackUser.inputs.authPlugin, "AWSAuthenticationPlugin");
        assert.strictEqual(ackUser.inputs.plaintextPassword, undefined);
        const ackGrant = grants.find((g) => g.inputs.user === "relay_ack")!;
        assert.deepStrictEqual(ackGrant.inputs.privileges, ["EXECUTE"]);
        assert.strictEqual(ackGrant.inputs.database, "PROCEDURE storefront.relay_confirm");
        const [migration] = ofType(run, "command:local:Command", region);
        const notify = ofType(run, "aws:lambda/function:Function", region).find((f) =>
          f.inputs.name.endsWith("-notify"),
        )!;
        assert.strictEqual(migration.inputs.create, "npm run --silent db:migrate -- --tls");
        // Every setting in one JSON value, validated by the runner with the contract's schema.
        const settings = parseDatabaseSettings(
          migration.inputs.environment[DATABASE_SETTINGS_ENV],
          DATABASE_SETTINGS_ENV,
        );
        assert.deepStrictEqual(settings, {
          region,
          functionArn: notify.state.arn,
          retentionHours: file.relay.retentionHours,
          dispatchBatchSize: (file.relay.dispatchBatchSize as number | undefined) ?? 100,
          purgeIntervalMinutes: (file.relay.purgeIntervalMinutes as number | undefined) ?? 5,
          purgeRequires: "confirmed",
          resendAfterMinutes: (file.relay.resendAfterMinutes as number | undefined) ?? 30,
          tables: [{ name: "order_data", excludeColumns: [] }],
        });
        assert.ok(!JSON.stringify(migration.inputs.create).includes("pw-"), "no password in argv");
        assert.match(
          migration.inputs.environment.RELAY_DB_URL,
          /^mysql:\/\/relay:.+@.+:3306\/storefront$/,
        );
        // Re-run when the SQL, a setting or the cluster's readiness changes.
        assert.ok(migration.inputs.triggers.includes(sqlChecksum()));
        assert.ok(
          migration.inputs.triggers.includes(migration.inputs.environment[DATABASE_SETTINGS_ENV]),
        );
      }
    });

    it("reads the master password from Secrets Manager (no secret needed to preview)", () => {
      const reads = run.invokes.filter(
        (i) => i.token === "aws:secretsmanager/getSecretVersion:getSecretVersion",
      );
      assert.strictEqual(reads.length, regionsOf(run).length);
      assert.ok(reads.every((r) => r.inputs.secretId.includes(":secret:rds!cluster-")));
    });

    it("exports per-region endpoints, queue URLs and function names, the aggregator URL and DC principal", () => {
      const outputs = run.outputs as any;
      for (const region of regionsOf(run)) {
        const o = outputs.regions[region];
        assert.match(o.clusterEndpoint, new RegExp(`\\.${region}\\.rds\\.amazonaws\\.com$`));
        assert.match(o.queueUrl, new RegExp(`^https://sqs\\.${region}\\.amazonaws\\.com/\\d{12}/`));
        assert.ok(
          o.notifyFunctionName.endsWith("-notify") &&
            o.forwarderFunctionName.endsWith("-forwarder"),
        );
      }
      assert.match(outputs.aggregatorQueueUrl, /aggregator\.fifo$/);
      assert.match(outputs.dcConsumerRoleArn, /^arn:aws:iam::\d{12}:role\/.+-dc-consumer$/);
    });
  });
}

describe("URN stability when regions are added or removed", () => {
  const base = readStackFile(stackFilePath("prod"), "prod");
  const regions = base.relay.regions as { region: string }[];
  const urns = (run: OfflineRun) => new Set(run.resources.map((r) => r.urn));
  const withRegions = (list: { region: string }[]) => ({ ...base.relay, regions: list });
  let full: OfflineRun;

  before(async () => {
    full = await runOffline({ stack: "prod", relay: base.relay, other: base.other });
  });

  it("adding a region (at the front of the list) changes no existing URN or input", async () => {
    const added = await runOffline({
      stack: "prod",
      relay: withRegions([{ region: "sa-east-1" }, ...regions]),
      other: base.other,
    });
    const before = urns(full);
    const after = urns(added);
    for (const urn of before) assert.ok(after.has(urn), `URN vanished: ${urn}`);
    const newOnes = [...after].filter((u) => !before.has(u));
    assert.ok(newOnes.length > 30);
    const addedResources = added.resources.filter((r) => newOnes.includes(r.urn));
    assert.ok(
      addedResources.every((r) => r.region === "sa-east-1" || r.type === "pulumi:providers:aws"),
    );
    // Nothing existing is replaced: inputs of every existing non-policy resource are unchanged.
    const afterByUrn = new Map(added.resources.map((r) => [r.urn, r]));
    // Stack-wide resources that list every region update in place (same URN, no replacement).
    const aggregatorPolicyUrn = full.resources.find(
      (r) => r.type === "aws:sqs/queuePolicy:QueuePolicy" && r.name === "aggregator-queue-policy",
    )?.urn;
    assert.ok(aggregatorPolicyUrn, "aggregator queue policy");
    const ackSendersUrn = full.resources.find(
      (r) => r.type === "aws:iam/rolePolicy:RolePolicy" && r.name === "aggregator-dc-consumer-acks",
    )?.urn;
    assert.ok(ackSendersUrn, "the DC consumer's send-acks policy");
    const updatedInPlace = (r: RecordedResource) =>
      r.urn === aggregatorPolicyUrn ||
      r.urn === ackSendersUrn ||
      r.type === "aws:cloudwatch/dashboard:Dashboard";
    for (const resource of full.resources) {
      if (updatedInPlace(resource)) continue;
      assert.deepStrictEqual(
        JSON.parse(JSON.stringify(afterByUrn.get(resource.urn)!.inputs)),
        JSON.parse(JSON.stringify(resource.inputs)),
        `inputs changed: ${resource.urn}`,
      );
    }
  });

  it("removing a region touches only that region's resources (and the aggregator policy)", async () => {
    const removed = await runOffline({
      stack: "prod",
      relay: withRegions(regions.slice(0, 2)),
      other: base.other,
    });
    const gone = full.resources.filter((r) => !urns(removed).has(r.urn));
    assert.ok(gone.length > 30);
    const dropped = regions[2].region;
    for (const resource of gone) {
      assert.ok(
        resource.region === dropped ||
          (resource.type === "pulumi:providers:aws" && resource.inputs.region === dropped),
        `${resource.urn} should not be removed`,
      );
    }
  });
});

describe("offline engine guarantees", () => {
  it("rejects an invalid config before creating anything", async () => {
    await assert.rejects(
      runOffline({
        stack: "dev",
        relay: { regoins: [], aggregator: { region: "us-east-1" }, retentionHours: 1 },
      }),
      (error: unknown) => error instanceof ConfigError && error.message.includes("regoins"),
    );
  });

  it("fails a run that registers a duplicate URN (the mock monitor would overwrite it)", async () => {
    await assert.rejects(
      runOffline({
        stack: "dev",
        relay: {},
        program: path.join(__dirname, "..", "fixtures", "duplicate-urn.ts"),
      }),
      /duplicate URN urn:pulumi:dev::order-relay::aws:sqs\/queue:Queue::same-name/,
    );
  });

  it("fails a run whose program calls an unmocked invoke", async () => {
    await assert.rejects(
      runOffline({
        stack: "dev",
        relay: {},
        program: path.join(__dirname, "..", "fixtures", "unmocked-invoke.ts"),
      }),
      /unmocked invoke aws:ec2\/getVpc:getVpc/,
    );
  });

  it("throws on an unmocked invoke", () => {
    assert.throws(
      () => mockInvoke({ token: "aws:ec2/getVpc:getVpc", inputs: {} }),
      /unmocked invoke aws:ec2\/getVpc/,
    );
  });

  it("a NAT-based region with an existing VPC creates no VPC and no endpoint, only 443 egress", async () => {
    const run = await runOffline({
      stack: "dev",
      relay: {
        regions: [
          {
            region: "us-east-2",
            vpc: {
              vpcId: "vpc-0123456789abcdef0",
              subnetIds: ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
            },
            lambdaAccess: "nat",
            dbClientSecurityGroupIds: ["sg-0123456789abcdef0"],
          },
        ],
        aggregator: { region: "us-east-1" },
        retentionHours: 12,
      },
    });
    assert.strictEqual(ofType(run, "aws:ec2/vpc:Vpc").length, 0);
    assert.strictEqual(ofType(run, "aws:ec2/vpcEndpoint:VpcEndpoint").length, 0);
    const [subnetGroup] = ofType(run, "aws:rds/subnetGroup:SubnetGroup");
    assert.deepStrictEqual(subnetGroup.inputs.subnetIds, [
      "subnet-0123456789abcdef0",
      "subnet-0123456789abcdef1",
    ]);
    const [egress] = ofType(run, "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule");
    assert.strictEqual(egress.inputs.fromPort, 443);
    const [ingress] = ofType(run, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule");
    assert.strictEqual(ingress.inputs.referencedSecurityGroupId, "sg-0123456789abcdef0");
    // The aggregator lives in a region without a relay: it still gets its own provider.
    assert.deepStrictEqual(
      ofType(run, "pulumi:providers:aws")
        .map((p) => p.inputs.region)
        .sort(),
      ["us-east-1", "us-east-2"],
    );
  });
});

describe("npm run plan", function () {
  this.timeout(120_000);
  const exec = promisify(execFile);
  const tsx = path.join(ROOT, "node_modules", ".bin", "tsx");

  it("--json lists every resource with urn, type, name, parent, region and resolved inputs", async () => {
    const { stdout } = await exec(tsx, ["offline/plan.ts", "--stack", "prod", "--json"], {
      cwd: ROOT,
      maxBuffer: 64e6,
    });
    const plan = JSON.parse(stdout);
    assert.strictEqual(plan.stack, "prod");
    const regions = new Set(plan.resources.map((r: any) => r.region));
    for (const region of ["ap-northeast-1", "us-west-2", "eu-west-1"])
      assert.ok(regions.has(region));
    for (const resource of plan.resources) {
      assert.ok(resource.urn.startsWith("urn:pulumi:prod::order-relay::"));
      assert.ok(typeof resource.type === "string" && typeof resource.name === "string");
      assert.ok("parent" in resource && "inputs" in resource);
    }
    const cluster = plan.resources.find((r: any) => r.type === "aws:rds/cluster:Cluster");
    assert.strictEqual(cluster.inputs.storageEncrypted, true);
  });

  it("prints per-region resources and totals, and a Mermaid diagram", async () => {
    // Both at once: two processes for two cores.
    const [{ stdout }, diagram] = await Promise.all([
      exec(tsx, ["offline/plan.ts", "--stack", "dev"], { cwd: ROOT }),
      exec(tsx, ["offline/plan.ts", "--stack", "prod", "--mermaid"], { cwd: ROOT }),
    ]);
    assert.match(stdout, /Region ap-northeast-1 \(relay \+ aggregator\): \d+ resources/);
    assert.match(stdout, /Totals: \d+ resources/);
    assert.match(stdout, /rds\.Cluster\s+order-relay-dev-ap-northeast-1/);
    assert.match(diagram.stdout, /^flowchart LR/);
    assert.match(diagram.stdout, /subgraph eu_west_1\["eu-west-1"\]/);
  });

  it("exits non-zero with the validation message on a bad config", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "plan-"));
    try {
      const file = path.join(dir, "Pulumi.broken.yaml");
      fs.writeFileSync(
        file,
        toYaml({
          config: {
            "order-relay:regions": [{ region: "mars-1" }],
            "order-relay:aggregator": { region: "us-east-1" },
            "order-relay:retentionHours": 24,
          },
        }),
      );
      await assert.rejects(
        exec(tsx, ["offline/plan.ts", "--config", file], { cwd: ROOT }),
        (error: any) => {
          assert.strictEqual(error.code, 2);
          assert.match(
            error.stderr,
            /order-relay:regions\[0\]\.region: "mars-1" is not an AWS region/,
          );
          return true;
        },
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
