-- The DC's bookkeeping tables (idempotent; every consumer start runs this). The mirror tables
-- themselves are created from the relay's SCHEMA records (dc/mirror.ts), never by hand.

-- What the DC learned from each region's SCHEMA records: the last one applied (by outboxId).
-- A restart, or another consumer process, reads it back.
CREATE TABLE IF NOT EXISTS relay_schemas (
  relay_region      VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  source_table      VARCHAR(64)     NOT NULL,
  dc_table          VARCHAR(64)     NOT NULL,
  schema_outbox_id  BIGINT UNSIGNED NOT NULL COMMENT 'outboxId of the SCHEMA record applied',
  columns_json      LONGTEXT        NOT NULL COMMENT 'the relayed columns [{name, type, nullable}]',
  primary_key_json  TEXT            NOT NULL,
  occurred_at       DATETIME(6)     NOT NULL COMMENT 'UTC, when the source captured the schema',
  applied_at        DATETIME(6)     NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (relay_region, source_table)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- Changes that arrived before the SCHEMA of their table or column (a row's FIFO group and its
-- table's SCHEMA group are different groups, so SQS does not order them): kept here, at the DC,
-- and applied as soon as the schema is known. Deleting such a message from SQS is safe because
-- the DC applies changes by outboxId, whenever they are applied.
CREATE TABLE IF NOT EXISTS relay_pending (
  id                BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  relay_region      VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  source_table      VARCHAR(64)     NOT NULL,
  relay_outbox_id   BIGINT UNSIGNED NOT NULL,
  reason            VARCHAR(255)    NOT NULL COMMENT 'what was missing (table or column names)',
  body              LONGTEXT        NOT NULL COMMENT 'the relay message (personal data)',
  parked_at         DATETIME(6)     NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (id),
  UNIQUE KEY relay_pending_change (relay_region, relay_outbox_id),
  KEY relay_pending_table (relay_region, source_table)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- With --deletes apply: the version of each deleted row, so a late, older change of a row that
-- was really deleted cannot bring it back.
CREATE TABLE IF NOT EXISTS relay_deletes (
  dc_table          VARCHAR(64)     NOT NULL,
  relay_region      VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  key_hash          BINARY(32)      NOT NULL COMMENT 'SHA-256 of the canonical key',
  relay_outbox_id   BIGINT UNSIGNED NOT NULL,
  deleted_at        DATETIME(6)     NOT NULL,
  PRIMARY KEY (dc_table, relay_region, key_hash)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
