-- View relay_status: the relay at a glance (for `npm start`, benchmarks, relay_heartbeat and
-- alarms). One row:
--   pending, oldest_pending_at, overdue  changes waiting for dispatch (quarantined ones apart)
--   quarantined                          changes too large to send, waiting for an operator
--                                        (relay_quarantine.sql)
--   backfill_incomplete                  listed tables whose backfill is not verified complete
--                                        (relay_tables.backfill_state, backfill_missing)
--   stale_tables                         listed tables held back (relay_tables.stale_reason)
--   purge_failures, last_purge_error(_at) purge runs in a row that failed, and why
--   confirmed, unconfirmed               outbox changes handed off and confirmed by the DC / not
--                                        (yet) confirmed (relay_confirm.sql)
--   unconfirmed_overdue                  latest changes of rows handed off, not confirmed and older
--                                        than the retention: the purge keeps them (the privacy
--                                        window is exceeded) and the DC may not have them; 0 with
--                                        purge_requires = 'handedOff'
--   total_confirmed, total_resent, last_confirm_at, last_resend_at
--   … and what dispatch and purge did last (relay_state).
-- A routine (sql/routines/): re-applied with CREATE OR REPLACE whenever this file changes. Reads
-- the relay_overdue view, which must exist first: relay_overdue.sql sorts before this file.
CREATE OR REPLACE VIEW relay_status AS
  SELECT (SELECT COUNT(*) FROM relay_outbox
           WHERE handed_off_at IS NULL AND quarantined_at IS NULL) AS pending,
         (SELECT MIN(occurred_at) FROM relay_outbox
           WHERE handed_off_at IS NULL AND quarantined_at IS NULL) AS oldest_pending_at,
         (SELECT COUNT(*) FROM relay_overdue) AS overdue,
         (SELECT COUNT(*) FROM relay_outbox
           WHERE handed_off_at IS NULL AND quarantined_at IS NOT NULL) AS quarantined,
         (SELECT COUNT(*) FROM relay_tables
           WHERE listed AND backfill_state <> 'complete') AS backfill_incomplete,
         (SELECT COUNT(*) FROM relay_tables
           WHERE listed AND stale_reason IS NOT NULL) AS stale_tables,
         (SELECT COUNT(*) FROM relay_outbox
           WHERE confirmed_at IS NOT NULL AND handed_off_at IS NOT NULL) AS confirmed,
         (SELECT COUNT(*) FROM relay_outbox
           WHERE confirmed_at IS NULL AND handed_off_at IS NOT NULL) AS unconfirmed,
         (SELECT COUNT(*) FROM relay_outbox o JOIN relay_settings s ON s.id = 1
           WHERE s.purge_requires = 'confirmed'
             AND o.confirmed_at IS NULL AND o.handed_off_at IS NOT NULL
             AND o.op <> 'SCHEMA' AND o.key_hash IS NOT NULL
             AND o.occurred_at < UTC_TIMESTAMP(6)
                   - INTERVAL CAST(ROUND(s.retention_hours * 3600000000) AS SIGNED) MICROSECOND
             AND NOT EXISTS (SELECT 1 FROM relay_outbox n
                              WHERE n.key_hash = o.key_hash AND n.table_name = o.table_name
                                AND n.id > o.id)) AS unconfirmed_overdue,
         st.last_dispatch_at, st.last_success_at, st.last_error_at, st.last_error,
         st.consecutive_failures, st.total_handed_off, st.total_quarantined,
         st.last_purge_at, st.last_purge_deleted, st.total_purged,
         st.purge_consecutive_failures AS purge_failures, st.last_purge_error_at,
         st.last_purge_error, st.total_confirmed, st.last_confirm_at, st.total_resent,
         st.last_resend_at
    FROM relay_state st
   WHERE st.id = 1;
