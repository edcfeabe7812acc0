-- relay_backfill(): enqueues existing order_data rows that have no outbox row (a relay installed
-- on a database that already holds orders). Walks order_data in id chunks of 1000 (one bounded
-- INSERT ... SELECT each). occurred_at is the backfill time (the insert time is unknown).
-- Same JSON_OBJECT column list as the trigger (002).
DROP PROCEDURE IF EXISTS relay_backfill;

CREATE PROCEDURE relay_backfill()
  MODIFIES SQL DATA
  COMMENT 'Enqueues order_data rows that have no relay_outbox row'
BEGIN
  DECLARE v_lo BIGINT DEFAULT -9223372036854775808;
  DECLARE v_hi BIGINT DEFAULT NULL;

  backfill_loop: LOOP
    SET v_hi = NULL;
    SELECT MAX(c.id) INTO v_hi
      FROM (SELECT id FROM order_data WHERE id > v_lo ORDER BY id LIMIT 1000) c;
    IF v_hi IS NULL THEN
      LEAVE backfill_loop;
    END IF;

    INSERT INTO relay_outbox (row_id, occurred_at, row_json)
      SELECT d.id, UTC_TIMESTAMP(3), JSON_OBJECT('id', d.id, 'item', d.item)
        FROM order_data d
       WHERE d.id > v_lo AND d.id <= v_hi
         AND NOT EXISTS (SELECT 1 FROM relay_outbox o
                          WHERE o.row_id = d.id AND o.source_table = 'order_data')
       ORDER BY d.id;

    SET v_lo = v_hi;
  END LOOP;
END;
