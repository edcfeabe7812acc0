-- LOCAL ONLY, never applied in AWS: the lambda_async stand-in (001) now also rejects a payload
-- larger than Lambda's asynchronous invocation limit, as AWS does (RequestEntityTooLarge):
-- 262144 bytes = ASYNC_INVOKE_PAYLOAD_LIMIT_BYTES in contract/envelope.ts, the figure the relay
-- holds itself to (the tests check the two agree). The error is raised like Aurora reports a
-- failed call (ERROR 1873), so relay_invoke records it and dispatch keeps the rows.
DROP FUNCTION IF EXISTS lambda_async;

CREATE FUNCTION lambda_async(p_arn VARCHAR(2048) CHARACTER SET utf8mb4,
                             p_payload LONGTEXT CHARACTER SET utf8mb4)
  RETURNS INT
  NOT DETERMINISTIC
  MODIFIES SQL DATA
BEGIN
  DECLARE v_message VARCHAR(255) CHARACTER SET utf8mb4 DEFAULT NULL;
  IF (SELECT fail FROM local_lambda_state WHERE id = 1) THEN
    SIGNAL SQLSTATE 'HY000' SET MYSQL_ERRNO = 1873,
      MESSAGE_TEXT = 'Lambda API returned error: Network Connection. Unable to connect to endpoint (local stand-in)';
  END IF;
  IF LENGTH(p_payload) > 262144 THEN
    SET v_message = CONCAT('Lambda API returned error: RequestEntityTooLargeException: payload of ',
                           LENGTH(p_payload), ' bytes exceeds 262144 (local stand-in)');
    SIGNAL SQLSTATE 'HY000' SET MYSQL_ERRNO = 1873, MESSAGE_TEXT = v_message;
  END IF;
  INSERT INTO lambda_invocations (function_arn, payload, created_at)
    VALUES (p_arn, p_payload, UTC_TIMESTAMP(6));
  RETURN 0;
END;
