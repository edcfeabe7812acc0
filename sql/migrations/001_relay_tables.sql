-- Relay schema: the outbox, its settings and state. Idempotent (safe to re-run after a partial
-- failure). Valid on Aurora MySQL 3 (MySQL 8.0) and MariaDB 10.11.

-- order_data is the storefront's own table: never created or altered here (the runner creates
-- the seed schema for local runs only; see ORDER_DATA_SEED_SQL in sql/migrate.ts).

-- One row per inserted source row, written by the trigger in the order's own transaction.
-- row_json is text holding JSON built with JSON_OBJECT (not the JSON type: on MariaDB JSON is
-- LONGTEXT + a JSON_VALID check, on MySQL a binary re-encoding; plain text keeps the trigger cheap
-- and LENGTH(row_json) exact for the payload byte cap).
CREATE TABLE IF NOT EXISTS relay_outbox (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  source_table VARCHAR(64) NOT NULL DEFAULT 'order_data',
  row_id BIGINT NOT NULL,
  occurred_at DATETIME(3) NOT NULL COMMENT 'UTC',
  row_json MEDIUMTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  handed_off_at DATETIME(6) NULL COMMENT 'UTC; NULL = not yet handed to lambda_async',
  attempts INT UNSIGNED NOT NULL DEFAULT 0,
  last_attempt_at DATETIME(6) NULL,
  last_error VARCHAR(512) NULL,
  -- (handed_off_at, id): dispatch reads "handed_off_at IS NULL ORDER BY id" from this index.
  KEY relay_outbox_pending (handed_off_at),
  -- backfill: "has this order_data row an outbox row?"
  KEY relay_outbox_row (row_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

-- Settings written by the migration runner on every run; read by the procedures on every run,
-- so a change takes effect on the next dispatch/purge. Exactly one row (id = 1).
CREATE TABLE IF NOT EXISTS relay_settings (
  id TINYINT UNSIGNED NOT NULL PRIMARY KEY DEFAULT 1,
  function_arn VARCHAR(2048) NOT NULL,
  region VARCHAR(64) NOT NULL,
  batch_size INT UNSIGNED NOT NULL DEFAULT 100,
  max_payload_bytes INT UNSIGNED NOT NULL DEFAULT 200000,
  dispatch_max_batches INT UNSIGNED NOT NULL DEFAULT 200,
  dispatch_max_ms INT UNSIGNED NOT NULL DEFAULT 900,
  retention_hours DECIMAL(16, 6) NOT NULL DEFAULT 24,
  purge_interval_minutes INT UNSIGNED NOT NULL DEFAULT 5,
  purge_batch_size INT UNSIGNED NOT NULL DEFAULT 1000,
  purge_max_ms INT UNSIGNED NOT NULL DEFAULT 5000,
  updated_at DATETIME(6) NOT NULL,
  CONSTRAINT relay_settings_single_row CHECK (id = 1)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

-- What the procedures did last (one row, id = 1): for operators, alarms and tests.
CREATE TABLE IF NOT EXISTS relay_state (
  id TINYINT UNSIGNED NOT NULL PRIMARY KEY DEFAULT 1,
  last_dispatch_at DATETIME(6) NULL,
  last_dispatch_records INT UNSIGNED NOT NULL DEFAULT 0,
  last_dispatch_batches INT UNSIGNED NOT NULL DEFAULT 0,
  last_success_at DATETIME(6) NULL,
  last_error_at DATETIME(6) NULL,
  last_error VARCHAR(1024) NULL,
  consecutive_failures INT UNSIGNED NOT NULL DEFAULT 0,
  total_failures BIGINT UNSIGNED NOT NULL DEFAULT 0,
  total_handed_off BIGINT UNSIGNED NOT NULL DEFAULT 0,
  last_purge_at DATETIME(6) NULL,
  last_purge_deleted BIGINT UNSIGNED NOT NULL DEFAULT 0,
  total_purged BIGINT UNSIGNED NOT NULL DEFAULT 0,
  last_heartbeat_at DATETIME(6) NULL,
  last_heartbeat_error VARCHAR(1024) NULL,
  CONSTRAINT relay_state_single_row CHECK (id = 1)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

INSERT IGNORE INTO relay_state (id) VALUES (1);
