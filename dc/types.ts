/**
 * MySQL column types at the DC: what a source column's `COLUMN_TYPE` (from a SCHEMA record)
 * becomes in a mirror table, whether a type change can be followed safely, and how a relayed
 * value (contract/envelope.ts `RelayValue`) is written exactly.
 *
 * - `parseColumnType` accepts only the grammar of information_schema COLUMN_TYPE for known
 *   types, so a type string can never inject SQL into the DDL built from it; anything else is
 *   a `SchemaConflictError` (the SCHEMA message goes to the DLQ, reported clearly).
 * - The mirror type is the source type, normalised (display widths and ZEROFILL dropped: they
 *   change how a client shows a number, not which numbers exist; MariaDB's UUID/INET4/INET6
 *   become CHAR/VARCHAR so a MySQL DC can hold them). Character columns are utf8mb4 (the
 *   table default), which holds every character of any source character set.
 * - `joinTypes(dc, source)` is the smallest type holding every value of both: equal to `dc`
 *   when the DC already holds the new source type (nothing to do: a source that narrows a
 *   column never shrinks the DC's), wider when the DC must widen (ALTER TABLE … MODIFY), and
 *   `undefined` when no type holds both exactly (e.g. INT → VARCHAR, DATE → DATETIME, a
 *   binary column of another fixed length): the DC never converts stored values lossily.
 */

/** A SCHEMA record or a row the DC cannot apply safely; the message goes to the DLQ. */
export class SchemaConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SchemaConflictError";
  }
}

/** A value that does not fit its column's relayed form (the message is at fault). */
export class ValueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ValueError";
  }
}

export type ColumnType =
  | { kind: "int"; bits: 8 | 16 | 24 | 32 | 64; unsigned: boolean; bool: boolean }
  | { kind: "decimal"; precision: number; scale: number; unsigned: boolean }
  | { kind: "float" | "double"; unsigned: boolean }
  | { kind: "bit"; length: number }
  | { kind: "char" | "varchar"; length: number }
  | { kind: "text"; bytes: number }
  | { kind: "binary" | "varbinary"; length: number }
  | { kind: "blob"; bytes: number }
  | { kind: "enum" | "set"; values: string[] }
  | { kind: "date" | "year" }
  | { kind: "datetime" | "timestamp" | "time"; fsp: number }
  | { kind: "json" }
  | { kind: "spatial"; name: string };

const INT_BITS: Record<string, 8 | 16 | 24 | 32 | 64> = {
  tinyint: 8,
  smallint: 16,
  mediumint: 24,
  int: 32,
  integer: 32,
  bigint: 64,
};
const INT_NAMES: Record<number, string> = {
  8: "tinyint",
  16: "smallint",
  24: "mediumint",
  32: "int",
  64: "bigint",
};
const TEXT_BYTES: Record<string, number> = {
  tinytext: 255,
  text: 65_535,
  mediumtext: 16_777_215,
  longtext: 4_294_967_295,
};
const BLOB_BYTES: Record<string, number> = {
  tinyblob: 255,
  blob: 65_535,
  mediumblob: 16_777_215,
  longblob: 4_294_967_295,
};
const SPATIAL = new Set([
  "geometry",
  "point",
  "linestring",
  "polygon",
  "multipoint",
  "multilinestring",
  "multipolygon",
  "geometrycollection",
  "geomcollection",
]);
/** A VARCHAR this long (utf8mb4: 4 bytes a character) still fits a row; longer → TEXT types. */
const MAX_VARCHAR = 16_383;
const MAX_DECIMAL_PRECISION = 65;
const MAX_DECIMAL_SCALE = 30;

/** Parses the values of `enum('a','b''c')` / `set(...)`; undefined if not exactly that form. */
function parseValueList(list: string): string[] | undefined {
  const values: string[] = [];
  let i = 0;
  for (;;) {
    if (list[i] !== "'") return undefined;
    i++;
    let value = "";
    for (;;) {
      if (i >= list.length) return undefined;
      const c = list[i]!;
      if (c === "'" && list[i + 1] === "'") {
        value += "'";
        i += 2;
      } else if (c === "'") {
        i++;
        break;
      } else if (c === "\\" && i + 1 < list.length) {
        const next = list[i + 1]!;
        value += next === "0" ? "\0" : next === "n" ? "\n" : next === "t" ? "\t" : next;
        i += 2;
      } else {
        value += c;
        i++;
      }
    }
    values.push(value);
    if (i === list.length) return values;
    if (list[i] !== ",") return undefined;
    i++;
  }
}

/** Parses an information_schema COLUMN_TYPE; throws SchemaConflictError for anything else. */
export function parseColumnType(columnType: string): ColumnType {
  const text = columnType.trim();
  const lower = text.toLowerCase();
  const fail = (why = "is not a MySQL column type the DC knows"): never => {
    throw new SchemaConflictError(`type ${JSON.stringify(columnType.slice(0, 80))} ${why}`);
  };
  const enumMatch = /^(enum|set)\((.*)\)$/is.exec(text);
  if (enumMatch) {
    const values = parseValueList(enumMatch[2]!);
    if (!values || values.length === 0) fail("has a value list the DC cannot read");
    const kind = enumMatch[1]!.toLowerCase() as "enum" | "set";
    if (kind === "set" && values!.length > 64) fail("has more than 64 SET members");
    return { kind, values: values! };
  }
  let m =
    /^(tinyint|smallint|mediumint|int|integer|bigint)(?:\((\d+)\))?( unsigned)?( zerofill)?$/.exec(
      lower,
    );
  if (m) {
    return {
      kind: "int",
      bits: INT_BITS[m[1]!]!,
      // ZEROFILL implies UNSIGNED.
      unsigned: Boolean(m[3] || m[4]),
      bool: m[1] === "tinyint" && m[2] === "1" && !m[3] && !m[4],
    };
  }
  if (lower === "bool" || lower === "boolean")
    return { kind: "int", bits: 8, unsigned: false, bool: true };
  m = /^(decimal|numeric|dec|fixed)(?:\((\d+)(?:,\s*(\d+))?\))?( unsigned)?( zerofill)?$/.exec(
    lower,
  );
  if (m) {
    const precision = m[2] === undefined ? 10 : Number(m[2]);
    const scale = m[3] === undefined ? 0 : Number(m[3]);
    if (
      precision < 1 ||
      precision > MAX_DECIMAL_PRECISION ||
      scale > MAX_DECIMAL_SCALE ||
      scale > precision
    )
      fail("has a precision/scale MySQL does not accept");
    return { kind: "decimal", precision, scale, unsigned: Boolean(m[4] || m[5]) };
  }
  m =
    /^(float|double|double precision|real)(?:\((\d+)(?:,\s*\d+)?\))?( unsigned)?( zerofill)?$/.exec(
      lower,
    );
  if (m) {
    const single = m[1] === "float" && (m[2] === undefined || Number(m[2]) <= 24);
    return { kind: single ? "float" : "double", unsigned: Boolean(m[3] || m[4]) };
  }
  m = /^bit(?:\((\d+)\))?$/.exec(lower);
  if (m) {
    const length = m[1] === undefined ? 1 : Number(m[1]);
    if (length < 1 || length > 64) fail("has a BIT length outside 1..64");
    return { kind: "bit", length };
  }
  m = /^(char|varchar|binary|varbinary)(?:\((\d+)\))?$/.exec(lower);
  if (m) {
    const kind = m[1] as "char" | "varchar" | "binary" | "varbinary";
    if (m[2] === undefined && (kind === "varchar" || kind === "varbinary")) fail("has no length");
    return { kind, length: m[2] === undefined ? 1 : Number(m[2]) };
  }
  if (lower in TEXT_BYTES) return { kind: "text", bytes: TEXT_BYTES[lower]! };
  if (lower in BLOB_BYTES) return { kind: "blob", bytes: BLOB_BYTES[lower]! };
  if (lower === "date") return { kind: "date" };
  if (/^year(\(4\))?$/.test(lower)) return { kind: "year" };
  m = /^(datetime|timestamp|time)(?:\(([0-6])\))?$/.exec(lower);
  if (m) return { kind: m[1] as "datetime" | "timestamp" | "time", fsp: Number(m[2] ?? 0) };
  if (lower === "json") return { kind: "json" };
  if (SPATIAL.has(lower))
    return { kind: "spatial", name: lower === "geomcollection" ? "geometrycollection" : lower };
  // MariaDB's own types, as text a MySQL DC holds exactly.
  if (lower === "uuid") return { kind: "char", length: 36 };
  if (lower === "inet4") return { kind: "varchar", length: 15 };
  if (lower === "inet6") return { kind: "varchar", length: 45 };
  return fail();
}

function quoteValue(value: string): string {
  return `'${value.replace(/\\/g, "\\\\").replace(/'/g, "''").replace(/\0/g, "\\0")}'`;
}

/** The DDL text of a type (also the normal form two types are compared in). */
export function typeSql(type: ColumnType): string {
  switch (type.kind) {
    case "int":
      return type.bool
        ? "tinyint(1)"
        : `${INT_NAMES[type.bits]}${type.unsigned ? " unsigned" : ""}`;
    case "decimal":
      return `decimal(${type.precision},${type.scale})${type.unsigned ? " unsigned" : ""}`;
    case "float":
    case "double":
      return `${type.kind}${type.unsigned ? " unsigned" : ""}`;
    case "bit":
      return `bit(${type.length})`;
    case "char":
    case "varchar":
    case "binary":
    case "varbinary":
      return `${type.kind}(${type.length})`;
    case "text":
      return Object.keys(TEXT_BYTES).find((k) => TEXT_BYTES[k] === type.bytes)!;
    case "blob":
      return Object.keys(BLOB_BYTES).find((k) => BLOB_BYTES[k] === type.bytes)!;
    case "enum":
    case "set":
      return `${type.kind}(${type.values.map(quoteValue).join(",")})`;
    case "date":
    case "year":
    case "json":
      return type.kind;
    case "datetime":
    case "timestamp":
    case "time":
      return type.fsp > 0 ? `${type.kind}(${type.fsp})` : type.kind;
    case "spatial":
      return type.name;
  }
}

/** The mirror type of a source COLUMN_TYPE (validated, normalised DDL text). */
export function mirrorType(columnType: string): string {
  return typeSql(parseColumnType(columnType));
}

/** Decimal digits of the largest magnitude an integer type holds. */
function intDigits(type: { bits: number; unsigned: boolean }): number {
  const max = type.unsigned ? 2n ** BigInt(type.bits) - 1n : 2n ** BigInt(type.bits - 1);
  return max.toString().length;
}

type Chars = { chars: number; bytes: number };
/** What a character type holds, in characters and in bytes (utf8mb4: up to 4 per character). */
function charCapacity(type: ColumnType): Chars | undefined {
  switch (type.kind) {
    case "char":
    case "varchar":
      return { chars: type.length, bytes: type.length * 4 };
    case "text":
      return { chars: type.bytes, bytes: type.bytes };
    case "enum": {
      const longest = Math.max(...type.values.map((v) => [...v].length));
      return { chars: longest, bytes: longest * 4 };
    }
    case "set": {
      const all = type.values.reduce((n, v) => n + [...v].length, 0) + type.values.length - 1;
      return { chars: all, bytes: all * 4 };
    }
    default:
      return undefined;
  }
}

function textFor(need: Chars): ColumnType {
  if (need.chars <= MAX_VARCHAR && need.bytes <= MAX_VARCHAR * 4)
    return { kind: "varchar", length: need.chars };
  const bytes = Math.max(need.chars, need.bytes);
  const fit = Object.values(TEXT_BYTES).find((b) => b >= bytes) ?? TEXT_BYTES.longtext!;
  return { kind: "text", bytes: fit };
}

function binaryBytes(type: ColumnType): number | undefined {
  if (type.kind === "binary" || type.kind === "varbinary") return type.length;
  if (type.kind === "blob") return type.bytes;
  return undefined;
}

function union(a: readonly string[], b: readonly string[]): string[] {
  return [...a, ...b.filter((v) => !a.includes(v))];
}

/**
 * The smallest type that holds every value of `a` and of `b` exactly, or undefined when none
 * does (the change cannot be followed safely). `joinTypes(a, b)` equal to `a` means `a` already
 * holds `b`.
 */
export function joinTypes(a: ColumnType, b: ColumnType): ColumnType | undefined {
  if (typeSql(a) === typeSql(b)) return a;
  // Numbers.
  if (a.kind === "int" && b.kind === "int") {
    if (a.unsigned === b.unsigned) {
      const bits = Math.max(a.bits, b.bits) as 8 | 16 | 24 | 32 | 64;
      return { kind: "int", bits, unsigned: a.unsigned, bool: a.bool && b.bool };
    }
    const signed = a.unsigned ? b : a;
    const unsigned = a.unsigned ? a : b;
    const need = Math.max(signed.bits, unsigned.bits + 8);
    const bits = ([8, 16, 24, 32, 64] as const).find((n) => n >= need);
    if (bits) return { kind: "int", bits, unsigned: false, bool: false };
    return { kind: "decimal", precision: 20, scale: 0, unsigned: false };
  }
  const asDecimal = (t: ColumnType) =>
    t.kind === "decimal"
      ? { digits: t.precision - t.scale, scale: t.scale, unsigned: t.unsigned }
      : t.kind === "int"
        ? { digits: intDigits(t), scale: 0, unsigned: t.unsigned }
        : undefined;
  if ((a.kind === "decimal" || b.kind === "decimal") && asDecimal(a) && asDecimal(b)) {
    const x = asDecimal(a)!;
    const y = asDecimal(b)!;
    const scale = Math.max(x.scale, y.scale);
    const precision = Math.max(x.digits, y.digits) + scale;
    if (precision > MAX_DECIMAL_PRECISION || scale > MAX_DECIMAL_SCALE) return undefined;
    return { kind: "decimal", precision, scale, unsigned: x.unsigned && y.unsigned };
  }
  const floating = (t: ColumnType) => t.kind === "float" || t.kind === "double";
  if (floating(a) || floating(b)) {
    if (!(floating(a) || a.kind === "int") || !(floating(b) || b.kind === "int")) return undefined;
    // FLOAT holds integers of up to 24 bits exactly, DOUBLE of up to 53 (INT, not BIGINT).
    const bits = (t: ColumnType) =>
      t.kind === "float" ? 24 : t.kind === "double" ? 53 : t.kind === "int" ? t.bits : 99;
    const need = Math.max(bits(a), bits(b));
    if (need <= 24 && a.kind !== "double" && b.kind !== "double")
      return { kind: "float", unsigned: false };
    if (need <= 53) return { kind: "double", unsigned: false };
    return undefined;
  }
  if (a.kind === "bit" && b.kind === "bit")
    return { kind: "bit", length: Math.max(a.length, b.length) };
  // Text. CHAR strips trailing spaces on read, so only CHAR holds CHAR's values unchanged…
  // and CHAR cannot hold a VARCHAR's trailing spaces: CHAR + VARCHAR → VARCHAR.
  if (a.kind === "char" && b.kind === "char")
    return { kind: "char", length: Math.max(a.length, b.length) };
  if ((a.kind === "enum" && b.kind === "enum") || (a.kind === "set" && b.kind === "set")) {
    const values = union(a.values, b.values);
    if (a.kind === "enum" || values.length <= 64) return { kind: a.kind, values };
    const chars = values.reduce((n, v) => n + [...v].length, 0) + values.length - 1;
    return textFor({ chars, bytes: chars * 4 });
  }
  const ca = charCapacity(a);
  const cb = charCapacity(b);
  if (ca && cb) {
    const need = { chars: Math.max(ca.chars, cb.chars), bytes: Math.max(ca.bytes, cb.bytes) };
    if (a.kind === "text" && need.bytes <= a.bytes && need.chars <= a.bytes) return a;
    if (a.kind === "varchar" && need.chars <= a.length) return a;
    return textFor(need);
  }
  // Binary. BINARY pads with 0x00, so it holds only BINARY of its own length.
  const ba = binaryBytes(a);
  const bb = binaryBytes(b);
  if (ba !== undefined && bb !== undefined) {
    if (a.kind === "binary" && b.kind === "binary") return undefined; // lengths differ
    const bytes = Math.max(ba, bb);
    if (a.kind !== "binary" && ba >= bytes) return a;
    if (bytes <= 65_532 && a.kind !== "blob" && b.kind !== "blob")
      return { kind: "varbinary", length: bytes };
    const fit = Object.values(BLOB_BYTES).find((n) => n >= bytes)!;
    return { kind: "blob", bytes: fit };
  }
  // Time.
  const fsp = (t: ColumnType) => ("fsp" in t ? t.fsp : 0);
  if (a.kind === b.kind && (a.kind === "datetime" || a.kind === "timestamp" || a.kind === "time"))
    return { kind: a.kind, fsp: Math.max(fsp(a), fsp(b)) };
  // TIMESTAMP travels as UTC: a DATETIME at the DC holds it exactly (as UTC).
  if (
    (a.kind === "datetime" && b.kind === "timestamp") ||
    (a.kind === "timestamp" && b.kind === "datetime")
  )
    return { kind: "datetime", fsp: Math.max(fsp(a), fsp(b)) };
  if (a.kind === "spatial" && b.kind === "spatial") return { kind: "spatial", name: "geometry" };
  // MariaDB's JSON is LONGTEXT (information_schema says so): it holds any JSON document.
  if (a.kind === "text" && a.bytes === TEXT_BYTES.longtext && b.kind === "json") return a;
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Values

const INTEGER_TEXT = /^-?\d+$/;
const DECIMAL_TEXT = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;
const ISO_UTC = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?)Z$/;

function isBinaryValue(value: unknown): value is { $base64: string } {
  return (
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    Object.keys(value).length === 1 &&
    typeof (value as { $base64?: unknown }).$base64 === "string"
  );
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function bytesOf(value: { $base64: string }, column: string): Buffer {
  if (!BASE64.test(value.$base64) || value.$base64.length % 4 !== 0)
    throw new ValueError(`column ${column}: $base64 is not base64`);
  return Buffer.from(value.$base64, "base64");
}

/**
 * The SQL parameter for a relayed value in a column of DC type `type` (mysql2 escapes it: a
 * Buffer becomes X'…', a string a quoted literal). Exact: numbers beyond 2^53 and DECIMALs stay
 * decimal text, TIMESTAMPs are written as UTC (every DC session runs with time_zone '+00:00').
 * Throws ValueError (naming the column, never the value) when the value cannot be that type.
 */
export function toSqlValue(type: ColumnType, value: unknown, column: string): unknown {
  if (value === null || value === undefined) return null;
  const bad = (form: string): never => {
    throw new ValueError(`column ${column}: expected ${form} for ${typeSql(type)}`);
  };
  switch (type.kind) {
    case "int":
      if (typeof value === "boolean") return value ? 1 : 0;
      if (typeof value === "number") return Number.isInteger(value) ? value : bad("an integer");
      if (typeof value === "string" && INTEGER_TEXT.test(value)) return value;
      return bad("an integer (number or decimal text)");
    case "decimal":
    case "float":
    case "double":
      if (typeof value === "number") return Number.isFinite(value) ? value : bad("a finite number");
      if (typeof value === "string" && DECIMAL_TEXT.test(value)) return value;
      return bad("a number or decimal text");
    case "bit":
      if (isBinaryValue(value)) return bytesOf(value, column);
      if (typeof value === "number" && Number.isInteger(value) && value >= 0) return value;
      if (typeof value === "boolean") return value ? 1 : 0;
      return bad('{"$base64"}');
    case "binary":
    case "varbinary":
    case "blob":
    case "spatial":
      if (isBinaryValue(value)) return bytesOf(value, column);
      return bad('{"$base64"}');
    case "char":
    case "varchar":
    case "text":
    case "enum":
    case "set":
      if (typeof value === "string") return value;
      if (typeof value === "number" || typeof value === "boolean") return String(value);
      // A JSON document relayed from a MariaDB JSON (LONGTEXT) column.
      if (typeof value === "object") return JSON.stringify(value);
      return bad("text");
    case "json":
      return JSON.stringify(value);
    case "date":
    case "time":
      if (typeof value === "string") return value;
      return bad("text as MySQL writes it");
    case "year":
      if (typeof value === "number" || (typeof value === "string" && /^\d{1,4}$/.test(value)))
        return value;
      return bad("a year");
    case "datetime":
    case "timestamp": {
      if (typeof value !== "string") return bad("text (TIMESTAMP as UTC ISO-8601)");
      const iso = ISO_UTC.exec(value);
      return iso ? `${iso[1]} ${iso[2]}` : value;
    }
  }
}
