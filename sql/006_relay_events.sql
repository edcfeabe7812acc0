-- The schedules. event_scheduler must be ON (Aurora MySQL 3: cluster parameter group; locally:
-- mariadbd --event-scheduler=ON). The migration runner re-schedules relay_purge_event to
-- settings.purge_interval_minutes on every run. Definer = the migrating (relay) user, which on
-- Aurora has AWS_LAMBDA_ACCESS active (activate_all_roles_on_login).
DROP EVENT IF EXISTS relay_dispatch_event;

CREATE EVENT relay_dispatch_event
  ON SCHEDULE EVERY 1 SECOND
  ON COMPLETION PRESERVE
  ENABLE
  COMMENT 'order relay: hand pending outbox rows to the notify function'
  DO CALL relay_dispatch();

DROP EVENT IF EXISTS relay_purge_event;

CREATE EVENT relay_purge_event
  ON SCHEDULE EVERY 5 MINUTE
  ON COMPLETION PRESERVE
  ENABLE
  COMMENT 'order relay: delete handed-off orders past the retention'
  DO CALL relay_purge();
