/**
 * Figure 4: offline plan time for 1, 5, 10 and 20 regions, each in a fresh `tsx` process
 * (bench/plan-child.ts) so no module cache flatters later runs.
 */
import { linearFit, median, round, run, TSX } from "./util";

export interface PlanPoint {
  readonly regions: number;
  readonly resources: number;
  /** Program on the offline engine, median over repeats (ms). */
  readonly planMs: number;
  /** Whole process: spawn → exit (tsx start, imports, plan), median (ms). */
  readonly wallMs: number;
  /** Plan with source-mapped stack traces off (process.setSourceMapsEnabled(false)), median (ms). */
  readonly planNoSourceMapsMs: number;
}

export interface PlanFigure {
  readonly points: PlanPoint[];
  readonly fit: { intercept: number; slope: number; r2: number };
  readonly wallFit: { intercept: number; slope: number; r2: number };
  readonly repeats: number;
}

export async function planFigure(
  counts: readonly number[],
  repeats: number,
  log: (line: string) => void,
): Promise<PlanFigure> {
  const points: PlanPoint[] = [];
  for (const n of counts) {
    const plans: number[] = [];
    const walls: number[] = [];
    const plain: number[] = [];
    let resources = 0;
    for (let i = 0; i < repeats; i++) {
      const r = await run(process.execPath, [TSX, "bench/plan-child.ts", String(n)]);
      if (r.code !== 0) throw new Error(`plan of ${n} regions failed:\n${r.stderr}`);
      const out = JSON.parse(r.stdout.trim().split("\n").pop()!) as {
        resources: number;
        planMs: number;
      };
      plans.push(out.planMs);
      walls.push(r.wallMs);
      resources = out.resources;
      const v = await run(process.execPath, [TSX, "bench/plan-child.ts", String(n)], {
        BENCH_NO_SOURCE_MAPS: "1",
      });
      if (v.code !== 0) throw new Error(`plan of ${n} regions failed:\n${v.stderr}`);
      plain.push((JSON.parse(v.stdout.trim().split("\n").pop()!) as { planMs: number }).planMs);
    }
    const point = {
      regions: n,
      resources,
      planMs: round(median(plans), 0),
      wallMs: round(median(walls), 0),
      planNoSourceMapsMs: round(median(plain), 0),
    };
    log(
      `  plan ${n} regions: ${point.resources} resources, plan ${point.planMs} ms, process ${point.wallMs} ms, plan without source-mapped stacks ${point.planNoSourceMapsMs} ms`,
    );
    points.push(point);
  }
  const xs = points.map((p) => p.regions);
  return {
    points,
    fit: linearFit(
      xs,
      points.map((p) => p.planMs),
    ),
    wallFit: linearFit(
      xs,
      points.map((p) => p.wallMs),
    ),
    repeats,
  };
}
