-- The DC's copy of every relayed row. One row per (region, table_name, row_id): the consumer
-- upserts on this key, so a message delivered twice (anywhere in the chain) leaves one row and
-- only bumps `deliveries`. Idempotent: safe to run at every consumer start.
CREATE TABLE IF NOT EXISTS relay_rows (
  region            VARCHAR(32)     NOT NULL,
  table_name        VARCHAR(64)     NOT NULL,
  row_id            BIGINT UNSIGNED NOT NULL,
  outbox_id         BIGINT UNSIGNED NOT NULL,
  occurred_at       DATETIME(6)     NOT NULL COMMENT 'UTC, when the source row was inserted',
  dedup_key         VARCHAR(255)    NOT NULL COMMENT '<region>:<table>:<rowId>',
  row_json          JSON            NOT NULL COMMENT 'every column of the source row (personal data)',
  message_id        VARCHAR(128)    NOT NULL COMMENT 'aggregator SQS message id of the first delivery',
  deliveries        INT UNSIGNED    NOT NULL DEFAULT 1,
  received_at       DATETIME(6)     NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  last_delivered_at DATETIME(6)     NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (region, table_name, row_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
