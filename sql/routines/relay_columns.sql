-- How a column's value travels in the envelope — its one definition (contract/envelope.ts,
-- RelayValue) — and the per-table statements built from information_schema with it:
--
-- * relay_value_expr(ref, data_type, charset, is_json, fsp): the SQL expression that encodes the
--   value `ref` (e.g. s.`total`, NEW.`id_order`) for JSON_OBJECT:
--     TINYINT..INT                 → JSON number            (ref as is)
--     FLOAT, DOUBLE                → JSON number            (its shortest decimal text, parsed)
--     BIGINT, DECIMAL              → exact decimal string   (CAST AS CHAR)
--     DATE, DATETIME, TIME, YEAR   → string as MySQL writes it (CAST AS CHAR)
--     TIMESTAMP                    → UTC ISO-8601 'YYYY-MM-DDTHH:MM:SS[.ffffff]Z', from
--                                    UNIX_TIMESTAMP (the stored UTC instant), so the session's
--                                    time zone never matters; the zero timestamp stays zero
--     BINARY/VARBINARY/BLOB, BIT,  → {"$base64": "…"} of the raw bytes
--     spatial, any binary charset
--     JSON (MySQL type; on MariaDB → the document, embedded as JSON
--     LONGTEXT + CHECK json_valid)
--     everything else (text, ENUM, → string (CONVERT USING utf8mb4: any charset, never an error)
--     SET, MariaDB UUID/INET6…)
--   NULL is JSON null everywhere; '' is "".
-- * relay_key_decode_expr(json_ref, …): the inverse for a primary-key column, so a key stored as
--   JSON finds its row through the primary key (typed CAST, the column's own collation).
-- * relay_key_expr(table, alias, OUT expr): JSON_OBJECT of the table's primary-key columns —
--   what the capture triggers (sql/capture.ts, with NEW/OLD) and the backfill write as key_json.
-- * relay_columns_sig(table, OUT sig): a hash of the table's column definitions, primary key,
--   JSON columns and excluded columns — the cheap check dispatch runs per batch.
-- * relay_table_refresh(table): (re)builds relay_tables' cached expressions (row JSON, size
--   estimate, key JSON/hash/match/range, SCHEMA document) when the signature changed; marks the
--   table stale when its primary key is not the one capture was installed for, and missing when
--   it was dropped.
--   When the relayed columns changed so that rows the DC already holds are out of date — a column
--   added (or renamed, or no longer excluded: it appears as added) or its type/nullability
--   modified; a dropped column needs nothing — it starts a resync of the table (relay_backfill.sql,
--   mode 'resync', driven in bounded steps by relay_dispatch): the DC converges after a
--   storefront upgrade without an operator.
--
-- A routine (sql/routines/): edit this file in place, the runner re-applies it when it changes.
DROP FUNCTION IF EXISTS relay_ident;

CREATE FUNCTION relay_ident(p_name VARCHAR(64) CHARACTER SET utf8mb4)
  RETURNS TEXT CHARACTER SET utf8mb4
  DETERMINISTIC NO SQL
  COMMENT 'A quoted SQL identifier'
  RETURN CONCAT('`', REPLACE(p_name, '`', '``'), '`');

DROP FUNCTION IF EXISTS relay_json_member;

CREATE FUNCTION relay_json_member(p_name VARCHAR(64) CHARACTER SET utf8mb4)
  RETURNS TEXT CHARACTER SET utf8mb4
  DETERMINISTIC NO SQL
  COMMENT 'A JSON path member for a column name, e.g. ."id_order"'
  RETURN CONCAT('."', REPLACE(REPLACE(p_name, '\\', '\\\\'), '"', '\\"'), '"');

DROP FUNCTION IF EXISTS relay_is_base64_type;

CREATE FUNCTION relay_is_base64_type(p_data_type VARCHAR(64), p_charset VARCHAR(64))
  RETURNS BOOLEAN
  DETERMINISTIC NO SQL
  RETURN p_charset = 'binary'
      OR p_data_type IN ('bit', 'binary', 'varbinary', 'tinyblob', 'blob', 'mediumblob',
                         'longblob', 'geometry', 'point', 'linestring', 'polygon', 'multipoint',
                         'multilinestring', 'multipolygon', 'geometrycollection',
                         'geomcollection');

DROP FUNCTION IF EXISTS relay_value_expr;

CREATE FUNCTION relay_value_expr(p_ref TEXT CHARACTER SET utf8mb4,
                                 p_data_type VARCHAR(64),
                                 p_charset VARCHAR(64),
                                 p_is_json BOOLEAN,
                                 p_fsp INT)
  RETURNS TEXT CHARACTER SET utf8mb4
  DETERMINISTIC NO SQL
  COMMENT 'SQL expression encoding a column value for the envelope (see the file header)'
BEGIN
  DECLARE v_utc TEXT CHARACTER SET utf8mb4;
  DECLARE v_fsp INT DEFAULT LEAST(GREATEST(COALESCE(p_fsp, 0), 0), 6);
  IF p_is_json THEN
    RETURN CONCAT('JSON_EXTRACT(', p_ref, ', ''$'')');
  END IF;
  IF p_data_type IN ('tinyint', 'smallint', 'mediumint', 'int', 'integer') THEN
    RETURN p_ref;
  END IF;
  IF p_data_type IN ('float', 'double', 'real', 'double precision') THEN
    RETURN CONCAT('JSON_EXTRACT(CAST(', p_ref, ' AS CHAR), ''$'')');
  END IF;
  IF p_data_type IN ('bigint', 'decimal', 'numeric', 'date', 'datetime', 'time', 'year') THEN
    RETURN CONCAT('CAST(', p_ref, ' AS CHAR)');
  END IF;
  IF p_data_type = 'timestamp' THEN
    SET v_utc = CONCAT('TIMESTAMPADD(MICROSECOND, ROUND(UNIX_TIMESTAMP(', p_ref,
                       ') * 1000000), CAST(''1970-01-01 00:00:00'' AS DATETIME(6)))');
    RETURN CONCAT('IF(UNIX_TIMESTAMP(', p_ref, ') = 0, ',
                  QUOTE(CONCAT('0000-00-00T00:00:00',
                               IF(v_fsp > 0, CONCAT('.', REPEAT('0', v_fsp)), ''), 'Z')),
                  ', CONCAT(LEFT(DATE_FORMAT(', v_utc, ', ''%Y-%m-%dT%H:%i:%s.%f''), ',
                  19 + IF(v_fsp > 0, 1 + v_fsp, 0), '), ''Z''))');
  END IF;
  IF relay_is_base64_type(p_data_type, p_charset) THEN
    -- TO_BASE64 wraps lines at 76 characters: unwrapped. SQL NULL stays JSON null; JSON_EXTRACT
    -- makes the object JSON-typed on both servers, so it nests as an object, not as text.
    RETURN CONCAT('JSON_EXTRACT(IF(', p_ref, ' IS NULL, NULL, JSON_OBJECT(''$base64'', ',
                  'CONVERT(REPLACE(TO_BASE64(', p_ref,
                  '), CHAR(10 USING ascii), '''') USING utf8mb4))), ''$'')');
  END IF;
  RETURN CONCAT('CONVERT(', p_ref, ' USING utf8mb4)');
END;

DROP FUNCTION IF EXISTS relay_key_decode_expr;

CREATE FUNCTION relay_key_decode_expr(p_json_ref TEXT CHARACTER SET utf8mb4,
                                      p_name VARCHAR(64) CHARACTER SET utf8mb4,
                                      p_data_type VARCHAR(64),
                                      p_column_type TEXT,
                                      p_charset VARCHAR(64),
                                      p_collation VARCHAR(64),
                                      p_fsp INT,
                                      p_precision INT,
                                      p_scale INT)
  RETURNS TEXT CHARACTER SET utf8mb4
  DETERMINISTIC NO SQL
  COMMENT 'SQL expression reading a key column back from key JSON, typed like the column'
BEGIN
  DECLARE v_member TEXT CHARACTER SET utf8mb4 DEFAULT relay_json_member(p_name);
  DECLARE v_text TEXT CHARACTER SET utf8mb4;
  DECLARE v_fsp INT DEFAULT LEAST(GREATEST(COALESCE(p_fsp, 0), 0), 6);
  IF relay_is_base64_type(p_data_type, p_charset) THEN
    SET v_text = CONCAT('JSON_UNQUOTE(JSON_EXTRACT(', p_json_ref, ', ',
                        QUOTE(CONCAT('$', v_member, '."$base64"')), '))');
    IF p_data_type = 'bit' THEN
      RETURN CONCAT('CAST(CONV(HEX(FROM_BASE64(', v_text, ')), 16, 10) AS UNSIGNED)');
    END IF;
    RETURN CONCAT('FROM_BASE64(', v_text, ')');
  END IF;
  SET v_text = CONCAT('JSON_UNQUOTE(JSON_EXTRACT(', p_json_ref, ', ',
                      QUOTE(CONCAT('$', v_member)), '))');
  IF p_data_type IN ('tinyint', 'smallint', 'mediumint', 'int', 'integer', 'bigint', 'year') THEN
    RETURN CONCAT('CAST(', v_text, ' AS ',
                  IF(p_column_type LIKE '%unsigned%' OR p_data_type = 'year', 'UNSIGNED', 'SIGNED'),
                  ')');
  END IF;
  IF p_data_type IN ('decimal', 'numeric') THEN
    RETURN CONCAT('CAST(', v_text, ' AS DECIMAL(', COALESCE(p_precision, 65), ', ',
                  COALESCE(p_scale, 0), '))');
  END IF;
  IF p_data_type = 'date' THEN
    RETURN CONCAT('CAST(', v_text, ' AS DATE)');
  END IF;
  IF p_data_type = 'datetime' THEN
    RETURN CONCAT('CAST(', v_text, ' AS DATETIME(', v_fsp, '))');
  END IF;
  IF p_data_type = 'time' THEN
    RETURN CONCAT('CAST(', v_text, ' AS TIME(', v_fsp, '))');
  END IF;
  IF p_data_type = 'timestamp' THEN
    -- Read back in a session whose time zone is UTC (dispatch, purge and backfill set it).
    RETURN CONCAT('CAST(REPLACE(REPLACE(', v_text, ', ''T'', '' ''), ''Z'', '''') AS DATETIME(',
                  v_fsp, '))');
  END IF;
  IF p_charset IS NOT NULL AND p_charset REGEXP '^[a-z0-9_]+$'
     AND p_collation REGEXP '^[a-z0-9_]+$' THEN
    RETURN CONCAT('CONVERT(', v_text, ' USING ', p_charset, ') COLLATE ', p_collation);
  END IF;
  RETURN v_text;
END;

DROP FUNCTION IF EXISTS relay_is_mariadb;

CREATE FUNCTION relay_is_mariadb()
  RETURNS BOOLEAN
  DETERMINISTIC NO SQL
  RETURN VERSION() LIKE '%MariaDB%';

DROP PROCEDURE IF EXISTS relay_json_columns;

-- MariaDB's JSON is LONGTEXT with a CHECK (json_valid(`col`)) named after the column;
-- information_schema.CHECK_CONSTRAINTS names the table there (MySQL's does not: MySQL has a real
-- JSON type and never runs this query). Prepared, so MySQL never even parses it.
CREATE PROCEDURE relay_json_columns(IN p_table VARCHAR(64) CHARACTER SET utf8mb4,
                                    OUT p_names TEXT CHARACTER SET utf8mb4)
  READS SQL DATA
BEGIN
  SET p_names = '[]';
  IF relay_is_mariadb() THEN
    SET @relay_json_table = p_table, @relay_json_names = NULL;
    PREPARE relay_json_stmt FROM
      'SELECT CONCAT(''['', GROUP_CONCAT(JSON_QUOTE(CONSTRAINT_NAME) ORDER BY CONSTRAINT_NAME), '']'')
         INTO @relay_json_names
         FROM information_schema.CHECK_CONSTRAINTS
        WHERE CONSTRAINT_SCHEMA = DATABASE() AND TABLE_NAME = ?
          AND CHECK_CLAUSE = CONCAT(''json_valid(`'', REPLACE(CONSTRAINT_NAME, ''`'', ''``''), ''`)'')';
    EXECUTE relay_json_stmt USING @relay_json_table;
    DEALLOCATE PREPARE relay_json_stmt;
    SET p_names = COALESCE(@relay_json_names, '[]');
  END IF;
END;

DROP PROCEDURE IF EXISTS relay_key_expr;

CREATE PROCEDURE relay_key_expr(IN p_table VARCHAR(64) CHARACTER SET utf8mb4,
                                IN p_alias VARCHAR(16),
                                OUT p_expr TEXT CHARACTER SET utf8mb4)
  READS SQL DATA
  COMMENT 'JSON_OBJECT of the primary-key columns of p_table, read through p_alias (NULL: no key)'
BEGIN
  SET SESSION group_concat_max_len = GREATEST(@@session.group_concat_max_len, 1048576);
  SELECT CONCAT('JSON_OBJECT(',
                GROUP_CONCAT(QUOTE(c.COLUMN_NAME), ', ',
                             relay_value_expr(CONCAT(p_alias, '.', relay_ident(c.COLUMN_NAME)),
                                              c.DATA_TYPE, c.CHARACTER_SET_NAME, FALSE,
                                              c.DATETIME_PRECISION)
                             ORDER BY k.SEQ_IN_INDEX SEPARATOR ', '),
                ')')
    INTO p_expr
    FROM information_schema.STATISTICS k
    JOIN information_schema.COLUMNS c
      ON c.TABLE_SCHEMA = k.TABLE_SCHEMA AND c.TABLE_NAME = k.TABLE_NAME
     AND c.COLUMN_NAME = k.COLUMN_NAME
   WHERE k.TABLE_SCHEMA = DATABASE() AND k.TABLE_NAME = p_table AND k.INDEX_NAME = 'PRIMARY'
     AND c.TABLE_SCHEMA = DATABASE() AND c.TABLE_NAME = p_table;
END;

DROP PROCEDURE IF EXISTS relay_columns_sig;

CREATE PROCEDURE relay_columns_sig(IN p_table VARCHAR(64) CHARACTER SET utf8mb4,
                                   OUT p_sig CHAR(64))
  READS SQL DATA
  COMMENT 'Hash of what the cached expressions of p_table depend on (NULL: no such table)'
BEGIN
  DECLARE v_json TEXT CHARACTER SET utf8mb4 DEFAULT '[]';
  DECLARE v_columns MEDIUMTEXT CHARACTER SET utf8mb4 DEFAULT NULL;
  DECLARE v_key TEXT CHARACTER SET utf8mb4 DEFAULT NULL;
  SET SESSION group_concat_max_len = GREATEST(@@session.group_concat_max_len, 1048576);
  SELECT GROUP_CONCAT(CONCAT_WS(CHAR(31 USING utf8mb4), COLUMN_NAME, COLUMN_TYPE, DATA_TYPE,
                                IS_NULLABLE, COALESCE(CHARACTER_SET_NAME, ''),
                                COALESCE(COLLATION_NAME, ''),
                                COALESCE(DATETIME_PRECISION, ''))
                      ORDER BY ORDINAL_POSITION SEPARATOR '\n')
    INTO v_columns
    FROM information_schema.COLUMNS
   WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = p_table;
  IF v_columns IS NULL THEN
    SET p_sig = NULL;
  ELSE
    SELECT GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX SEPARATOR '\n') INTO v_key
      FROM information_schema.STATISTICS
     WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = p_table AND INDEX_NAME = 'PRIMARY';
    CALL relay_json_columns(p_table, v_json);
    SELECT SHA2(CONCAT_WS(CHAR(30 USING utf8mb4), v_columns, COALESCE(v_key, ''), v_json,
                          COALESCE(exclude_columns, '[]'), COALESCE(key_columns, '')), 256)
      INTO p_sig
      FROM (SELECT 1 AS one) o
      LEFT JOIN relay_tables t ON t.table_name = p_table;
  END IF;
END;

DROP PROCEDURE IF EXISTS relay_table_refresh;

CREATE PROCEDURE relay_table_refresh(IN p_table VARCHAR(64) CHARACTER SET utf8mb4)
  MODIFIES SQL DATA
  COMMENT 'Rebuilds the cached per-table expressions of p_table in relay_tables'
proc: BEGIN
  DECLARE v_sig CHAR(64) DEFAULT NULL;
  DECLARE v_exclude TEXT CHARACTER SET utf8mb4 DEFAULT '[]';
  DECLARE v_captured TEXT CHARACTER SET utf8mb4 DEFAULT NULL;
  DECLARE v_live TEXT CHARACTER SET utf8mb4 DEFAULT NULL;
  DECLARE v_json TEXT CHARACTER SET utf8mb4 DEFAULT '[]';
  DECLARE v_row MEDIUMTEXT CHARACTER SET utf8mb4 DEFAULT NULL;
  DECLARE v_est MEDIUMTEXT CHARACTER SET utf8mb4 DEFAULT NULL;
  DECLARE v_schema MEDIUMTEXT CHARACTER SET utf8mb4 DEFAULT NULL;
  DECLARE v_key TEXT CHARACTER SET utf8mb4 DEFAULT NULL;
  DECLARE v_match TEXT CHARACTER SET utf8mb4 DEFAULT NULL;
  DECLARE v_cols TEXT CHARACTER SET utf8mb4 DEFAULT NULL;
  DECLARE v_cols_desc TEXT CHARACTER SET utf8mb4 DEFAULT NULL;
  DECLARE v_after TEXT CHARACTER SET utf8mb4 DEFAULT NULL;
  DECLARE v_upto TEXT CHARACTER SET utf8mb4 DEFAULT NULL;
  DECLARE v_n INT DEFAULT 0;
  DECLARE v_i INT DEFAULT 0;
  DECLARE v_col TEXT CHARACTER SET utf8mb4;
  DECLARE v_lo TEXT CHARACTER SET utf8mb4;
  DECLARE v_hi TEXT CHARACTER SET utf8mb4;
  DECLARE v_old_schema MEDIUMTEXT CHARACTER SET utf8mb4 DEFAULT NULL;
  DECLARE v_resync BOOLEAN DEFAULT FALSE;

  IF NOT EXISTS (SELECT 1 FROM relay_tables WHERE table_name = p_table) THEN
    SIGNAL SQLSTATE '45000'
      SET MESSAGE_TEXT = 'relay_table_refresh: the table is not in relay_tables (run db:migrate)';
  END IF;
  SET SESSION group_concat_max_len = GREATEST(@@session.group_concat_max_len, 67108864);
  SELECT COALESCE(exclude_columns, '[]'), key_columns, schema_json
    INTO v_exclude, v_captured, v_old_schema
    FROM relay_tables WHERE table_name = p_table;

  CALL relay_columns_sig(p_table, v_sig);
  IF v_sig IS NULL THEN
    -- Dropped: none of its rows exists any more (dispatch sends its pending changes as DELETEs).
    UPDATE relay_tables
       SET columns_sig = NULL, table_missing = TRUE, stale_reason = NULL,
           refreshed_at = UTC_TIMESTAMP(6), updated_at = UTC_TIMESTAMP(6)
     WHERE table_name = p_table;
    LEAVE proc;
  END IF;

  SELECT CONCAT('[', GROUP_CONCAT(JSON_QUOTE(COLUMN_NAME) ORDER BY SEQ_IN_INDEX), ']') INTO v_live
    FROM information_schema.STATISTICS
   WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = p_table AND INDEX_NAME = 'PRIMARY';
  IF v_live IS NULL OR v_captured IS NULL OR v_live <> v_captured THEN
    UPDATE relay_tables
       SET columns_sig = v_sig, table_missing = FALSE,
           stale_reason = LEFT(CONCAT('primary key of ', p_table, ' is ', COALESCE(v_live, 'none'),
                                      ', capture was installed for ', COALESCE(v_captured, 'none'),
                                      ': run the migration (db:migrate) again'), 512),
           refreshed_at = UTC_TIMESTAMP(6), updated_at = UTC_TIMESTAMP(6)
     WHERE table_name = p_table;
    LEAVE proc;
  END IF;

  CALL relay_json_columns(p_table, v_json);

  -- The row: every column but the excluded ones (key columns always), in table order.
  SELECT CONCAT('JSON_OBJECT(',
                GROUP_CONCAT(QUOTE(c.COLUMN_NAME), ', ',
                             relay_value_expr(CONCAT('s.', relay_ident(c.COLUMN_NAME)),
                                              c.DATA_TYPE, c.CHARACTER_SET_NAME,
                                              c.DATA_TYPE = 'json'
                                                OR JSON_CONTAINS(v_json, JSON_QUOTE(c.COLUMN_NAME)),
                                              c.DATETIME_PRECISION)
                             ORDER BY c.ORDINAL_POSITION SEPARATOR ', '),
                ')'),
         -- A lower bound of the row's JSON size (escaping only adds): decides "too large" before
         -- any huge value is encoded.
         CONCAT(SUM(CHAR_LENGTH(c.COLUMN_NAME) + 6), ' + ',
                GROUP_CONCAT(CONCAT('COALESCE(LENGTH(s.', relay_ident(c.COLUMN_NAME), ')',
                                    IF(relay_is_base64_type(c.DATA_TYPE, c.CHARACTER_SET_NAME),
                                       ' * 4 / 3', ''), ', 0)')
                             ORDER BY c.ORDINAL_POSITION SEPARATOR ' + ')),
         JSON_OBJECT(
           'columns', JSON_EXTRACT(CONCAT('[', GROUP_CONCAT(
             JSON_OBJECT('name', c.COLUMN_NAME,
                         'type', IF(c.DATA_TYPE <> 'json'
                                      AND JSON_CONTAINS(v_json, JSON_QUOTE(c.COLUMN_NAME)),
                                    'json', c.COLUMN_TYPE),
                         'nullable', JSON_EXTRACT(IF(c.IS_NULLABLE = 'YES', 'true', 'false'), '$'))
             ORDER BY c.ORDINAL_POSITION SEPARATOR ','), ']'), '$'),
           'primaryKey', JSON_EXTRACT(v_live, '$'))
    INTO v_row, v_est, v_schema
    FROM information_schema.COLUMNS c
   WHERE c.TABLE_SCHEMA = DATABASE() AND c.TABLE_NAME = p_table
     AND (NOT JSON_CONTAINS(v_exclude, JSON_QUOTE(c.COLUMN_NAME))
          OR JSON_CONTAINS(v_live, JSON_QUOTE(c.COLUMN_NAME)));

  CALL relay_key_expr(p_table, 's', v_key);

  -- Key lookups and ranges, from the key JSON in k.key_json (a row of relay_outbox or of a work
  -- table aliased k) or in @relay_key_lo / @relay_key_hi (backfill chunks).
  SELECT COUNT(*),
         GROUP_CONCAT(CONCAT('s.', relay_ident(c.COLUMN_NAME), ' = ',
                             relay_key_decode_expr('k.key_json', c.COLUMN_NAME, c.DATA_TYPE,
                                                   c.COLUMN_TYPE, c.CHARACTER_SET_NAME,
                                                   c.COLLATION_NAME, c.DATETIME_PRECISION,
                                                   c.NUMERIC_PRECISION, c.NUMERIC_SCALE))
                      ORDER BY k.SEQ_IN_INDEX SEPARATOR ' AND '),
         GROUP_CONCAT(CONCAT('s.', relay_ident(c.COLUMN_NAME))
                      ORDER BY k.SEQ_IN_INDEX SEPARATOR ', '),
         GROUP_CONCAT(CONCAT('s.', relay_ident(c.COLUMN_NAME), ' DESC')
                      ORDER BY k.SEQ_IN_INDEX SEPARATOR ', ')
    INTO v_n, v_match, v_cols, v_cols_desc
    FROM information_schema.STATISTICS k
    JOIN information_schema.COLUMNS c
      ON c.TABLE_SCHEMA = k.TABLE_SCHEMA AND c.TABLE_NAME = k.TABLE_NAME
     AND c.COLUMN_NAME = k.COLUMN_NAME
   WHERE k.TABLE_SCHEMA = DATABASE() AND k.TABLE_NAME = p_table AND k.INDEX_NAME = 'PRIMARY'
     AND c.TABLE_SCHEMA = DATABASE() AND c.TABLE_NAME = p_table;

  -- Lexicographic (k1, k2, …) > lo and <= hi, built from the last key column inwards; the
  -- leading "k1 >= lo1" / "k1 <= hi1" gives the optimizer a range on the primary key.
  SET v_i = v_n;
  WHILE v_i >= 1 DO
    SELECT CONCAT('s.', relay_ident(c.COLUMN_NAME)),
           relay_key_decode_expr('@relay_key_lo', c.COLUMN_NAME, c.DATA_TYPE, c.COLUMN_TYPE,
                                 c.CHARACTER_SET_NAME, c.COLLATION_NAME, c.DATETIME_PRECISION,
                                 c.NUMERIC_PRECISION, c.NUMERIC_SCALE),
           relay_key_decode_expr('@relay_key_hi', c.COLUMN_NAME, c.DATA_TYPE, c.COLUMN_TYPE,
                                 c.CHARACTER_SET_NAME, c.COLLATION_NAME, c.DATETIME_PRECISION,
                                 c.NUMERIC_PRECISION, c.NUMERIC_SCALE)
      INTO v_col, v_lo, v_hi
      FROM information_schema.STATISTICS k
      JOIN information_schema.COLUMNS c
        ON c.TABLE_SCHEMA = k.TABLE_SCHEMA AND c.TABLE_NAME = k.TABLE_NAME
       AND c.COLUMN_NAME = k.COLUMN_NAME
     WHERE k.TABLE_SCHEMA = DATABASE() AND k.TABLE_NAME = p_table AND k.INDEX_NAME = 'PRIMARY'
       AND c.TABLE_SCHEMA = DATABASE() AND c.TABLE_NAME = p_table AND k.SEQ_IN_INDEX = v_i;
    IF v_i = v_n THEN
      SET v_after = CONCAT(v_col, ' > ', v_lo), v_upto = CONCAT(v_col, ' <= ', v_hi);
    ELSE
      SET v_after = CONCAT('(', v_col, ' > ', v_lo, ' OR (', v_col, ' = ', v_lo, ' AND ',
                           v_after, '))'),
          v_upto = CONCAT('(', v_col, ' < ', v_hi, ' OR (', v_col, ' = ', v_hi, ' AND ',
                          v_upto, '))');
    END IF;
    IF v_i = 1 AND v_n > 1 THEN
      SET v_after = CONCAT(v_col, ' >= ', v_lo, ' AND ', v_after),
          v_upto = CONCAT(v_col, ' <= ', v_hi, ' AND ', v_upto);
    END IF;
    SET v_i = v_i - 1;
  END WHILE;

  -- Rows the DC holds lack a value of the new shape: a column that is new or changed.
  IF v_old_schema IS NOT NULL THEN
    SET v_i = 0;
    WHILE v_i < JSON_LENGTH(v_schema, '$.columns') AND NOT v_resync DO
      SET v_resync = NOT JSON_CONTAINS(JSON_EXTRACT(v_old_schema, '$.columns'),
                                       JSON_EXTRACT(v_schema, CONCAT('$.columns[', v_i, ']')));
      SET v_i = v_i + 1;
    END WHILE;
  END IF;
  IF v_resync THEN
    UPDATE relay_tables
       SET backfill_state = 'running', backfill_mode = 'resync', backfill_last_key = NULL,
           backfill_rows = 0, backfill_missing = NULL, backfill_started_at = UTC_TIMESTAMP(6),
           backfill_finished_at = NULL, backfill_error = NULL
     WHERE table_name = p_table AND listed AND backfill_state <> 'pending';
  END IF;

  UPDATE relay_tables
     SET columns_sig = v_sig, stale_reason = NULL, table_missing = FALSE,
         row_expr = v_row, est_expr = v_est, key_expr = v_key,
         hash_expr = CONCAT('UNHEX(SHA2(CONCAT(', QUOTE(CONCAT(p_table, ':')), ', ', v_key,
                            '), 256))'),
         key_match = v_match, key_after = v_after, key_upto = v_upto,
         key_cols = v_cols, key_cols_desc = v_cols_desc, schema_json = v_schema,
         refreshed_at = UTC_TIMESTAMP(6), updated_at = UTC_TIMESTAMP(6)
   WHERE table_name = p_table;
END;

DROP PROCEDURE IF EXISTS relay_table_check;

CREATE PROCEDURE relay_table_check(IN p_table VARCHAR(64) CHARACTER SET utf8mb4)
  MODIFIES SQL DATA
  COMMENT 'The cheap check: refreshes p_table''s cached expressions only when its columns changed'
BEGIN
  DECLARE v_sig CHAR(64) DEFAULT NULL;
  DECLARE v_cached CHAR(64) DEFAULT NULL;
  CALL relay_columns_sig(p_table, v_sig);
  SELECT columns_sig INTO v_cached FROM relay_tables WHERE table_name = p_table;
  IF v_sig IS NULL OR v_cached IS NULL OR v_sig <> v_cached THEN
    CALL relay_table_refresh(p_table);
  END IF;
END;
