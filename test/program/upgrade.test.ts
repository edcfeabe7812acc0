/**
 * Upgrading a deployed stack replaces nothing: for every resource of the wave-1 layout
 * (fixtures/wave1-resources.json: each shipped stack's URNs, as the Pulumi engine forms them,
 * with a hash of each resource's inputs, recorded from commit 418760f on the offline engine),
 * the program today has exactly one resource with that URN or an alias naming it — and the same
 * inputs, except where a change is listed below with its reason.
 *
 * The program runs on the stack files as they were then (fixtures/wave1-stacks/): what is
 * proven is that the code's new shape keeps a deployed stack, whatever its config says since.
 */
import * as assert from "assert";
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { OfflineRun, RecordedResource, runStack } from "../../offline/engine";

const BEFORE = JSON.parse(
  fs.readFileSync(path.join(__dirname, "fixtures", "wave1-resources.json"), "utf8"),
) as Record<string, Record<string, string>>;

/** Inputs that changed on purpose since wave 1 (an update in place, never a replacement). */
const CHANGED_ON_PURPOSE: { readonly name: RegExp; readonly why: string }[] = [
  {
    // create/environment/triggers carry one settings JSON now; re-running it is the point.
    name: /-relay-db-migrate$/,
    why: "the migration takes its settings as one RELAY_SETTINGS JSON instead of one flag each",
  },
  {
    // ModifyDBCluster applies it in place (no replacement, no downtime).
    name: /-aurora-cluster$/,
    why: "issue 14: IAM database authentication on, for the ack Lambda's passwordless user",
  },
  {
    // A GRANT of more privileges to the same user: the provider updates it in place.
    name: /-relay-db-relay-privileges$/,
    why: "issue 12: the relay user may CREATE TEMPORARY TABLES (dispatch and purge work lists)",
  },
  {
    // A component's inputs: recorded state only, nothing in AWS.
    name: /^observability$/,
    why: "issue 14: the stack declares purgeRequires and resendAfterMinutes to the policy pack",
  },
];

/** Cloud resources added since wave 1, each with its reason (a create, never a replacement). */
const ADDED_ON_PURPOSE: { readonly name: RegExp; readonly why: string }[] = [
  {
    name: /-alarms-(outbox-quarantined|purge-failing|backfill-incomplete)$/,
    why: "issue 12: alarms on quarantined changes, failing purges and incomplete backfills",
  },
  {
    name: /-ack-|-relay-db-ack-|^aggregator-dc-consumer-acks$|-alarms-(ack-|unconfirmed-overdue)/,
    why: "issue 14: the acknowledgement path (ack queue + DLQ, ack Lambda in the VPC, its user, alarms)",
  },
];

/** Stable JSON: keys sorted; assets and archives by kind only (a code change is an update). */
function stable(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stable);
  if (value && typeof value === "object") {
    const kind = (value as object).constructor?.name ?? "";
    if (/Asset|Archive/.test(kind)) return `<${kind}>`;
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, stable((value as Record<string, unknown>)[key])]),
    );
  }
  return value;
}

const inputsHash = (resource: RecordedResource) =>
  createHash("sha256")
    .update(JSON.stringify(stable(resource.inputs)))
    .digest("hex")
    .slice(0, 16);

for (const stack of Object.keys(BEFORE)) {
  describe(`upgrade from the wave-1 layout: stack ${stack}`, () => {
    let run: OfflineRun;
    const previous = BEFORE[stack];
    /** Old URN → the resources that answer to it today (by URN or alias). */
    const claims = new Map<string, RecordedResource[]>();

    before(async () => {
      run = await runStack({
        stack,
        configFile: path.join(__dirname, "fixtures", "wave1-stacks", `Pulumi.${stack}.yaml`),
      });
      for (const resource of run.resources) {
        for (const urn of new Set([resource.urn, ...resource.aliases])) {
          if (!(urn in previous)) continue;
          claims.set(urn, [...(claims.get(urn) ?? []), resource]);
        }
      }
    });

    it("every resource of the previous layout is still there, under its URN or an alias", () => {
      const lost = Object.keys(previous).filter((urn) => !claims.has(urn));
      assert.deepStrictEqual(lost, [], `would be deleted (and re-created): ${lost.join("\n")}`);
    });

    it("maps one-to-one: no old URN claimed twice, no resource claiming two", () => {
      for (const [urn, resources] of claims) {
        assert.strictEqual(resources.length, 1, `${urn} is claimed by ${resources.length}`);
      }
      for (const resource of run.resources) {
        const claimed = [resource.urn, ...resource.aliases].filter((urn) => urn in previous);
        assert.ok(claimed.length <= 1, `${resource.urn} claims ${claimed.join(", ")}`);
      }
    });

    it("moved resources keep their inputs; only the listed changes differ", () => {
      const changed: string[] = [];
      for (const [urn, [resource]] of claims) {
        if (inputsHash(resource) === previous[urn]) continue;
        if (CHANGED_ON_PURPOSE.some((change) => change.name.test(resource.name))) continue;
        changed.push(resource.urn);
      }
      assert.deepStrictEqual(changed, [], `inputs changed: ${changed.join("\n")}`);
    });

    it("adds no cloud resource but the listed ones", () => {
      const added = run.resources.filter(
        (r) =>
          r.custom &&
          ![r.urn, ...r.aliases].some((urn) => urn in previous) &&
          !ADDED_ON_PURPOSE.some((addition) => addition.name.test(r.name)),
      );
      assert.deepStrictEqual(
        added.map((r) => r.urn),
        [],
      );
    });
  });
}
