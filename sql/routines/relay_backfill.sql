-- Backfill and resync: rows of a listed table that the triggers did not capture get an outbox
-- entry (an UPSERT of their key: dispatch sends their current state).
--
-- * relay_backfill_table('t', max_chunks): enqueues every row of t without an outbox entry, walking t in
--   primary-key order in chunks of settings.backfill_chunk_rows (one bounded INSERT … SELECT
--   each, READ COMMITTED: no lock on the storefront's rows). Progress is recorded per table in
--   relay_tables (backfill_state 'running', backfill_last_key = the last key covered, after every
--   chunk): an interrupted backfill (connection lost, server restart) resumes from there on the
--   next CALL or db:migrate. At the end it is verified: the rows of t without an outbox entry are
--   counted; 0 → 'complete', otherwise one more pass from the start, and if rows are still missing
--   → 'incomplete' with the count in backfill_missing. Anything but 'complete' shows in
--   relay_status.backfill_incomplete and the heartbeat's backfillIncomplete (alarm). max_chunks
--   NULL runs the pass to its end; a number stops after that many chunks (still 'running').
-- * relay_backfill_step(): a few chunks of every table whose pass is 'running' — relay_dispatch()
--   calls it after each run, so an interrupted backfill and the resync a storefront upgrade
--   started (relay_table_refresh) go on by themselves, a little every second; a failing step is
--   recorded in relay_tables.backfill_error and retried.
-- * relay_backfill(): every listed table — resumes a running backfill, restarts an incomplete one,
--   and re-checks a complete one (a full pass that enqueues only rows without an entry, then the
--   verification). The runner calls relay_backfill_table() for the tables not complete (a run
--   interrupted half way resumes; db:migrate fails while one stays incomplete).
-- * relay_resync('t'): re-sends the current state of every row of t — after a storefront upgrade,
--   or when the DC restored a backup: a SCHEMA record, then an UPSERT of every row (a pass like the
--   backfill's without the "no entry yet" filter; resumable the same way). Command line:
--   `npm run db:migrate -- --resync t` (sql/cli.ts).
-- occurred_at of these entries is the time they were enqueued (the change time is unknown).
--
-- A routine (sql/routines/): edit this file in place, the runner re-applies it when it changes.
DROP PROCEDURE IF EXISTS relay_backfill_table;

CREATE PROCEDURE relay_backfill_table(IN p_table VARCHAR(64) CHARACTER SET utf8mb4,
                                      IN p_max_chunks INT)
  MODIFIES SQL DATA
  COMMENT 'Enqueues rows of p_table without an outbox entry (resumable, verified)'
proc: BEGIN
  DECLARE v_state VARCHAR(16) DEFAULT NULL;
  DECLARE v_mode VARCHAR(16) DEFAULT NULL;
  DECLARE v_stale VARCHAR(512) CHARACTER SET utf8mb4 DEFAULT NULL;
  DECLARE v_key TEXT CHARACTER SET utf8mb4 DEFAULT NULL;
  DECLARE v_hash TEXT CHARACTER SET utf8mb4 DEFAULT NULL;
  DECLARE v_after TEXT CHARACTER SET utf8mb4 DEFAULT NULL;
  DECLARE v_upto TEXT CHARACTER SET utf8mb4 DEFAULT NULL;
  DECLARE v_cols TEXT CHARACTER SET utf8mb4 DEFAULT NULL;
  DECLARE v_cols_desc TEXT CHARACTER SET utf8mb4 DEFAULT NULL;
  DECLARE v_last TEXT CHARACTER SET utf8mb4 DEFAULT NULL;
  DECLARE v_chunk INT DEFAULT 1000;
  DECLARE v_missing BIGINT DEFAULT 0;
  DECLARE v_pass INT DEFAULT 0;
  DECLARE v_filter TEXT CHARACTER SET utf8mb4 DEFAULT NULL;
  DECLARE v_from TEXT CHARACTER SET utf8mb4 DEFAULT NULL;
  DECLARE v_chunks INT DEFAULT 0;

  DECLARE EXIT HANDLER FOR SQLEXCEPTION
  BEGIN
    CALL relay_session_end();
    RESIGNAL;
  END;

  SELECT backfill_state, backfill_mode INTO v_state, v_mode
    FROM relay_tables WHERE table_name = p_table AND listed;
  IF v_state IS NULL THEN
    SIGNAL SQLSTATE '45000'
      SET MESSAGE_TEXT = 'relay_backfill_table: not a listed table (order-relay:tables, then db:migrate)';
  END IF;
  IF v_state = 'complete' THEN
    LEAVE proc;
  END IF;

  CALL relay_session_begin();
  CALL relay_table_check(p_table);
  SELECT IF(table_missing, CONCAT('table ', p_table, ' does not exist'), stale_reason),
         key_expr, hash_expr, key_after, key_upto, key_cols, key_cols_desc
    INTO v_stale, v_key, v_hash, v_after, v_upto, v_cols, v_cols_desc
    FROM relay_tables WHERE table_name = p_table;
  IF v_stale IS NOT NULL OR v_key IS NULL THEN
    SET @relay_backfill_error = LEFT(CONCAT('relay_backfill_table: ', COALESCE(v_stale, p_table)), 128);
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = @relay_backfill_error;
  END IF;
  SELECT GREATEST(backfill_chunk_rows, 1) INTO v_chunk FROM relay_settings WHERE id = 1;
  SET SESSION group_concat_max_len = GREATEST(@@session.group_concat_max_len, 1048576);

  IF v_state <> 'running' THEN
    UPDATE relay_tables
       SET backfill_state = 'running', backfill_last_key = NULL, backfill_rows = 0,
           backfill_missing = NULL, backfill_started_at = UTC_TIMESTAMP(6),
           backfill_finished_at = NULL, updated_at = UTC_TIMESTAMP(6)
     WHERE table_name = p_table;
  END IF;
  SELECT backfill_last_key INTO v_last FROM relay_tables WHERE table_name = p_table;

  SET v_from = CONCAT(' FROM ', relay_ident(p_table), ' s');
  pass_loop: LOOP
    SET v_pass = v_pass + 1;
    SET v_filter = IF(v_mode = 'resync', '',
                      CONCAT(' AND NOT EXISTS (SELECT 1 FROM relay_outbox o WHERE o.key_hash = ',
                             v_hash, ' AND o.table_name = ', QUOTE(p_table), ')'));
    chunk_loop: LOOP
      -- The chunk's upper bound: the key of the chunk's last row.
      SET @relay_key_lo = v_last, @relay_key_hi = NULL;
      SET @relay_backfill_sql = CONCAT(
        'SELECT ', v_key, ' INTO @relay_key_hi FROM (SELECT ', v_cols, v_from,
        IF(v_last IS NULL, '', CONCAT(' WHERE ', v_after)),
        ' ORDER BY ', v_cols, ' LIMIT ', v_chunk, ') s ORDER BY ', v_cols_desc, ' LIMIT 1');
      PREPARE relay_backfill_stmt FROM @relay_backfill_sql;
      EXECUTE relay_backfill_stmt;
      DEALLOCATE PREPARE relay_backfill_stmt;
      IF @relay_key_hi IS NULL THEN
        LEAVE chunk_loop;
      END IF;

      SET @relay_backfill_sql = CONCAT(
        'INSERT INTO relay_outbox (table_name, op, key_json, occurred_at) SELECT ',
        QUOTE(p_table), ', ''UPSERT'', ', v_key, ', UTC_TIMESTAMP(3)', v_from, ' WHERE ',
        IF(v_last IS NULL, '', CONCAT(v_after, ' AND ')), v_upto, v_filter,
        ' ORDER BY ', v_cols);
      PREPARE relay_backfill_stmt FROM @relay_backfill_sql;
      EXECUTE relay_backfill_stmt;
      SET @relay_backfill_rows = ROW_COUNT();
      DEALLOCATE PREPARE relay_backfill_stmt;

      SET v_last = @relay_key_hi;
      UPDATE relay_tables
         SET backfill_last_key = v_last, backfill_rows = backfill_rows + @relay_backfill_rows,
             backfill_error = NULL, updated_at = UTC_TIMESTAMP(6)
       WHERE table_name = p_table;
      SET v_chunks = v_chunks + 1;
      IF v_chunks >= p_max_chunks THEN
        CALL relay_session_end();
        LEAVE proc; -- the next step continues from backfill_last_key
      END IF;
    END LOOP chunk_loop;

    -- Verified complete: every row of the table has an outbox entry.
    SET @relay_backfill_missing = NULL;
    SET @relay_backfill_sql = CONCAT(
      'SELECT COUNT(*) INTO @relay_backfill_missing', v_from,
      ' WHERE NOT EXISTS (SELECT 1 FROM relay_outbox o WHERE o.key_hash = ', v_hash,
      ' AND o.table_name = ', QUOTE(p_table), ')');
    PREPARE relay_backfill_stmt FROM @relay_backfill_sql;
    EXECUTE relay_backfill_stmt;
    DEALLOCATE PREPARE relay_backfill_stmt;
    SET v_missing = @relay_backfill_missing;
    IF v_missing = 0 OR v_pass >= 2 THEN
      LEAVE pass_loop;
    END IF;
    -- Rows missing after a full pass (written while capture was being installed): once more.
    SET v_mode = 'backfill', v_last = NULL;
  END LOOP pass_loop;

  UPDATE relay_tables
     SET backfill_state = IF(v_missing = 0, 'complete', 'incomplete'), backfill_mode = 'backfill',
         backfill_missing = v_missing, backfill_last_key = NULL, backfill_error = NULL,
         backfill_finished_at = UTC_TIMESTAMP(6), updated_at = UTC_TIMESTAMP(6)
   WHERE table_name = p_table;
  CALL relay_session_end();
END;

DROP PROCEDURE IF EXISTS relay_backfill;

CREATE PROCEDURE relay_backfill()
  MODIFIES SQL DATA
  COMMENT 'Backfills every listed table: resumes running ones, re-checks complete ones'
BEGIN
  DECLARE v_table VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin DEFAULT NULL;
  DECLARE v_next VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin DEFAULT NULL;
  table_loop: LOOP
    SET v_next = NULL;
    SELECT MIN(table_name) INTO v_next FROM relay_tables
     WHERE listed AND (v_table IS NULL OR table_name > v_table);
    IF v_next IS NULL THEN
      LEAVE table_loop;
    END IF;
    SET v_table = v_next;
    UPDATE relay_tables SET backfill_state = 'pending', backfill_mode = 'backfill'
     WHERE table_name = v_table AND backfill_state = 'complete';
    CALL relay_backfill_table(v_table, NULL);
  END LOOP;
END;

DROP PROCEDURE IF EXISTS relay_resync;

CREATE PROCEDURE relay_resync(IN p_table VARCHAR(64) CHARACTER SET utf8mb4)
  MODIFIES SQL DATA
  COMMENT 'Re-sends the current state of every row of p_table (SCHEMA first)'
BEGIN
  IF NOT EXISTS (SELECT 1 FROM relay_tables WHERE table_name = p_table AND listed) THEN
    SIGNAL SQLSTATE '45000'
      SET MESSAGE_TEXT = 'relay_resync: not a listed table (order-relay:tables, then db:migrate)';
  END IF;
  INSERT INTO relay_outbox (table_name, op, key_json, occurred_at)
    VALUES (p_table, 'SCHEMA', NULL, UTC_TIMESTAMP(3));
  UPDATE relay_tables
     SET backfill_state = 'running', backfill_mode = 'resync', backfill_last_key = NULL,
         backfill_rows = 0, backfill_missing = NULL, backfill_started_at = UTC_TIMESTAMP(6),
         backfill_finished_at = NULL, updated_at = UTC_TIMESTAMP(6)
   WHERE table_name = p_table;
  CALL relay_backfill_table(p_table, NULL);
END;

DROP PROCEDURE IF EXISTS relay_backfill_step;

CREATE PROCEDURE relay_backfill_step()
  MODIFIES SQL DATA
  COMMENT 'A few chunks of every running backfill or resync (called by relay_dispatch)'
BEGIN
  DECLARE v_table VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin DEFAULT NULL;
  DECLARE v_next VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin DEFAULT NULL;
  table_loop: LOOP
    SET v_next = NULL;
    SELECT MIN(table_name) INTO v_next FROM relay_tables
     WHERE listed AND backfill_state = 'running' AND (v_table IS NULL OR table_name > v_table);
    IF v_next IS NULL THEN
      LEAVE table_loop;
    END IF;
    SET v_table = v_next;
    BEGIN
      DECLARE EXIT HANDLER FOR SQLEXCEPTION
      BEGIN
        DECLARE v_errno INT DEFAULT 0;
        DECLARE v_message TEXT CHARACTER SET utf8mb4 DEFAULT NULL;
        GET DIAGNOSTICS CONDITION 1 v_errno = MYSQL_ERRNO, v_message = MESSAGE_TEXT;
        UPDATE relay_tables
           SET backfill_error = LEFT(CONCAT(v_errno, ': ', COALESCE(v_message, '')), 1024)
         WHERE table_name = v_table;
      END;
      CALL relay_backfill_table(v_table, 5);
    END;
  END LOOP;
END;
