/** KMS keys (today: the alarm topic's key). */
import * as aws from "@pulumi/aws";
import { RelayPolicy, resourceRule } from "./factory";

export const kms: RelayPolicy[] = [
  resourceRule({
    name: "kms-key-rotation",
    source: "CKV_AWS_7, AVD-AWS-0065",
    summary: "customer managed KMS keys rotate automatically.",
    of: aws.kms.Key,
    check: (key, _args, report) => {
      if (key.enableKeyRotation !== true)
        report(`KMS key "${key.description ?? ""}" has rotation off`);
    },
  }),
];
