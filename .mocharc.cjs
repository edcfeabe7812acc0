// One mocha run for every suite: offline-engine (Pulumi mocks), SQL on a private MariaDB,
// handlers on an in-process SQS server. The global fixture starts MariaDB once (or uses MYSQL_URL).
module.exports = {
  require: ["tsx/cjs", "test/support/global-fixtures.ts"],
  spec: ["test/**/*.test.ts"],
  timeout: 60000,
  slow: 5000,
  reporter: "spec",
  exit: true,
};
