-- BENCH ONLY: the seed article's design (seeds/000_*), for the calls-per-order comparison.
-- The AFTER INSERT trigger calls lambda_async once per row, inside the INSERT's transaction, with
-- a one-record envelope (the same envelope shape, so the harness can parse it); no outbox, no
-- dispatch event. Applied by bench/calls.ts on top of the relay migration (local lambda_async).
DROP EVENT IF EXISTS relay_dispatch_event;

DROP TRIGGER IF EXISTS relay_order_data_after_insert;

CREATE TRIGGER relay_order_data_after_insert AFTER INSERT ON order_data FOR EACH ROW
  SET @seed_lambda_result = lambda_async(
    (SELECT function_arn FROM relay_settings WHERE id = 1),
    JSON_OBJECT(
      'region', (SELECT region FROM relay_settings WHERE id = 1),
      'records', JSON_ARRAY(JSON_OBJECT(
        'outboxId', NEW.id,
        'table', 'order_data',
        'op', 'INSERT',
        'rowId', NEW.id,
        'occurredAt', CONCAT(DATE_FORMAT(UTC_TIMESTAMP(3), '%Y-%m-%dT%H:%i:%s.'),
                             LPAD(FLOOR(MICROSECOND(UTC_TIMESTAMP(3)) / 1000), 3, '0'), 'Z'),
        'row', JSON_OBJECT('id', NEW.id, 'item', NEW.item)))));
