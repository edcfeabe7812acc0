-- 010: relay_settings.resend_after_minutes takes fractions (DECIMAL, like retention_hours), so a
-- local run or a test can resend after seconds (`npm start -- --resend-after-seconds N`). The stack
-- config still requires whole minutes 1..1440 (order-relay:resendAfterMinutes); the value a
-- deployed database holds is unchanged. Idempotent: the column is altered only while it is an
-- integer; valid on Aurora MySQL 3 (MySQL 8.0) and MariaDB 10.11.
DROP PROCEDURE IF EXISTS relay_migration_010;

CREATE PROCEDURE relay_migration_010()
  MODIFIES SQL DATA
BEGIN
  IF EXISTS (SELECT 1 FROM information_schema.COLUMNS
              WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'relay_settings'
                AND COLUMN_NAME = 'resend_after_minutes' AND DATA_TYPE <> 'decimal') THEN
    ALTER TABLE relay_settings
      MODIFY COLUMN resend_after_minutes DECIMAL(12, 6) NOT NULL DEFAULT 30
      COMMENT 'order-relay:resendAfterMinutes (fractions: local runs and tests)';
  END IF;
END;

CALL relay_migration_010();

DROP PROCEDURE relay_migration_010;
