-- 009: purge on confirmation (issue 14). Idempotent (every step checks information_schema first,
-- so a run interrupted half way is simply re-applied); valid on Aurora MySQL 3 (MySQL 8.0) and
-- MariaDB 10.11 (no ADD COLUMN IF NOT EXISTS, which MySQL lacks).
--
-- relay_outbox.confirmed_at: when the DC acknowledged the change (relay_confirm, called by the
-- ack Lambda); NULL = not confirmed. resent_count / resent_at: how often and when last a handed-off
-- change that was never confirmed was made pending again (relay_resend). The index
-- (confirmed_at, handed_off_at) serves "handed off, not confirmed, handed off before X" (resend,
-- relay_status's unconfirmed counts) and "confirmed" counts.
-- relay_settings.purge_requires / resend_after_minutes: order-relay:purgeRequires and
-- resendAfterMinutes (written by the runner). relay_state: totals for reporting.
DROP PROCEDURE IF EXISTS relay_migration_009;

CREATE PROCEDURE relay_migration_009()
  MODIFIES SQL DATA
BEGIN
  SET @relay_009_alter = CONCAT_WS(', ',
    IF(EXISTS (SELECT 1 FROM information_schema.COLUMNS
                WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'relay_outbox'
                  AND COLUMN_NAME = 'confirmed_at'), NULL,
       'ADD COLUMN confirmed_at DATETIME(6) NULL COMMENT ''UTC; NULL = the DC has not acknowledged it'''),
    IF(EXISTS (SELECT 1 FROM information_schema.COLUMNS
                WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'relay_outbox'
                  AND COLUMN_NAME = 'resent_count'), NULL,
       'ADD COLUMN resent_count INT UNSIGNED NOT NULL DEFAULT 0 COMMENT ''times made pending again, unconfirmed'''),
    IF(EXISTS (SELECT 1 FROM information_schema.COLUMNS
                WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'relay_outbox'
                  AND COLUMN_NAME = 'resent_at'), NULL,
       'ADD COLUMN resent_at DATETIME(6) NULL COMMENT ''UTC; when last made pending again'''));
  IF @relay_009_alter <> '' THEN
    SET @relay_009_alter = CONCAT('ALTER TABLE relay_outbox ', @relay_009_alter);
    PREPARE relay_009_stmt FROM @relay_009_alter;
    EXECUTE relay_009_stmt;
    DEALLOCATE PREPARE relay_009_stmt;
  END IF;

  IF NOT EXISTS (SELECT 1 FROM information_schema.STATISTICS
                  WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'relay_outbox'
                    AND INDEX_NAME = 'relay_outbox_confirm') THEN
    ALTER TABLE relay_outbox ADD KEY relay_outbox_confirm (confirmed_at, handed_off_at);
  END IF;

  SET @relay_009_alter = CONCAT_WS(', ',
    IF(EXISTS (SELECT 1 FROM information_schema.COLUMNS
                WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'relay_settings'
                  AND COLUMN_NAME = 'purge_requires'), NULL,
       'ADD COLUMN purge_requires ENUM(''confirmed'', ''handedOff'') NOT NULL DEFAULT ''confirmed'''),
    IF(EXISTS (SELECT 1 FROM information_schema.COLUMNS
                WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'relay_settings'
                  AND COLUMN_NAME = 'resend_after_minutes'), NULL,
       'ADD COLUMN resend_after_minutes INT NOT NULL DEFAULT 30'));
  IF @relay_009_alter <> '' THEN
    SET @relay_009_alter = CONCAT('ALTER TABLE relay_settings ', @relay_009_alter);
    PREPARE relay_009_stmt FROM @relay_009_alter;
    EXECUTE relay_009_stmt;
    DEALLOCATE PREPARE relay_009_stmt;
  END IF;

  SET @relay_009_alter = CONCAT_WS(', ',
    IF(EXISTS (SELECT 1 FROM information_schema.COLUMNS
                WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'relay_state'
                  AND COLUMN_NAME = 'total_confirmed'), NULL,
       'ADD COLUMN total_confirmed BIGINT UNSIGNED NOT NULL DEFAULT 0'),
    IF(EXISTS (SELECT 1 FROM information_schema.COLUMNS
                WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'relay_state'
                  AND COLUMN_NAME = 'last_confirm_at'), NULL,
       'ADD COLUMN last_confirm_at DATETIME(6) NULL'),
    IF(EXISTS (SELECT 1 FROM information_schema.COLUMNS
                WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'relay_state'
                  AND COLUMN_NAME = 'total_resent'), NULL,
       'ADD COLUMN total_resent BIGINT UNSIGNED NOT NULL DEFAULT 0'),
    IF(EXISTS (SELECT 1 FROM information_schema.COLUMNS
                WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'relay_state'
                  AND COLUMN_NAME = 'last_resend_at'), NULL,
       'ADD COLUMN last_resend_at DATETIME(6) NULL'));
  IF @relay_009_alter <> '' THEN
    SET @relay_009_alter = CONCAT('ALTER TABLE relay_state ', @relay_009_alter);
    PREPARE relay_009_stmt FROM @relay_009_alter;
    EXECUTE relay_009_stmt;
    DEALLOCATE PREPARE relay_009_stmt;
  END IF;
  SET @relay_009_alter = NULL;
END;

CALL relay_migration_009();

DROP PROCEDURE relay_migration_009;
