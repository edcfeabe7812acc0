/**
 * The CrossGuard entry point: `pulumi preview --stack <name> --policy-pack policy`.
 * Constructing a PolicyPack reads ./package.json (the pack's version) and starts the analyzer's
 * gRPC server, so nothing but the CLI imports this file; tests use `policy/rules/` (its `policies` array).
 */
import { PolicyPack } from "@pulumi/policy";
import { policies } from "./rules";

new PolicyPack("order-relay", {
  description: "Order relay: Aurora, SQS, Lambda and IAM hardening, topology and the privacy bound",
  enforcementLevel: "advisory",
  policies,
});
