import { strict as assert } from "assert";
import {
  joinTypes,
  mirrorType,
  parseColumnType,
  SchemaConflictError,
  toSqlValue,
  typeSql,
  ValueError,
} from "../../dc/types";
import { classifyDbError, sqsErrorInfo } from "../../dc/errors";

const join = (a: string, b: string) => {
  const j = joinTypes(parseColumnType(a), parseColumnType(b));
  return j && typeSql(j);
};

describe("DC column types", () => {
  it("mirrors MySQL/MariaDB COLUMN_TYPE strings, normalised", () => {
    const cases: [string, string][] = [
      ["int(11)", "int"],
      ["int(10) unsigned", "int unsigned"],
      ["bigint(20) unsigned", "bigint unsigned"],
      ["tinyint(1)", "tinyint(1)"],
      ["smallint(5) unsigned zerofill", "smallint unsigned"],
      ["decimal(65,30)", "decimal(65,30)"],
      ["decimal(26,8) unsigned", "decimal(26,8) unsigned"],
      ["double", "double"],
      ["float", "float"],
      ["bit(3)", "bit(3)"],
      ["char(36)", "char(36)"],
      ["varchar(255)", "varchar(255)"],
      ["mediumtext", "mediumtext"],
      ["varbinary(16)", "varbinary(16)"],
      ["binary(16)", "binary(16)"],
      ["longblob", "longblob"],
      ["enum('new','paid','it''s')", "enum('new','paid','it''s')"],
      ["set('a','b')", "set('a','b')"],
      ["datetime(6)", "datetime(6)"],
      ["timestamp(6)", "timestamp(6)"],
      ["timestamp", "timestamp"],
      ["time(3)", "time(3)"],
      ["date", "date"],
      ["year(4)", "year"],
      ["json", "json"],
      ["point", "point"],
      ["uuid", "char(36)"],
      ["inet6", "varchar(45)"],
    ];
    for (const [source, dc] of cases) assert.equal(mirrorType(source), dc, source);
  });

  it("refuses anything that is not a column type (no SQL can ride on a type string)", () => {
    for (const bad of [
      "int; DROP TABLE x",
      "varchar(10) CHARACTER SET latin1",
      "enum('a') DEFAULT 'x'",
      "enum('a'",
      "int) ENGINE=MyISAM (",
      "vector(3)",
      "",
    ]) {
      assert.throws(() => mirrorType(bad), SchemaConflictError, bad);
    }
  });

  it("widens only where every stored and new value stays exact", () => {
    // DC already holds the new source type: nothing to do (a narrowing source never shrinks it).
    assert.equal(join("bigint", "int"), "bigint");
    assert.equal(join("varchar(255)", "varchar(100)"), "varchar(255)");
    assert.equal(join("decimal(20,6)", "decimal(10,2)"), "decimal(20,6)");
    // Widening.
    assert.equal(join("int", "bigint"), "bigint");
    assert.equal(join("int unsigned", "int"), "bigint");
    assert.equal(join("bigint unsigned", "bigint"), "decimal(20,0)");
    assert.equal(join("int", "decimal(12,2)"), "decimal(12,2)");
    assert.equal(join("decimal(10,2)", "decimal(12,4)"), "decimal(12,4)");
    assert.equal(join("varchar(50)", "varchar(100)"), "varchar(100)");
    assert.equal(join("varchar(100)", "text"), "text");
    assert.equal(join("char(10)", "varchar(20)"), "varchar(20)");
    assert.equal(join("enum('a','b')", "enum('a','b','c')"), "enum('a','b','c')");
    assert.equal(join("enum('a','b')", "enum('a','c')"), "enum('a','b','c')");
    assert.equal(join("varbinary(16)", "varbinary(64)"), "varbinary(64)");
    assert.equal(join("datetime", "datetime(6)"), "datetime(6)");
    assert.equal(join("float", "double"), "double");
    assert.equal(join("bit(1)", "bit(8)"), "bit(8)");
    assert.equal(join("longtext", "json"), "longtext", "MariaDB reports JSON as LONGTEXT");
    // No exact common type: reported, never converted.
    for (const [a, b] of [
      ["int", "varchar(10)"],
      ["varchar(10)", "int"],
      ["date", "datetime"],
      ["binary(16)", "binary(20)"],
      ["bigint", "double"],
      ["json", "int"],
      ["decimal(65,30)", "decimal(40,0)"],
    ]) {
      assert.equal(join(a!, b!), undefined, `${a} + ${b}`);
    }
  });

  it("converts relayed values exactly, naming the column (never the value) when one does not fit", () => {
    const t = parseColumnType;
    assert.equal(
      toSqlValue(t("bigint unsigned"), "18446744073709551615", "id"),
      "18446744073709551615",
    );
    assert.equal(toSqlValue(t("decimal(65,30)"), "-1.5", "d"), "-1.5");
    assert.equal(
      toSqlValue(t("timestamp(6)"), "2026-11-23T01:02:03.456789Z", "t"),
      "2026-11-23 01:02:03.456789",
    );
    assert.equal(
      toSqlValue(t("datetime(6)"), "2026-11-23 01:02:03.456789", "t"),
      "2026-11-23 01:02:03.456789",
    );
    assert.deepEqual(
      toSqlValue(t("varbinary(4)"), { $base64: "/wCA" }, "b"),
      Buffer.from([0xff, 0, 0x80]),
    );
    assert.equal(toSqlValue(t("json"), { a: [1, "🍣"] }, "j"), '{"a":[1,"🍣"]}');
    assert.equal(toSqlValue(t("varchar(5)"), "", "s"), "");
    assert.equal(toSqlValue(t("varchar(5)"), null, "s"), null);
    for (const [type, value] of [
      ["int", "12abc"],
      ["int", 1.5],
      ["decimal(5,2)", { x: 1 }],
      ["varbinary(4)", "plain text"],
      ["varbinary(4)", { $base64: "not base64!" }],
      ["date", 20261123],
    ] as const) {
      assert.throws(
        () => toSqlValue(t(type), value, "secret_col"),
        (e: unknown) =>
          e instanceof ValueError &&
          /column secret_col/.test(e.message) &&
          !e.message.includes(String(value)),
      );
    }
  });
});

describe("DC error classification", () => {
  const e = (errno: number, code: string, sqlState = "HY000") =>
    Object.assign(new Error("x"), { errno, code, sqlState });
  it("only the message's own faults count towards the DLQ", () => {
    assert.equal(classifyDbError(e(1406, "ER_DATA_TOO_LONG", "22001")), "message");
    assert.equal(classifyDbError(e(1366, "ER_TRUNCATED_WRONG_VALUE_FOR_FIELD")), "message");
    assert.equal(classifyDbError(e(4025, "ER_CONSTRAINT_FAILED", "23000")), "message");
    assert.equal(classifyDbError(new ValueError("column x")), "message");
    assert.equal(classifyDbError(e(1290, "ER_OPTION_PREVENTS_STATEMENT")), "unavailable");
    assert.equal(classifyDbError(e(1836, "ER_READ_ONLY_MODE")), "unavailable");
    assert.equal(classifyDbError(e(1142, "ER_TABLEACCESS_DENIED_ERROR", "42000")), "unavailable");
    assert.equal(classifyDbError(e(1114, "ER_RECORD_FILE_FULL")), "unavailable");
    assert.equal(classifyDbError(e(1021, "ER_DISK_FULL")), "unavailable");
    assert.equal(classifyDbError(e(1205, "ER_LOCK_WAIT_TIMEOUT")), "retry");
    assert.equal(classifyDbError(e(1213, "ER_LOCK_DEADLOCK", "40001")), "retry");
    assert.equal(classifyDbError(e(1045, "ER_ACCESS_DENIED_ERROR", "28000")), "credentials");
    assert.equal(classifyDbError(e(1049, "ER_BAD_DB_ERROR", "42000")), "credentials");
    assert.equal(
      classifyDbError(Object.assign(new Error("x"), { code: "ECONNREFUSED", fatal: true })),
      "unavailable",
    );
    assert.equal(
      classifyDbError(e(9999, "ER_SOMETHING_NEW")),
      "unavailable",
      "unknown: hold, never DLQ",
    );
  });

  it("labels SQS failures as SQS", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), {
      code: "ECONNREFUSED",
    });
    assert.match(
      sqsErrorInfo("ReceiveMessage", refused).message,
      /^SQS endpoint unreachable \(ECONNREFUSED\)/,
    );
    const denied = Object.assign(new Error("denied"), {
      name: "AccessDenied",
      $metadata: { httpStatusCode: 403 },
    });
    assert.match(sqsErrorInfo("ReceiveMessage", denied).message, /SQS refused the AWS credentials/);
  });
});
