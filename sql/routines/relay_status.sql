-- View relay_status: the backlog at a glance (for `npm start`, benchmarks, relay_heartbeat and
-- alarms on relay lag). One row.
-- A routine (sql/routines/): re-applied with CREATE OR REPLACE whenever this file changes. Reads
-- the relay_overdue view, which must exist first: relay_overdue.sql sorts before this file.
CREATE OR REPLACE VIEW relay_status AS
  SELECT (SELECT COUNT(*) FROM relay_outbox WHERE handed_off_at IS NULL) AS pending,
         (SELECT MIN(occurred_at) FROM relay_outbox WHERE handed_off_at IS NULL)
           AS oldest_pending_at,
         (SELECT COUNT(*) FROM relay_overdue) AS overdue,
         st.last_dispatch_at, st.last_success_at, st.last_error_at, st.last_error,
         st.consecutive_failures, st.total_handed_off, st.last_purge_at, st.total_purged
    FROM relay_state st
   WHERE st.id = 1;
