/**
 * The privacy window: the worst-case time one order can stay anywhere in AWS, as a sum of named
 * terms. The sum is deliberately conservative — each copy of an order (the DB row, its backups,
 * the regional message, the dead-lettered message, the aggregator message, log lines) is assumed
 * to live out its full retention one after the other.
 *
 * `npm run plan` prints the breakdown; the policy pack (`policy/rules/residence.ts`) recomputes the same
 * terms from the resources as deployed and fails a stack whose total exceeds
 * `order-relay:maxResidenceHours`.
 */
import { RelayConfig } from "./schema";

export interface ResidenceTerm {
  /** What keeps the order, e.g. "regional queue retention". */
  readonly name: string;
  readonly hours: number;
  /** Where the number comes from, e.g. "queue.messageRetentionSeconds = 345600 s". */
  readonly detail: string;
}

export interface Residence {
  readonly terms: ResidenceTerm[];
  readonly totalHours: number;
  /** `order-relay:maxResidenceHours`, when set. */
  readonly boundHours?: number;
  /** True when there is no bound or the total is within it. */
  readonly withinBound: boolean;
}

/** The numbers the window is made of, in the units the config and the resources use. */
export interface ResidenceValues {
  /** Hours an order row stays in the regional DB once handed off (`retentionHours`). */
  readonly retentionHours: number;
  /** Interval of the purge event: a row past retention waits at most this long. */
  readonly purgeIntervalMinutes: number;
  /** Automated backup retention, the longest over all regions (purged rows live on in backups). */
  readonly backupRetentionDays: number;
  /** Regional queue retention (the longest over all regions). */
  readonly queueRetentionSeconds: number;
  /** Dead-letter queue retention (regional and aggregator DLQs; the longest). */
  readonly dlqRetentionSeconds: number;
  /** Aggregator queue retention. */
  readonly aggregatorRetentionSeconds: number;
  /** CloudWatch Logs retention (Lambda and Aurora log groups; the longest). */
  readonly logRetentionDays: number;
  /** Where each value was read (shown in `detail`). @default - the config key names */
  readonly sources?: Partial<Record<keyof Omit<ResidenceValues, "sources">, string>>;
}

const round = (hours: number) => Math.round(hours * 1000) / 1000;

/** Sums the named terms of a residence window and compares the total with the bound. */
export function residenceFromValues(values: ResidenceValues, boundHours?: number): Residence {
  const source = (key: keyof Omit<ResidenceValues, "sources">, fallback: string) =>
    values.sources?.[key] ?? fallback;
  const terms: ResidenceTerm[] = [
    {
      name: "DB retention",
      hours: values.retentionHours,
      detail: `${source("retentionHours", "retentionHours")} = ${values.retentionHours} h`,
    },
    {
      name: "purge interval",
      hours: round(values.purgeIntervalMinutes / 60),
      detail: `${source("purgeIntervalMinutes", "purgeIntervalMinutes")} = ${values.purgeIntervalMinutes} min`,
    },
    {
      name: "backup retention",
      hours: values.backupRetentionDays * 24,
      detail: `${source("backupRetentionDays", "max regions[].backupRetentionDays")} = ${values.backupRetentionDays} d`,
    },
    {
      name: "regional queue retention",
      hours: round(values.queueRetentionSeconds / 3600),
      detail: `${source("queueRetentionSeconds", "queue.messageRetentionSeconds")} = ${values.queueRetentionSeconds} s`,
    },
    {
      name: "DLQ retention",
      hours: round(values.dlqRetentionSeconds / 3600),
      detail: `${source("dlqRetentionSeconds", "queue.dlqRetentionSeconds")} = ${values.dlqRetentionSeconds} s`,
    },
    {
      name: "aggregator queue retention",
      hours: round(values.aggregatorRetentionSeconds / 3600),
      detail: `${source("aggregatorRetentionSeconds", "aggregator.messageRetentionSeconds")} = ${values.aggregatorRetentionSeconds} s`,
    },
    {
      name: "log retention",
      hours: values.logRetentionDays * 24,
      detail: `${source("logRetentionDays", "logRetentionDays")} = ${values.logRetentionDays} d`,
    },
  ];
  const totalHours = round(terms.reduce((sum, term) => sum + term.hours, 0));
  return {
    terms,
    totalHours,
    boundHours,
    withinBound: boundHours === undefined || totalHours <= boundHours,
  };
}

/**
 * The worst case for a validated stack config: DB retention + purge interval + backup retention
 * (longest region) + regional queue + DLQ + aggregator queue + log retention.
 */
export function worstCaseResidence(config: RelayConfig): Residence {
  return residenceFromValues(
    {
      retentionHours: config.retentionHours,
      purgeIntervalMinutes: config.purgeIntervalMinutes,
      backupRetentionDays: Math.max(...config.regions.map((r) => r.backupRetentionDays)),
      queueRetentionSeconds: config.queue.messageRetentionSeconds,
      dlqRetentionSeconds: config.queue.dlqRetentionSeconds,
      aggregatorRetentionSeconds: config.aggregator.messageRetentionSeconds,
      logRetentionDays: config.logRetentionDays,
    },
    config.maxResidenceHours,
  );
}

/** One line per term plus the total and the bound: the text the plan and the pack print. */
export function describeResidence(residence: Residence): string {
  const lines = residence.terms.map((term) => `  ${term.name}: ${term.hours} h (${term.detail})`);
  lines.push(`  total: ${residence.totalHours} h`);
  lines.push(
    residence.boundHours === undefined
      ? "  bound: none (set order-relay:maxResidenceHours)"
      : `  bound: maxResidenceHours = ${residence.boundHours} h — ${
          residence.withinBound
            ? "within"
            : `exceeded by ${round(residence.totalHours - residence.boundHours)} h`
        }`,
  );
  return lines.join("\n");
}
