/**
 * The unit-price table the cost model uses (`offline/prices.json`): its schema, loader and the one
 * lookup rule. Checked in because `npm run plan -- --cost` must work offline; rebuilt from the
 * AWS Price List bulk API offer files by `npx tsx offline/refresh-prices.ts` when online.
 *
 * Each item is one priced thing: a service, a unit, a USD price per `per` units — one figure for
 * every region or a region → price map — its source (the public pricing page, or the offer file
 * it was read from), the date it was taken and whether it was verified against that source.
 * `offer` says where `refresh-prices` finds the item in the offer files.
 *
 * Region rule (`priceOf`): a region listed in an item's map gets its own price; a region that is
 * not listed gets the highest listed price of that item (a conservative stand-in), and the line
 * item says so (`fallback: true`) until `refresh-prices --region <r>` adds the region.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";

const REGION = /^[a-z]{2}(-gov)?-[a-z]+-\d$/;
const regionCode = z.string().regex(REGION, "must be an AWS region code such as ap-northeast-1");
const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, "must be a date YYYY-MM-DD");
const usd = z.number().finite().nonnegative();

/** Where the item lives in the AWS Price List offer files. */
export const offerSelectorSchema = z.strictObject({
  /** Offer code of the bulk API, e.g. `AWSQueueService`, `AmazonRDS`, `AWSLambda`. */
  code: z.string().min(1),
  /**
   * The product's `usagetype` without its region prefix (`APN1-`, `EU-`, …), one or more
   * accepted spellings; matched as a whole `-`-separated suffix (`Request` never matches
   * `Requests-Tier1`).
   */
  usagetype: z.array(z.string().min(1)).min(1),
  /** Further product attributes that must be equal, e.g. `{ databaseEngine: "Aurora MySQL" }`. */
  attributes: z.record(z.string(), z.string()).optional(),
  /** Attribute naming the region of a product. @default "regionCode" */
  regionAttribute: z.string().min(1).optional(),
});
export type OfferSelector = z.infer<typeof offerSelectorSchema>;

export const priceItemSchema = z.strictObject({
  /** Service as AWS names it on its pricing page, e.g. "Amazon SQS". */
  service: z.string().min(1),
  /** What is priced, one line. */
  description: z.string().min(1),
  /** The unit counted, e.g. "request", "GB-month", "instance-hour". */
  unit: z.string().min(1),
  /** The price is per this many units (1 000 000 for "per million requests"). */
  per: z.number().positive(),
  /** USD per `per` units: one figure for every region, or per region. */
  usd: z.union([usd, z.record(regionCode, usd).refine((m) => Object.keys(m).length > 0)]),
  /** The page or offer file the figure comes from. */
  source: z.string().url(),
  /** When the figure was taken from `source`. */
  taken: isoDate,
  /** True only when the figure was read from `source` on `taken` (refresh-prices sets it). */
  verified: z.boolean(),
  offer: offerSelectorSchema.optional(),
  note: z.string().optional(),
});
export type PriceItem = z.infer<typeof priceItemSchema>;

export const priceTableSchema = z.strictObject({
  $comment: z.string().optional(),
  currency: z.literal("USD"),
  /** One line on where the figures come from and how far to trust them. */
  provenance: z.string().min(1),
  /** What `priceOf` does for a region an item does not list. */
  fallback: z.literal("highest-listed"),
  items: z.record(z.string().regex(/^[a-z0-9][a-zA-Z0-9.\-_]*$/), priceItemSchema),
});
export type PriceTable = z.infer<typeof priceTableSchema>;

export const PRICES_FILE = join(__dirname, "prices.json");

export class PriceTableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PriceTableError";
  }
}

/** Validates a parsed price table; every problem names the item and field. */
export function parsePriceTable(value: unknown, source = "prices.json"): PriceTable {
  const result = priceTableSchema.safeParse(value);
  if (!result.success) {
    const problems = result.error.issues.map(
      (issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`,
    );
    throw new PriceTableError(`${source} is not a valid price table:\n  ${problems.join("\n  ")}`);
  }
  return result.data;
}

let cached: PriceTable | undefined;

/** The checked-in table (validated once per process). */
export function loadPrices(file: string = PRICES_FILE): PriceTable {
  if (file === PRICES_FILE && cached) return cached;
  const table = parsePriceTable(JSON.parse(readFileSync(file, "utf8")), file);
  if (file === PRICES_FILE) cached = table;
  return table;
}

export interface UnitPrice {
  readonly key: string;
  /** USD per single unit. */
  readonly usdPerUnit: number;
  /** USD per `per` units, as the table states it. */
  readonly usd: number;
  readonly per: number;
  readonly unit: string;
  /** The region whose figure is used ("all" for a region-independent figure). */
  readonly priceRegion: string;
  /** The region was not listed: the highest listed price stands in. */
  readonly fallback: boolean;
  readonly item: PriceItem;
}

/** The unit price of `key` in `region`, by the table's region rule. */
export function priceOf(table: PriceTable, key: string, region: string): UnitPrice {
  const item = table.items[key];
  if (!item) throw new PriceTableError(`prices.json has no item "${key}"`);
  let figure: number;
  let priceRegion: string;
  let fallback = false;
  if (typeof item.usd === "number") {
    figure = item.usd;
    priceRegion = "all";
  } else if (item.usd[region] !== undefined) {
    figure = item.usd[region];
    priceRegion = region;
  } else {
    const [highestRegion, highest] = Object.entries(item.usd).sort((a, b) => b[1] - a[1])[0];
    figure = highest;
    priceRegion = highestRegion;
    fallback = true;
  }
  return {
    key,
    usdPerUnit: figure / item.per,
    usd: figure,
    per: item.per,
    unit: item.unit,
    priceRegion,
    fallback,
    item,
  };
}

/** The item keys an Aurora instance class may be priced under, most specific first. */
export function auroraInstanceKey(instanceClass: string): string {
  return `aurora.instance.${instanceClass}`;
}

/** Size multipliers relative to `.large` within one instance family (AWS's linear ladder). */
export const INSTANCE_SIZE_FACTORS: Readonly<Record<string, number>> = {
  medium: 0.5,
  large: 1,
  xlarge: 2,
  "2xlarge": 4,
  "4xlarge": 8,
  "8xlarge": 16,
  "12xlarge": 24,
  "16xlarge": 32,
  "24xlarge": 48,
  "32xlarge": 64,
};

/**
 * The hourly price of an Aurora instance class: its own item, or its family's `.large` item ×
 * the size factor (AWS prices every size of a family linearly). Undefined when neither exists.
 */
export function auroraInstancePrice(
  table: PriceTable,
  instanceClass: string,
  region: string,
): (UnitPrice & { readonly derivedFrom?: string }) | undefined {
  const own = auroraInstanceKey(instanceClass);
  if (table.items[own]) return priceOf(table, own, region);
  const match = /^(db\.[a-z0-9-]+)\.([a-z0-9]+)$/.exec(instanceClass);
  if (!match) return undefined;
  const factor = INSTANCE_SIZE_FACTORS[match[2]];
  const base = auroraInstanceKey(`${match[1]}.large`);
  if (factor === undefined || !table.items[base]) return undefined;
  const price = priceOf(table, base, region);
  return {
    ...price,
    key: own,
    usd: price.usd * factor,
    usdPerUnit: price.usdPerUnit * factor,
    derivedFrom: `${base} × ${factor}`,
  };
}
