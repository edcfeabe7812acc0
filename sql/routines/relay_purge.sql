-- relay_purge(): personal data leaves the database once the DC has it. A row of a listed table is
-- deleted, with its outbox entries, once its latest change was handed off — and, with
-- settings.purge_requires = 'confirmed' (the default), confirmed by the DC (relay_confirm.sql;
-- 'handedOff': handed off is enough) — and is older (by occurred_at) than settings.retention_hours (0 and fractions allowed), unless a change of it is
-- quarantined (relay_quarantine.sql: kept until an operator resolves it). Rows never handed off
-- stay (the relay_overdue view). Outbox entries of deleted rows, of tables no longer listed,
-- SCHEMA records and changes superseded by a later one go too once handed off and past the
-- retention.
--
-- Children first: tables are purged deepest first (relay_tables.purge_rank, from the `parent` of
-- each listed table), and a parent row is deleted only when no row of a listed child table still
-- refers to it (parent.column = its key): a child with a pending or recent change keeps its
-- parent until it goes itself, so a foreign key never blocks the purge (ERROR 1451) and
-- ON DELETE CASCADE never removes a child the DC has not received. (A child table that is not
-- listed but has a foreign key to a listed one still makes its parent's DELETE fail: that is
-- recorded as below and names the table — list the child table.)
--
-- The relay's own deletes are not captured: the purge sets @relay_purging and the generated
-- AFTER DELETE triggers skip the outbox while it is set (sql/capture.ts).
--
-- Statements that lock or delete start from the candidates (STRAIGHT_JOIN from the work table,
-- FORCE INDEX on the key): never a scan of a storefront table or of the outbox, which would wait on rows
-- the storefront has locked.
-- Works through the outbox in id chunks of settings.purge_batch_size; per chunk and table one
-- short transaction (READ COMMITTED): lock the candidate rows (SELECT … FOR UPDATE), re-check
-- that no newer change committed meanwhile, delete, then delete the outbox entries of the rows
-- that are gone. Stops at the first chunk that is entirely recent or when settings.purge_max_ms
-- is used up (the next run continues). Runs never overlap (GET_LOCK).
--
-- A failing table (its transaction rolled back) does not stop the others: the run records the
-- error, its time and the number of failed runs in a row (relay_state: last_purge_error,
-- last_purge_error_at, purge_consecutive_failures; relay_status.purge_failures; the heartbeat's
-- purgeFailures raises an alarm). last_purge_at is set only by a run without errors.
--
-- Purged rows live on in Aurora's automated backups for the backup retention period.
--
-- A routine (sql/routines/): edit this file in place, the runner re-applies it when its text
-- changes. relay_purge_event is defined at the end of this file; its schedule here is a
-- placeholder: the runner sets it to settings.purgeIntervalMinutes on every run (event schedules
-- cannot read a table).
DROP PROCEDURE IF EXISTS relay_purge;

CREATE PROCEDURE relay_purge()
  MODIFIES SQL DATA
  COMMENT 'Deletes handed-off rows older than the retention (children first), in bounded batches'
proc: BEGIN
  DECLARE v_lock VARCHAR(64) DEFAULT LEFT(CONCAT('relay_purge.', DATABASE()), 64);
  DECLARE v_retention_us BIGINT DEFAULT NULL;
  DECLARE v_chunk INT DEFAULT 1000;
  DECLARE v_max_ms INT DEFAULT 5000;
  DECLARE v_started DATETIME(6) DEFAULT SYSDATE(6);
  DECLARE v_cutoff DATETIME(6);
  DECLARE v_lo BIGINT UNSIGNED DEFAULT 0;
  DECLARE v_hi BIGINT UNSIGNED DEFAULT NULL;
  DECLARE v_oldest DATETIME(6) DEFAULT NULL;
  DECLARE v_deleted BIGINT DEFAULT 0;
  DECLARE v_errors INT DEFAULT 0;
  DECLARE v_error VARCHAR(1024) CHARACTER SET utf8mb4 DEFAULT NULL;
  DECLARE v_table VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin DEFAULT NULL;
  DECLARE v_listed BOOLEAN DEFAULT FALSE;
  DECLARE v_stale VARCHAR(512) CHARACTER SET utf8mb4 DEFAULT NULL;
  DECLARE v_missing BOOLEAN DEFAULT FALSE;
  DECLARE v_match TEXT CHARACTER SET utf8mb4 DEFAULT NULL;
  DECLARE v_children TEXT CHARACTER SET utf8mb4 DEFAULT NULL;
  DECLARE v_lock_wait BIGINT DEFAULT @@session.innodb_lock_wait_timeout;
  DECLARE v_confirmed BOOLEAN DEFAULT TRUE;

  DECLARE EXIT HANDLER FOR SQLEXCEPTION
  BEGIN
    DECLARE v_errno INT DEFAULT 0;
    DECLARE v_message TEXT CHARACTER SET utf8mb4 DEFAULT NULL;
    GET DIAGNOSTICS CONDITION 1 v_errno = MYSQL_ERRNO, v_message = MESSAGE_TEXT;
    ROLLBACK;
    SET @relay_purging = NULL;
    SET SESSION innodb_lock_wait_timeout = v_lock_wait;
    CALL relay_session_end();
    UPDATE relay_state
       SET last_purge_attempt_at = UTC_TIMESTAMP(6), last_purge_error_at = UTC_TIMESTAMP(6),
           last_purge_error = LEFT(CONCAT(v_errno, ': ', COALESCE(v_message, '')), 1024),
           purge_consecutive_failures = purge_consecutive_failures + 1,
           purge_total_failures = purge_total_failures + 1
     WHERE id = 1;
    DO RELEASE_LOCK(v_lock);
    RESIGNAL;
  END;

  SELECT CAST(ROUND(retention_hours * 3600000000) AS SIGNED), purge_batch_size, purge_max_ms,
         purge_requires = 'confirmed'
    INTO v_retention_us, v_chunk, v_max_ms, v_confirmed
    FROM relay_settings WHERE id = 1;
  IF v_retention_us IS NULL THEN
    SIGNAL SQLSTATE '45000'
      SET MESSAGE_TEXT = 'relay_purge: relay_settings is empty; run the migration (db:migrate)';
  END IF;

  IF COALESCE(GET_LOCK(v_lock, 0), 0) <> 1 THEN
    LEAVE proc;
  END IF;
  CALL relay_session_begin();
  SET @relay_purging = 1;
  -- A storefront transaction holding an old row makes that table's step fail after 5 s (recorded,
  -- retried next run) instead of stalling the purge for the server's default 50 s.
  SET SESSION innodb_lock_wait_timeout = LEAST(v_lock_wait, 5);
  SET SESSION group_concat_max_len = GREATEST(@@session.group_concat_max_len, 1048576);

  -- Integer microseconds: fractional INTERVAL ... SECOND is not treated alike everywhere.
  SET v_cutoff = UTC_TIMESTAMP(6) - INTERVAL v_retention_us MICROSECOND;

  DROP TEMPORARY TABLE IF EXISTS relay_pc, relay_pd;
  -- Candidates: the latest change of a row, handed off (and, with purge_requires = 'confirmed',
  -- confirmed by the DC), past the retention, none quarantined.
  CREATE TEMPORARY TABLE relay_pc (
    outbox_id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
    table_name VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    key_hash BINARY(32) NOT NULL,
    key_json TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    keep BOOLEAN NOT NULL DEFAULT TRUE,
    gone BOOLEAN NOT NULL DEFAULT FALSE,
    done BOOLEAN NOT NULL DEFAULT FALSE
  ) ENGINE = InnoDB;
  -- Outbox entries that go without a row: SCHEMA records and superseded changes.
  CREATE TEMPORARY TABLE relay_pd (id BIGINT UNSIGNED NOT NULL PRIMARY KEY) ENGINE = InnoDB;

  purge_loop: LOOP
    SET v_hi = NULL, v_oldest = NULL;
    SELECT MAX(c.id), MIN(c.occurred_at) INTO v_hi, v_oldest
      FROM (SELECT id, occurred_at FROM relay_outbox WHERE id > v_lo ORDER BY id LIMIT v_chunk) c;
    IF v_hi IS NULL OR v_oldest >= v_cutoff THEN
      LEAVE purge_loop;
    END IF;

    DELETE FROM relay_pc;
    DELETE FROM relay_pd;
    INSERT INTO relay_pc (outbox_id, table_name, key_hash, key_json)
      SELECT o.id, o.table_name, o.key_hash, o.key_json
        FROM relay_outbox o
       WHERE o.id > v_lo AND o.id <= v_hi
         AND o.handed_off_at IS NOT NULL AND o.occurred_at < v_cutoff
         AND (NOT v_confirmed OR o.confirmed_at IS NOT NULL)
         AND o.op <> 'SCHEMA' AND o.key_hash IS NOT NULL
         AND NOT EXISTS (SELECT 1 FROM relay_outbox n
                          WHERE n.key_hash = o.key_hash AND n.table_name = o.table_name
                            AND n.id > o.id)
         AND NOT EXISTS (SELECT 1 FROM relay_outbox q
                          WHERE q.key_hash = o.key_hash AND q.table_name = o.table_name
                            AND q.quarantined_at IS NOT NULL AND q.handed_off_at IS NULL);
    INSERT INTO relay_pd (id)
      SELECT o.id
        FROM relay_outbox o
       WHERE o.id > v_lo AND o.id <= v_hi
         AND o.handed_off_at IS NOT NULL AND o.occurred_at < v_cutoff
         AND (o.op = 'SCHEMA' OR o.key_hash IS NULL
              OR EXISTS (SELECT 1 FROM relay_outbox n
                          WHERE n.key_hash = o.key_hash AND n.table_name = o.table_name
                            AND n.id > o.id));

    table_loop: LOOP
      SET v_table = NULL;
      SELECT c.table_name INTO v_table
        FROM relay_pc c LEFT JOIN relay_tables t ON t.table_name = c.table_name
       WHERE NOT c.done
       ORDER BY COALESCE(t.purge_rank, 0) DESC, c.table_name
       LIMIT 1;
      IF v_table IS NULL THEN
        LEAVE table_loop;
      END IF;

      BEGIN
        -- One table's failure (e.g. ERROR 1451 from a child table that is not listed) is
        -- recorded and the next table goes on.
        DECLARE EXIT HANDLER FOR SQLEXCEPTION
        BEGIN
          DECLARE v_errno INT DEFAULT 0;
          DECLARE v_message TEXT CHARACTER SET utf8mb4 DEFAULT NULL;
          GET DIAGNOSTICS CONDITION 1 v_errno = MYSQL_ERRNO, v_message = MESSAGE_TEXT;
          ROLLBACK;
          SET v_errors = v_errors + 1;
          IF v_error IS NULL THEN
            SET v_error = LEFT(CONCAT(v_table, ': ', v_errno, ': ', COALESCE(v_message, '')), 1024);
          END IF;
        END;

        SET v_listed = FALSE, v_stale = NULL, v_match = NULL, v_children = NULL, v_missing = FALSE;
        SELECT listed, stale_reason, key_match, table_missing
          INTO v_listed, v_stale, v_match, v_missing
          FROM relay_tables WHERE table_name = v_table;
        IF v_listed AND NOT v_missing AND v_stale IS NULL AND v_match IS NOT NULL THEN
          -- Listed children that still refer to a row keep it (their rows go first).
          SELECT GROUP_CONCAT(CONCAT(' AND NOT EXISTS (SELECT 1 FROM ', relay_ident(c.table_name),
                                     ' x WHERE x.', relay_ident(c.parent_column), ' = s.',
                                     relay_ident(JSON_UNQUOTE(JSON_EXTRACT(p.key_columns, '$[0]'))),
                                     ')') SEPARATOR '')
            INTO v_children
            FROM relay_tables c JOIN relay_tables p ON p.table_name = c.parent_table
           WHERE c.parent_table = v_table AND c.listed;
          SET @relay_purge_table = v_table;

          START TRANSACTION;
          SET @relay_purge_sql = CONCAT(
            'SELECT COUNT(*) INTO @relay_purge_locked FROM relay_pc k STRAIGHT_JOIN ',
            relay_ident(v_table), ' s FORCE INDEX (PRIMARY) ON ', v_match,
            ' WHERE k.table_name = ? FOR UPDATE');
          PREPARE relay_purge_stmt FROM @relay_purge_sql;
          EXECUTE relay_purge_stmt USING @relay_purge_table;
          DEALLOCATE PREPARE relay_purge_stmt;
          -- A change committed while we waited for the row locks: not purged now.
          UPDATE relay_pc k
             SET k.keep = FALSE
           WHERE k.table_name = v_table
             AND EXISTS (SELECT 1 FROM relay_outbox n
                          WHERE n.key_hash = k.key_hash AND n.table_name = k.table_name
                            AND n.id > k.outbox_id);
          SET @relay_purge_sql = CONCAT(
            'DELETE s FROM relay_pc k STRAIGHT_JOIN ', relay_ident(v_table),
            ' s FORCE INDEX (PRIMARY) ON ', v_match,
            ' WHERE k.table_name = ? AND k.keep', COALESCE(v_children, ''));
          PREPARE relay_purge_stmt FROM @relay_purge_sql;
          EXECUTE relay_purge_stmt USING @relay_purge_table;
          SET v_deleted = v_deleted + ROW_COUNT();
          DEALLOCATE PREPARE relay_purge_stmt;
          SET @relay_purge_sql = CONCAT(
            'UPDATE relay_pc k SET k.gone = NOT EXISTS (SELECT 1 FROM ', relay_ident(v_table),
            ' s WHERE ', v_match, ') WHERE k.table_name = ? AND k.keep');
          PREPARE relay_purge_stmt FROM @relay_purge_sql;
          EXECUTE relay_purge_stmt USING @relay_purge_table;
          DEALLOCATE PREPARE relay_purge_stmt;
          DELETE o FROM relay_pc k STRAIGHT_JOIN relay_outbox o FORCE INDEX (relay_outbox_key)
              ON o.key_hash = k.key_hash AND o.table_name = k.table_name
           WHERE k.table_name = v_table AND k.gone AND o.id <= k.outbox_id;
          COMMIT;
        ELSEIF NOT v_listed OR v_missing THEN
          -- No longer listed (its rows are not the relay's to purge), or gone: entries only.
          DELETE o FROM relay_pc k STRAIGHT_JOIN relay_outbox o FORCE INDEX (PRIMARY)
              ON o.id = k.outbox_id
           WHERE k.table_name = v_table;
        END IF;
      END;
      UPDATE relay_pc SET done = TRUE WHERE table_name = v_table;
    END LOOP table_loop;

    DELETE o FROM relay_pd d STRAIGHT_JOIN relay_outbox o FORCE INDEX (PRIMARY) ON o.id = d.id;

    SET v_lo = v_hi;
    IF TIMESTAMPDIFF(MICROSECOND, v_started, SYSDATE(6)) >= v_max_ms * 1000 THEN
      LEAVE purge_loop;
    END IF;
  END LOOP;

  DROP TEMPORARY TABLE IF EXISTS relay_pc, relay_pd;
  SET @relay_purging = NULL;
  SET SESSION innodb_lock_wait_timeout = v_lock_wait;
  UPDATE relay_state
     SET last_purge_attempt_at = UTC_TIMESTAMP(6),
         last_purge_at = IF(v_errors = 0, UTC_TIMESTAMP(6), last_purge_at),
         last_purge_deleted = v_deleted,
         total_purged = total_purged + v_deleted,
         purge_consecutive_failures = IF(v_errors = 0, 0, purge_consecutive_failures + 1),
         purge_total_failures = purge_total_failures + IF(v_errors = 0, 0, 1),
         last_purge_error = IF(v_errors = 0, last_purge_error, v_error),
         last_purge_error_at = IF(v_errors = 0, last_purge_error_at, UTC_TIMESTAMP(6))
   WHERE id = 1;
  CALL relay_session_end();
  DO RELEASE_LOCK(v_lock);
END;

DROP EVENT IF EXISTS relay_purge_event;

CREATE EVENT relay_purge_event
  ON SCHEDULE EVERY 5 MINUTE
  ON COMPLETION PRESERVE
  ENABLE
  COMMENT 'order relay: delete handed-off rows past the retention'
  DO CALL relay_purge();
