/**
 * Every command line the project owns is defined once (a spec for cli/command.ts) and parsed the
 * same way: `--help` explains every flag and environment variable; `--x=v` and `--x v` are the
 * same; unknown flags and bad values stop with exit 2 and one line that names the fix.
 */
import { strict as assert } from "node:assert";
import { BUNDLE_SIZES_COMMAND } from "../../bench/bundle-sizes";
import { BENCH_COMMAND } from "../../bench/run";
import {
  type CommandSpec,
  helpText,
  HelpRequested,
  integer,
  mysqlUrl,
  type OptionSpecs,
  parseCommandLine,
  UsageError,
} from "../../cli/command";
import { START_COMMAND } from "../../local/start";
import { PLAN_COMMAND } from "../../offline/plan";
import { POLICY_COMMAND } from "../../offline/policy";
import { REDRIVE_COMMAND } from "../../ops/redrive";
import { startCommand } from "./support";

const COMMANDS: { script: string; spec: CommandSpec<OptionSpecs> }[] = [
  { script: "local/start.ts", spec: START_COMMAND },
  { script: "offline/plan.ts", spec: PLAN_COMMAND },
  { script: "offline/policy.ts", spec: POLICY_COMMAND },
  { script: "ops/redrive.ts", spec: REDRIVE_COMMAND },
  { script: "bench/run.ts", spec: BENCH_COMMAND },
  { script: "bench/bundle-sizes.ts", spec: BUNDLE_SIZES_COMMAND },
];

/** Runs a command to its end (stdin closed) and returns what it did. */
async function run(script: string, args: readonly string[], env: Record<string, string> = {}) {
  const child = startCommand(script, args, { env: { MYSQL_URL: undefined, ...env } });
  const code = await child.exited;
  child.cleanUp();
  return { code, stdout: child.stdout, stderr: child.stderr };
}

function assertOneLine(stderr: string, pattern: RegExp): void {
  const lines = stderr.trim().split("\n");
  assert.equal(lines.length, 1, `one line on stderr, got:\n${stderr}`);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(stderr, /\n\s+at /, "no stack trace");
}

describe("command lines: help, parsing, exit codes", function () {
  this.timeout(120_000);
  this.slow(20_000);

  describe("the specs (in process)", () => {
    for (const { script, spec } of COMMANDS) {
      it(`${script}: --help names every flag, its value and its environment variable`, () => {
        const text = helpText(spec);
        assert.match(text, /^usage: npm (start|run [a-z:]+) --/);
        for (const [name, option] of Object.entries(spec.options)) {
          assert.ok(text.includes(`--${name}`), `--${name} in help`);
          assert.ok(option.description.length > 10, `--${name} explained`);
          if (option.env) assert.ok(text.includes(`env: ${option.env}`), `${option.env} in help`);
        }
        assert.match(text, /Exit\s+codes: 0 /);
        assert.throws(
          () => parseCommandLine(spec, ["--bogus"], {}),
          (e: unknown) =>
            e instanceof UsageError &&
            /^unknown option --bogus/.test(e.message) &&
            !/\n/.test(e.message),
        );
        assert.throws(() => parseCommandLine(spec, ["-h"], {}), HelpRequested);
        assert.throws(() => parseCommandLine(spec, ["--bogus", "--help"], {}), HelpRequested);
      });
    }

    it("--x=v and --x v are the same; negative numbers reach validation; env fallbacks", () => {
      const a = parseCommandLine(START_COMMAND, ["--stack=prod", "--rate", "5"], {});
      const b = parseCommandLine(START_COMMAND, ["--stack", "prod", "--rate=5"], {});
      assert.deepEqual(a.values, b.values);
      assert.equal(a.values.stack, "prod");
      const negative = parseCommandLine(START_COMMAND, ["--seed", "-3"], {});
      assert.equal(integer("seed", negative.values.seed), -3);
      const fromEnv = parseCommandLine(START_COMMAND, [], { MYSQL_URL: "mysql://u@h:3306/" });
      assert.equal(fromEnv.values["mysql-url"], "mysql://u@h:3306/");
      assert.ok(fromEnv.fromEnv.has("mysql-url"));
      const region = parseCommandLine(REDRIVE_COMMAND, [], { AWS_REGION: "eu-west-1" });
      assert.equal(region.values.region, "eu-west-1");
    });

    it("mistakes name the flag and the fix in one line", () => {
      const usage = (spec: CommandSpec<OptionSpecs>, argv: string[]) => {
        try {
          parseCommandLine(spec, argv, {});
        } catch (error) {
          assert.ok(error instanceof UsageError, String(error));
          assert.doesNotMatch(error.message, /\n/);
          return error.message;
        }
        return "";
      };
      assert.match(
        usage(START_COMMAND, ["--stak", "prod"]),
        /unknown option --stak — did you mean --stack\?/,
      );
      assert.match(usage(START_COMMAND, ["--stack"]), /--stack needs a value/);
      assert.match(usage(START_COMMAND, ["--stack", "--json"]), /--stack needs a value/);
      assert.match(usage(START_COMMAND, ["--json=yes"]), /--json is a switch and takes no value/);
      assert.match(
        usage(PLAN_COMMAND, ["prod"]),
        /unexpected argument "prod" — flags start with --/,
      );
      assert.throws(
        () => integer("max", "abc", { min: 1 }),
        /--max must be a whole number ≥ 1, got "abc"/,
      );
      assert.throws(
        () => mysqlUrl("mysql-url", "notaurl"),
        /must look like mysql:\/\/user:password@host:3306\//,
      );
      assert.throws(
        () => mysqlUrl("mysql-url", "x", "MYSQL_URL"),
        /^UsageError: MYSQL_URL \(for --mysql-url\)/,
      );
    });
  });

  describe("the commands (child processes)", () => {
    for (const { script, spec } of COMMANDS) {
      it(`${script} --help: the help on stdout, exit 0, nothing started`, async () => {
        const started = Date.now();
        const { code, stdout, stderr } = await run(script, ["--help"]);
        assert.equal(code, 0, stderr);
        assert.equal(stdout, helpText(spec));
        assert.equal(stderr, "");
        assert.ok(Date.now() - started < 60_000, "help does not run the command");
      });
    }

    it("unknown flags and bad values: exit 2 and one line naming the fix", async () => {
      const cases: [string, string[], RegExp][] = [
        ["offline/plan.ts", ["--bogus"], /^plan: unknown option --bogus \(see --help\)$/],
        ["offline/policy.ts", ["--stack", "prod", "--bogus"], /^policy: unknown option --bogus/],
        [
          "ops/redrive.ts",
          ["--dlq", "http://q/d", "--to", "http://q/s", "--max", "abc"],
          /^redrive: --max must be a whole number ≥ 1, got "abc"$/,
        ],
        [
          "ops/redrive.ts",
          ["--dlq=http://q/d"],
          /^redrive: missing --to: the source queue's URL \(see --help\)$/,
        ],
        ["ops/redrive.ts", ["--bogus"], /^redrive: unknown option --bogus/],
        [
          "local/start.ts",
          ["--orders", "many"],
          /^npm start: --orders must be a whole number ≥ 1, got "many"$/,
        ],
        [
          "local/start.ts",
          ["--stack=nope"],
          /^npm start: cannot read stack file .*Pulumi\.nope\.yaml/,
        ],
        ["bench/run.ts", ["--quik"], /^bench: unknown option --quik — did you mean --quick\?/],
        ["bench/bundle-sizes.ts", ["--bogus"], /^bundle:sizes: unknown option --bogus/],
      ];
      // Two at a time (2 cores).
      for (let i = 0; i < cases.length; i += 2) {
        await Promise.all(
          cases.slice(i, i + 2).map(async ([script, args, pattern]) => {
            const { code, stdout, stderr } = await run(script, args);
            assert.equal(code, 2, `${script} ${args.join(" ")}: ${stderr}`);
            assert.equal(stdout, "");
            assertOneLine(stderr, pattern);
          }),
        );
      }
    });
  });
});
