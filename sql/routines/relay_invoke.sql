-- relay_invoke(payload, OUT error): the one place that calls lambda_async. Invokes the notify
-- function (relay_settings.function_arn) asynchronously with `payload` and never raises: on success
-- p_error is NULL, on failure it is '<errno>: <message>' (at most 1024 characters). Used by
-- relay_dispatch (a batch of outbox rows) and relay_heartbeat (the status).
--
-- Aurora MySQL 3: the native lambda_async(arn, json) function; the definer (the migrating relay
-- user) needs AWS_LAMBDA_ACCESS active. Locally: the stand-in in sql/local/001_lambda_async.sql.
-- The call is `SET v = lambda_async(...)`, not `DO lambda_async(...)`: MariaDB's DO turns an error
-- raised inside a function into a warning, so a failure would go unnoticed and the caller would
-- mark the rows handed off.
DROP PROCEDURE IF EXISTS relay_invoke;

CREATE PROCEDURE relay_invoke(IN p_payload LONGTEXT CHARACTER SET utf8mb4,
                              OUT p_error VARCHAR(1024) CHARACTER SET utf8mb4)
  MODIFIES SQL DATA
  COMMENT 'Calls lambda_async(notify function, payload); p_error = NULL or "<errno>: <message>"'
BEGIN
  DECLARE v_arn VARCHAR(2048) CHARACTER SET utf8mb4 DEFAULT NULL;
  DECLARE v_result TEXT CHARACTER SET utf8mb4 DEFAULT NULL;

  DECLARE EXIT HANDLER FOR SQLEXCEPTION
  BEGIN
    DECLARE v_errno INT DEFAULT 0;
    DECLARE v_message TEXT CHARACTER SET utf8mb4 DEFAULT NULL;
    GET DIAGNOSTICS CONDITION 1 v_errno = MYSQL_ERRNO, v_message = MESSAGE_TEXT;
    SET p_error = LEFT(CONCAT(v_errno, ': ', COALESCE(v_message, '')), 1024);
  END;

  SET p_error = NULL;
  SELECT function_arn INTO v_arn FROM relay_settings WHERE id = 1;
  IF v_arn IS NULL THEN
    SIGNAL SQLSTATE '45000'
      SET MESSAGE_TEXT = 'relay_invoke: relay_settings is empty; run the migration (db:migrate)';
  END IF;
  SET v_result = lambda_async(v_arn, p_payload);
END;
