/**
 * lambda/bundle.ts's disk cache: a kept bundle is reused only while every input file still hashes
 * the same; any difference means a fresh esbuild build. Each step runs in a fresh process (the
 * in-memory cache would hide the disk's).
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

const ROOT = path.join(__dirname, "..", "..");
const ENTRY = path.join(ROOT, "node_modules", ".cache", "order-relay", "bundles", "forwarder.json");

/** The forwarder bundle as a fresh process builds or reuses it (its first 40 characters). */
function bundleInFreshProcess(env: NodeJS.ProcessEnv = {}): string {
  const result = spawnSync(
    process.execPath,
    [
      "--import",
      "tsx",
      "-e",
      `process.stdout.write(require(${JSON.stringify(path.join(ROOT, "lambda", "bundle.ts"))}).bundleHandler("forwarder").slice(0, 40))`,
    ],
    { cwd: ROOT, encoding: "utf8", env: { ...process.env, ...env }, timeout: 60_000 },
  );
  assert.equal(result.status, 0, result.stderr);
  return result.stdout;
}

interface Entry {
  key: string;
  inputs: Record<string, string>;
  code: string;
}

describe("handler bundles: the disk cache", function () {
  this.timeout(120_000);

  it("is reused while every input hashes the same, rebuilt when one differs", () => {
    fs.rmSync(ENTRY, { force: true });
    const built = bundleInFreshProcess();
    const entry = JSON.parse(fs.readFileSync(ENTRY, "utf8")) as Entry;
    assert.ok(entry.code.startsWith(built));
    assert.ok(
      Object.keys(entry.inputs).some((file) => file === path.join("lambda", "forwarder.ts")),
      "the handler's own source is an input",
    );
    assert.ok(Object.keys(entry.inputs).length > 10, "its imports are inputs too");
    try {
      // A kept bundle is what a fresh process returns (marked, to tell it from a build)…
      fs.writeFileSync(ENTRY, JSON.stringify({ ...entry, code: `/*kept*/${entry.code}` }));
      assert.equal(bundleInFreshProcess().slice(0, 8), "/*kept*/");
      // …unless the cache is off,
      assert.equal(bundleInFreshProcess({ ORDER_RELAY_BUNDLE_CACHE: "off" }), built);
      // or any input's content no longer matches its hash: then it is built again and re-kept.
      const [first] = Object.keys(entry.inputs);
      fs.writeFileSync(
        ENTRY,
        JSON.stringify({
          ...entry,
          code: `/*kept*/${entry.code}`,
          inputs: { ...entry.inputs, [first!]: "0".repeat(64) },
        }),
      );
      assert.equal(bundleInFreshProcess(), built);
      assert.equal((JSON.parse(fs.readFileSync(ENTRY, "utf8")) as Entry).code, entry.code);
      // A different esbuild version or options (the key) is a different bundle.
      fs.writeFileSync(ENTRY, JSON.stringify({ ...entry, key: "other", code: "/*kept*/" }));
      assert.equal(bundleInFreshProcess(), built);
    } finally {
      fs.writeFileSync(ENTRY, JSON.stringify(entry));
    }
  });
});
