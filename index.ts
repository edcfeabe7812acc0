/**
 * The order relay: for every region in the stack's config, Aurora MySQL with a transactional
 * outbox, the notify and forwarder Lambdas and a regional queue; one FIFO aggregator queue that
 * the on-premises DC reads. Config is read and validated here, once, before anything is created.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { loadRelayConfig } from "./config/runtime";
import { aggregatorNames, queueSpecs, regionNames } from "./config/names";
import { databaseSettingsFor, partitionOf } from "./config/schema";
import { Aggregator } from "./components/aggregator";
import { awsStackSettings, regionalProviders } from "./components/providers";
import { RegionalRelay } from "./components/regionalRelay";
import { RelayObservability } from "./components/observability";
import { worstCaseResidence } from "./config/residence";

const config = loadRelayConfig();
const queues = queueSpecs(config);
const partition = partitionOf(config.aggregator.region);

const providers = regionalProviders(
  [config.aggregator.region, ...config.regions.map((r) => r.region)],
  awsStackSettings(),
  { "order-relay:stack": config.stack },
);
const aggregatorProvider = providers.get(config.aggregator.region)!;
const accountId = aws.getCallerIdentityOutput({}, { provider: aggregatorProvider }).accountId;

const aggregator = new Aggregator(
  "aggregator",
  {
    queue: queues.aggregator.queue,
    dlq: queues.aggregator.dlq,
    dcConsumerRoleName: aggregatorNames(config).dcConsumerRole,
    dcTrustedPrincipalArns: config.aggregator.dcTrustedPrincipalArns,
    accountId,
    partition,
  },
  { providers: [aggregatorProvider] },
);

// Stack-wide: alarm topics, the aggregator's alarms, the dashboard (from physical names, which
// the config fixes before anything exists). Each region's alarms live in its RegionalRelay.
const observabilityName = "observability";
const observability = new RelayObservability(observabilityName, {
  namePrefix: config.namePrefix,
  regions: config.regions.map(({ region }) => {
    const names = regionNames(config, region);
    return {
      region,
      queueName: names.queue,
      deadLetterQueueName: names.dlq,
      notifyFunctionName: names.notifyFunction,
      forwarderFunctionName: names.forwarderFunction,
    };
  }),
  providers,
  aggregator: {
    region: config.aggregator.region,
    queueName: aggregator.queue.queue.name,
    deadLetterQueueName: aggregator.queue.deadLetterQueue.name,
  },
  thresholds: config.alarms,
  email: config.alarms.email,
  residence: worstCaseResidence(config),
  declarations: {
    production: config.production,
    maxResidenceHours: config.maxResidenceHours,
    retentionHours: config.retentionHours,
    purgeIntervalMinutes: config.purgeIntervalMinutes,
    purgeRequires: config.purgeRequires,
    resendAfterMinutes: config.resendAfterMinutes,
  },
  accountId,
  partition,
});

// Keyed by region name: adding or removing a region never renames another region's resources.
const relays: Record<string, RegionalRelay> = {};
for (const settings of config.regions) {
  const region = settings.region;
  relays[region] = new RegionalRelay(
    region,
    {
      settings,
      names: regionNames(config, region),
      queue: queues.regions[region].queue,
      dlq: queues.regions[region].dlq,
      stack: config,
      database: databaseSettingsFor(config, region),
      alarms: {
        alarmNamePrefix: `${config.namePrefix}-${region}`,
        thresholds: config.alarms,
        alarmTopicArn: observability.topicArns[region],
        // Until wave 2 these alarms were children of the stack-wide component.
        movedFrom: { parent: observability, name: observabilityName },
      },
      ack: queues.acks[region]
        ? { ...queues.acks[region], dcConsumerRoleArn: aggregator.dcConsumerRole.arn }
        : undefined,
      aggregator: {
        queueUrl: aggregator.queueUrl,
        queueArn: aggregator.queueArn,
        region: config.aggregator.region,
        fifo: config.aggregator.fifo,
      },
      accountId,
      partition,
    },
    { providers: [providers.get(region)!] },
  );
}

aggregator.admitForwarders(Object.values(relays).map((relay) => relay.forwarderRoleArn));
const ackQueueArns = Object.values(relays).flatMap((relay) =>
  relay.ack ? [relay.ack.queueArn] : [],
);
if (ackQueueArns.length > 0) aggregator.admitAckQueues(ackQueueArns);

export const regions = Object.fromEntries(
  Object.entries(relays).map(([region, relay]) => [
    region,
    {
      clusterEndpoint: relay.clusterEndpoint,
      queueUrl: relay.queueUrl,
      deadLetterQueueUrl: relay.deadLetterQueueUrl,
      notifyFunctionName: relay.notifyFunctionName,
      forwarderFunctionName: relay.forwarderFunctionName,
      /** Where the DC consumer acknowledges this region's committed changes. */
      ackQueueUrl: relay.ack?.queueUrl,
    },
  ]),
);
export const aggregatorQueueUrl = aggregator.queueUrl;
export const aggregatorDeadLetterQueueUrl = aggregator.queue.deadLetterQueueUrl;
export const dcConsumerRoleArn = aggregator.dcConsumerRole.arn;
export const dashboardName = observability.dashboardName;
export const alarmTopicArns = observability.topicArns;
export const retentionHours: pulumi.Output<number> = pulumi.output(config.retentionHours);
