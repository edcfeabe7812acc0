-- relay_purge(): deletes order_data rows and their outbox rows once they were handed off and are
-- older (by occurred_at) than settings.retention_hours (0 and fractions allowed). Rows never
-- handed off stay (see the relay_overdue view). Works through the outbox in id chunks of
-- settings.purge_batch_size, two bounded DELETEs per chunk (each its own autocommit transaction),
-- so it never locks order_data for long; stops at the first chunk that is entirely recent or when
-- settings.purge_max_ms is used up (the next run continues). Runs never overlap (GET_LOCK).
--
-- Purged rows live on in Aurora's automated backups for the backup retention period.
--
-- A routine (sql/routines/): edit this file in place, the runner re-applies it when its text
-- changes. relay_purge_event is defined at the end of this file; its schedule here is a
-- placeholder: the runner sets it to settings.purgeIntervalMinutes on every run (event schedules
-- cannot read a table).
DROP PROCEDURE IF EXISTS relay_purge;

CREATE PROCEDURE relay_purge()
  MODIFIES SQL DATA
  COMMENT 'Deletes handed-off orders older than the retention, in bounded batches'
proc: BEGIN
  DECLARE v_lock VARCHAR(64) DEFAULT LEFT(CONCAT('relay_purge.', DATABASE()), 64);
  DECLARE v_retention_us BIGINT DEFAULT NULL;
  DECLARE v_chunk INT DEFAULT 1000;
  DECLARE v_max_ms INT DEFAULT 5000;
  DECLARE v_started DATETIME(6) DEFAULT SYSDATE(6);
  DECLARE v_cutoff DATETIME(6);
  DECLARE v_lo BIGINT UNSIGNED DEFAULT 0;
  DECLARE v_hi BIGINT UNSIGNED DEFAULT NULL;
  DECLARE v_oldest DATETIME(6) DEFAULT NULL;
  DECLARE v_deleted BIGINT DEFAULT 0;

  DECLARE EXIT HANDLER FOR SQLEXCEPTION
  BEGIN
    DO RELEASE_LOCK(v_lock);
    RESIGNAL;
  END;

  SELECT CAST(ROUND(retention_hours * 3600000000) AS SIGNED), purge_batch_size, purge_max_ms
    INTO v_retention_us, v_chunk, v_max_ms
    FROM relay_settings WHERE id = 1;
  IF v_retention_us IS NULL THEN
    SIGNAL SQLSTATE '45000'
      SET MESSAGE_TEXT = 'relay_purge: relay_settings is empty; run the migration (db:migrate)';
  END IF;

  IF COALESCE(GET_LOCK(v_lock, 0), 0) <> 1 THEN
    LEAVE proc;
  END IF;

  -- Integer microseconds: fractional INTERVAL ... SECOND is not treated alike everywhere.
  SET v_cutoff = UTC_TIMESTAMP(6) - INTERVAL v_retention_us MICROSECOND;

  purge_loop: LOOP
    SET v_hi = NULL, v_oldest = NULL;
    SELECT MAX(c.id), MIN(c.occurred_at) INTO v_hi, v_oldest
      FROM (SELECT id, occurred_at FROM relay_outbox WHERE id > v_lo ORDER BY id LIMIT v_chunk) c;
    IF v_hi IS NULL OR v_oldest >= v_cutoff THEN
      LEAVE purge_loop;
    END IF;

    DELETE d FROM order_data d
      JOIN relay_outbox o ON o.row_id = d.id
     WHERE o.id > v_lo AND o.id <= v_hi
       AND o.source_table = 'order_data'
       AND o.handed_off_at IS NOT NULL
       AND o.occurred_at < v_cutoff;

    DELETE FROM relay_outbox
     WHERE id > v_lo AND id <= v_hi
       AND handed_off_at IS NOT NULL
       AND occurred_at < v_cutoff;
    SET v_deleted = v_deleted + ROW_COUNT();

    SET v_lo = v_hi;
    IF TIMESTAMPDIFF(MICROSECOND, v_started, SYSDATE(6)) >= v_max_ms * 1000 THEN
      LEAVE purge_loop;
    END IF;
  END LOOP;

  UPDATE relay_state
     SET last_purge_at = UTC_TIMESTAMP(6), last_purge_deleted = v_deleted,
         total_purged = total_purged + v_deleted
   WHERE id = 1;

  DO RELEASE_LOCK(v_lock);
END;

DROP EVENT IF EXISTS relay_purge_event;

CREATE EVENT relay_purge_event
  ON SCHEDULE EVERY 5 MINUTE
  ON COMPLETION PRESERVE
  ENABLE
  COMMENT 'order relay: delete handed-off orders past the retention'
  DO CALL relay_purge();
