/**
 * Facts about AWS that the program and the policy pack must agree on (the program grants them,
 * the pack allows exactly them).
 */

/**
 * What Lambda needs to attach a function to a VPC: the actions of the managed
 * AWSLambdaVPCAccessExecutionRole, which EC2 supports only on `Resource: "*"`.
 */
export const LAMBDA_VPC_ACCESS_ACTIONS: readonly string[] = [
  "ec2:CreateNetworkInterface",
  "ec2:DescribeNetworkInterfaces",
  "ec2:DescribeSubnets",
  "ec2:DeleteNetworkInterface",
  "ec2:AssignPrivateIpAddresses",
  "ec2:UnassignPrivateIpAddresses",
];
