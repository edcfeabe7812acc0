-- relay_dispatch(): hands committed, not yet handed-off changes from relay_outbox, oldest first,
-- to the notify function (relay_invoke: lambda_async(<arn>, <envelope JSON>), envelope v2 of
-- contract/envelope.ts) and marks them handed off only when the call succeeded. Call it with
-- autocommit on (the event does): every statement then commits on its own and no lock is held
-- while lambda_async runs.
--
-- The outbox holds keys, not rows (sql/capture.ts): for each batch dispatch
-- 1. takes up to batch_size pending changes in id order (READ COMMITTED, relay_session_begin: an
--    uncommitted straggler is skipped, not waited for, and never marked);
-- 2. collapses the changes of one row (same table + key_hash) to the latest, and drops a change
--    whose row has a later committed change still pending (that one will carry the state): the DC
--    converges to each row's latest state, in outboxId order;
-- 3. per table, runs the cheap check (relay_table_check: a hash of information_schema) once per
--    run (not per batch: a run lasts about a second; a change of columns within it is caught by
--    the next run, whose refresh starts the resync that brings the DC's rows up to date) and, when
--    the columns changed, rebuilds the table's cached statements; a SCHEMA record (the relayed
--    columns and their types) goes first whenever the columns differ from the last SCHEMA handed
--    off (and once after capture is installed);
-- 4. reads each UPSERT's CURRENT committed row with one prepared INSERT … SELECT per table
--    through the primary key (typed JSON per relay_columns.sql), encoding it straight into its
--    record (UPSERT and DELETE records of a table come from that one statement); an UPSERT whose
--    row is gone goes as a DELETE (or is skipped when a later change of that row is pending,
--    step 2);
-- 5. quarantines a record larger than max_record_bytes (MAX_RECORD_BYTES of the contract: it could
--    never fit one lambda_async payload): recorded on its outbox row with the reason and size,
--    counted in relay_status and the heartbeat, never blocking later rows, never purged until an
--    operator resolves it (relay_quarantine.sql). A row's size is estimated before it is encoded,
--    so a huge BLOB is never turned into a huge string;
-- 6. caps the payload by bytes (max_payload_bytes for several records; one record alone may use
--    the whole payload limit) and checks the payload's real length against payload_limit_bytes
--    (ASYNC_INVOKE_PAYLOAD_LIMIT_BYTES): a batch that is too large is split, never sent blindly
--    and never stuck. A batch cut by bytes leaves its tail pending; the next batch then takes
--    about as many changes as one payload carried (growing back towards batch_size while whole
--    batches fit), so a batch_size larger than a payload holds does not re-read rows each batch;
-- 7. calls relay_invoke once; on success marks exactly the batch's changes handed off, on failure
--    records the error and attempt count and stops (the rows stay for the next run).
--    At-least-once: a crash between the call and the UPDATE resends.
-- Every statement that writes relay_outbox or reads a storefront table by key starts from the
-- batch (STRAIGHT_JOIN or LEFT JOIN from the work table, FORCE INDEX (PRIMARY)): whatever the optimizer's
-- statistics say (a small table is scanned through a join buffer), it never scans relay_outbox — which would lock-wait on a straggler, a row
-- inside the batch's range whose transaction has not committed yet (tested) — nor a storefront
-- table.
-- Tables whose capture is stale (primary key changed: relay_tables.stale_reason) are held back —
-- their changes wait, visible as pending/overdue — and never block other tables. A table that was
-- dropped has no rows any more: its pending changes go as DELETEs.
-- Before the batches, relay_resend() makes changes handed off but not confirmed by the DC within
-- settings.resend_after_minutes pending again (purge_requires = 'confirmed'; relay_confirm.sql).
-- After the batches, relay_backfill_step() advances running backfills and resyncs a little (an
-- interrupted backfill resumes, a storefront upgrade's resync proceeds: relay_backfill.sql).
--
-- * Never overlaps itself: GET_LOCK('relay_dispatch.<schema>', 0); a second caller returns at once.
-- * One call drains many batches (bounded by settings dispatch_max_batches / dispatch_max_ms; a
--   batch is not started when the last batch's time says it would end past the next second's
--   event, 975 ms after the run's start, or past dispatch_max_ms when that is longer).
-- * Two sessions for a backlog: relay_dispatch_helper() (its own event, every second) takes
--   partition 1 of the changes — partition = first byte of key_hash MOD 2, so every change of a
--   row is in one partition and steps 1–2 hold within it; SCHEMA changes (no key) are partition
--   0 — while relay_dispatch() goes on with partition 0, each paying its own lambda_async
--   latency. Whoever holds the lock 'relay_dispatch_p1.<schema>' dispatches partition 1, so no
--   row's changes are ever in two sessions' hands: relay_dispatch takes it at the start of a
--   run (both partitions, as one serial dispatcher, when no helper runs) and releases it only
--   between batches, after a full batch, when a helper is waiting for it (the helper holds
--   'relay_dispatch_h.<schema>' while it runs). The helper works only when partition 1 has
--   more than two full batches pending, never runs relay_resend, the backfill step or the table
--   check (the dispatcher's), holds back a table whose SCHEMA record the dispatcher has not
--   sent yet, and adds its records to relay_state.total_handed_off (last_dispatch_* stay the
--   dispatcher's). Each row's records still go in outboxId order; across partitions the order
--   of batches is free (the DC applies a change only if its outboxId is newer for its row).
-- * Work tables are TEMPORARY (per session, no redo); MySQL cannot open one twice in a statement,
--   so every statement reads each of them once.
-- * The envelope is assembled with GROUP_CONCAT(… ORDER BY) of JSON_OBJECT values (MySQL 8.0's
--   JSON_ARRAYAGG has no ORDER BY); JSON_EXTRACT(…, '$') embeds stored JSON as JSON on both servers.
--
-- A routine (sql/routines/): edit this file in place, the runner re-applies it when its text
-- changes. relay_dispatch_event and relay_dispatch_helper_event (every second) are defined at
-- the end of this file; both procedures are relay_dispatch_run(p_helper).
DROP PROCEDURE IF EXISTS relay_dispatch;
DROP PROCEDURE IF EXISTS relay_dispatch_helper;
DROP PROCEDURE IF EXISTS relay_dispatch_run;

-- p_helper FALSE: the dispatcher (relay_dispatch); TRUE: the helper (relay_dispatch_helper).
CREATE PROCEDURE relay_dispatch_run(IN p_helper BOOLEAN)
  MODIFIES SQL DATA
  COMMENT 'One dispatch run: the dispatcher, or the helper that takes partition 1 of a backlog'
proc: BEGIN
  DECLARE v_lock VARCHAR(64) DEFAULT LEFT(CONCAT('relay_dispatch.', DATABASE()), 64);
  -- Held by whoever dispatches partition 1 (the dispatcher, unless it handed it to the helper).
  DECLARE v_plock VARCHAR(64) DEFAULT LEFT(CONCAT('relay_dispatch_p1.', DATABASE()), 64);
  -- Held by a helper run from its start to its end: "a helper is there to take partition 1".
  DECLARE v_hlock VARCHAR(64) DEFAULT LEFT(CONCAT('relay_dispatch_h.', DATABASE()), 64);
  -- Which partitions this run dispatches (partition = first byte of key_hash MOD 2; SCHEMA
  -- changes, which have no key, are partition 0).
  DECLARE v_own0 BOOLEAN DEFAULT FALSE;
  DECLARE v_own1 BOOLEAN DEFAULT FALSE;
  DECLARE v_full BOOLEAN DEFAULT FALSE;
  DECLARE v_backlog INT DEFAULT 0;
  DECLARE v_batch_started DATETIME(6) DEFAULT NULL;
  DECLARE v_region VARCHAR(64) CHARACTER SET utf8mb4 DEFAULT NULL;
  DECLARE v_batch_size INT DEFAULT 100;
  DECLARE v_max_bytes INT DEFAULT 200000;
  DECLARE v_record_limit INT DEFAULT 261120;
  DECLARE v_payload_limit INT DEFAULT 262144;
  DECLARE v_max_batches INT DEFAULT 200;
  DECLARE v_max_ms INT DEFAULT 900;
  DECLARE v_started DATETIME(6) DEFAULT SYSDATE(6);
  DECLARE v_batches INT DEFAULT 0;
  DECLARE v_sent INT DEFAULT 0;
  DECLARE v_rows INT DEFAULT 0;
  DECLARE v_count INT DEFAULT 0;
  DECLARE v_cap BIGINT DEFAULT 0;
  DECLARE v_head INT DEFAULT 0;
  DECLARE v_marked INT DEFAULT 0;
  DECLARE v_quarantined INT DEFAULT 0;
  DECLARE v_records LONGTEXT CHARACTER SET utf8mb4 DEFAULT NULL;
  DECLARE v_payload LONGTEXT CHARACTER SET utf8mb4 DEFAULT NULL;
  DECLARE v_failed BOOLEAN DEFAULT FALSE;
  DECLARE v_error VARCHAR(1024) CHARACTER SET utf8mb4 DEFAULT NULL;
  DECLARE v_table VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin DEFAULT NULL;
  DECLARE v_next VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin DEFAULT NULL;
  DECLARE v_stale VARCHAR(512) CHARACTER SET utf8mb4 DEFAULT NULL;
  DECLARE v_sig CHAR(64) DEFAULT NULL;
  DECLARE v_sent_sig CHAR(64) DEFAULT NULL;
  DECLARE v_row MEDIUMTEXT CHARACTER SET utf8mb4 DEFAULT NULL;
  DECLARE v_est MEDIUMTEXT CHARACTER SET utf8mb4 DEFAULT NULL;
  DECLARE v_match TEXT CHARACTER SET utf8mb4 DEFAULT NULL;
  DECLARE v_schema_id BIGINT UNSIGNED DEFAULT NULL;
  DECLARE v_missing BOOLEAN DEFAULT FALSE;
  DECLARE v_limit INT DEFAULT 100;
  DECLARE v_all BOOLEAN DEFAULT FALSE;
  DECLARE v_first BOOLEAN DEFAULT TRUE;
  DECLARE v_schema_batch BOOLEAN DEFAULT FALSE;
  DECLARE v_n INT DEFAULT 0;
  DECLARE v_total BIGINT DEFAULT 0;

  DECLARE EXIT HANDLER FOR SQLEXCEPTION
  BEGIN
    CALL relay_session_end();
    -- RELEASE_LOCK only ever releases this session's own locks.
    DO RELEASE_LOCK(v_plock), RELEASE_LOCK(v_hlock), RELEASE_LOCK(v_lock);
    RESIGNAL;
  END;

  SELECT region, batch_size, max_payload_bytes, max_record_bytes, payload_limit_bytes,
         dispatch_max_batches, dispatch_max_ms
    INTO v_region, v_batch_size, v_max_bytes, v_record_limit, v_payload_limit,
         v_max_batches, v_max_ms
    FROM relay_settings WHERE id = 1;
  IF v_region IS NULL THEN
    SIGNAL SQLSTATE '45000'
      SET MESSAGE_TEXT = 'relay_dispatch: relay_settings is empty; run the migration (db:migrate)';
  END IF;

  IF p_helper THEN
    -- The helper: one at a time, and only for a backlog (more than two full batches pending in
    -- partition 1); then it waits up to 1 s for the dispatcher to hand partition 1 over.
    IF COALESCE(GET_LOCK(v_hlock, 0), 0) <> 1 THEN
      LEAVE proc;
    END IF;
    SET v_backlog = 2 * v_batch_size;
    SELECT COUNT(*) INTO v_n
      FROM (SELECT o.id FROM relay_outbox o
             WHERE o.handed_off_at IS NULL AND o.quarantined_at IS NULL
               AND COALESCE(ASCII(o.key_hash), 0) MOD 2 = 1
             LIMIT v_backlog) b;
    IF v_n < v_backlog OR COALESCE(GET_LOCK(v_plock, 1), 0) <> 1 THEN
      DO RELEASE_LOCK(v_hlock);
      LEAVE proc;
    END IF;
    SET v_own1 = TRUE;
    CALL relay_session_begin();
  ELSE
    IF COALESCE(GET_LOCK(v_lock, 0), 0) <> 1 THEN
      LEAVE proc;
    END IF;
    -- Partition 1 too, unless a helper is dispatching it right now.
    SET v_own0 = TRUE, v_own1 = COALESCE(GET_LOCK(v_plock, 0), 0) = 1;
    CALL relay_session_begin();
    -- Changes handed off but never confirmed by the DC become pending again (relay_confirm.sql;
    -- only with purge_requires = 'confirmed').
    CALL relay_resend();
  END IF;

  -- Room for a full batch; GROUP_CONCAT silently truncates at this length.
  SET SESSION group_concat_max_len = 67108864;
  -- The envelope around the records: {"region": "<region>", "records": [ … ]}.
  SET v_head = 64 + LENGTH(JSON_QUOTE(v_region));

  SET v_limit = v_batch_size;

  DROP TEMPORARY TABLE IF EXISTS relay_dw, relay_dr, relay_drec, relay_dchk;
  -- The batch: one row per pending change; rep = the change that speaks for its row.
  CREATE TEMPORARY TABLE relay_dw (
    outbox_id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
    table_name VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    op VARCHAR(6) NOT NULL,
    key_json TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    key_hash BINARY(32) NULL,
    occurred_at DATETIME(3) NOT NULL,
    rep BOOLEAN NOT NULL DEFAULT TRUE,
    held BOOLEAN NOT NULL DEFAULT FALSE,
    taken BOOLEAN NOT NULL DEFAULT FALSE
  ) ENGINE = InnoDB;
  -- The records, as they go into the envelope (record NULL: the row was estimated too large to
  -- encode; bytes is then the estimate).
  CREATE TEMPORARY TABLE relay_drec (
    outbox_id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
    table_name VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    op VARCHAR(6) NOT NULL,
    sort_key TINYINT NOT NULL,
    sig CHAR(64) NULL,
    record LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    bytes BIGINT NULL,
    oversized BOOLEAN NOT NULL DEFAULT FALSE
  ) ENGINE = InnoDB;
  -- The tables checked in this run (relay_table_check runs once per table and run, not per batch).
  CREATE TEMPORARY TABLE relay_dchk (
    table_name VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL PRIMARY KEY
  ) ENGINE = InnoDB;

  dispatch_loop: LOOP
    SET v_batch_started = SYSDATE(6);
    DELETE FROM relay_dw;
    DELETE FROM relay_drec;
    SET v_count = 0, v_records = NULL, v_payload = NULL, v_quarantined = 0, v_marked = 0,
        v_all = FALSE, v_first = TRUE, v_schema_batch = FALSE;

    INSERT INTO relay_dw (outbox_id, table_name, op, key_json, key_hash, occurred_at, rep)
      SELECT c.id, c.table_name, c.op, c.key_json, c.key_hash, c.occurred_at,
             ROW_NUMBER() OVER (PARTITION BY c.table_name, c.op = 'SCHEMA', c.key_hash
                                ORDER BY c.id DESC) = 1
        FROM (SELECT o.id, o.table_name, o.op, o.key_json, o.key_hash, o.occurred_at
                FROM relay_outbox o
               WHERE o.handed_off_at IS NULL AND o.quarantined_at IS NULL
                 AND NOT EXISTS (SELECT 1 FROM relay_tables t
                                  WHERE t.table_name = o.table_name
                                    AND t.stale_reason IS NOT NULL)
                 AND (v_own0 AND v_own1
                      OR COALESCE(ASCII(o.key_hash), 0) MOD 2 = IF(v_own1, 1, 0))
               ORDER BY o.id
               LIMIT v_limit) c;
    SET v_rows = ROW_COUNT();
    SET v_full = v_rows >= v_limit;
    IF v_rows <= 0 THEN
      LEAVE dispatch_loop;
    END IF;

    -- A later committed change of the same row is pending (beyond this batch): it carries the
    -- row's state, this one goes as handed off without a record.
    UPDATE relay_dw w
       SET w.rep = FALSE
     WHERE w.rep AND w.op <> 'SCHEMA'
       AND EXISTS (SELECT 1 FROM relay_outbox o
                    WHERE o.key_hash = w.key_hash AND o.table_name = w.table_name
                      AND o.id > w.outbox_id AND o.handed_off_at IS NULL);

    SET v_table = NULL;
    table_loop: LOOP
      SET v_next = NULL;
      SELECT MIN(table_name) INTO v_next FROM relay_dw
       WHERE rep AND (v_table IS NULL OR table_name > v_table);
      IF v_next IS NULL THEN
        LEAVE table_loop;
      END IF;
      SET v_table = v_next, v_stale = NULL, v_sig = NULL, v_sent_sig = NULL, v_row = NULL;
      IF NOT EXISTS (SELECT 1 FROM relay_tables WHERE table_name = v_table) THEN
        UPDATE relay_dw SET held = TRUE WHERE table_name = v_table;
        ITERATE table_loop;
      END IF;
      -- The check is the dispatcher's (the helper uses the statements it cached).
      IF NOT p_helper AND NOT EXISTS (SELECT 1 FROM relay_dchk WHERE table_name = v_table) THEN
        CALL relay_table_check(v_table);
        INSERT INTO relay_dchk (table_name) VALUES (v_table);
      END IF;
      SELECT stale_reason, columns_sig, schema_sent_sig, row_expr, est_expr, key_match,
             table_missing
        INTO v_stale, v_sig, v_sent_sig, v_row, v_est, v_match, v_missing
        FROM relay_tables WHERE table_name = v_table;
      IF v_missing THEN
        -- Dropped: none of its rows exists, so every pending change goes as a DELETE (no row is
        -- read) and its SCHEMA records are moot.
        UPDATE relay_dw SET rep = FALSE WHERE table_name = v_table AND op = 'SCHEMA';
        INSERT INTO relay_drec (outbox_id, table_name, op, sort_key, sig, record, bytes)
          SELECT w.outbox_id, w.table_name, 'DELETE', 1, NULL,
                 JSON_OBJECT('outboxId', w.outbox_id, 'table', w.table_name, 'op', 'DELETE',
                             'key', JSON_EXTRACT(w.key_json, '$'),
                             'occurredAt',
                               CONCAT(DATE_FORMAT(w.occurred_at, '%Y-%m-%dT%H:%i:%s.'),
                                      LPAD(FLOOR(MICROSECOND(w.occurred_at) / 1000), 3, '0'), 'Z')),
                 NULL
            FROM relay_dw w
           WHERE w.table_name = v_table AND w.rep AND NOT w.held;
        ITERATE table_loop;
      END IF;
      IF v_stale IS NOT NULL OR v_row IS NULL THEN
        UPDATE relay_dw SET held = TRUE WHERE table_name = v_table;
        UPDATE relay_state
           SET last_error_at = UTC_TIMESTAMP(6),
               last_error = LEFT(CONCAT('relay_dispatch: ', v_table, ' held back: ',
                                        COALESCE(v_stale, 'no cached statement')), 1024)
         WHERE id = 1;
        ITERATE table_loop;
      END IF;

      -- SCHEMA first whenever the relayed columns differ from the last SCHEMA handed off.
      IF NOT (v_sig <=> v_sent_sig) THEN
        IF p_helper THEN
          -- SCHEMA records are the dispatcher's: the table's rows wait until it sent one.
          UPDATE relay_dw SET held = TRUE WHERE table_name = v_table;
          ITERATE table_loop;
        END IF;
        IF NOT EXISTS (SELECT 1 FROM relay_outbox
                        WHERE table_name = v_table AND op = 'SCHEMA'
                          AND handed_off_at IS NULL AND quarantined_at IS NULL) THEN
          INSERT INTO relay_outbox (table_name, op, key_json, occurred_at)
            VALUES (v_table, 'SCHEMA', NULL, UTC_TIMESTAMP(3));
        END IF;
        INSERT IGNORE INTO relay_dw (outbox_id, table_name, op, key_json, key_hash, occurred_at, rep)
          SELECT id, table_name, op, NULL, NULL, occurred_at, FALSE
            FROM relay_outbox
           WHERE table_name = v_table AND op = 'SCHEMA'
             AND handed_off_at IS NULL AND quarantined_at IS NULL;
      END IF;
      -- One SCHEMA record per table and batch (the latest), with the current columns.
      SET v_schema_id = NULL;
      SELECT MAX(outbox_id) INTO v_schema_id FROM relay_dw
       WHERE table_name = v_table AND op = 'SCHEMA';
      IF v_schema_id IS NOT NULL THEN
        UPDATE relay_dw SET rep = (outbox_id = v_schema_id)
         WHERE table_name = v_table AND op = 'SCHEMA';
        INSERT INTO relay_drec (outbox_id, table_name, op, sort_key, sig, record, bytes)
          SELECT w.outbox_id, w.table_name, 'SCHEMA', 0, t.columns_sig,
                 JSON_OBJECT('outboxId', w.outbox_id, 'table', w.table_name, 'op', 'SCHEMA',
                             'occurredAt',
                               CONCAT(DATE_FORMAT(w.occurred_at, '%Y-%m-%dT%H:%i:%s.'),
                                      LPAD(FLOOR(MICROSECOND(w.occurred_at) / 1000), 3, '0'), 'Z'),
                             'schema', JSON_EXTRACT(t.schema_json, '$')),
                 NULL
            FROM relay_dw w JOIN relay_tables t ON t.table_name = w.table_name
           WHERE w.outbox_id = v_schema_id AND NOT w.held;
        SET v_schema_batch = TRUE;
      END IF;

      -- This table's UPSERT and DELETE records in one statement: each UPSERT reads its CURRENT
      -- committed row through the primary key (LEFT JOIN from the work table: one lookup per
      -- change, never a scan); an UPSERT whose row is gone, and every DELETE, goes as a DELETE.
      -- The row is encoded straight into its record, unless its estimate is too large.
      SET @relay_dispatch_table = v_table, @relay_dispatch_record_limit = v_record_limit;
      SET @relay_dispatch_sql = CONCAT(
        'INSERT INTO relay_drec (outbox_id, table_name, op, sort_key, sig, record, bytes) ',
        'SELECT k.outbox_id, k.table_name, IF((', v_match, ') IS TRUE, ''UPSERT'', ''DELETE''), 1, NULL, ',
        'IF((', v_match, ') IS TRUE, ',
          'IF(', v_est, ' > @relay_dispatch_record_limit, NULL, ',
            'JSON_OBJECT(''outboxId'', k.outbox_id, ''table'', k.table_name, ''op'', ''UPSERT'', ',
                        '''key'', JSON_EXTRACT(k.key_json, ''$''), ''occurredAt'', ',
                        'CONCAT(DATE_FORMAT(k.occurred_at, ''%Y-%m-%dT%H:%i:%s.''), ',
                               'LPAD(FLOOR(MICROSECOND(k.occurred_at) / 1000), 3, ''0''), ''Z''), ',
                        '''row'', ', v_row, ')), ',
          'JSON_OBJECT(''outboxId'', k.outbox_id, ''table'', k.table_name, ''op'', ''DELETE'', ',
                      '''key'', JSON_EXTRACT(k.key_json, ''$''), ''occurredAt'', ',
                      'CONCAT(DATE_FORMAT(k.occurred_at, ''%Y-%m-%dT%H:%i:%s.''), ',
                             'LPAD(FLOOR(MICROSECOND(k.occurred_at) / 1000), 3, ''0''), ''Z''))), ',
        'IF((', v_match, ') IS TRUE, ', v_est, ', NULL) ',
        'FROM relay_dw k LEFT JOIN ', relay_ident(v_table), ' s FORCE INDEX (PRIMARY) ',
        'ON k.op = ''UPSERT'' AND ', v_match,
        ' WHERE k.table_name = ? AND k.op <> ''SCHEMA'' AND k.rep AND NOT k.held');
      PREPARE relay_dispatch_stmt FROM @relay_dispatch_sql;
      EXECUTE relay_dispatch_stmt USING @relay_dispatch_table;
      DEALLOCATE PREPARE relay_dispatch_stmt;
    END LOOP table_loop;

    -- A record's real size; too large (or not encoded: its estimate was) for any payload.
    UPDATE relay_drec
       SET bytes = IF(record IS NULL, bytes, LENGTH(record)),
           oversized = (record IS NULL OR LENGTH(record) > v_record_limit);

    -- Too large for any payload: quarantined now, whatever happens to the rest of the batch.
    UPDATE relay_drec r STRAIGHT_JOIN relay_outbox o FORCE INDEX (PRIMARY) ON o.id = r.outbox_id
       SET o.quarantined_at = UTC_TIMESTAMP(6),
           o.quarantine_bytes = r.bytes,
           o.quarantine_reason = LEFT(CONCAT(r.op, ' record of ', IF(r.record IS NULL, 'at least ', ''),
                                             r.bytes, ' bytes exceeds MAX_RECORD_BYTES (',
                                             v_record_limit, '): one lambda_async payload (',
                                             v_payload_limit, ' bytes) cannot carry it'), 512),
           o.attempts = o.attempts + 1,
           o.last_attempt_at = UTC_TIMESTAMP(6)
     WHERE r.oversized AND o.handed_off_at IS NULL AND o.quarantined_at IS NULL;
    SET v_quarantined = ROW_COUNT();

    -- As many records as fit, in order; a payload over the real limit is split. Usually the
    -- whole batch fits (v_all: every record not oversized goes, no per-record flag is needed).
    SET v_cap = v_max_bytes;
    SELECT COUNT(*), COALESCE(SUM(bytes + 2), 0) INTO v_n, v_total
      FROM relay_drec WHERE NOT oversized;
    IF v_n > 0 AND v_total + v_head <= v_cap THEN
      SELECT GROUP_CONCAT(record ORDER BY sort_key, outbox_id SEPARATOR ',') INTO v_records
        FROM relay_drec WHERE NOT oversized;
      SET v_payload = JSON_OBJECT('region', v_region,
                                  'records', JSON_EXTRACT(CONCAT('[', v_records, ']'), '$'));
      IF LENGTH(v_payload) <= v_payload_limit THEN
        SET v_all = TRUE, v_count = v_n;
      ELSE
        SET v_cap = LEAST(v_cap, LENGTH(v_payload)) DIV 2, v_payload = NULL;
      END IF;
    END IF;
    size_loop: LOOP
      IF v_all OR v_n = 0 THEN
        LEAVE size_loop;
      END IF;
      IF NOT v_first THEN
        UPDATE relay_dw SET taken = FALSE;
      END IF;
      SET v_first = FALSE;
      UPDATE relay_dw w
        JOIN (SELECT outbox_id,
                     SUM(bytes + 2) OVER (ORDER BY sort_key, outbox_id) AS cum,
                     ROW_NUMBER() OVER (ORDER BY sort_key, outbox_id) AS rn
                FROM relay_drec WHERE NOT oversized) x ON x.outbox_id = w.outbox_id
         SET w.taken = (x.cum + v_head <= v_cap OR x.rn = 1);
      SELECT COUNT(*), GROUP_CONCAT(r.record ORDER BY r.sort_key, r.outbox_id SEPARATOR ',')
        INTO v_count, v_records
        FROM relay_drec r JOIN relay_dw w ON w.outbox_id = r.outbox_id
       WHERE w.taken;
      IF v_count = 0 THEN
        SET v_payload = NULL;
        LEAVE size_loop;
      END IF;
      SET v_payload = JSON_OBJECT('region', v_region,
                                  'records', JSON_EXTRACT(CONCAT('[', v_records, ']'), '$'));
      IF LENGTH(v_payload) <= v_payload_limit THEN
        LEAVE size_loop;
      END IF;
      IF v_count = 1 THEN
        UPDATE relay_dw w STRAIGHT_JOIN relay_outbox o FORCE INDEX (PRIMARY) ON o.id = w.outbox_id
           SET o.quarantined_at = UTC_TIMESTAMP(6), o.quarantine_bytes = LENGTH(v_payload),
               o.quarantine_reason = LEFT(CONCAT('payload of ', LENGTH(v_payload),
                                                 ' bytes with this record alone exceeds the ',
                                                 v_payload_limit, '-byte lambda_async limit'), 512),
               o.attempts = o.attempts + 1, o.last_attempt_at = UTC_TIMESTAMP(6)
         WHERE w.taken;
        UPDATE relay_drec r JOIN relay_dw w ON w.outbox_id = r.outbox_id
           SET r.oversized = TRUE
         WHERE w.taken;
        SET v_quarantined = v_quarantined + 1;
      ELSE
        SET v_cap = LEAST(v_cap, LENGTH(v_payload)) DIV 2;
      END IF;
    END LOOP size_loop;

    IF v_quarantined > 0 THEN
      UPDATE relay_state SET total_quarantined = total_quarantined + v_quarantined WHERE id = 1;
    END IF;

    SET v_failed = FALSE, v_error = NULL;
    IF v_count > 0 THEN
      CALL relay_invoke(v_payload, v_error);
      SET v_failed = v_error IS NOT NULL;
    END IF;

    IF v_failed THEN
      UPDATE relay_dw w STRAIGHT_JOIN relay_outbox o FORCE INDEX (PRIMARY) ON o.id = w.outbox_id
         SET o.attempts = o.attempts + 1, o.last_attempt_at = UTC_TIMESTAMP(6),
             o.last_error = LEFT(v_error, 512)
       WHERE (w.taken OR (v_all AND w.rep AND NOT w.held))
         AND o.handed_off_at IS NULL AND o.quarantined_at IS NULL;
      UPDATE relay_state
         SET last_error_at = UTC_TIMESTAMP(6),
             last_error = v_error,
             consecutive_failures = consecutive_failures + 1,
             total_failures = total_failures + 1
       WHERE id = 1;
      LEAVE dispatch_loop;
    END IF;

    -- Handed off: the records sent and the changes they cover (collapsed or superseded ones).
    -- A join on the batch's ids: point updates, never a range lock over a straggler.
    UPDATE relay_dw w STRAIGHT_JOIN relay_outbox o FORCE INDEX (PRIMARY) ON o.id = w.outbox_id
       SET o.handed_off_at = UTC_TIMESTAMP(6), o.attempts = o.attempts + 1,
           o.last_attempt_at = UTC_TIMESTAMP(6)
     WHERE (w.taken OR (NOT w.held AND (v_all OR NOT w.rep)))
       AND o.handed_off_at IS NULL AND o.quarantined_at IS NULL;
    SET v_marked = ROW_COUNT();
    IF v_schema_batch THEN
      UPDATE relay_tables t
        JOIN relay_drec r ON r.table_name = t.table_name AND r.op = 'SCHEMA'
        JOIN relay_dw w ON w.outbox_id = r.outbox_id
         SET t.schema_sent_sig = r.sig, t.schema_sent_at = UTC_TIMESTAMP(6)
       WHERE w.taken OR (v_all AND NOT r.oversized);
    END IF;
    -- The next batch takes about as many changes as one payload carried (a batch cut by bytes
    -- re-reads its tail), growing back towards batch_size while whole batches fit.
    IF v_all THEN
      SET v_limit = LEAST(v_batch_size, v_limit + GREATEST(1, v_limit DIV 16));
    ELSEIF v_count > 0 THEN
      SET v_limit = GREATEST(1, LEAST(v_batch_size, v_marked));
    END IF;

    SET v_batches = v_batches + IF(v_count > 0, 1, 0), v_sent = v_sent + v_count;
    -- A backlog and a helper waiting for it: partition 1 goes to the helper (between batches, so
    -- no change of partition 1 is in this session's hands any more); this run goes on with 0.
    IF v_own0 AND v_own1 AND v_full AND IS_USED_LOCK(v_hlock) IS NOT NULL THEN
      DO RELEASE_LOCK(v_plock);
      SET v_own1 = FALSE;
    END IF;
    IF v_marked = 0 AND v_quarantined = 0 THEN
      LEAVE dispatch_loop; -- everything left is held back: no progress possible now
    END IF;
    -- The budget: no batch starts after dispatch_max_ms, nor one that by the last batch's time
    -- would end past 975 ms (or past dispatch_max_ms when that is longer): the events run every
    -- second, and a run still going then makes the next one find the lock held and skip its
    -- second. The helper's budget counts from its event's start too.
    IF v_batches >= v_max_batches
       OR TIMESTAMPDIFF(MICROSECOND, v_started, SYSDATE(6)) >= v_max_ms * 1000
       OR 2 * TIMESTAMPDIFF(MICROSECOND, v_started, SYSDATE(6))
          - TIMESTAMPDIFF(MICROSECOND, v_started, v_batch_started)
          >= GREATEST(v_max_ms, 975) * 1000 THEN
      LEAVE dispatch_loop;
    END IF;
  END LOOP;

  IF p_helper THEN
    -- The dispatcher's run owns last_dispatch_*; the helper adds its records to the total.
    UPDATE relay_state SET total_handed_off = total_handed_off + v_sent WHERE id = 1;
  ELSE
    UPDATE relay_state
       SET last_dispatch_at = UTC_TIMESTAMP(6),
           last_dispatch_records = v_sent,
           last_dispatch_batches = v_batches,
           total_handed_off = total_handed_off + v_sent,
           last_success_at = IF(v_failed, last_success_at, UTC_TIMESTAMP(6)),
           consecutive_failures = IF(v_failed, consecutive_failures, 0)
     WHERE id = 1;
  END IF;

  DROP TEMPORARY TABLE IF EXISTS relay_dw, relay_dr, relay_drec, relay_dchk;
  -- Running backfills and resyncs go on a few chunks per run (relay_backfill.sql).
  IF NOT p_helper THEN
    CALL relay_backfill_step();
  END IF;
  CALL relay_session_end();
  DO RELEASE_LOCK(v_plock), RELEASE_LOCK(v_hlock), RELEASE_LOCK(v_lock);
END;

CREATE PROCEDURE relay_dispatch()
  MODIFIES SQL DATA
  COMMENT 'Hands pending relay_outbox changes to lambda_async in batches'
  CALL relay_dispatch_run(FALSE);

CREATE PROCEDURE relay_dispatch_helper()
  MODIFIES SQL DATA
  COMMENT 'Takes partition 1 of a dispatch backlog, in parallel with relay_dispatch'
  CALL relay_dispatch_run(TRUE);

DROP EVENT IF EXISTS relay_dispatch_event;

-- event_scheduler must be ON (Aurora MySQL 3: cluster parameter group; locally: mariadbd
-- --event-scheduler=ON). Definer = the migrating (relay) user, which on Aurora has
-- AWS_LAMBDA_ACCESS active (activate_all_roles_on_login).
CREATE EVENT relay_dispatch_event
  ON SCHEDULE EVERY 1 SECOND
  ON COMPLETION PRESERVE
  ENABLE
  COMMENT 'order relay: hand pending outbox changes to the notify function'
  DO CALL relay_dispatch();

DROP EVENT IF EXISTS relay_dispatch_helper_event;

CREATE EVENT relay_dispatch_helper_event
  ON SCHEDULE EVERY 1 SECOND
  ON COMPLETION PRESERVE
  ENABLE
  COMMENT 'order relay: a second dispatcher for partition 1 while there is a backlog'
  DO CALL relay_dispatch_helper();
