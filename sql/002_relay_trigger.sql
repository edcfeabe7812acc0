-- The AFTER INSERT trigger: copies the new order into the outbox in the same transaction. No
-- network, no settings lookup, one indexed INSERT: it cannot fail for network reasons and a
-- rolled-back order leaves nothing behind. Definer = the migrating (relay) user.
--
-- The column list mirrors order_data (seed schema: id, item); relay_backfill() uses the same
-- JSON_OBJECT. A storefront schema with more columns needs a new migration changing both.
-- (MySQL 8.0 has no CREATE OR REPLACE TRIGGER, MariaDB has: DROP + CREATE is the common subset.)
DROP TRIGGER IF EXISTS relay_order_data_after_insert;

CREATE TRIGGER relay_order_data_after_insert AFTER INSERT ON order_data FOR EACH ROW
  INSERT INTO relay_outbox (row_id, occurred_at, row_json)
  VALUES (NEW.id, UTC_TIMESTAMP(3), JSON_OBJECT('id', NEW.id, 'item', NEW.item));
