import * as assert from "assert";
import * as fc from "fast-check";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { readStackFile } from "../../config/load";
import { rawConfigFromRuntime } from "../../config/runtime";
import { ConfigError, KNOWN_REGIONS, cidrProblem, parseConfig } from "../../config/schema";
import { privateSubnetCidrs } from "../../components/network";

const valid = () => ({
  regions: [{ region: "ap-northeast-1" }],
  aggregator: { region: "ap-northeast-1" },
  retentionHours: 24,
});

/** Parses and returns the problems (fails the test if the config is accepted). */
function problems(raw: unknown, stack = "dev"): string[] {
  try {
    parseConfig(raw, stack);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`);
    return error.problems;
  }
  assert.fail("config was accepted but should have been rejected");
}

function expectOne(raw: unknown, ...fragments: string[]): void {
  const found = problems(raw);
  assert.strictEqual(found.length, 1, `expected one problem, got:\n${found.join("\n")}`);
  for (const fragment of fragments) {
    assert.ok(found[0].includes(fragment), `"${found[0]}" should mention "${fragment}"`);
  }
}

describe("stack config validation (order-relay:*)", () => {
  it("accepts the minimal config and applies the documented defaults", () => {
    const config = parseConfig(valid(), "dev");
    assert.strictEqual(config.namePrefix, "order-relay-dev");
    assert.strictEqual(config.aggregator.fifo, true);
    assert.strictEqual(config.regions[0].lambdaAccess, "endpoint");
    assert.deepStrictEqual(config.regions[0].instances, ["a"]);
    assert.deepStrictEqual(config.regions[0].serverless, { minCapacity: 0.5, maxCapacity: 4 });
    assert.strictEqual(config.regions[0].deletionProtection, false);
    assert.strictEqual(config.regions[0].backupRetentionDays, 1);
    assert.strictEqual(config.dispatchBatchSize, 100);
    assert.strictEqual(config.forwarder.batchSize, 10);
    assert.strictEqual(config.notify.maximumRetryAttempts, 2);
  });

  it("relays order_data by default and validates the listed tables", () => {
    assert.deepStrictEqual(parseConfig(valid(), "dev").tables, [
      { name: "order_data", excludeColumns: [] },
    ]);
    const storefront = parseConfig(
      {
        ...valid(),
        tables: [
          { name: "ps_orders" },
          { name: "ps_address", parent: { table: "ps_orders", column: "id_order" } },
          { name: "ps_order_detail", excludeColumns: ["product_name"] },
        ],
      },
      "dev",
    );
    assert.strictEqual(storefront.tables[1].parent?.table, "ps_orders");
    expectOne(
      { ...valid(), tables: [{ name: "a", parent: { table: "orders", column: "id" } }] },
      "order-relay:tables[0]",
      'parent.table "orders" is not listed',
      "add { name: orders }",
    );
    expectOne(
      { ...valid(), tables: [{ name: "a" }, { name: "a" }] },
      "order-relay:tables[1]",
      "listed twice",
    );
    const cyclic = problems({
      ...valid(),
      tables: [
        { name: "a", parent: { table: "b", column: "b_id" } },
        { name: "b", parent: { table: "a", column: "a_id" } },
      ],
    });
    assert.ok(
      cyclic.some((p) => p.includes("cycle")),
      cyclic.join("\n"),
    );
    expectOne({ ...valid(), tables: [{ name: "orders; DROP" }] }, "order-relay:tables[0].name");
    expectOne({ ...valid(), tables: [] }, "order-relay:tables", "lists no table");
    expectOne(
      { ...valid(), tables: [{ name: "a", exclude: ["x"] }] },
      "order-relay:tables[0].exclude",
      "known keys: name, excludeColumns, parent",
    );
  });

  it("reads numbers and booleans stored as strings by `pulumi config set` the same as typed ones", () => {
    const typed = parseConfig(
      { ...valid(), retentionHours: 48, production: true, dispatchBatchSize: 50 },
      "dev",
    );
    const asStrings = parseConfig(
      {
        ...valid(),
        retentionHours: "48",
        production: "true",
        dispatchBatchSize: "50",
        aggregator: { region: "ap-northeast-1", messageRetentionSeconds: "3600", fifo: "true" },
      },
      "dev",
    );
    assert.deepStrictEqual(
      { ...asStrings, aggregator: { ...asStrings.aggregator, messageRetentionSeconds: 345600 } },
      typed,
    );
    assert.strictEqual(asStrings.aggregator.messageRetentionSeconds, 3600);
    // A string-typed key given a number (YAML `namePrefix: 123abc` stays text; 12345 becomes "12345").
    expectOne({ ...valid(), namePrefix: 12345 }, "order-relay:namePrefix", '"12345"');
  });

  it("reads a stack file the same way under `pulumi up` (runtime) and in the offline tools (YAML)", () => {
    // What `pulumi config set` writes (scalars as strings, objects as YAML maps).
    const stackYaml = [
      "config:",
      '  order-relay:retentionHours: "48"',
      '  order-relay:production: "true"',
      "  order-relay:namePrefix: shop-eu",
      "  order-relay:regions:",
      "    - region: eu-west-1",
      "      backupRetentionDays: 7",
      "  order-relay:aggregator:",
      "    region: eu-west-1",
      '    messageRetentionSeconds: "3600"',
    ].join("\n");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "config-paths-"));
    try {
      const file = path.join(dir, "Pulumi.paths.yaml");
      fs.writeFileSync(file, stackYaml);
      const offline = parseConfig(readStackFile(file).relay, "paths");
      // The Pulumi runtime hands the program each value as text: objects as JSON, scalars as is.
      const asRuntime: Record<string, string> = {};
      for (const [key, value] of Object.entries(readStackFile(file).relay)) {
        asRuntime[`order-relay:${key}`] = typeof value === "string" ? value : JSON.stringify(value);
      }
      pulumi.runtime.setAllConfig(asRuntime);
      const underPulumi = parseConfig(rawConfigFromRuntime(), "paths");
      assert.deepStrictEqual(underPulumi, offline);
      assert.strictEqual(offline.retentionHours, 48);
      assert.strictEqual(offline.production, true);
      assert.strictEqual(offline.aggregator.messageRetentionSeconds, 3600);
    } finally {
      pulumi.runtime.setAllConfig({});
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("names the fix for a value of the wrong type", () => {
    expectOne(
      { ...valid(), retentionHours: "forty-eight" },
      'order-relay:retentionHours: "forty-eight" is not a number',
      "pulumi config set order-relay:retentionHours 48",
    );
    expectOne(
      { ...valid(), production: "yes" },
      'order-relay:production: "yes" is not a boolean',
      "pulumi config set order-relay:production true",
    );
  });

  it("turns deletion protection and final snapshots on for production stacks", () => {
    const config = parseConfig({ ...valid(), production: true }, "prod");
    assert.strictEqual(config.regions[0].deletionProtection, true);
    assert.strictEqual(config.regions[0].finalSnapshot, true);
  });

  it("names a typo'd top-level key and suggests the right one", () => {
    const { regions, ...rest } = valid();
    const found = problems({ ...rest, regoins: regions });
    assert.ok(
      found.some((p) => p.includes("order-relay:regoins: unknown key") && p.includes('"regions"')),
    );
    assert.ok(found.some((p) => p.includes("order-relay:regions: is required")));
  });

  it("names a typo'd nested key", () => {
    expectOne(
      { ...valid(), regions: [{ region: "ap-northeast-1", instanceClas: "db.r6g.large" }] },
      "order-relay:regions[0].instanceClas",
      "unknown key",
      '"instanceClass"',
    );
  });

  it("rejects an unknown region with a suggestion", () => {
    expectOne(
      { ...valid(), regions: [{ region: "ap-northeast-9" }] },
      "order-relay:regions[0].region",
      '"ap-northeast-9"',
      'did you mean "ap-northeast-1"',
    );
  });

  it("uses the AWS provider's own region list", () => {
    assert.ok(KNOWN_REGIONS.includes("eu-central-1"));
    assert.ok(KNOWN_REGIONS.includes("ap-southeast-7"));
    assert.ok(!KNOWN_REGIONS.includes("mars-north-1"));
  });

  it("rejects duplicate regions, naming both positions", () => {
    expectOne(
      {
        ...valid(),
        regions: [{ region: "us-west-2" }, { region: "eu-west-1" }, { region: "us-west-2" }],
      },
      "regions[2].region",
      "listed twice",
      "regions[0]",
    );
  });

  it("rejects a missing aggregator and an unknown aggregator region", () => {
    const { aggregator: _aggregator, ...rest } = valid();
    expectOne(rest, "order-relay:aggregator", "required");
    expectOne(
      { ...valid(), aggregator: { region: "eu-centrl-1" } },
      "aggregator.region",
      "eu-central-1",
    );
    expectOne({ ...valid(), aggregator: {} }, "aggregator.region", "required");
  });

  it("rejects an aggregator in another partition", () => {
    expectOne(
      { ...valid(), regions: [{ region: "cn-north-1" }] },
      "regions[0].region",
      "aws-cn",
      "partition",
    );
  });

  it("rejects retention out of range", () => {
    expectOne({ ...valid(), retentionHours: 0 }, "order-relay:retentionHours", "greater than 0");
    expectOne({ ...valid(), retentionHours: -3 }, "retentionHours", "greater than 0");
    expectOne({ ...valid(), retentionHours: 9000 }, "retentionHours", "8760");
    expectOne({ ...valid(), retentionHours: "24h" }, "retentionHours");
    const { retentionHours: _r, ...rest } = valid();
    expectOne(rest, "order-relay:retentionHours", "required");
  });

  it("rejects malformed CIDRs with the fix", () => {
    const withCidr = (cidr: string) => ({
      ...valid(),
      regions: [{ region: "us-east-1", vpc: { cidr } }],
    });
    expectOne(withCidr("10.0.0.0"), "regions[0].vpc.cidr", "a.b.c.d/n");
    expectOne(withCidr("10.0.300.0/16"), "above 255");
    expectOne(withCidr("10.0.0.1/16"), "host bits", "10.0.0.0/16");
    expectOne(withCidr("10.0.0.0/8"), "/16../24");
    expectOne(withCidr("10.0.0.0/27"), "/16../24");
  });

  it("rejects malformed subnet lists and VPC ids", () => {
    const withVpc = (vpc: unknown) => ({ ...valid(), regions: [{ region: "us-east-1", vpc }] });
    expectOne(
      withVpc({ vpcId: "vpc-0123456789abcdef0", subnetIds: ["subnet-0123456789abcdef0"] }),
      "at least two subnets",
    );
    expectOne(
      withVpc({
        vpcId: "vpc-0123456789abcdef0",
        subnetIds: ["subnet-0123456789abcdef0", "subnet-0123456789abcdef0"],
      }),
      "same subnet twice",
    );
    expectOne(
      withVpc({ vpcId: "vpc-0123456789abcdef0", subnetIds: ["sub-1", "subnet-0123456789abcdef0"] }),
      "subnetIds",
    );
    expectOne(
      withVpc({
        vpcId: "my-vpc",
        subnetIds: ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
      }),
      "vpcId",
    );
    expectOne(
      withVpc({ cidr: "10.0.0.0/16", vpcId: "vpc-0123456789abcdef0" }),
      "regions[0].vpc",
      "not both",
    );
  });

  it("rejects settings AWS would reject", () => {
    const region = (extra: object) => ({
      ...valid(),
      regions: [{ region: "us-east-1", ...extra }],
    });
    expectOne(region({ backupRetentionDays: 0 }), "backupRetentionDays");
    expectOne(region({ backupRetentionDays: 36 }), "backupRetentionDays", "35");
    expectOne(region({ serverless: { minCapacity: 0.5, maxCapacity: 300 } }), "maxCapacity");
    expectOne(region({ serverless: { minCapacity: 0.7, maxCapacity: 4 } }), "0.5 ACU");
    expectOne(region({ serverless: { minCapacity: 8, maxCapacity: 4 } }), "below minCapacity");
    expectOne(
      region({ instanceClass: "db.r6g.large", serverless: { minCapacity: 1, maxCapacity: 2 } }),
      "not both",
    );
    expectOne(region({ instanceClass: "r6g.large" }), "db.r6g.large");
    expectOne(region({ instances: ["a", "a"] }), "same instance name twice");
    expectOne(region({ instances: [] }), "at least one instance");
    expectOne(region({ instances: ["Writer"] }), "lowercase");
    expectOne(region({ lambdaAccess: "nat" }), "lambdaAccess", "existing VPC");
    expectOne(region({ lambdaAccess: "peering" }), "lambdaAccess");
    expectOne(region({ engineVersion: "5.7.mysql_aurora.2.11.2" }), "Aurora MySQL 3");
    expectOne(region({ dbClientCidrs: ["0.0.0.0/0"] }), "whole internet");
    expectOne(region({ dbEndpointOverride: "localhost" }), "host:port");
    expectOne({ ...valid(), notify: { maximumRetryAttempts: 3 } }, "at most 2");
    expectOne({ ...valid(), notify: { maximumEventAgeSeconds: 30 } }, "60..21600");
    expectOne({ ...valid(), queue: { messageRetentionSeconds: 30 } }, "at least 60");
    expectOne({ ...valid(), queue: { dlqRetentionSeconds: 2_000_000 } }, "14 days");
    expectOne({ ...valid(), logRetentionDays: 10 }, "logRetentionDays", "CloudWatch");
    expectOne(
      { ...valid(), aggregator: { region: "us-east-1", fifo: false, highThroughput: true } },
      "FIFO",
    );
    expectOne({ ...valid(), forwarder: { timeoutSeconds: 1000 } }, "forwarder.timeoutSeconds");
    expectOne({ ...valid(), dispatchBatchSize: 1000 }, "dispatchBatchSize");
    expectOne({ ...valid(), namePrefix: "Order_Relay" }, "namePrefix");
    expectOne({ ...valid(), alarms: { email: "ops" } }, "alarms.email");
  });

  it("rejects a stack name that makes the default prefix invalid", () => {
    const found = problems(valid(), "a-very-long-stack-name-for-testing");
    assert.ok(
      found[0].includes("order-relay:namePrefix") &&
        found[0].includes("set order-relay:namePrefix"),
    );
  });

  it("reports every problem at once", () => {
    const found = problems({
      regions: [{ region: "nowhere-1" }, { region: "us-east-1", vpc: { cidr: "bad" } }],
      aggregator: { region: "eu-central-1" },
      retentionHours: 0,
      typo: 1,
    });
    assert.strictEqual(found.length, 4, found.join("\n"));
  });

  it("rejects a config that is not an object", () => {
    assert.ok(problems(undefined)[0].includes("no order-relay configuration"));
  });
});

describe("network helpers (property tests)", () => {
  it("every /16../24 network CIDR is accepted and splits into two disjoint subnets inside it", () => {
    fc.assert(
      fc.property(fc.integer({ min: 16, max: 24 }), fc.nat(2 ** 32 - 1), (prefix, raw) => {
        const network = raw - (raw % 2 ** (32 - prefix));
        const text = [24, 16, 8, 0].map((s) => Math.floor(network / 2 ** s) % 256).join(".");
        const cidr = `${text}/${prefix}`;
        assert.strictEqual(cidrProblem(cidr), undefined);
        const [a, b] = privateSubnetCidrs(cidr);
        const start = (c: string) =>
          c
            .split("/")[0]
            .split(".")
            .reduce((acc, o) => acc * 256 + Number(o), 0);
        assert.strictEqual(a.split("/")[1], String(prefix + 2));
        assert.strictEqual(start(a), network);
        assert.strictEqual(start(b), network + 2 ** (32 - prefix - 2));
        assert.ok(start(b) + 2 ** (32 - prefix - 2) <= network + 2 ** (32 - prefix));
      }),
    );
  });

  it("any address with host bits set is rejected with its network address", () => {
    fc.assert(
      fc.property(fc.integer({ min: 16, max: 24 }), fc.nat(2 ** 32 - 1), (prefix, address) => {
        fc.pre(address % 2 ** (32 - prefix) !== 0);
        const text = [24, 16, 8, 0].map((s) => Math.floor(address / 2 ** s) % 256).join(".");
        assert.match(cidrProblem(`${text}/${prefix}`) ?? "", /host bits set/);
      }),
    );
  });
});
