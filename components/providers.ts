import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

/** Settings of the stack's `aws:*` config that explicit providers must be given by hand. */
export interface AwsStackSettings {
  /** `aws:profile`. */
  readonly profile?: string;
  /** `aws:defaultTags.tags`. */
  readonly defaultTags?: Record<string, string>;
  /** `aws:allowedAccountIds`. */
  readonly allowedAccountIds?: string[];
}

/**
 * One provider per region, keyed by region name. Explicit providers do not inherit `aws:*` stack
 * config, so profile, allowed accounts and default tags are copied onto each.
 */
export function regionalProviders(
  regions: Iterable<string>,
  aws_: AwsStackSettings,
  tags: Record<string, string>,
): Map<string, aws.Provider> {
  const providers = new Map<string, aws.Provider>();
  for (const region of regions) {
    if (providers.has(region)) continue;
    providers.set(
      region,
      new aws.Provider(`aws-${region}`, {
        region: region as aws.Region,
        profile: aws_.profile,
        allowedAccountIds: aws_.allowedAccountIds,
        defaultTags: { tags: { ...aws_.defaultTags, ...tags, "order-relay:region": region } },
      }),
    );
  }
  return providers;
}

/** Reads the `aws:*` settings the providers need (the only config read besides ours). */
export function awsStackSettings(): AwsStackSettings {
  const config = new pulumi.Config("aws");
  return {
    profile: config.get("profile"),
    defaultTags: config.getObject<{ tags?: Record<string, string> }>("defaultTags")?.tags,
    allowedAccountIds: config.getObject<string[]>("allowedAccountIds"),
  };
}
