/**
 * esbuild bundles of the handlers: one self-contained CommonJS file per handler, which the program
 * packages into an AssetArchive (`index.js`, handler `index.handler`).
 */
import { buildSync } from "esbuild";
import * as path from "path";

export const HANDLERS = ["notify", "forwarder", "ack"] as const;
export type HandlerName = (typeof HANDLERS)[number];

const cache = new Map<HandlerName, string>();

/** Bundles `lambda/<name>.ts` (and everything it imports) into one minified CommonJS file. */
export function bundleHandler(name: HandlerName): string {
  const cached = cache.get(name);
  if (cached !== undefined) return cached;
  const result = buildSync({
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
  });
  const code = result.outputFiles[0].text;
  cache.set(name, code);
  return code;
}
