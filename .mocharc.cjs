// One mocha run for every suite: offline-engine (Pulumi mocks), SQL on a private MariaDB,
// handlers on an in-process SQS server. The global fixture starts MariaDB once (or uses MYSQL_URL).
// The machine runs Node 20; the AWS SDK's notice that releases after January 2027 need Node 22
// is known (the lockfile pins today's SDK; Lambda runs nodejs24.x) and would repeat in every run.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

// `npx mocha test/sql` runs just that folder: mocha appends CLI specs to the config's, so the
// default list applies only when no spec is named on the command line.
const namedSpecs = process.argv.slice(2).filter((arg) => /^test\//.test(arg));
const defaultSpec = ["test/**/*.test.ts"];

module.exports = {
  require: ["tsx/cjs", "test/support/global-fixtures.ts"],
  spec: namedSpecs.length > 0 ? [] : defaultSpec,
  extension: ["ts"],
  recursive: true,
  timeout: 60000,
  slow: 5000,
  reporter: "spec",
  exit: true,
};
