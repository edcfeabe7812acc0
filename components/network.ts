import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { COMPONENT_TYPE } from "../contract/componentTypes";
import { RegionSettings } from "../config/schema";
import { policyDocument } from "./iamDocuments";

export interface RelayNetworkArgs {
  /** Region settings: `vpc` (existing VPC + subnets, or a CIDR for a new one), `lambdaAccess`,
   * `dbClientCidrs` and `dbClientSecurityGroupIds`. */
  readonly settings: RegionSettings;
  /** Name of the DB subnet group (lowercase, ≤ 255). */
  readonly dbSubnetGroupName: string;
  /**
   * What the Lambda interface endpoint admits: only `principalArn` (Aurora's invoke role)
   * invoking `functionArn` (notify). Unused with `lambdaAccess: nat`.
   */
  readonly lambdaInvoke: {
    readonly functionArn: pulumi.Input<string>;
    readonly principalArn: pulumi.Input<string>;
  };
}

/** Two private subnets carved out of the VPC CIDR: the first two quarters (prefix + 2). */
export function privateSubnetCidrs(vpcCidr: string): [string, string] {
  const [address, prefixText] = vpcCidr.split("/");
  const prefix = Number(prefixText);
  const base = address.split(".").reduce((acc, octet) => acc * 256 + Number(octet), 0);
  const size = 2 ** (32 - (prefix + 2));
  const toCidr = (n: number) =>
    `${[24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join(".")}/${prefix + 2}`;
  return [toCidr(base), toCidr(base + size)];
}

/** A stable, readable resource-name fragment for a CIDR or id (`10.1.0.0/16` → `10-1-0-0-16`). */
function slug(value: string): string {
  return value.replace(/[^A-Za-z0-9]+/g, "-");
}

/**
 * Where Aurora lives and how it reaches the Lambda API: the given VPC/subnets or a minimal private
 * VPC (two subnets in two AZs, no internet route); the DB subnet group; a DB security group that
 * admits MySQL only from the listed clients and lets Aurora out on 443 only; and, unless the VPC
 * has a NAT, a Lambda interface endpoint with private DNS (without one, lambda_async fails with
 * ERROR 1873).
 */
export class RelayNetwork extends pulumi.ComponentResource {
  public readonly vpcId: pulumi.Output<string>;
  public readonly subnetIds: pulumi.Output<string[]>;
  public readonly dbSecurityGroupId: pulumi.Output<string>;
  public readonly dbSubnetGroupName: pulumi.Output<string>;
  /** The Lambda interface endpoint, when `lambdaAccess` is "endpoint". */
  public readonly lambdaEndpoint?: aws.ec2.VpcEndpoint;

  constructor(name: string, args: RelayNetworkArgs, opts?: pulumi.ComponentResourceOptions) {
    super(COMPONENT_TYPE.network, name, {}, opts);
    const childOpts = { parent: this };
    const { settings } = args;

    if ("cidr" in settings.vpc) {
      const vpc = new aws.ec2.Vpc(
        `${name}-vpc`,
        {
          cidrBlock: settings.vpc.cidr,
          // Private DNS of the Lambda interface endpoint needs both.
          enableDnsSupport: true,
          enableDnsHostnames: true,
          tags: { Name: `${name}-vpc` },
        },
        childOpts,
      );
      const zones = aws.getAvailabilityZonesOutput(
        {
          state: "available",
          filters: [{ name: "opt-in-status", values: ["opt-in-not-required"] }],
        },
        { parent: this },
      );
      const subnets = privateSubnetCidrs(settings.vpc.cidr).map(
        (cidrBlock, i) =>
          new aws.ec2.Subnet(
            `${name}-private-${i + 1}`,
            {
              vpcId: vpc.id,
              cidrBlock,
              availabilityZone: zones.names.apply((names) => {
                if (names.length < 2) {
                  throw new Error(`${settings.region} has fewer than two available AZs`);
                }
                return names[i];
              }),
              mapPublicIpOnLaunch: false,
              tags: { Name: `${name}-private-${i + 1}` },
            },
            childOpts,
          ),
      );
      this.vpcId = vpc.id;
      this.subnetIds = pulumi.all(subnets.map((subnet) => subnet.id));
    } else {
      this.vpcId = pulumi.output(settings.vpc.vpcId);
      this.subnetIds = pulumi.output([...settings.vpc.subnetIds]);
    }

    const dbSecurityGroup = new aws.ec2.SecurityGroup(
      `${name}-db-sg`,
      {
        vpcId: this.vpcId,
        description:
          "Aurora MySQL of the order relay: MySQL from listed clients, 443 out to Lambda",
        // Rules are separate resources below; an empty inline list would fight them.
        tags: { Name: `${name}-db` },
      },
      childOpts,
    );
    this.dbSecurityGroupId = dbSecurityGroup.id;

    for (const cidr of settings.dbClientCidrs) {
      new aws.vpc.SecurityGroupIngressRule(
        `${name}-db-in-${slug(cidr)}`,
        {
          securityGroupId: dbSecurityGroup.id,
          description: "MySQL from a listed client network",
          ipProtocol: "tcp",
          fromPort: 3306,
          toPort: 3306,
          cidrIpv4: cidr,
        },
        childOpts,
      );
    }
    for (const groupId of settings.dbClientSecurityGroupIds) {
      new aws.vpc.SecurityGroupIngressRule(
        `${name}-db-in-${slug(groupId)}`,
        {
          securityGroupId: dbSecurityGroup.id,
          description: "MySQL from a listed client security group",
          ipProtocol: "tcp",
          fromPort: 3306,
          toPort: 3306,
          referencedSecurityGroupId: groupId,
        },
        childOpts,
      );
    }

    if (settings.lambdaAccess === "endpoint") {
      const endpointSecurityGroup = new aws.ec2.SecurityGroup(
        `${name}-lambda-endpoint-sg`,
        {
          vpcId: this.vpcId,
          description: "Lambda interface endpoint of the order relay: 443 from Aurora only",
          tags: { Name: `${name}-lambda-endpoint` },
        },
        childOpts,
      );
      new aws.vpc.SecurityGroupIngressRule(
        `${name}-lambda-endpoint-in-db`,
        {
          securityGroupId: endpointSecurityGroup.id,
          description: "HTTPS from Aurora (lambda_async)",
          ipProtocol: "tcp",
          fromPort: 443,
          toPort: 443,
          referencedSecurityGroupId: dbSecurityGroup.id,
        },
        childOpts,
      );
      new aws.vpc.SecurityGroupEgressRule(
        `${name}-db-out-lambda-endpoint`,
        {
          securityGroupId: dbSecurityGroup.id,
          description: "HTTPS to the Lambda interface endpoint (lambda_async)",
          ipProtocol: "tcp",
          fromPort: 443,
          toPort: 443,
          referencedSecurityGroupId: endpointSecurityGroup.id,
        },
        childOpts,
      );
      this.lambdaEndpoint = new aws.ec2.VpcEndpoint(
        `${name}-lambda-endpoint`,
        {
          vpcId: this.vpcId,
          serviceName: `com.amazonaws.${settings.region}.lambda`,
          vpcEndpointType: "Interface",
          privateDnsEnabled: true,
          // The endpoint carries only Aurora's call to the notify function.
          policy: policyDocument([
            {
              Sid: "AuroraInvokesNotifyOnly",
              Effect: "Allow",
              Principal: "*",
              Action: "lambda:InvokeFunction",
              Resource: args.lambdaInvoke.functionArn,
              Condition: { ArnEquals: { "aws:PrincipalArn": args.lambdaInvoke.principalArn } },
            },
          ]),
          subnetIds: this.subnetIds,
          securityGroupIds: [endpointSecurityGroup.id],
          tags: { Name: `${name}-lambda` },
        },
        childOpts,
      );
    } else {
      // An existing NAT gateway carries the call; the Lambda API has no fixed addresses.
      new aws.vpc.SecurityGroupEgressRule(
        `${name}-db-out-https-nat`,
        {
          securityGroupId: dbSecurityGroup.id,
          description: "HTTPS to the Lambda API through the VPC's NAT gateway (lambda_async)",
          ipProtocol: "tcp",
          fromPort: 443,
          toPort: 443,
          cidrIpv4: "0.0.0.0/0",
        },
        childOpts,
      );
    }

    const subnetGroup = new aws.rds.SubnetGroup(
      `${name}-db-subnets`,
      {
        name: args.dbSubnetGroupName,
        description: "Private subnets of the order relay's Aurora cluster",
        subnetIds: this.subnetIds,
      },
      childOpts,
    );
    this.dbSubnetGroupName = subnetGroup.name;

    this.registerOutputs({
      vpcId: this.vpcId,
      subnetIds: this.subnetIds,
      dbSecurityGroupId: this.dbSecurityGroupId,
      dbSubnetGroupName: this.dbSubnetGroupName,
    });
  }
}
