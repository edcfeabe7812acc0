/** The order row the capacity benchmarks and the cost model's row size stand for. */

/** An order row whose JSON is about `bytes` long (13 typical storefront columns, padded). */
export function orderRow(id: number, bytes: number): Record<string, unknown> {
  const row: Record<string, unknown> = {
    id,
    customer_name: "Hanako Yamada",
    email: `customer${id}@example.com`,
    phone: "+81-3-1234-5678",
    address: "1-2-3 Chiyoda, Chiyoda-ku, Tokyo 100-0001",
    item: "SKU-48213 ceramic tea set",
    quantity: 2,
    unit_price: "4800.00",
    total: "9600.00",
    currency: "JPY",
    status: "NEW",
    created_at: "2026-05-01 09:30:00",
    note: "",
  };
  const missing = bytes - Buffer.byteLength(JSON.stringify(row));
  if (missing > 0) row.note = "x".repeat(missing);
  return row;
}
