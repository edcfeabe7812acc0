-- relay_heartbeat(): once a minute the database tells the notify function how the relay is doing
-- (pending rows, age of the oldest, overdue rows, consecutive dispatch failures), through the
-- same relay_invoke (lambda_async) the relay uses. notify turns it into CloudWatch metrics; an
-- alarm fires when the heartbeat stops arriving. That is the one signal for failures no AWS metric
-- shows: lambda_async failing (ERROR 1873: endpoint, security group, role association,
-- AWS_LAMBDA_ACCESS), the event scheduler off, or the database down — when orders pile up in the
-- outbox and nothing downstream runs at all.
-- Payload (relayHeartbeatSchema in contract/envelope.ts): { "region": "...", "heartbeat": {
--   "at": ISO-8601 UTC, "pending": n, "oldestPendingSeconds": n, "overdue": n,
--   "consecutiveFailures": n, "quarantined": n (changes too large to send, relay_quarantine.sql),
--   "purgeFailures": n (purge runs in a row that failed), "backfillIncomplete": n (listed tables
--   whose backfill is not verified complete), "unconfirmedOverdue": n (rows handed off, not
--   confirmed by the DC and older than the retention: relay_confirm.sql) } }, all read from the
--   relay_status view.
-- Before reading it, relay_capture_check() makes sure every listed table still has its three
-- capture triggers: a table dropped and re-created by a storefront upgrade loses them (and its
-- changes would go unseen); it is then reported as an incomplete backfill (backfill_error says
-- why), which raises the alarm, until db:migrate reinstalls capture and backfills the table.
-- A routine (sql/routines/): edit this file in place, the runner re-applies it when its text
-- changes. relay_heartbeat_event (once a minute) is defined at the end of this file.
DROP PROCEDURE IF EXISTS relay_capture_check;

CREATE PROCEDURE relay_capture_check()
  MODIFIES SQL DATA
  COMMENT 'Reports listed tables whose capture triggers are missing as incomplete backfills'
BEGIN
  UPDATE relay_tables t
     SET t.backfill_state = 'incomplete',
         t.backfill_error = 'capture triggers missing (the table was re-created?): run db:migrate',
         t.updated_at = UTC_TIMESTAMP(6)
   WHERE t.listed
     AND (SELECT COUNT(*) FROM information_schema.TRIGGERS g
           WHERE g.TRIGGER_SCHEMA = DATABASE() AND g.EVENT_OBJECT_TABLE = t.table_name
             AND g.TRIGGER_NAME LIKE 'relay\\_%') < 3;
END;

DROP PROCEDURE IF EXISTS relay_heartbeat;

CREATE PROCEDURE relay_heartbeat()
  MODIFIES SQL DATA
  COMMENT 'Sends the relay status to the notify function (liveness + backlog metrics)'
proc: BEGIN
  DECLARE v_region VARCHAR(64) CHARACTER SET utf8mb4 DEFAULT NULL;
  DECLARE v_payload LONGTEXT CHARACTER SET utf8mb4 DEFAULT NULL;
  DECLARE v_error VARCHAR(1024) CHARACTER SET utf8mb4 DEFAULT NULL;

  SELECT region INTO v_region FROM relay_settings WHERE id = 1;
  IF v_region IS NULL THEN
    LEAVE proc;
  END IF;
  CALL relay_capture_check();

  SELECT JSON_OBJECT(
           'region', v_region,
           'heartbeat', JSON_OBJECT(
             'at', CONCAT(DATE_FORMAT(UTC_TIMESTAMP(3), '%Y-%m-%dT%H:%i:%s.'),
                          LPAD(FLOOR(MICROSECOND(UTC_TIMESTAMP(3)) / 1000), 3, '0'), 'Z'),
             'pending', s.pending,
             'oldestPendingSeconds',
               COALESCE(TIMESTAMPDIFF(SECOND, s.oldest_pending_at, UTC_TIMESTAMP(6)), 0),
             'overdue', s.overdue,
             'consecutiveFailures', s.consecutive_failures,
             'quarantined', s.quarantined,
             'purgeFailures', s.purge_failures,
             'backfillIncomplete', s.backfill_incomplete,
             'unconfirmedOverdue', s.unconfirmed_overdue))
    INTO v_payload
    FROM relay_status s;

  CALL relay_invoke(v_payload, v_error);

  -- A failed heartbeat is not retried: its absence is what raises the alarm.
  UPDATE relay_state
     SET last_heartbeat_at = IF(v_error IS NULL, UTC_TIMESTAMP(6), last_heartbeat_at),
         last_heartbeat_error = v_error
   WHERE id = 1;
END;

DROP EVENT IF EXISTS relay_heartbeat_event;

CREATE EVENT relay_heartbeat_event
  ON SCHEDULE EVERY 1 MINUTE
  STARTS CURRENT_TIMESTAMP + INTERVAL 1 MINUTE
  ON COMPLETION PRESERVE
  ENABLE
  COMMENT 'order relay: liveness and backlog heartbeat to the notify function'
  DO CALL relay_heartbeat();
