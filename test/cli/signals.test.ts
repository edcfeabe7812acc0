/**
 * SIGINT/SIGTERM on the long-running commands, as a user's Ctrl-C or a supervisor's `kill`:
 * the command prints a partial summary (start, bench), ends every child process it started (the
 * private mariadbd, DC consumer processes), removes its temp dirs, and exits 130/143.
 *
 * Each command runs as a child with its own TMPDIR (test/cli/support.ts): a process that still
 * carries that TMPDIR afterwards, or a file left in it, is a leak. These tests need only that the
 * run gets going (databases up), not that orders are delivered.
 */
import { strict as assert } from "node:assert";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import {
  type Child,
  killAll,
  manyRegionStack,
  leftoverFiles,
  leftoverProcesses,
  processesOf,
  startCommand,
} from "./support";

/** The run is up: the last set-up line of local/stages (databases, queues, DC, events). */
const RUNNING = /^dispatch\/purge: /m;

async function expectNothingLeft(child: Child): Promise<void> {
  const left = await leftoverProcesses(child.tmp);
  killAll(left);
  assert.deepEqual(left, [], `processes left behind:\n${left.map((p) => p.command).join("\n")}`);
  assert.deepEqual(leftoverFiles(child.tmp), [], "temp files left behind");
}

describe("signals: Ctrl-C and SIGTERM stop cleanly", function () {
  this.timeout(180_000);
  this.slow(30_000);
  const children: Child[] = [];
  const run = (...args: Parameters<typeof startCommand>) => {
    const child = startCommand(...args);
    children.push(child);
    return child;
  };
  afterEach(async () => {
    // A failed test's child: stopped gracefully first (its own cleanups), then by force.
    for (const child of children.splice(0)) {
      if (child.process.exitCode === null && child.process.signalCode === null) {
        child.process.kill("SIGTERM");
        await Promise.race([child.exited, new Promise((r) => setTimeout(r, 15_000))]);
        child.process.kill("SIGKILL");
      }
      killAll(await leftoverProcesses(child.tmp, 1000));
      child.cleanUp();
    }
  });

  it("npm start, Ctrl-C (SIGINT to the process group, through the tsx wrapper): partial summary, exit 130, no mariadbd, no temp dir", async () => {
    const child = run("local/start.ts", ["--orders", "100000", "--rate", "20"], {
      viaTsxCli: true,
      detached: true,
      env: { MYSQL_URL: undefined },
    });
    await child.waitFor("stderr", RUNNING, 120_000);
    await new Promise((r) => setTimeout(r, 1500)); // some orders inserted
    const running = processesOf(child.tmp);
    assert.ok(
      running.some((p) => /mariadbd .*--datadir=/.test(p.command)),
      `a private mariadbd of this run: ${running.map((p) => p.command).join("\n")}`,
    );
    process.kill(-child.process.pid!, "SIGINT"); // the terminal signals the whole group
    const code = await child.exited;
    assert.equal(code, 130, child.stderr);
    assert.match(child.stdout, /^INTERRUPTED after \d+\.\d s — partial summary/m);
    assert.match(child.stdout, /inserted [1-9]\d*, delivered \d+, pending \d+, lost \d+/);
    assert.match(child.stderr, /SIGINT: stopping/);
    assert.doesNotMatch(child.stderr, /\n\s+at /, "no stack trace");
    await expectNothingLeft(child);
  });

  it("npm start --json --dc-processes, SIGTERM to the process: JSON summary, exit 143, no mariadbd or DC consumer left", async () => {
    const child = run(
      "local/start.ts",
      ["--orders", "100000", "--rate", "20", "--json", "--dc-processes", "--dc-consumers", "2"],
      { env: { MYSQL_URL: undefined } },
    );
    await child.waitFor("stderr", RUNNING, 120_000);
    const running = processesOf(child.tmp);
    assert.ok(
      running.some((p) => /mariadbd /.test(p.command)),
      "a private mariadbd",
    );
    assert.equal(
      running.filter((p) => p.command.includes("dc/cli.ts")).length,
      2,
      `two DC consumer processes: ${running.map((p) => p.command).join("\n")}`,
    );
    child.process.kill("SIGTERM");
    const code = await child.exited;
    assert.equal(code, 143, child.stderr);
    const lines = child.stdout.trim().split("\n");
    assert.equal(lines.length, 1, `stdout is one JSON line:\n${child.stdout}`);
    const summary = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.equal(summary.interrupted, "SIGTERM");
    assert.equal(typeof summary.inserted, "number");
    assert.equal(typeof summary.pending, "number");
    await expectNothingLeft(child);
  });

  it("npm start, SIGINT while the databases are still starting: exit 130, nothing left", async () => {
    const child = run("local/start.ts", [], { env: { MYSQL_URL: undefined } });
    await child.waitFor("stderr", /starting a private MariaDB/, 60_000);
    // mariadbd spawned (or about to be): interrupt the set-up itself.
    const deadline = Date.now() + 30_000;
    while (
      !processesOf(child.tmp).some((p) => /mariadbd /.test(p.command)) &&
      Date.now() < deadline
    )
      await new Promise((r) => setTimeout(r, 50));
    child.process.kill("SIGINT");
    assert.equal(await child.exited, 130, child.stderr);
    assert.doesNotMatch(child.stderr, /\n\s+at /, "no stack trace");
    await expectNothingLeft(child);
  });

  it("npm start, Ctrl-C twice (the second > 1 s later): exits at once, the mariadbd is still killed and removed", async () => {
    const child = run("local/start.ts", ["--orders", "100000", "--rate", "20"], {
      env: { MYSQL_URL: undefined },
    });
    await child.waitFor("stderr", RUNNING, 120_000);
    child.process.kill("SIGINT");
    await child.waitFor("stderr", /SIGINT: stopping/, 10_000);
    await new Promise((r) => setTimeout(r, 1200)); // past the window in which a repeat is a relay
    const stillRunning = child.process.exitCode === null && child.process.signalCode === null;
    const secondAt = Date.now();
    if (stillRunning) child.process.kill("SIGINT");
    assert.equal(await child.exited, 130, child.stderr);
    if (stillRunning) {
      // Either the second Ctrl-C forced the exit, or the cleanup was finishing anyway: both end
      // at once, never after a full graceful stop's wait.
      const forced = /SIGINT again: exiting without waiting for cleanup/.test(child.stderr);
      assert.ok(forced || Date.now() - secondAt < 3000, child.stderr);
    }
    await expectNothingLeft(child);
  });

  it("npm test (mocha's global fixture), Ctrl-C: its private MariaDB stopped, its temp dir removed, exit 130", async () => {
    const child = run("node_modules/mocha/bin/mocha.js", ["test/fixtures/cli/hang.ts"], {
      detached: true,
      env: { MYSQL_URL: undefined },
    });
    // mocha runs in-process: `--import tsx` is harmless, the .mocharc's require does the rest.
    await child.waitFor("stdout", /hang: running/, 120_000);
    assert.ok(
      processesOf(child.tmp).some((p) => /mariadbd /.test(p.command)),
      "a mariadbd",
    );
    assert.ok(
      leftoverFiles(child.tmp).some((f) => f.startsWith("relay-test-")),
      "the run's TMPDIR",
    );
    process.kill(-child.process.pid!, "SIGINT");
    assert.equal(await child.exited, 130, child.stderr);
    await expectNothingLeft(child);
  });

  it("npm run bench, SIGTERM during figure 1: what finished is printed, exit 143, no mariadbd left", async () => {
    const child = run("bench/run.ts", ["--quick"], { env: { MYSQL_URL: undefined } });
    await child.waitFor("stderr", /^1\. trigger cost/m, 60_000);
    const deadline = Date.now() + 60_000;
    while (
      !processesOf(child.tmp).some((p) => /mariadbd /.test(p.command)) &&
      Date.now() < deadline
    )
      await new Promise((r) => setTimeout(r, 100));
    child.process.kill("SIGTERM");
    assert.equal(await child.exited, 143, child.stderr);
    assert.match(
      child.stderr,
      /bench interrupted after \d+ s during 1\. trigger cost.*; finished: nothing\. RESULTS\.md and latency\.svg are unchanged/,
    );
    assert.doesNotMatch(child.stderr, /\n\s+at /, "no stack trace");
    await expectNothingLeft(child);
  });

  it("npm run plan, SIGINT mid-plan: exit 130, no half-written output, nothing left", async () => {
    // A 24-region stack keeps the engine busy well past the signal (a 3-region plan can finish
    // within the delay on an idle machine).
    const dir = mkdtempSync(path.join(tmpdir(), "plan-signal-"));
    try {
      const child = run("offline/plan.ts", ["--config", manyRegionStack(dir, 24), "--json"]);
      await new Promise((r) => setTimeout(r, 3000)); // imports done, the program on the engine
      child.process.kill("SIGINT");
      assert.equal(await child.exited, 130, child.stderr);
      assert.equal(child.stdout, "", "nothing on stdout");
      await expectNothingLeft(child);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
