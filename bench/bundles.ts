/**
 * Figure 5: bundle size and module-init time of each handler. The esbuild bundle (exactly what
 * the program deploys) is written to bench/.work/<name>.js and loaded in a fresh `node` process
 * that times `require` and the first handler call (which builds the SQS client, logger and metrics
 * from the environment; the event is rejected before any network call). Median of repeats.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { LAMBDA_ENV, POWERTOOLS_ENV } from "../contract/lambdaEnv";
import { bundleHandler, HANDLERS } from "../lambda/bundle";
import { sizesOf } from "./bundle-sizes";
import { median, round, run, WORK } from "./util";

export interface BundleRow {
  readonly handler: string;
  readonly bytes: number;
  readonly gzipBytes: number;
  readonly requireMs: number;
  readonly firstCallMs: number;
  readonly initMs: number;
}

const PROBE = `
const t0 = process.hrtime.bigint();
const mod = require(process.argv[1]);
const t1 = process.hrtime.bigint();
const event = process.argv[2] === "notify" ? {} : { Records: [] };
Promise.resolve(mod.handler(event)).catch(() => undefined).then(() => {
  const t2 = process.hrtime.bigint();
  process.stdout.write(JSON.stringify({ requireMs: Number(t1 - t0) / 1e6, firstCallMs: Number(t2 - t1) / 1e6 }) + "\\n");
});
`;

export async function bundleFigure(repeats: number): Promise<BundleRow[]> {
  mkdirSync(WORK, { recursive: true });
  const rows: BundleRow[] = [];
  for (const name of HANDLERS) {
    const code = bundleHandler(name);
    const file = path.join(WORK, `${name}.js`);
    writeFileSync(file, code);
    const req: number[] = [];
    const first: number[] = [];
    const total: number[] = [];
    for (let i = 0; i < repeats; i++) {
      const r = await run(process.execPath, ["-e", PROBE, file, name], {
        AWS_REGION: "us-east-1",
        AWS_ACCESS_KEY_ID: "local",
        AWS_SECRET_ACCESS_KEY: "local",
        [LAMBDA_ENV.queueUrl]: "http://127.0.0.1:9/000000000000/q",
        [LAMBDA_ENV.aggregatorRegion]: "us-east-1",
        [LAMBDA_ENV.aggregatorQueueUrl]: "http://127.0.0.1:9/000000000000/agg.fifo",
        [LAMBDA_ENV.aggregatorFifo]: "true",
        POWERTOOLS_METRICS_DISABLED: "true",
        [POWERTOOLS_ENV.logLevel]: "SILENT",
      });
      const line = r.stdout.trim().split("\n").pop() ?? "";
      if (r.code !== 0 || !line.startsWith("{"))
        throw new Error(`init probe of ${name} failed:\n${r.stderr}`);
      const t = JSON.parse(line) as { requireMs: number; firstCallMs: number };
      req.push(t.requireMs);
      first.push(t.firstCallMs);
      total.push(t.requireMs + t.firstCallMs);
    }
    rows.push({
      handler: name,
      ...sizesOf(code),
      requireMs: round(median(req), 1),
      firstCallMs: round(median(first), 1),
      initMs: round(median(total), 1),
    });
  }
  return rows;
}
