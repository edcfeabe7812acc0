/** `npm run bundle:sizes`: size and gzip size of each handler bundle (what the program deploys). */
import { gzipSync } from "zlib";
import { bundleHandler, HANDLERS } from "../lambda/bundle";

export function bundleSizes(): { handler: string; bytes: number; gzipBytes: number }[] {
  return HANDLERS.map((name) => {
    const code = Buffer.from(bundleHandler(name), "utf8");
    return { handler: name, bytes: code.length, gzipBytes: gzipSync(code, { level: 9 }).length };
  });
}

if (require.main === module) {
  const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
  for (const { handler, bytes, gzipBytes } of bundleSizes()) {
    console.log(
      `${handler.padEnd(10)} ${kib(bytes).padStart(10)}  gzip ${kib(gzipBytes).padStart(9)}  (${bytes} / ${gzipBytes} bytes)`,
    );
  }
}
