-- Confirmation (issue 14): the DC acknowledges the changes it committed; the purge removes a row
-- only once its latest change is confirmed (settings.purge_requires = 'confirmed', the default;
-- 'handedOff' keeps the first release's rule: handed off is enough), and a change handed off but
-- never confirmed is sent again.
--
-- relay_confirm(p_ids): p_ids is a JSON array of outboxIds (contract/ack.ts, called by the ack
-- Lambda, lambda/ack.ts). Sets confirmed_at = UTC now on those outbox rows that are handed off and
-- not yet confirmed; unknown ids, ids not handed off (e.g. made pending again by a resend: the
-- resend is confirmed in its turn), non-integers and repeats are ignored, so a confirmation may
-- arrive any number of times, in any order. Thousands of ids per call: JSON_TABLE into a
-- session-private work table (deduplicated), then point updates through the primary key.
--
-- relay_resend(): called by relay_dispatch() before its batches, only when purge_requires =
-- 'confirmed'. The latest change of a row (SCHEMA records apart) handed off more than
-- settings.resend_after_minutes ago and still not confirmed — its batch vanished (an expired DLQ,
-- a DC outage longer than a queue's retention, an ack outage) — is made pending again
-- (handed_off_at = NULL, resent_count + 1, resent_at), so dispatch sends the row's current state
-- again; the DC's version check makes a second delivery harmless. At most 10 000 per call (the
-- next run goes on). Changes an operator skipped (relay_skip_quarantine) are never resent.
-- Counted in relay_state.total_resent / last_resend_at.
--
-- A routine (sql/routines/): edit this file in place, the runner re-applies it when it changes.
DROP PROCEDURE IF EXISTS relay_confirm;

CREATE PROCEDURE relay_confirm(IN p_ids JSON)
  MODIFIES SQL DATA
  COMMENT 'Marks the given handed-off outbox changes confirmed by the DC (idempotent)'
BEGIN
  DECLARE v_confirmed BIGINT DEFAULT 0;
  DROP TEMPORARY TABLE IF EXISTS relay_ci;
  CREATE TEMPORARY TABLE relay_ci (id BIGINT UNSIGNED NOT NULL PRIMARY KEY) ENGINE = InnoDB;
  IF p_ids IS NOT NULL AND JSON_VALID(p_ids) AND JSON_TYPE(p_ids) = 'ARRAY' THEN
    INSERT IGNORE INTO relay_ci (id)
      SELECT j.id
        FROM JSON_TABLE(p_ids, '$[*]' COLUMNS (id BIGINT UNSIGNED PATH '$' NULL ON ERROR)) j
       WHERE j.id IS NOT NULL AND j.id > 0;
    UPDATE relay_ci c STRAIGHT_JOIN relay_outbox o FORCE INDEX (PRIMARY) ON o.id = c.id
       SET o.confirmed_at = UTC_TIMESTAMP(6)
     WHERE o.handed_off_at IS NOT NULL AND o.confirmed_at IS NULL;
    SET v_confirmed = ROW_COUNT();
    IF v_confirmed > 0 THEN
      UPDATE relay_state
         SET total_confirmed = total_confirmed + v_confirmed, last_confirm_at = UTC_TIMESTAMP(6)
       WHERE id = 1;
    END IF;
  END IF;
  DROP TEMPORARY TABLE IF EXISTS relay_ci;
END;

DROP PROCEDURE IF EXISTS relay_resend;

CREATE PROCEDURE relay_resend()
  MODIFIES SQL DATA
  COMMENT 'Makes handed-off changes the DC never confirmed pending again (purge_requires confirmed)'
proc: BEGIN
  DECLARE v_requires VARCHAR(16) DEFAULT NULL;
  DECLARE v_after DECIMAL(12, 6) DEFAULT 30;
  DECLARE v_cutoff DATETIME(6);
  DECLARE v_resent BIGINT DEFAULT 0;

  SELECT purge_requires, resend_after_minutes INTO v_requires, v_after
    FROM relay_settings WHERE id = 1;
  IF v_requires IS NULL OR v_requires <> 'confirmed' THEN
    LEAVE proc;
  END IF;
  -- Integer microseconds: a fractional interval (a local run's seconds) is not treated alike
  -- everywhere. At least a second, so a change is never resent while its own batch is in flight.
  SET v_cutoff = UTC_TIMESTAMP(6)
                 - INTERVAL CAST(GREATEST(v_after, 1 / 60) * 60000000 AS UNSIGNED) MICROSECOND;

  DROP TEMPORARY TABLE IF EXISTS relay_rs;
  CREATE TEMPORARY TABLE relay_rs (id BIGINT UNSIGNED NOT NULL PRIMARY KEY) ENGINE = InnoDB;
  INSERT INTO relay_rs (id)
    SELECT o.id
      FROM relay_outbox o FORCE INDEX (relay_outbox_confirm)
     WHERE o.confirmed_at IS NULL AND o.handed_off_at < v_cutoff
       AND o.op <> 'SCHEMA' AND o.key_hash IS NOT NULL
       AND (o.quarantine_resolution IS NULL OR o.quarantine_resolution NOT LIKE 'skipped %')
       AND NOT EXISTS (SELECT 1 FROM relay_outbox n
                        WHERE n.key_hash = o.key_hash AND n.table_name = o.table_name
                          AND n.id > o.id)
     ORDER BY o.handed_off_at
     LIMIT 10000;
  IF ROW_COUNT() > 0 THEN
    UPDATE relay_rs r STRAIGHT_JOIN relay_outbox o FORCE INDEX (PRIMARY) ON o.id = r.id
       SET o.handed_off_at = NULL, o.resent_count = o.resent_count + 1,
           o.resent_at = UTC_TIMESTAMP(6)
     WHERE o.confirmed_at IS NULL AND o.handed_off_at < v_cutoff;
    SET v_resent = ROW_COUNT();
    IF v_resent > 0 THEN
      UPDATE relay_state
         SET total_resent = total_resent + v_resent, last_resend_at = UTC_TIMESTAMP(6)
       WHERE id = 1;
    END IF;
  END IF;
  DROP TEMPORARY TABLE IF EXISTS relay_rs;
END;
