/**
 * The order relay: for every region in the stack's config, Aurora MySQL with a transactional
 * outbox, the notify and forwarder Lambdas and a regional queue; one FIFO aggregator queue that
 * the on-premises DC reads. Config is read and validated here, once, before anything is created.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { loadRelayConfig } from "./config/load";
import { aggregatorNames, queueSpecs, regionNames } from "./config/names";
import { partitionOf } from "./config/schema";
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

const aggregator = new Aggregator("aggregator", {
  queue: queues.aggregator.queue,
  dlq: queues.aggregator.dlq,
  dcConsumerRoleName: aggregatorNames(config).dcConsumerRole,
  dcTrustedPrincipalArns: config.aggregator.dcTrustedPrincipalArns,
  accountId,
  partition,
  provider: aggregatorProvider,
});

// Keyed by region name: adding or removing a region never renames another region's resources.
const relays: Record<string, RegionalRelay> = {};
for (const settings of config.regions) {
  relays[settings.region] = new RegionalRelay(settings.region, {
    settings,
    names: regionNames(config, settings.region),
    queue: queues.regions[settings.region].queue,
    dlq: queues.regions[settings.region].dlq,
    stack: config,
    aggregator: {
      queueUrl: aggregator.queueUrl,
      queueArn: aggregator.queueArn,
      region: config.aggregator.region,
      fifo: config.aggregator.fifo,
    },
    accountId,
    partition,
    provider: providers.get(settings.region)!,
  });
}

aggregator.admitForwarders(Object.values(relays).map((relay) => relay.forwarderRoleArn));

const observability = new RelayObservability("observability", {
  namePrefix: config.namePrefix,
  regions: config.regions.map(({ region }) => ({
    region,
    queueName: relays[region].queue.queue.name,
    deadLetterQueueName: relays[region].queue.deadLetterQueue.name,
    notifyFunctionName: relays[region].notifyFunctionName,
    forwarderFunctionName: relays[region].forwarderFunctionName,
    provider: providers.get(region)!,
  })),
  aggregator: {
    region: config.aggregator.region,
    queueName: aggregator.queue.queue.name,
    deadLetterQueueName: aggregator.queue.deadLetterQueue.name,
    provider: aggregatorProvider,
  },
  thresholds: config.alarms,
  email: config.alarms.email,
  residence: worstCaseResidence(config),
  declarations: {
    production: config.production,
    maxResidenceHours: config.maxResidenceHours,
    retentionHours: config.retentionHours,
    purgeIntervalMinutes: config.purgeIntervalMinutes,
  },
  accountId,
  partition,
});

export const regions = Object.fromEntries(
  Object.entries(relays).map(([region, relay]) => [
    region,
    {
      clusterEndpoint: relay.clusterEndpoint,
      queueUrl: relay.queueUrl,
      deadLetterQueueUrl: relay.deadLetterQueueUrl,
      notifyFunctionName: relay.notifyFunctionName,
      forwarderFunctionName: relay.forwarderFunctionName,
    },
  ]),
);
export const aggregatorQueueUrl = aggregator.queueUrl;
export const aggregatorDeadLetterQueueUrl = aggregator.queue.deadLetterQueueUrl;
export const dcConsumerRoleArn = aggregator.dcConsumerRole.arn;
export const dashboardName = observability.dashboardName;
export const alarmTopicArns = observability.topicArns;
export const retentionHours: pulumi.Output<number> = pulumi.output(config.retentionHours);
