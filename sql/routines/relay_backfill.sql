-- relay_backfill(): enqueues existing order_data rows that have no outbox row. The runner calls it
-- whenever it creates or replaces the capture trigger (sql/capture.ts): on install (orders that
-- were there before the relay) and after a regeneration (rows inserted while the trigger was being
-- swapped). Walks order_data in id chunks of 1000 (one bounded INSERT ... SELECT each); occurred_at
-- is the backfill time (the insert time is unknown).
-- The row JSON covers every column of order_data, read from information_schema when called, so a
-- storefront table with more columns than the seed's (id, item) needs no change here. Dynamic SQL
-- (PREPARE) is allowed in procedures — unlike triggers, whose column list the runner generates.
-- A routine (sql/routines/): edit this file in place, the runner re-applies it when it changes.
DROP PROCEDURE IF EXISTS relay_backfill;

CREATE PROCEDURE relay_backfill()
  MODIFIES SQL DATA
  COMMENT 'Enqueues order_data rows that have no relay_outbox row'
BEGIN
  DECLARE v_lo BIGINT DEFAULT -9223372036854775808;
  DECLARE v_hi BIGINT DEFAULT NULL;
  DECLARE v_pairs MEDIUMTEXT;

  SET SESSION group_concat_max_len = 1048576;
  SELECT GROUP_CONCAT(
           QUOTE(COLUMN_NAME), ', d.`', REPLACE(COLUMN_NAME, '`', '``'), '`'
           ORDER BY ORDINAL_POSITION SEPARATOR ', ')
    INTO v_pairs
    FROM information_schema.COLUMNS
   WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'order_data';

  SET @relay_backfill_sql = CONCAT(
    'INSERT INTO relay_outbox (row_id, occurred_at, row_json) ',
    'SELECT d.id, UTC_TIMESTAMP(3), JSON_OBJECT(', v_pairs, ') ',
    'FROM order_data d WHERE d.id > ? AND d.id <= ? ',
    'AND NOT EXISTS (SELECT 1 FROM relay_outbox o ',
    'WHERE o.row_id = d.id AND o.source_table = ''order_data'') ORDER BY d.id');
  PREPARE relay_backfill_stmt FROM @relay_backfill_sql;

  backfill_loop: LOOP
    SET v_hi = NULL;
    SELECT MAX(c.id) INTO v_hi
      FROM (SELECT id FROM order_data WHERE id > v_lo ORDER BY id LIMIT 1000) c;
    IF v_hi IS NULL THEN
      LEAVE backfill_loop;
    END IF;
    SET @relay_backfill_lo = v_lo, @relay_backfill_hi = v_hi;
    EXECUTE relay_backfill_stmt USING @relay_backfill_lo, @relay_backfill_hi;
    SET v_lo = v_hi;
  END LOOP;

  DEALLOCATE PREPARE relay_backfill_stmt;
END;
