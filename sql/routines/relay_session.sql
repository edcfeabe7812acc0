-- relay_session_begin() / relay_session_end(): the session the relay's procedures read the
-- storefront's tables in, and the caller's session restored afterwards.
--
-- * time_zone '+00:00': TIMESTAMP key values (UTC ISO-8601 in key JSON) are read back as UTC.
-- * READ COMMITTED: every statement sees what was committed when it started, and
--   INSERT … SELECT from a storefront table is a consistent (non-locking) read there — under
--   REPEATABLE READ it would take shared locks on the storefront's rows (blocking its UPDATEs) and
--   wait for its open transactions. Uncommitted outbox rows (a straggler) are skipped, not waited
--   for.
-- The caller's values are kept in @relay_saved_tz / @relay_saved_isolation (read through
-- PREPARE: MariaDB 10.11 names the variable tx_isolation, MySQL 8.0 transaction_isolation, and an
-- unknown variable in a routine's text is an error when it is created). Nested begin/end pairs
-- keep the outermost values. Call with autocommit on (the events do).
-- A routine (sql/routines/): edit this file in place, the runner re-applies it when it changes.
DROP PROCEDURE IF EXISTS relay_session_begin;

CREATE PROCEDURE relay_session_begin()
  NO SQL
BEGIN
  SET @relay_session_depth = COALESCE(@relay_session_depth, 0) + 1;
  IF @relay_session_depth = 1 THEN
    SET @relay_saved_tz = @@session.time_zone, @relay_saved_isolation = NULL;
    BEGIN
      DECLARE CONTINUE HANDLER FOR SQLEXCEPTION BEGIN END;
      PREPARE relay_session_stmt FROM
        'SELECT @@session.transaction_isolation INTO @relay_saved_isolation';
      EXECUTE relay_session_stmt;
      DEALLOCATE PREPARE relay_session_stmt;
    END;
    IF @relay_saved_isolation IS NULL THEN
      BEGIN
        DECLARE CONTINUE HANDLER FOR SQLEXCEPTION BEGIN END;
        PREPARE relay_session_stmt FROM 'SELECT @@session.tx_isolation INTO @relay_saved_isolation';
        EXECUTE relay_session_stmt;
        DEALLOCATE PREPARE relay_session_stmt;
      END;
    END IF;
  END IF;
  SET time_zone = '+00:00';
  SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED;
END;

DROP PROCEDURE IF EXISTS relay_session_end;

CREATE PROCEDURE relay_session_end()
  NO SQL
BEGIN
  SET @relay_session_depth = GREATEST(COALESCE(@relay_session_depth, 1) - 1, 0);
  IF @relay_session_depth = 0 THEN
    SET time_zone = COALESCE(@relay_saved_tz, @@session.time_zone);
    CASE COALESCE(@relay_saved_isolation, 'REPEATABLE-READ')
      WHEN 'READ-UNCOMMITTED' THEN SET SESSION TRANSACTION ISOLATION LEVEL READ UNCOMMITTED;
      WHEN 'READ-COMMITTED' THEN SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED;
      WHEN 'SERIALIZABLE' THEN SET SESSION TRANSACTION ISOLATION LEVEL SERIALIZABLE;
      ELSE SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ;
    END CASE;
    SET @relay_saved_tz = NULL, @relay_saved_isolation = NULL, @relay_session_depth = NULL;
  END IF;
END;
