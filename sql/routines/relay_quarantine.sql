-- Quarantine: changes relay_dispatch() cannot send. A record larger than MAX_RECORD_BYTES
-- (contract/envelope.ts: one lambda_async payload of ASYNC_INVOKE_PAYLOAD_LIMIT_BYTES = 256 KiB
-- cannot carry it, e.g. a row with a large BLOB) is set aside on its relay_outbox row
-- (quarantined_at, quarantine_reason with the size, quarantine_bytes) instead of blocking every
-- later change. It is counted in relay_status.quarantined and the heartbeat (alarm), and neither
-- the change nor its row is purged until an operator resolves it:
--
--   SELECT id, table_name, key_json, quarantined_at, quarantine_reason
--     FROM relay_outbox WHERE quarantined_at IS NOT NULL AND handed_off_at IS NULL;
--
--   CALL relay_release_quarantine(<id>);  -- after making the row smaller (or excluding the big
--                                         -- column: order-relay:tables excludeColumns, then
--                                         -- db:migrate): the change is pending again and
--                                         -- dispatch sends the row's current state (or
--                                         -- quarantines it again if it is still too large)
--   CALL relay_skip_quarantine(<id>, '<why>');  -- the DC got it another way, or it is not
--                                               -- needed: marked handed off (and confirmed)
--                                               -- without sending (never resent);
--                                               -- the purge may then delete the row
-- Both record what was done in quarantine_resolution and fail with a clear message for an id
-- that is not quarantined.
-- A routine (sql/routines/): edit this file in place, the runner re-applies it when it changes.
DROP PROCEDURE IF EXISTS relay_release_quarantine;

CREATE PROCEDURE relay_release_quarantine(IN p_outbox_id BIGINT UNSIGNED)
  MODIFIES SQL DATA
  COMMENT 'Puts a quarantined change back in the queue (dispatch retries it)'
BEGIN
  UPDATE relay_outbox
     SET quarantined_at = NULL, last_error = NULL,
         quarantine_resolution = LEFT(CONCAT('released ', DATE_FORMAT(UTC_TIMESTAMP(), '%Y-%m-%dT%H:%i:%sZ'),
                                             ' by ', CURRENT_USER(), ' after: ',
                                             COALESCE(quarantine_reason, '')), 255)
   WHERE id = p_outbox_id AND quarantined_at IS NOT NULL AND handed_off_at IS NULL;
  IF ROW_COUNT() = 0 THEN
    SIGNAL SQLSTATE '45000'
      SET MESSAGE_TEXT = 'relay_release_quarantine: no quarantined change with this outbox id';
  END IF;
END;

DROP PROCEDURE IF EXISTS relay_skip_quarantine;

CREATE PROCEDURE relay_skip_quarantine(IN p_outbox_id BIGINT UNSIGNED,
                                       IN p_why VARCHAR(200) CHARACTER SET utf8mb4)
  MODIFIES SQL DATA
  COMMENT 'Resolves a quarantined change without sending it (then purged like a sent one)'
BEGIN
  UPDATE relay_outbox
     SET handed_off_at = UTC_TIMESTAMP(6), confirmed_at = UTC_TIMESTAMP(6),
         quarantine_resolution = LEFT(CONCAT('skipped ', DATE_FORMAT(UTC_TIMESTAMP(), '%Y-%m-%dT%H:%i:%sZ'),
                                             ' by ', CURRENT_USER(), ': ',
                                             COALESCE(NULLIF(p_why, ''), 'no reason given')), 255)
   WHERE id = p_outbox_id AND quarantined_at IS NOT NULL AND handed_off_at IS NULL;
  IF ROW_COUNT() = 0 THEN
    SIGNAL SQLSTATE '45000'
      SET MESSAGE_TEXT = 'relay_skip_quarantine: no quarantined change with this outbox id';
  END IF;
END;
