/** `npm run bundle:sizes`: size and gzip size of each handler bundle (what the program deploys). */
import { gzipSync } from "node:zlib";
import { bundleHandler, HANDLERS } from "../lambda/bundle";

/** Bytes of a bundle, and gzip -9 bytes (roughly what Lambda's zip upload holds). */
export function sizesOf(code: string): { bytes: number; gzipBytes: number } {
  const buffer = Buffer.from(code, "utf8");
  return { bytes: buffer.length, gzipBytes: gzipSync(buffer, { level: 9 }).length };
}

if (require.main === module) {
  const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
  for (const handler of HANDLERS) {
    const { bytes, gzipBytes } = sizesOf(bundleHandler(handler));
    console.log(
      `${handler.padEnd(10)} ${kib(bytes).padStart(10)}  gzip ${kib(gzipBytes).padStart(9)}  (${bytes} / ${gzipBytes} bytes)`,
    );
  }
}
