/**
 * Output through a pipe arrives whole, however large, before the process exits: the commands
 * write with cli/process.ts (`writeOut` resolves once the OS has the bytes; `runMain` flushes
 * before `process.exit`). The reader here is deliberately slow (it reads nothing for 1.5 s), so
 * the pipe's 64 KiB buffer is full long before the writer is done — what `| jq` or `| less`
 * does to a writer. And `--json` modes put nothing but JSON on stdout.
 */
import { strict as assert } from "node:assert";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { payload } from "../fixtures/cli/big-output";
import { manyRegionStack, startCommand, type Child } from "./support";

const MiB = 1024 * 1024;

/** Starts the command with a reader that reads nothing for `stallMs`, then everything. */
async function throughSlowPipe(
  script: string,
  args: readonly string[],
  stallMs = 1500,
): Promise<{ code: number; stdout: string; stderr: string; child: Child }> {
  const child = startCommand(script, args);
  child.process.stdout!.pause();
  await new Promise((r) => setTimeout(r, stallMs));
  child.process.stdout!.resume();
  const code = await child.exited;
  child.cleanUp();
  return { code, stdout: child.stdout, stderr: child.stderr, child };
}

describe("output through a pipe: every byte, then exit", function () {
  this.timeout(300_000);
  this.slow(20_000);

  for (const mode of ["writeOut", "console"] as const) {
    it(`2 MiB written with ${mode === "writeOut" ? "writeOut (awaited)" : "process.stdout.write (not awaited)"} and an immediate return: all of it arrives`, async () => {
      const bytes = 2 * MiB;
      const { code, stdout, stderr } = await throughSlowPipe("test/fixtures/cli/big-output.ts", [
        String(bytes),
        mode,
      ]);
      assert.equal(code, 0, stderr);
      const expected = payload(bytes);
      assert.ok(expected.length >= bytes);
      assert.equal(stdout.length, expected.length, "byte count");
      assert.ok(stdout === expected, "content");
    });
  }

  it("npm run plan --json on a 16-region stack (≥ 1 MiB) and its text plan: whole, parseable, exit 0", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "plan-pipe-"));
    try {
      const file = manyRegionStack(dir, 16);
      const [json, text] = await Promise.all([
        throughSlowPipe("offline/plan.ts", ["--config", file, "--json"]),
        throughSlowPipe("offline/plan.ts", [`--config=${file}`]),
      ]);
      assert.equal(json.code, 0, json.stderr);
      assert.ok(
        Buffer.byteLength(json.stdout) >= MiB,
        `plan --json is ${Buffer.byteLength(json.stdout)} bytes, want ≥ 1 MiB`,
      );
      const plan = JSON.parse(json.stdout) as { stack: string; resources: { region: string }[] };
      assert.equal(plan.stack, "many");
      assert.equal(new Set(plan.resources.map((r) => r.region).filter(Boolean)).size, 16);
      assert.equal(text.code, 0, text.stderr);
      assert.ok(text.stdout.length > 64 * 1024, `text plan ${text.stdout.length} bytes`);
      assert.match(text.stdout, /^Totals: \d+ resources/m);
      assert.match(text.stdout, /h {2}total \(/, "the last section (privacy window) arrived");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("--json modes print only JSON on stdout (bundle:sizes)", async () => {
    const { code, stdout, stderr } = await throughSlowPipe("bench/bundle-sizes.ts", ["--json"], 0);
    assert.equal(code, 0, stderr);
    const rows = JSON.parse(stdout) as { handler: string; bytes: number; gzipBytes: number }[];
    assert.ok(rows.length >= 2 && rows.every((r) => r.bytes > r.gzipBytes && r.gzipBytes > 0));
  });
});
