-- relay_heartbeat(): once a minute the database tells the notify function how the relay is doing
-- (pending rows, age of the oldest, overdue rows, consecutive dispatch failures), with the same
-- lambda_async the relay uses. notify turns it into CloudWatch metrics; an alarm fires when the
-- heartbeat stops arriving. That is the one signal for failures no AWS metric shows: lambda_async
-- failing (ERROR 1873: endpoint, security group, role association, AWS_LAMBDA_ACCESS), the event
-- scheduler off, or the database down — when orders pile up in the outbox and nothing downstream
-- runs at all.
-- Payload: { "region": "...", "heartbeat": { "at": ISO-8601 UTC, "pending": n,
--            "oldestPendingSeconds": n, "overdue": n, "consecutiveFailures": n } }
DROP PROCEDURE IF EXISTS relay_heartbeat;

CREATE PROCEDURE relay_heartbeat()
  MODIFIES SQL DATA
  COMMENT 'Sends the relay status to the notify function (liveness + backlog metrics)'
proc: BEGIN
  DECLARE v_arn VARCHAR(2048);
  DECLARE v_region VARCHAR(64);
  DECLARE v_payload LONGTEXT;
  DECLARE v_result LONGTEXT;
  DECLARE v_failed BOOLEAN DEFAULT FALSE;
  DECLARE v_errno INT;
  DECLARE v_message TEXT;

  SELECT function_arn, region INTO v_arn, v_region FROM relay_settings WHERE id = 1;
  IF v_arn IS NULL THEN
    LEAVE proc;
  END IF;

  SELECT JSON_OBJECT(
           'region', v_region,
           'heartbeat', JSON_OBJECT(
             'at', CONCAT(DATE_FORMAT(UTC_TIMESTAMP(3), '%Y-%m-%dT%H:%i:%s.'),
                          LPAD(FLOOR(MICROSECOND(UTC_TIMESTAMP(3)) / 1000), 3, '0'), 'Z'),
             'pending', s.pending,
             'oldestPendingSeconds',
               COALESCE(TIMESTAMPDIFF(SECOND, s.oldest_pending_at, UTC_TIMESTAMP(6)), 0),
             'overdue', s.overdue,
             'consecutiveFailures', s.consecutive_failures))
    INTO v_payload
    FROM relay_status s;

  BEGIN
    DECLARE EXIT HANDLER FOR SQLEXCEPTION
    BEGIN
      GET DIAGNOSTICS CONDITION 1 v_errno = MYSQL_ERRNO, v_message = MESSAGE_TEXT;
      SET v_failed = TRUE;
    END;
    -- SET, not DO (MariaDB's DO would turn the error into a warning).
    SET v_result = lambda_async(v_arn, v_payload);
  END;

  -- A failed heartbeat is not retried: its absence is what raises the alarm.
  UPDATE relay_state
     SET last_heartbeat_at = IF(v_failed, last_heartbeat_at, UTC_TIMESTAMP(6)),
         last_heartbeat_error = IF(v_failed, LEFT(CONCAT(v_errno, ': ', COALESCE(v_message, '')), 1024), NULL)
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
