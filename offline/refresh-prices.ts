/**
 * `npx tsx offline/refresh-prices.ts [--region r]… [--out file] [--dry-run]`
 *
 * Rebuilds offline/prices.json from the AWS Price List bulk API: for every item with an `offer`
 * selector and every region it lists (plus `--region`), it downloads the region's offer file
 * (https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/<offer>/current/<region>/index.json,
 * no credentials needed), finds the product by usage type and attributes, takes its on-demand
 * price (the first paid tier) and writes it with today's date and `verified: true`. A region or
 * item it cannot find keeps its old figure and `verified: false`, and is reported.
 *
 * Needs network access; the parser (`findOfferPrice`, `refreshPriceTable`) is pure and tested on
 * a checked-in sample of the real offer-file format (test/cost/fixtures/).
 */
import { writeFileSync } from "node:fs";
import { type CommandSpec, type OptionSpecs, parseCommandLine } from "../cli/command";
import { runMain, writeErr, writeOut } from "../cli/process";
import {
  loadPrices,
  parsePriceTable,
  PRICES_FILE,
  type OfferSelector,
  type PriceTable,
} from "./prices";

export const OFFER_BASE = "https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws";

/** The regions the shipped stacks use: the ones a region-independent figure is fetched for. */
export const SHIPPED_REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "ap-northeast-1"] as const;

/** The parts of a Price List offer file (format v1.0) the refresh reads. */
export interface OfferFile {
  readonly formatVersion: string;
  readonly offerCode: string;
  readonly version: string;
  readonly publicationDate: string;
  readonly products: Readonly<
    Record<
      string,
      {
        readonly sku: string;
        readonly productFamily?: string;
        readonly attributes: Readonly<Record<string, string>>;
      }
    >
  >;
  readonly terms: {
    readonly OnDemand?: Readonly<
      Record<
        string,
        Readonly<
          Record<
            string,
            {
              readonly sku: string;
              readonly effectiveDate?: string;
              readonly priceDimensions: Readonly<
                Record<
                  string,
                  {
                    readonly unit: string;
                    readonly description?: string;
                    readonly beginRange?: string;
                    readonly endRange?: string;
                    readonly pricePerUnit: Readonly<Record<string, string>>;
                  }
                >
              >;
            }
          >
        >
      >
    >;
  };
}

export function offerUrl(code: string, region: string): string {
  return `${OFFER_BASE}/${code}/current/${region}/index.json`;
}

/** `usagetype` equals one of the spellings, or ends with "-" + it (the region prefix). */
function usagetypeMatches(usagetype: string | undefined, wanted: readonly string[]): boolean {
  if (!usagetype) return false;
  return wanted.some((w) => usagetype === w || usagetype.endsWith(`-${w}`));
}

export interface OfferPrice {
  /** USD per one of the offer's units. */
  readonly usdPerUnit: number;
  readonly unit: string;
  readonly sku: string;
  readonly usagetype: string;
  readonly description?: string;
  readonly effectiveDate?: string;
}

/**
 * The on-demand price of the product `selector` names in `region`: the first paid tier (free
 * tiers are a price dimension of $0 in some offers). Undefined when no product matches or it
 * has no paid price; an error when several products match with different prices.
 */
export function findOfferPrice(
  offer: OfferFile,
  selector: OfferSelector,
  region: string,
): OfferPrice | undefined {
  const regionAttribute = selector.regionAttribute ?? "regionCode";
  const found: OfferPrice[] = [];
  for (const product of Object.values(offer.products)) {
    const attrs = product.attributes;
    if (attrs[regionAttribute] !== region) continue;
    if (!usagetypeMatches(attrs.usagetype, selector.usagetype)) continue;
    if (Object.entries(selector.attributes ?? {}).some(([k, v]) => attrs[k] !== v)) continue;
    const terms = offer.terms.OnDemand?.[product.sku];
    if (!terms) continue;
    const dimensions = Object.values(terms).flatMap((term) =>
      Object.values(term.priceDimensions).map((d) => ({ ...d, effectiveDate: term.effectiveDate })),
    );
    const paid = dimensions
      .map((d) => ({ ...d, usd: Number(d.pricePerUnit.USD) }))
      .filter((d) => Number.isFinite(d.usd) && d.usd > 0)
      .sort((a, b) => Number(a.beginRange ?? 0) - Number(b.beginRange ?? 0));
    if (paid.length === 0) continue;
    found.push({
      usdPerUnit: paid[0].usd,
      unit: paid[0].unit,
      sku: product.sku,
      usagetype: attrs.usagetype,
      description: paid[0].description,
      effectiveDate: paid[0].effectiveDate,
    });
  }
  if (found.length === 0) return undefined;
  const prices = new Set(found.map((f) => f.usdPerUnit));
  if (prices.size > 1) {
    throw new Error(
      `${offer.offerCode} ${region}: ${found.length} products match ${selector.usagetype.join("|")} with different prices (${found
        .map((f) => `${f.sku} ${f.usagetype} $${f.usdPerUnit}`)
        .join(", ")}); narrow the selector's attributes`,
    );
  }
  return found[0];
}

/** Offer files by offer code and region; undefined when it could not be had. */
export type OfferSource = (code: string, region: string) => Promise<OfferFile | undefined>;

export interface RefreshResult {
  readonly table: PriceTable;
  /** One line per item and region: what was set or why not. */
  readonly report: readonly string[];
  readonly refreshed: number;
  readonly missing: number;
}

/** Significant digits kept (offer files carry 10 decimals). */
const tidy = (n: number) => Number(n.toPrecision(10));

/**
 * A copy of `table` with every findable price replaced by the offer files' figure. Pure but for
 * `offers`. An item becomes `verified` only when every one of its regions was found.
 */
export async function refreshPriceTable(
  table: PriceTable,
  offers: OfferSource,
  options: { date: string; extraRegions?: readonly string[] },
): Promise<RefreshResult> {
  const items: Record<string, PriceTable["items"][string]> = {};
  const report: string[] = [];
  let refreshed = 0;
  let missing = 0;
  for (const [key, item] of Object.entries(table.items)) {
    if (!item.offer) {
      items[key] = item;
      report.push(`${key}: no offer selector, kept`);
      continue;
    }
    const listed = typeof item.usd === "number" ? [...SHIPPED_REGIONS] : Object.keys(item.usd);
    const regions = [...new Set([...listed, ...(options.extraRegions ?? [])])];
    const usd: Record<string, number> =
      typeof item.usd === "number"
        ? Object.fromEntries(listed.map((r) => [r, item.usd as number]))
        : { ...item.usd };
    let all = true;
    let firstOffer: string | undefined;
    for (const region of regions) {
      const offer = await offers(item.offer.code, region);
      const price = offer ? findOfferPrice(offer, item.offer, region) : undefined;
      if (!price) {
        all = false;
        missing++;
        report.push(
          `${key} ${region}: ${offer ? "no matching product" : "offer file unavailable"} — kept ${usd[region] ?? "(none)"}`,
        );
        continue;
      }
      firstOffer ??= offerUrl(item.offer.code, region);
      usd[region] = tidy(price.usdPerUnit * item.per);
      refreshed++;
      report.push(
        `${key} ${region}: $${usd[region]} per ${item.per} ${item.unit} (${price.usagetype}, ${price.sku})`,
      );
    }
    items[key] = {
      ...item,
      usd,
      ...(all && firstOffer
        ? {
            verified: true,
            taken: options.date,
            source: `${OFFER_BASE}/${item.offer.code}/current/region_index.json`,
          }
        : {}),
    };
  }
  const next = parsePriceTable({
    ...table,
    provenance:
      missing === 0
        ? `Read from the AWS Price List bulk API offer files (${OFFER_BASE}/<offer>/current/<region>/index.json) on ${options.date} by offline/refresh-prices.ts; on-demand list prices, first paid tier; no free tier, Savings Plans, reserved instances or taxes.`
        : table.provenance,
    items,
  });
  return { table: next, report, refreshed, missing };
}

/** Downloads an offer file (cached per code and region for the run). */
function fetchingOffers(): OfferSource {
  const cache = new Map<string, Promise<OfferFile | undefined>>();
  return (code, region) => {
    const url = offerUrl(code, region);
    if (!cache.has(url)) {
      cache.set(
        url,
        fetch(url).then(
          async (response) => {
            if (!response.ok) {
              await writeErr(`refresh-prices: ${url}: HTTP ${response.status}\n`);
              return undefined;
            }
            return (await response.json()) as OfferFile;
          },
          async (error: Error) => {
            await writeErr(`refresh-prices: ${url}: ${error.message}\n`);
            return undefined;
          },
        ),
      );
    }
    return cache.get(url)!;
  };
}

export const REFRESH_PRICES_COMMAND = {
  usage: "npx tsx offline/refresh-prices.ts",
  summary:
    "Rebuilds offline/prices.json from the AWS Price List bulk API offer files (needs network " +
    "access, no credentials): every item with an offer selector, in every region it lists, gets " +
    "the on-demand price, today's date and verified: true. What cannot be found keeps its figure " +
    "and is reported.",
  options: {
    region: {
      type: "string",
      value: "REGION",
      description: "also fetch this region for every item (comma-separated list allowed)",
    },
    out: {
      type: "string",
      value: "FILE",
      description: "write the table here instead of offline/prices.json",
    },
    "dry-run": { type: "boolean", description: "print the report, write nothing" },
  },
  examples: [
    "npx tsx offline/refresh-prices.ts",
    "npx tsx offline/refresh-prices.ts --region sa-east-1 --dry-run",
  ],
  notes: ["Exit codes: 0 every price found; 1 some kept their old figure; 2 a usage error."],
} as const satisfies CommandSpec<OptionSpecs>;

async function main(): Promise<number> {
  const { values } = parseCommandLine(REFRESH_PRICES_COMMAND);
  const extraRegions = (values.region ?? "")
    .split(",")
    .map((r) => r.trim())
    .filter(Boolean);
  const result = await refreshPriceTable(loadPrices(), fetchingOffers(), {
    date: new Date().toISOString().slice(0, 10),
    extraRegions,
  });
  await writeOut(`${result.report.join("\n")}\n`);
  await writeOut(`refreshed ${result.refreshed} prices, ${result.missing} kept their old figure\n`);
  if (!values["dry-run"]) {
    const out = values.out ?? PRICES_FILE;
    writeFileSync(out, `${JSON.stringify(result.table, null, 2)}\n`);
    await writeOut(`wrote ${out}\n`);
  }
  return result.missing === 0 ? 0 : 1;
}

if (require.main === module) runMain("refresh-prices", main);
