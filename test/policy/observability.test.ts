/**
 * Alarms, alarm topics and the dashboard on the offline engine, and the privacy window.
 */
import * as assert from "assert";
import { readStackFile, stackFilePath } from "../../config/load";
import { describeResidence, worstCaseResidence } from "../../config/residence";
import { parseConfig } from "../../config/schema";
import { policies } from "../../policy/rules";
import { runPolicies } from "../../offline/policy";
import { RecordedResource } from "../../offline/engine";
import { mutated, offlineRun } from "./support";
import { METRIC, METRICS_NAMESPACE, SERVICE } from "../../contract/metrics";

const ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm";
const EMAIL = "ops@example.com";
const configOf = (stack: string) => parseConfig(readStackFile(stackFilePath(stack)).relay, stack);

function alarm(resources: RecordedResource[], region: string, physicalName: string) {
  const found = resources.filter((r) => r.type === ALARM && r.inputs.name === physicalName);
  assert.strictEqual(found.length, 1, `alarm ${physicalName}`);
  assert.strictEqual(found[0].region, region, `region of ${physicalName}`);
  return found[0].inputs;
}

describe("observability (offline engine)", () => {
  for (const stack of ["dev", "prod"]) {
    it(`${stack}: alarms per region and for the aggregator, right metrics, dimensions, thresholds`, async () => {
      const config = configOf(stack);
      const run = await offlineRun(stack);
      const p = config.namePrefix;
      for (const { region } of config.regions) {
        const base = `${p}-${region}`;
        const dlq = alarm(run.resources, region, `${base}-orders-dlq-messages`);
        assert.deepStrictEqual(
          [dlq.namespace, dlq.metricName, dlq.dimensions, dlq.comparisonOperator, dlq.threshold],
          [
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            { QueueName: `${base}-orders-dlq` },
            "GreaterThanThreshold",
            0,
          ],
        );
        const age = alarm(run.resources, region, `${base}-orders-oldest-message-age`);
        assert.deepStrictEqual(
          [age.metricName, age.dimensions, age.threshold],
          [
            "ApproximateAgeOfOldestMessage",
            { QueueName: `${base}-orders` },
            config.alarms.oldestMessageAgeSeconds,
          ],
        );
        for (const role of ["notify", "forwarder"]) {
          for (const metric of ["Errors", "Throttles"]) {
            const a = alarm(run.resources, region, `${base}-${role}-${metric.toLowerCase()}`);
            assert.deepStrictEqual(
              [a.namespace, a.metricName, a.dimensions, a.statistic, a.threshold],
              ["AWS/Lambda", metric, { FunctionName: `${base}-${role}` }, "Sum", 0],
            );
          }
        }
        const lag = alarm(run.resources, region, `${base}-relay-lag`);
        assert.deepStrictEqual(
          [lag.namespace, lag.metricName, lag.dimensions, lag.extendedStatistic, lag.threshold],
          [
            "OrderRelay",
            "RelayLag",
            { service: "order-relay-forwarder", region },
            "p99",
            config.alarms.relayLagMs,
          ],
        );
        const topic = config.alarms.email
          ? run.resources.find((r) => r.type === "aws:sns/topic:Topic" && r.region === region)
          : undefined;
        // Every alarm notifies the region's topic when the stack names an alarm email.
        assert.deepStrictEqual(lag.alarmActions ?? [], topic ? [topic.state.arn] : []);
        // The database's heartbeat: silence is an alarm (missing data breaches).
        const heartbeat = alarm(run.resources, region, `${base}-heartbeat-missing`);
        assert.deepStrictEqual(
          [
            heartbeat.namespace,
            heartbeat.metricName,
            heartbeat.dimensions,
            heartbeat.statistic,
            heartbeat.comparisonOperator,
            heartbeat.threshold,
            heartbeat.treatMissingData,
          ],
          [
            "OrderRelay",
            "Heartbeat",
            { service: "order-relay-notify", region },
            "Sum",
            "LessThanThreshold",
            1,
            "breaching",
          ],
        );
        const backlog = alarm(run.resources, region, `${base}-outbox-backlog`);
        assert.deepStrictEqual(
          [backlog.metricName, backlog.statistic, backlog.threshold],
          ["OutboxOldestPendingSeconds", "Maximum", config.alarms.oldestMessageAgeSeconds],
        );
        // What only an operator resolves, reported by the database's heartbeat: any is an alarm.
        for (const [role, metricName] of [
          ["outbox-quarantined", METRIC.outboxQuarantined],
          ["purge-failing", METRIC.purgeFailures],
          ["backfill-incomplete", METRIC.backfillIncomplete],
        ]) {
          const a = alarm(run.resources, region, `${base}-${role}`);
          assert.deepStrictEqual(
            [a.namespace, a.metricName, a.dimensions, a.comparisonOperator, a.threshold],
            [
              METRICS_NAMESPACE,
              metricName,
              { service: SERVICE.notify, region },
              "GreaterThanThreshold",
              0,
            ],
          );
          assert.strictEqual(a.treatMissingData, "notBreaching");
        }
      }
      const fifo = config.aggregator.fifo ? ".fifo" : "";
      const aggDlq = alarm(run.resources, config.aggregator.region, `${p}-aggregator-dlq-messages`);
      assert.deepStrictEqual(aggDlq.dimensions, { QueueName: `${p}-aggregator-dlq${fifo}` });
      const aggAge = alarm(
        run.resources,
        config.aggregator.region,
        `${p}-aggregator-oldest-message-age`,
      );
      assert.deepStrictEqual(aggAge.dimensions, { QueueName: `${p}-aggregator${fifo}` });
      assert.strictEqual(
        run.resources.filter((r) => r.type === ALARM).length,
        // 12 per region, 5 more for the ack path (queue, DLQ, function errors/throttles,
        // unconfirmed changes), 2 for the aggregator.
        config.regions.length * (12 + (config.purgeRequires === "confirmed" ? 5 : 0)) + 2,
      );
      if (!config.alarms.email) {
        assert.strictEqual(run.resources.filter((r) => r.type.startsWith("aws:sns/")).length, 0);
      }
      const dashboards = run.resources.filter(
        (r) => r.type === "aws:cloudwatch/dashboard:Dashboard",
      );
      assert.strictEqual(dashboards.length, 1);
      assert.strictEqual(dashboards[0].inputs.dashboardName, p);
      const body = JSON.parse(dashboards[0].inputs.dashboardBody);
      const regionsShown = new Set(
        body.widgets.map((w: { properties: { region?: string } }) => w.properties.region),
      );
      for (const { region } of config.regions) assert.ok(regionsShown.has(region), region);
      assert.match(JSON.stringify(body), /privacy window/);
    });
  }

  it("with alarms.email: one encrypted topic per alarm region, email subscription, alarms notify it", async () => {
    const run = await offlineRun("prod", {
      alarms: { email: EMAIL, oldestMessageAgeSeconds: 300 },
    });
    const config = configOf("prod");
    const regions = new Set([config.aggregator.region, ...config.regions.map((r) => r.region)]);
    const topics = run.resources.filter((r) => r.type === "aws:sns/topic:Topic");
    assert.deepStrictEqual(new Set(topics.map((t) => t.region)), regions);
    const keys = run.resources.filter((r) => r.type === "aws:kms/key:Key");
    for (const topic of topics) {
      const key = keys.find((k) => k.state.arn === topic.inputs.kmsMasterKeyId);
      assert.ok(key && key.region === topic.region && key.inputs.enableKeyRotation, topic.name);
      assert.match(key.inputs.policy, /cloudwatch\.amazonaws\.com/);
    }
    const subscriptions = run.resources.filter(
      (r) => r.type === "aws:sns/topicSubscription:TopicSubscription",
    );
    assert.strictEqual(subscriptions.length, regions.size);
    for (const s of subscriptions)
      assert.deepStrictEqual([s.inputs.protocol, s.inputs.endpoint], ["email", EMAIL]);
    for (const a of run.resources.filter(
      (r) => r.type === "aws:cloudwatch/metricAlarm:MetricAlarm",
    )) {
      const topic = topics.find((t) => t.region === a.region)!;
      assert.deepStrictEqual(a.inputs.alarmActions, [topic.state.arn], a.name);
      assert.deepStrictEqual(a.inputs.okActions, [topic.state.arn], a.name);
    }
  });
});

describe("privacy window", () => {
  it("names every term and sums them (prod)", () => {
    const residence = worstCaseResidence(configOf("prod"));
    assert.deepStrictEqual(
      residence.terms.map((t) => [t.name, t.hours]),
      [
        ["DB retention", 72],
        ["purge interval", 0.083],
        ["backup retention", 24],
        // A day of queue retention is enough once the databases resend what the DC did not
        // confirm (purgeRequires: confirmed).
        ["regional queue retention", 24],
        ["DLQ retention", 24],
        ["aggregator queue retention", 24],
        ["log retention", 168],
      ],
    );
    assert.strictEqual(residence.totalHours, 336.083);
    assert.strictEqual(residence.boundHours, 720);
    assert.strictEqual(residence.withinBound, true);
  });

  it("backup retention is the longest over the regions", () => {
    const config = configOf("prod");
    const longer = {
      ...config,
      regions: config.regions.map((r, i) => ({ ...r, backupRetentionDays: i + 1 })),
    };
    assert.strictEqual(worstCaseResidence(longer).terms[2].hours, config.regions.length * 24);
  });

  it("no bound: within bound, and the text says how to set one", () => {
    const residence = worstCaseResidence(configOf("dev"));
    assert.strictEqual(residence.withinBound, true);
    assert.match(describeResidence(residence), /set order-relay:maxResidenceHours/);
  });

  it("the pack fails a stack over its bound, naming each term and the bound", async () => {
    const run = await offlineRun("dev", { maxResidenceHours: 100 });
    const rule = policies.filter((p) => p.name === "privacy-residence-within-bound");
    const { violations } = await runPolicies(run.resources, rule);
    assert.strictEqual(violations.length, 1);
    const message = violations[0].message;
    const expected = worstCaseResidence(configOf("dev"));
    for (const term of expected.terms)
      assert.match(message, new RegExp(`${term.name}: ${term.hours} h`));
    assert.match(message, new RegExp(`total: ${expected.totalHours} h`));
    assert.match(message, /maxResidenceHours = 100 h/);
    // The same stack within its bound passes, and a log group that never expires fails it.
    const ok = await runPolicies(
      (await offlineRun("dev", { maxResidenceHours: 1000 })).resources,
      rule,
    );
    assert.deepStrictEqual(ok.violations, []);
    const unbounded = mutated(await offlineRun("dev", { maxResidenceHours: 1000 }), (rs) => {
      const group = rs.find((r) => r.type === "aws:cloudwatch/logGroup:LogGroup")!;
      delete group.state.retentionInDays;
    });
    const fails = await runPolicies(unbounded, rule);
    assert.match(fails.violations[0]?.message ?? "", /never expires/);
  });
});
