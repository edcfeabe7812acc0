/**
 * esbuild bundles of the handlers: one self-contained CommonJS file per handler, which the program
 * packages into an AssetArchive (`index.js`, handler `index.handler`).
 *
 * Bundling is about a tenth of a 20-region plan (the ack handler bundles mysql2 and the RDS
 * signer), so a bundle is also kept on disk (`node_modules/.cache/order-relay/bundles/`, like
 * other tools' caches) with the content hash of every file esbuild read for it; it is reused
 * only while every one of those files hashes the same, with the same esbuild version and options.
 * Anything unreadable or different means a fresh build — the cache can make a run faster, never
 * different. `ORDER_RELAY_BUNDLE_CACHE=off` turns it off.
 */
import { createHash } from "crypto";
import { buildSync, version as esbuildVersion, type BuildOptions } from "esbuild";
import * as fs from "fs";
import * as path from "path";

export const HANDLERS = ["notify", "forwarder", "ack"] as const;
export type HandlerName = (typeof HANDLERS)[number];

const cache = new Map<HandlerName, string>();

const ROOT = path.join(__dirname, "..");
const DISK_CACHE_DIR = path.join(ROOT, "node_modules", ".cache", "order-relay", "bundles");

function optionsFor(name: HandlerName): BuildOptions {
  return {
    entryPoints: [path.join(__dirname, `${name}.ts`)],
    bundle: true,
    platform: "node",
    target: "node22",
    format: "cjs",
    minify: true,
    sourcemap: false,
    write: false,
    legalComments: "none",
    // Prefer the ESM builds (AWS SDK, Powertools): esbuild can tree-shake them, the CJS builds not.
    mainFields: ["module", "main"],
    logLevel: "silent",
    metafile: true,
  };
}

interface DiskEntry {
  /** esbuild version and options: a change of either is a different bundle. */
  readonly key: string;
  /** Every input file (relative to the project root) and the sha256 of its content. */
  readonly inputs: Record<string, string>;
  readonly code: string;
}

const sha256 = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");

function keyOf(name: HandlerName): string {
  return sha256(JSON.stringify({ esbuildVersion, name, options: optionsFor(name) }));
}

function readDiskCache(name: HandlerName): string | undefined {
  try {
    const entry = JSON.parse(
      fs.readFileSync(path.join(DISK_CACHE_DIR, `${name}.json`), "utf8"),
    ) as DiskEntry;
    if (entry.key !== keyOf(name) || typeof entry.code !== "string") return undefined;
    for (const [file, hash] of Object.entries(entry.inputs)) {
      if (sha256(fs.readFileSync(path.join(ROOT, file))) !== hash) return undefined;
    }
    return entry.code;
  } catch {
    return undefined;
  }
}

function writeDiskCache(name: HandlerName, inputs: readonly string[], code: string): void {
  try {
    const hashes: Record<string, string> = {};
    for (const file of inputs) hashes[file] = sha256(fs.readFileSync(path.join(ROOT, file)));
    const entry: DiskEntry = { key: keyOf(name), inputs: hashes, code };
    fs.mkdirSync(DISK_CACHE_DIR, { recursive: true });
    // Write then rename: a concurrent reader never sees half a file.
    const file = path.join(DISK_CACHE_DIR, `${name}.json`);
    const temporary = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(temporary, JSON.stringify(entry));
    fs.renameSync(temporary, file);
  } catch {
    // A read-only checkout or a full disk: the bundle is still right, just not kept.
  }
}

const diskCacheOn = () => process.env.ORDER_RELAY_BUNDLE_CACHE !== "off";

/** Bundles `lambda/<name>.ts` (and everything it imports) into one minified CommonJS file. */
export function bundleHandler(name: HandlerName): string {
  const cached = cache.get(name) ?? (diskCacheOn() ? readDiskCache(name) : undefined);
  if (cached !== undefined) {
    cache.set(name, cached);
    return cached;
  }
  const result = buildSync(optionsFor(name) as BuildOptions & { write: false; metafile: true });
  const code = result.outputFiles[0]!.text;
  cache.set(name, code);
  if (diskCacheOn()) {
    // esbuild names inputs relative to its working directory.
    const cwd = process.cwd();
    const inputs = Object.keys(result.metafile.inputs).map((input) =>
      path.relative(ROOT, path.resolve(cwd, input)),
    );
    writeDiskCache(name, inputs, code);
  }
  return code;
}
