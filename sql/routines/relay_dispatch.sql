-- relay_dispatch(): hands committed, not yet handed-off outbox rows, oldest first, to the notify
-- function (relay_invoke: lambda_async(<arn>, <envelope JSON>)) and marks them handed off only
-- when the call succeeded. Call it with autocommit on (the event does): every statement then
-- commits on its own, reads only committed rows, and no lock is held while lambda_async runs.
--
-- * Never overlaps itself: GET_LOCK('relay_dispatch.<schema>', 0); a second caller returns at once.
-- * One call drains many batches (bounded by settings dispatch_max_batches / dispatch_max_ms).
-- * A batch is capped by count (batch_size) and by bytes (max_payload_bytes, well under the 256 KiB
--   asynchronous-invoke limit); the first row always goes so a batch is never empty.
-- * Handed-off rows are marked with one UPDATE per batch on exactly the batch's ids (a prepared
--   `id IN (…)` built from the integer ids the batch SELECT returned): a straggler (an id inside
--   the batch's range whose transaction commits later) is neither marked without having been sent
--   nor waited for.
-- * On a lambda_async error (Aurora: ERROR 1873 and friends, reported by relay_invoke as
--   '<errno>: <message>') the error and attempt count are recorded on the rows and in relay_state,
--   and the rows stay for the next run.
-- * Delivery is at-least-once: a crash between a successful call and the UPDATE resends the batch.
--
-- The envelope is assembled with GROUP_CONCAT(... ORDER BY id) of JSON_OBJECT values because
-- MySQL 8.0's JSON_ARRAYAGG has no ORDER BY (MariaDB's has); every element is still produced by
-- JSON_OBJECT, so any value is escaped correctly. JSON_EXTRACT(row_json, '$') embeds the stored row
-- as JSON on both servers (MariaDB would embed a plain text column as a JSON string).
--
-- A routine (sql/routines/): edit this file in place, the runner re-applies it when its text
-- changes. relay_dispatch_event (every second) is defined at the end of this file.
DROP PROCEDURE IF EXISTS relay_dispatch;

CREATE PROCEDURE relay_dispatch()
  MODIFIES SQL DATA
  COMMENT 'Hands pending relay_outbox rows to lambda_async in batches'
proc: BEGIN
  DECLARE v_lock VARCHAR(64) DEFAULT LEFT(CONCAT('relay_dispatch.', DATABASE()), 64);
  DECLARE v_region VARCHAR(64) CHARACTER SET utf8mb4 DEFAULT NULL;
  DECLARE v_batch_size INT DEFAULT 100;
  DECLARE v_max_bytes INT DEFAULT 200000;
  DECLARE v_max_batches INT DEFAULT 200;
  DECLARE v_max_ms INT DEFAULT 900;
  DECLARE v_started DATETIME(6) DEFAULT SYSDATE(6);
  DECLARE v_batches INT DEFAULT 0;
  DECLARE v_sent INT DEFAULT 0;
  DECLARE v_count INT DEFAULT 0;
  DECLARE v_ids LONGTEXT CHARACTER SET utf8mb4 DEFAULT NULL;
  DECLARE v_records LONGTEXT CHARACTER SET utf8mb4 DEFAULT NULL;
  DECLARE v_payload LONGTEXT CHARACTER SET utf8mb4 DEFAULT NULL;
  DECLARE v_failed BOOLEAN DEFAULT FALSE;
  DECLARE v_error VARCHAR(1024) CHARACTER SET utf8mb4 DEFAULT NULL;

  DECLARE EXIT HANDLER FOR SQLEXCEPTION
  BEGIN
    DO RELEASE_LOCK(v_lock);
    RESIGNAL;
  END;

  SELECT region, batch_size, max_payload_bytes, dispatch_max_batches, dispatch_max_ms
    INTO v_region, v_batch_size, v_max_bytes, v_max_batches, v_max_ms
    FROM relay_settings WHERE id = 1;
  IF v_region IS NULL THEN
    SIGNAL SQLSTATE '45000'
      SET MESSAGE_TEXT = 'relay_dispatch: relay_settings is empty; run the migration (db:migrate)';
  END IF;

  IF COALESCE(GET_LOCK(v_lock, 0), 0) <> 1 THEN
    LEAVE proc;
  END IF;

  -- Room for a full batch; GROUP_CONCAT silently truncates at this length.
  SET SESSION group_concat_max_len = 67108864;

  dispatch_loop: LOOP
    SET v_count = 0, v_ids = NULL, v_records = NULL;

    SELECT COUNT(*),
           GROUP_CONCAT(w.id ORDER BY w.id SEPARATOR ','),
           GROUP_CONCAT(
             JSON_OBJECT(
               'outboxId', w.id,
               'table', w.source_table,
               'op', 'INSERT',
               'rowId', w.row_id,
               'occurredAt', CONCAT(DATE_FORMAT(w.occurred_at, '%Y-%m-%dT%H:%i:%s.'),
                                    LPAD(FLOOR(MICROSECOND(w.occurred_at) / 1000), 3, '0'), 'Z'),
               'row', JSON_EXTRACT(w.row_json, '$'))
             ORDER BY w.id SEPARATOR ',')
      INTO v_count, v_ids, v_records
      FROM (
        SELECT c.*,
               SUM(LENGTH(c.row_json) + 200) OVER (ORDER BY c.id) AS cum_bytes,
               ROW_NUMBER() OVER (ORDER BY c.id) AS rn
          FROM (
            SELECT id, source_table, row_id, occurred_at, row_json
              FROM relay_outbox
             WHERE handed_off_at IS NULL
             ORDER BY id
             LIMIT v_batch_size
          ) c
      ) w
     -- 200 bytes/record over-estimates the record's JSON around the row; 256 for the envelope head.
     WHERE w.cum_bytes <= v_max_bytes - 256 OR w.rn = 1;

    IF v_count = 0 THEN
      LEAVE dispatch_loop;
    END IF;

    -- Every record is already a JSON_OBJECT; JSON_EXTRACT(…, '$') turns the ordered list into a
    -- JSON array that JSON_OBJECT nests as JSON (not as a string) on MySQL 8.0 and MariaDB alike.
    -- (JSON_ARRAYAGG would do without the brackets, but MySQL 8.0 cannot order it.)
    SET v_payload = JSON_OBJECT(
      'region', v_region,
      'records', JSON_EXTRACT(CONCAT('[', v_records, ']'), '$'));

    CALL relay_invoke(v_payload, v_error);
    SET v_failed = v_error IS NOT NULL;

    IF v_failed THEN
      SET @relay_dispatch_error = LEFT(v_error, 512);
      SET @relay_dispatch_sql = CONCAT(
        'UPDATE relay_outbox SET attempts = attempts + 1, last_attempt_at = UTC_TIMESTAMP(6), ',
        'last_error = ? WHERE handed_off_at IS NULL AND id IN (', v_ids, ')');
      PREPARE relay_dispatch_stmt FROM @relay_dispatch_sql;
      EXECUTE relay_dispatch_stmt USING @relay_dispatch_error;
      DEALLOCATE PREPARE relay_dispatch_stmt;
      UPDATE relay_state
         SET last_error_at = UTC_TIMESTAMP(6),
             last_error = v_error,
             consecutive_failures = consecutive_failures + 1,
             total_failures = total_failures + 1
       WHERE id = 1;
      LEAVE dispatch_loop;
    END IF;

    -- Exactly the batch's ids (point lookups on the primary key). A range UPDATE over the
    -- batch's first..last id would also lock-wait on a straggler: a row inside the range whose
    -- transaction has not committed yet (tested).
    SET @relay_dispatch_sql = CONCAT(
      'UPDATE relay_outbox SET handed_off_at = UTC_TIMESTAMP(6), attempts = attempts + 1, ',
      'last_attempt_at = UTC_TIMESTAMP(6) WHERE handed_off_at IS NULL AND id IN (', v_ids, ')');
    PREPARE relay_dispatch_stmt FROM @relay_dispatch_sql;
    EXECUTE relay_dispatch_stmt;
    DEALLOCATE PREPARE relay_dispatch_stmt;

    SET v_batches = v_batches + 1, v_sent = v_sent + v_count;
    IF v_batches >= v_max_batches
       OR TIMESTAMPDIFF(MICROSECOND, v_started, SYSDATE(6)) >= v_max_ms * 1000 THEN
      LEAVE dispatch_loop;
    END IF;
  END LOOP;

  UPDATE relay_state
     SET last_dispatch_at = UTC_TIMESTAMP(6),
         last_dispatch_records = v_sent,
         last_dispatch_batches = v_batches,
         total_handed_off = total_handed_off + v_sent,
         last_success_at = IF(v_failed, last_success_at, UTC_TIMESTAMP(6)),
         consecutive_failures = IF(v_failed, consecutive_failures, 0)
   WHERE id = 1;

  DO RELEASE_LOCK(v_lock);
END;

DROP EVENT IF EXISTS relay_dispatch_event;

-- event_scheduler must be ON (Aurora MySQL 3: cluster parameter group; locally: mariadbd
-- --event-scheduler=ON). Definer = the migrating (relay) user, which on Aurora has
-- AWS_LAMBDA_ACCESS active (activate_all_roles_on_login).
CREATE EVENT relay_dispatch_event
  ON SCHEDULE EVERY 1 SECOND
  ON COMPLETION PRESERVE
  ENABLE
  COMMENT 'order relay: hand pending outbox rows to the notify function'
  DO CALL relay_dispatch();
