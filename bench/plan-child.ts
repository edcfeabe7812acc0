/**
 * One offline plan in a fresh process (spawned by bench/plan.ts): `tsx bench/plan-child.ts <N>`.
 * Builds a synthetic stack from the prod stack with N regions (the prod regions first, then the
 * AWS provider's other commercial regions), runs the program on the offline engine and prints
 * `{ regions, resources, startupMs, planMs }` as JSON.
 */
import { readStackFile, stackFilePath } from "../config/load";
import { KNOWN_REGIONS, partitionOf } from "../config/schema";
import { runOffline } from "../offline/engine";

function syntheticRelay(n: number): Record<string, unknown> {
  const file = readStackFile(stackFilePath("prod"), "prod");
  const prodRegions = file.relay.regions as Record<string, unknown>[];
  const used = new Set(prodRegions.map((r) => String(r.region)));
  const extra = KNOWN_REGIONS.filter((r) => partitionOf(r) === "aws" && !used.has(r)).sort();
  const regions: Record<string, unknown>[] = [];
  for (let i = 0; i < n; i++) {
    if (i < prodRegions.length) {
      regions.push(prodRegions[i]!);
      continue;
    }
    const region = extra[i - prodRegions.length];
    if (!region) throw new Error(`only ${prodRegions.length + extra.length} commercial regions`);
    // Same shape as prod's serverless regions, its own /16.
    const cidr = `10.${100 + i}.0.0/16`;
    regions.push({
      region,
      serverless: { minCapacity: 0.5, maxCapacity: 16 },
      instances: ["a", "b"],
      vpc: { cidr },
      dbClientCidrs: [cidr],
    });
  }
  return { ...file.relay, regions };
}

async function main() {
  const startupMs = process.uptime() * 1000;
  // Variant: no source-mapped stack traces (Pulumi captures `new Error().stack` for every
  // resource promise; tsx maps each frame through the source map).
  if (process.env.BENCH_NO_SOURCE_MAPS === "1") process.setSourceMapsEnabled(false);
  const n = Number(process.argv[2] ?? 1);
  const file = readStackFile(stackFilePath("prod"), "prod");
  const relay = syntheticRelay(n);
  const started = performance.now();
  const run = await runOffline({ stack: "prod", relay, other: file.other });
  const planMs = performance.now() - started;
  process.stdout.write(
    `${JSON.stringify({ regions: n, resources: run.resources.length, startupMs, planMs })}\n`,
  );
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error instanceof Error ? error.stack : String(error));
      process.exit(1);
    },
  );
}
