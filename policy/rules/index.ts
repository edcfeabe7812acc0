/**
 * The order relay's CrossGuard rules: a plain `policies` array, so tests and `npm run policy` run
 * them without constructing a PolicyPack (whose constructor starts a gRPC server).
 *
 * One module per AWS service or concern; each rule is one `resourceRule` / `stackRule` entry
 * (factory.ts), whose description starts with its source ids: checkov `CKV_AWS_*`, trivy
 * `AVD-AWS-*`, or `order-relay` for rules of our own design. Adding a rule: one entry in the
 * right module and its fixture in test/policy/rules.test.ts.
 */
import { acks } from "./acks";
import { RelayPolicy } from "./factory";
import { iam } from "./iam";
import { kms } from "./kms";
import { lambda } from "./lambda";
import { observability } from "./observability";
import { rds } from "./rds";
import { residence } from "./residence";
import { sqs } from "./sqs";
import { topology } from "./topology";

export type { RelayPolicy } from "./factory";

/** Every rule of the pack. */
export const policies: RelayPolicy[] = [
  ...rds,
  ...sqs,
  ...lambda,
  ...iam,
  ...topology,
  ...acks,
  ...residence,
  ...observability,
  ...kms,
];
