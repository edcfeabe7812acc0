-- View relay_overdue: changes that should have reached the DC by now (older than
-- settings.retention_hours) but were never handed off, i.e. the relay is failing (or a table is
-- held back: relay_tables.stale_reason): alarm on SELECT COUNT(*) FROM relay_overdue > 0.
-- Quarantined changes are not overdue: they are counted apart (relay_status.quarantined).
-- A routine (sql/routines/): re-applied with CREATE OR REPLACE whenever this file changes.
-- relay_status.sql reads this view, so its name sorts after this one (views resolve at CREATE).
CREATE OR REPLACE VIEW relay_overdue AS
  SELECT o.id AS outbox_id, o.table_name, o.op, o.key_json, o.occurred_at, o.attempts,
         o.last_attempt_at, o.last_error
    FROM relay_outbox o
    JOIN relay_settings s ON s.id = 1
   WHERE o.handed_off_at IS NULL AND o.quarantined_at IS NULL
     AND o.occurred_at < UTC_TIMESTAMP(6)
           - INTERVAL CAST(ROUND(s.retention_hours * 3600000000) AS SIGNED) MICROSECOND;
