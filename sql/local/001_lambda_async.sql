-- LOCAL ONLY, never applied in AWS: a stand-in for Aurora MySQL 3's native lambda_async(arn, json)
-- on stock MariaDB/MySQL. Records every call in lambda_invocations; CALL local_lambda_fail(TRUE)
-- makes every later call fail like Aurora's ERROR 1873 (Lambda API unreachable), FALSE undoes it.
-- On a MySQL server with binary logging on, creating this function needs
-- log_bin_trust_function_creators=1 (it is NOT DETERMINISTIC and MODIFIES SQL DATA).
CREATE TABLE IF NOT EXISTS lambda_invocations (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  function_arn VARCHAR(2048) NOT NULL,
  payload LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  created_at DATETIME(6) NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

CREATE TABLE IF NOT EXISTS local_lambda_state (
  id TINYINT UNSIGNED NOT NULL PRIMARY KEY,
  fail BOOLEAN NOT NULL DEFAULT FALSE
) ENGINE = InnoDB;

INSERT IGNORE INTO local_lambda_state (id, fail) VALUES (1, FALSE);

DROP PROCEDURE IF EXISTS local_lambda_fail;

CREATE PROCEDURE local_lambda_fail(p_fail BOOLEAN)
  MODIFIES SQL DATA
  UPDATE local_lambda_state SET fail = COALESCE(p_fail, FALSE) WHERE id = 1;

DROP FUNCTION IF EXISTS lambda_async;

CREATE FUNCTION lambda_async(p_arn VARCHAR(2048) CHARACTER SET utf8mb4,
                             p_payload LONGTEXT CHARACTER SET utf8mb4)
  RETURNS INT
  NOT DETERMINISTIC
  MODIFIES SQL DATA
BEGIN
  IF (SELECT fail FROM local_lambda_state WHERE id = 1) THEN
    SIGNAL SQLSTATE 'HY000' SET MYSQL_ERRNO = 1873,
      MESSAGE_TEXT = 'Lambda API returned error: Network Connection. Unable to connect to endpoint (local stand-in)';
  END IF;
  INSERT INTO lambda_invocations (function_arn, payload, created_at)
    VALUES (p_arn, p_payload, UTC_TIMESTAMP(6));
  RETURN 0;
END;
