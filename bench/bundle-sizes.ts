/** `npm run bundle:sizes`: size and gzip size of each handler bundle (what the program deploys). */
import { gzipSync } from "node:zlib";
import { type CommandSpec, type OptionSpecs, parseCommandLine } from "../cli/command";
import { runMain, writeOut } from "../cli/process";
import { bundleHandler, HANDLERS } from "../lambda/bundle";

/** Bytes of a bundle, and gzip -9 bytes (roughly what Lambda's zip upload holds). */
export function sizesOf(code: string): { bytes: number; gzipBytes: number } {
  const buffer = Buffer.from(code, "utf8");
  return { bytes: buffer.length, gzipBytes: gzipSync(buffer, { level: 9 }).length };
}

export const BUNDLE_SIZES_COMMAND = {
  usage: "npm run bundle:sizes --",
  summary:
    "Bundles each Lambda handler with esbuild exactly as the program deploys it (lambda/bundle.ts) " +
    "and prints its size and gzip -9 size (roughly what Lambda's zip upload holds).",
  options: {
    json: {
      type: "boolean",
      description: "print [{ handler, bytes, gzipBytes }] as JSON, and nothing else, on stdout",
    },
  },
  examples: ["npm run bundle:sizes", "npm run -s bundle:sizes -- --json"],
  notes: ["Exit codes: 0 printed; 1 a bundle failed to build (one line); 2 a usage error."],
} as const satisfies CommandSpec<OptionSpecs>;

async function main(): Promise<void> {
  const { values } = parseCommandLine(BUNDLE_SIZES_COMMAND);
  const rows = HANDLERS.map((handler) => ({ handler, ...sizesOf(bundleHandler(handler)) }));
  if (values.json) {
    await writeOut(`${JSON.stringify(rows, null, 2)}\n`);
    return;
  }
  const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
  await writeOut(
    rows
      .map(
        ({ handler, bytes, gzipBytes }) =>
          `${handler.padEnd(10)} ${kib(bytes).padStart(10)}  gzip ${kib(gzipBytes).padStart(9)}  (${bytes} / ${gzipBytes} bytes)\n`,
      )
      .join(""),
  );
}

if (require.main === module) runMain("bundle:sizes", main);
