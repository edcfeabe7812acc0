/**
 * A storefront schema shaped like the order tables of real open-source storefronts (PrestaShop's
 * ps_orders / ps_address / ps_order_detail, with the types such packages use): an order table
 * with an integer key and money in DECIMAL(20,6), an address table keyed by a UUID CHAR(36) with
 * a foreign key to its order, an order-items table with a composite (order, product reference)
 * key whose reference is a character code ('000123' and '0123' are different products), and a
 * payment-token table keyed by BINARY(16). Wide rows: TIMESTAMP(6), DATETIME, DECIMAL(65,30),
 * BIGINT UNSIGNED, BLOB, JSON, BIT, TEXT in utf8mb4 and latin1, ENUM, NULLable everything.
 */
import type { RelayTable } from "../../contract/databaseSettings";

/** The order table alone (the wide table of the trigger-cost figure, bench/trigger.ts). */
export const PS_ORDERS_SQL = `CREATE TABLE ps_orders (
  id_order INT UNSIGNED NOT NULL AUTO_INCREMENT,
  reference VARCHAR(9) NOT NULL,
  id_shop INT UNSIGNED NOT NULL DEFAULT 1,
  id_customer INT UNSIGNED NOT NULL,
  current_state TINYINT UNSIGNED NOT NULL DEFAULT 1,
  secure_key VARCHAR(32) NOT NULL DEFAULT '-1',
  payment VARCHAR(255) NOT NULL,
  module VARCHAR(255) NULL,
  total_paid DECIMAL(20,6) NOT NULL DEFAULT 0.000000,
  total_paid_tax_incl DECIMAL(20,6) NULL,
  conversion_rate DECIMAL(13,6) NOT NULL DEFAULT 1.000000,
  ledger_amount DECIMAL(65,30) NULL,
  loyalty_points BIGINT UNSIGNED NULL,
  gift TINYINT(1) UNSIGNED NOT NULL DEFAULT 0,
  gift_message TEXT NULL,
  flags BIT(10) NULL,
  weight DOUBLE NULL,
  invoice_pdf BLOB NULL,
  extra JSON NULL,
  status ENUM('processing', 'shipped', 'completed', 'cancelled') NOT NULL DEFAULT 'processing',
  date_add DATETIME NOT NULL,
  date_upd TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
  PRIMARY KEY (id_order),
  KEY reference (reference)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci`;

export const STOREFRONT_SCHEMA = `
${PS_ORDERS_SQL};

CREATE TABLE ps_address (
  id_address CHAR(36) CHARACTER SET ascii NOT NULL,
  id_order INT UNSIGNED NOT NULL,
  alias VARCHAR(32) NOT NULL,
  company VARCHAR(255) NULL,
  firstname VARCHAR(255) NOT NULL,
  lastname VARCHAR(255) NOT NULL,
  address1 VARCHAR(128) NOT NULL,
  address2 VARCHAR(128) NULL,
  postcode VARCHAR(12) NULL,
  city VARCHAR(64) CHARACTER SET latin1 NOT NULL,
  phone VARCHAR(32) NULL,
  date_add DATETIME(3) NOT NULL,
  PRIMARY KEY (id_address),
  KEY id_order (id_order),
  CONSTRAINT ps_address_order FOREIGN KEY (id_order) REFERENCES ps_orders (id_order)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE ps_order_detail (
  id_order INT UNSIGNED NOT NULL,
  product_reference VARCHAR(32) NOT NULL,
  product_name VARCHAR(255) NOT NULL,
  product_quantity INT UNSIGNED NOT NULL DEFAULT 0,
  unit_price_tax_incl DECIMAL(20,6) NOT NULL DEFAULT 0.000000,
  PRIMARY KEY (id_order, product_reference),
  CONSTRAINT ps_order_detail_order FOREIGN KEY (id_order) REFERENCES ps_orders (id_order)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE ps_payment_token (
  token BINARY(16) NOT NULL,
  id_order INT UNSIGNED NOT NULL,
  card_last4 CHAR(4) NULL,
  expires DATE NULL,
  PRIMARY KEY (token),
  CONSTRAINT ps_payment_token_order FOREIGN KEY (id_order) REFERENCES ps_orders (id_order)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
`;

export const STOREFRONT_TABLES: RelayTable[] = [
  { name: "ps_orders", excludeColumns: [] },
  {
    name: "ps_address",
    excludeColumns: ["phone"],
    parent: { table: "ps_orders", column: "id_order" },
  },
  {
    name: "ps_order_detail",
    excludeColumns: [],
    parent: { table: "ps_orders", column: "id_order" },
  },
  {
    name: "ps_payment_token",
    excludeColumns: [],
    parent: { table: "ps_orders", column: "id_order" },
  },
];

export const TABLE_NAMES = STOREFRONT_TABLES.map((t) => t.name);
