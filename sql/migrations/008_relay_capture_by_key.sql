-- 008: capture any listed table by key (issue 12). Idempotent (every step checks
-- information_schema first, so a run interrupted half way is simply re-applied); valid on Aurora
-- MySQL 3 (MySQL 8.0) and MariaDB 10.11 (no ADD COLUMN IF NOT EXISTS, which MySQL lacks).
--
-- relay_outbox becomes a log of changes by key, written by the generated capture triggers
-- (sql/capture.ts): table_name, op (UPSERT | DELETE | SCHEMA), key_json (the primary key as a JSON
-- object, values encoded like the envelope) and key_hash (SHA-256 of table:key, stored and
-- indexed: groups one row's changes and finds a row's latest change). No row data is copied into
-- the outbox any more: relay_dispatch() reads each row's current committed state when it hands it
-- off. Quarantine columns record changes too large to send (never purged until resolved).
--
-- Rows written by the first release (row_id + row_json of order_data) are converted in place to
-- UPSERTs of order_data keyed {"id": row_id}, encoded as today's trigger encodes order_data.id
-- (an integer column: a JSON number; BIGINT: a decimal string); their row_json copies are dropped
-- (dispatch sends the row's current state). Rows that cannot be keyed that way (order_data's key
-- is not a single integer column `id`) are deleted: their rows are still in order_data (the first
-- release never purged a row before handing it off) and the backfill re-captures every row that
-- has no outbox entry.
--
-- relay_tables: one row per table the relay captures or captured (the list comes from the
-- settings; sql/capture.ts writes it), with the per-table expressions relay_table_refresh()
-- builds from information_schema, the last SCHEMA sent, and the backfill's progress.
DROP PROCEDURE IF EXISTS relay_migration_008;

CREATE PROCEDURE relay_migration_008()
  MODIFIES SQL DATA
BEGIN
  DECLARE v_id_type VARCHAR(64) DEFAULT NULL;
  DECLARE v_key_is_id BOOLEAN DEFAULT FALSE;

  -- source_table → table_name (binary collation: table names are case-sensitive on Linux).
  IF EXISTS (SELECT 1 FROM information_schema.COLUMNS
              WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'relay_outbox'
                AND COLUMN_NAME = 'source_table') THEN
    ALTER TABLE relay_outbox
      CHANGE COLUMN source_table table_name
        VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL;
  END IF;

  IF NOT EXISTS (SELECT 1 FROM information_schema.COLUMNS
                  WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'relay_outbox'
                    AND COLUMN_NAME = 'op') THEN
    ALTER TABLE relay_outbox
      ADD COLUMN op ENUM('UPSERT', 'DELETE', 'SCHEMA') NOT NULL DEFAULT 'UPSERT' AFTER table_name,
      ADD COLUMN key_json TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL
        COMMENT 'primary key as a JSON object (envelope encoding); NULL for SCHEMA' AFTER op;
  END IF;

  -- First-release rows: key them by order_data.id as the capture trigger does, then drop the
  -- row copies.
  IF EXISTS (SELECT 1 FROM information_schema.COLUMNS
              WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'relay_outbox'
                AND COLUMN_NAME = 'row_id') THEN
    SELECT MAX(DATA_TYPE) INTO v_id_type FROM information_schema.COLUMNS
     WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'order_data' AND COLUMN_NAME = 'id';
    SELECT COUNT(*) = 1 AND MAX(COLUMN_NAME) = 'id' INTO v_key_is_id
      FROM information_schema.STATISTICS
     WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'order_data' AND INDEX_NAME = 'PRIMARY';
    IF v_key_is_id AND v_id_type IN ('tinyint', 'smallint', 'mediumint', 'int') THEN
      UPDATE relay_outbox SET key_json = JSON_OBJECT('id', row_id)
       WHERE key_json IS NULL AND op = 'UPSERT' AND table_name = 'order_data';
    ELSEIF v_key_is_id AND v_id_type = 'bigint' THEN
      UPDATE relay_outbox SET key_json = JSON_OBJECT('id', CAST(row_id AS CHAR))
       WHERE key_json IS NULL AND op = 'UPSERT' AND table_name = 'order_data';
    END IF;
    DELETE FROM relay_outbox WHERE key_json IS NULL AND op <> 'SCHEMA';
    ALTER TABLE relay_outbox DROP INDEX relay_outbox_row, DROP COLUMN row_id, DROP COLUMN row_json;
  END IF;

  -- The hash and the quarantine columns in one rebuild of the table (dynamic: each clause only
  -- when still missing, so a half-applied run completes).
  SET @relay_008_alter = CONCAT_WS(', ',
    IF(EXISTS (SELECT 1 FROM information_schema.COLUMNS
                WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'relay_outbox'
                  AND COLUMN_NAME = 'key_hash'), NULL,
       -- The trigger inserts key_json only; the hash is the server's, so trigger, backfill,
       -- dispatch and purge agree on it byte for byte.
       'ADD COLUMN key_hash BINARY(32) AS (UNHEX(SHA2(CONCAT(table_name, '':'', key_json), 256))) STORED AFTER key_json, ADD KEY relay_outbox_key (key_hash)'),
    IF(EXISTS (SELECT 1 FROM information_schema.COLUMNS
                WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'relay_outbox'
                  AND COLUMN_NAME = 'quarantined_at'), NULL,
       -- Pending = handed_off_at IS NULL AND quarantined_at IS NULL, in id order from one index.
       CONCAT('ADD COLUMN quarantined_at DATETIME(6) NULL COMMENT ''UTC; set when the change is too large to send'', ',
              'ADD COLUMN quarantine_reason VARCHAR(512) NULL, ',
              'ADD COLUMN quarantine_bytes BIGINT UNSIGNED NULL, ',
              'ADD COLUMN quarantine_resolution VARCHAR(255) NULL COMMENT ''released / skipped, by whom'', ',
              'DROP INDEX relay_outbox_pending, ',
              'ADD KEY relay_outbox_pending (handed_off_at, quarantined_at)')));
  IF @relay_008_alter <> '' THEN
    SET @relay_008_alter = CONCAT('ALTER TABLE relay_outbox ', @relay_008_alter);
    PREPARE relay_008_stmt FROM @relay_008_alter;
    EXECUTE relay_008_stmt;
    DEALLOCATE PREPARE relay_008_stmt;
  END IF;

  IF NOT EXISTS (SELECT 1 FROM information_schema.COLUMNS
                  WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'relay_state'
                    AND COLUMN_NAME = 'purge_consecutive_failures') THEN
    ALTER TABLE relay_state
      ADD COLUMN last_purge_attempt_at DATETIME(6) NULL,
      ADD COLUMN last_purge_error_at DATETIME(6) NULL,
      ADD COLUMN last_purge_error VARCHAR(1024) NULL,
      ADD COLUMN purge_consecutive_failures INT UNSIGNED NOT NULL DEFAULT 0,
      ADD COLUMN purge_total_failures BIGINT UNSIGNED NOT NULL DEFAULT 0,
      ADD COLUMN total_quarantined BIGINT UNSIGNED NOT NULL DEFAULT 0;
  END IF;

  IF NOT EXISTS (SELECT 1 FROM information_schema.COLUMNS
                  WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'relay_settings'
                    AND COLUMN_NAME = 'max_record_bytes') THEN
    -- Written by the runner from contract/envelope.ts (MAX_RECORD_BYTES,
    -- ASYNC_INVOKE_PAYLOAD_LIMIT_BYTES); these defaults are the same figures.
    ALTER TABLE relay_settings
      ADD COLUMN max_record_bytes INT UNSIGNED NOT NULL DEFAULT 261120,
      ADD COLUMN payload_limit_bytes INT UNSIGNED NOT NULL DEFAULT 262144,
      ADD COLUMN backfill_chunk_rows INT UNSIGNED NOT NULL DEFAULT 1000;
  END IF;
END;

CALL relay_migration_008();

DROP PROCEDURE relay_migration_008;

CREATE TABLE IF NOT EXISTS relay_tables (
  table_name VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL PRIMARY KEY,
  listed BOOLEAN NOT NULL DEFAULT TRUE COMMENT 'in the settings'' tables list (else: history)',
  list_position INT UNSIGNED NOT NULL DEFAULT 0,
  exclude_columns TEXT NULL COMMENT 'JSON array of column names never relayed',
  parent_table VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
  parent_column VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
  purge_rank INT UNSIGNED NOT NULL DEFAULT 0 COMMENT 'depth below its root table: deeper purges first',
  key_columns TEXT NULL COMMENT 'JSON array: the primary key the capture triggers were built for',
  -- Built by relay_table_refresh() from information_schema; rebuilt when columns_sig changes.
  columns_sig CHAR(64) NULL,
  row_expr MEDIUMTEXT NULL,
  est_expr MEDIUMTEXT NULL,
  key_expr TEXT NULL,
  hash_expr TEXT NULL,
  key_match TEXT NULL,
  key_after TEXT NULL,
  key_upto TEXT NULL,
  key_cols TEXT NULL,
  key_cols_desc TEXT NULL,
  schema_json MEDIUMTEXT NULL,
  stale_reason VARCHAR(512) NULL COMMENT 'set when the table cannot be read by its captured key',
  table_missing BOOLEAN NOT NULL DEFAULT FALSE COMMENT 'the table does not exist (dropped)',
  refreshed_at DATETIME(6) NULL,
  schema_sent_sig CHAR(64) NULL COMMENT 'columns_sig of the last SCHEMA record handed off',
  schema_sent_at DATETIME(6) NULL,
  backfill_state ENUM('pending', 'running', 'complete', 'incomplete') NOT NULL DEFAULT 'pending',
  backfill_mode ENUM('backfill', 'resync') NOT NULL DEFAULT 'backfill',
  backfill_last_key TEXT NULL COMMENT 'key (JSON) of the last row the running pass covered',
  backfill_rows BIGINT UNSIGNED NOT NULL DEFAULT 0,
  backfill_missing BIGINT UNSIGNED NULL COMMENT 'rows without an outbox entry at the last check',
  backfill_started_at DATETIME(6) NULL,
  backfill_finished_at DATETIME(6) NULL,
  backfill_error VARCHAR(1024) NULL COMMENT 'why the last backfill step failed (it is retried)',
  updated_at DATETIME(6) NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
