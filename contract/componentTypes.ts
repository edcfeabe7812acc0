/**
 * Type tokens of the program's components (`order-relay:<module>:<Name>`): part of every URN, so
 * renaming one replaces resources unless an alias keeps the old token. The components pass these
 * to `super()`; the policy pack and the tests find components by them.
 */
export const COMPONENT_TYPE = {
  aggregator: "order-relay:aggregator:Aggregator",
  regionalRelay: "order-relay:relay:RegionalRelay",
  network: "order-relay:network:RelayNetwork",
  auroraCluster: "order-relay:database:AuroraCluster",
  relayDatabase: "order-relay:database:RelayDatabase",
  relayQueue: "order-relay:queue:RelayQueue",
  relayFunction: "order-relay:lambda:RelayFunction",
  observability: "order-relay:observability:RelayObservability",
  regionalAlarms: "order-relay:observability:RegionalAlarms",
  alarmTopic: "order-relay:observability:AlarmTopic",
  queueAlarms: "order-relay:observability:QueueAlarms",
  functionAlarms: "order-relay:observability:FunctionAlarms",
  ackPath: "order-relay:ack:AckPath",
} as const;
