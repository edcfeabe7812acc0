/**
 * Which failures are the message's fault and which are the DC's — the one decision that keeps a
 * DC outage from moving good messages to the DLQ.
 *
 * - `message`: the message itself cannot be applied (a value the column rejects in strict mode,
 *   a type change the DC cannot follow, invalid JSON…). Only these are left for SQS's redrive
 *   policy, i.e. count towards the DLQ.
 * - `retry`: a lock wait timeout or deadlock: the same batch is retried at once (short backoff).
 * - `unavailable`: the DC database cannot take writes right now — read-only (failover,
 *   maintenance), privileges revoked, disk or tablespace full, out of memory, too many
 *   connections, server shutting down, connection lost or refused. The consumer keeps its batch
 *   (visibility extended, receive counts untouched), stops receiving and retries with backoff.
 * - `credentials`: the server refused the login (wrong password, user gone) or the database does
 *   not exist. At start-up this stops the consumer with one line; later it is an outage (logged
 *   once, then retried with backoff — a rotated password is fixed without a restart).
 * - `stale-schema`: a mirror table or column the consumer believed in is gone; its cache is
 *   reloaded and the batch retried.
 * Unknown server errors count as `unavailable`: holding a batch is recoverable, losing good
 * messages to the DLQ is what issue 13 measured and forbids.
 */
import { SchemaConflictError, ValueError } from "./types";

export type DbErrorKind = "message" | "retry" | "unavailable" | "credentials" | "stale-schema";

/** MySQL/MariaDB server errors (errno) caused by the data or DDL a message carries. */
const MESSAGE_ERRNOS = new Set([
  1048, // ER_BAD_NULL_ERROR
  1059, // ER_TOO_LONG_IDENT
  1063, // ER_WRONG_FIELD_SPEC
  1064, // ER_PARSE_ERROR (a type the server does not know)
  1067, // ER_INVALID_DEFAULT
  1071, // ER_TOO_LONG_KEY
  1074, // ER_TOO_BIG_FIELDLENGTH
  1103, // ER_WRONG_TABLE_NAME
  1117, // ER_TOO_MANY_FIELDS
  1118, // ER_TOO_BIG_ROWSIZE
  1166, // ER_WRONG_COLUMN_NAME
  1170, // ER_BLOB_KEY_WITHOUT_LENGTH
  1264, // ER_WARN_DATA_OUT_OF_RANGE
  1265, // WARN_DATA_TRUNCATED
  1291, // ER_DUPLICATED_VALUE_IN_TYPE
  1292, // ER_TRUNCATED_WRONG_VALUE
  1300, // ER_INVALID_CHARACTER_STRING
  1366, // ER_TRUNCATED_WRONG_VALUE_FOR_FIELD
  1367, // ER_ILLEGAL_VALUE_FOR_TYPE
  1406, // ER_DATA_TOO_LONG
  1411, // ER_WRONG_VALUE_FOR_TYPE
  1416, // ER_CANT_CREATE_GEOMETRY_OBJECT
  1439, // ER_TOO_BIG_DISPLAYWIDTH
  1441, // ER_DATETIME_FUNCTION_OVERFLOW
  1690, // ER_DATA_OUT_OF_RANGE
  3140, // ER_INVALID_JSON_TEXT
  3141, // ER_INVALID_JSON_TEXT_IN_PARAM
  3146, // ER_INVALID_JSON_VALUE_FOR_CAST
  3819, // ER_CHECK_CONSTRAINT_VIOLATED (MySQL)
  4025, // ER_CONSTRAINT_FAILED (MariaDB: JSON_VALID check of a JSON column)
  4078, // ER_ILLEGAL_PARAMETER_DATA_TYPES2_FOR_OPERATION (MariaDB)
]);

const RETRY_ERRNOS = new Set([
  1205, // ER_LOCK_WAIT_TIMEOUT
  1213, // ER_LOCK_DEADLOCK
  1020, // ER_CHECKREAD (record changed since last read)
  1637, // ER_TOO_MANY_CONCURRENT_TRXS
]);

const CREDENTIAL_ERRNOS = new Set([
  1045, // ER_ACCESS_DENIED_ERROR (wrong password / unknown user)
  1049, // ER_BAD_DB_ERROR (unknown database)
  1044, // ER_DBACCESS_DENIED_ERROR (no access to the database)
  1698, // ER_ACCESS_DENIED_NO_PASSWORD_ERROR
  1862, // ER_MUST_CHANGE_PASSWORD_LOGIN
  4151, // ER_ACCOUNT_HAS_BEEN_LOCKED (MySQL)
]);

const STALE_SCHEMA_ERRNOS = new Set([
  1146, // ER_NO_SUCH_TABLE
  1054, // ER_BAD_FIELD_ERROR
]);

interface MysqlishError {
  code?: string;
  errno?: number;
  sqlState?: string;
  fatal?: boolean;
  message?: string;
}

function asMysql(error: unknown): MysqlishError | undefined {
  return typeof error === "object" && error !== null ? (error as MysqlishError) : undefined;
}

/** Classifies an error from writing to the DC database (or from preparing the write). */
export function classifyDbError(error: unknown): DbErrorKind {
  if (error instanceof ValueError || error instanceof SchemaConflictError) return "message";
  const e = asMysql(error);
  if (!e) return "unavailable";
  const errno = typeof e.errno === "number" ? e.errno : undefined;
  if (errno !== undefined) {
    if (CREDENTIAL_ERRNOS.has(errno)) return "credentials";
    if (RETRY_ERRNOS.has(errno)) return "retry";
    if (STALE_SCHEMA_ERRNOS.has(errno)) return "stale-schema";
    if (MESSAGE_ERRNOS.has(errno)) return "message";
    // SQLSTATE class 22 (data exception) and 23 (integrity constraint) are the data's fault.
    // Read-only (1290, 1836, 1792), privileges (1142, 1143, 1227, 1370), disk full (1021,
    // 1114, 3, 1030), memory (1037, 1041), connections (1040, 1203), shutdown (1053, 1927)…
    // are all `unavailable`, like anything unknown.
    if (e.sqlState && /^2[23]/.test(e.sqlState) && errno !== 1062) return "message";
  }
  return "unavailable";
}

/** A short label for an error from MySQL: the code and errno, never the message text (which
 * may quote a value: "Incorrect decimal value: '…' for column …"). */
export function dbErrorInfo(error: unknown): { service: "mysql"; code: string; errno?: number } {
  if (error instanceof ValueError || error instanceof SchemaConflictError) {
    return { service: "mysql", code: error.name };
  }
  const e = asMysql(error);
  return {
    service: "mysql",
    code: e?.code ?? (error instanceof Error ? error.name : "Error"),
    ...(typeof e?.errno === "number" ? { errno: e.errno } : {}),
  };
}

/** Why a message was rejected: our own errors carry safe text (column and type names only). */
export function messageErrorText(error: unknown): string {
  if (error instanceof ValueError || error instanceof SchemaConflictError) return error.message;
  const info = dbErrorInfo(error);
  return `MySQL rejected the write: ${info.code}${info.errno ? ` (${info.errno})` : ""}`;
}

/** What an SQS failure was, labelled as SQS (an unreachable endpoint is not a MySQL error). */
export function sqsErrorInfo(
  action: string,
  error: unknown,
): { service: "sqs"; action: string; code: string; httpStatus?: number; message: string } {
  const e = (typeof error === "object" && error !== null ? error : {}) as {
    name?: string;
    code?: string;
    Code?: string;
    message?: string;
    $metadata?: { httpStatusCode?: number };
  };
  const code = e.code ?? e.Code ?? e.name ?? "Error";
  const httpStatus = e.$metadata?.httpStatusCode;
  const network =
    /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|EPIPE|EHOSTUNREACH|ENETUNREACH|TimeoutError)$/.test(
      code,
    );
  const what = network
    ? "SQS endpoint unreachable"
    : /Credential|ExpiredToken|InvalidClientTokenId|SignatureDoesNotMatch|UnrecognizedClient|AccessDenied/i.test(
          code,
        )
      ? "SQS refused the AWS credentials or permissions"
      : /NonExistentQueue|QueueDoesNotExist/.test(code)
        ? "SQS queue does not exist"
        : `SQS ${action} failed`;
  return {
    service: "sqs",
    action,
    code,
    ...(httpStatus !== undefined ? { httpStatus } : {}),
    message: `${what} (${code}${httpStatus ? `, HTTP ${httpStatus}` : ""})`,
  };
}
