/**
 * Purge on confirmation (issue 14, SQL side): relay_confirm() marks what the DC acknowledged, the
 * purge (purgeRequires "confirmed") removes a row only once its latest change is confirmed,
 * relay_resend() (called by dispatch) makes what was never confirmed pending again, and
 * relay_status / the heartbeat count unconfirmed changes past the retention. purgeRequires
 * "handedOff" keeps the first release's rule.
 */
import assert from "node:assert/strict";
import { isHeartbeat, parseHeartbeat } from "../../contract/envelope";
import type { DatabaseSettingsInput } from "../../contract/databaseSettings";
import { drain, relayDb, sleep, upserts, type RelayDb, type Rows } from "./relay-db";

describe("sql: relay_confirm, purge on confirmation, resend (real MariaDB)", function () {
  this.timeout(60_000);
  let r: RelayDb;
  before(async () => {
    r = await relayDb("relay_confirm");
  });
  after(async () => {
    await r.close();
  });

  async function setup(settings: Partial<DatabaseSettingsInput> = {}) {
    await r.reset();
    await r.migrate({
      settings: {
        purgeRequires: "confirmed",
        retentionHours: 0,
        resendAfterMinutes: 1,
        ...settings,
      },
    });
    await drain(r); // the install-time SCHEMA record, if any
    await r.sql.query("DELETE FROM lambda_invocations");
  }
  async function insert(items: string[]) {
    for (const item of items)
      await r.sql.execute("INSERT INTO order_data (item) VALUES (?)", [item]);
  }
  const confirm = (ids: unknown[]) => r.sql.query("CALL relay_confirm(?)", [JSON.stringify(ids)]);
  const purge = () => r.sql.query("CALL relay_purge()");
  const left = async () => {
    const [rows] = await r.sql.query<Rows>("SELECT item FROM order_data ORDER BY id");
    return rows.map((row) => String(row.item));
  };
  const status = async () => {
    const [[s]] = await r.sql.query<Rows>(
      "SELECT pending, confirmed, unconfirmed, unconfirmed_overdue, total_confirmed, total_resent FROM relay_status",
    );
    return Object.fromEntries(Object.entries(s).map(([k, v]) => [k, Number(v)]));
  };
  /** Moves every hand-off back in time, as if resendAfterMinutes had passed. */
  const age = (minutes: number) =>
    r.sql.query(
      `UPDATE relay_outbox SET handed_off_at = handed_off_at - INTERVAL ${minutes} MINUTE WHERE handed_off_at IS NOT NULL`,
    );

  it("writes purgeRequires and resendAfterMinutes into relay_settings", async () => {
    await setup({ resendAfterMinutes: 7 });
    const [[s]] = await r.sql.query<Rows>(
      "SELECT purge_requires, resend_after_minutes FROM relay_settings",
    );
    assert.deepEqual(
      { requires: s.purge_requires, after: Number(s.resend_after_minutes) },
      { requires: "confirmed", after: 7 },
    );
    await r.migrate({ settings: { purgeRequires: "handedOff" } });
    const [[t]] = await r.sql.query<Rows>(
      "SELECT purge_requires, resend_after_minutes FROM relay_settings",
    );
    assert.deepEqual(
      { requires: t.purge_requires, after: Number(t.resend_after_minutes) },
      { requires: "handedOff", after: 30 },
    );
  });

  it("resendAfterMinutes may be a fraction for local runs (seconds): resent after it, not before", async () => {
    await setup({ resendAfterMinutes: 1.5 / 60 });
    const [[s]] = await r.sql.query<Rows>("SELECT resend_after_minutes FROM relay_settings");
    assert.equal(Number(s.resend_after_minutes), 0.025);
    await insert(["vanished"]);
    await drain(r);
    assert.equal(upserts(await r.records()).length, 1);
    await r.sql.query("DELETE FROM lambda_invocations");
    await r.dispatch(); // well within 1.5 s: not resent
    assert.equal((await r.records()).length, 0);
    await sleep(1700);
    await r.dispatch();
    assert.deepEqual(
      upserts(await r.records()).map((rec) => rec.row.item),
      ["vanished"],
    );
    assert.equal((await status()).total_resent, 1);
  });

  it("never purges an unconfirmed change (retention 0); purges it once the DC confirmed it", async () => {
    await setup();
    await insert(["a", "b"]);
    await drain(r);
    await r.sql.query("UPDATE order_data SET item = 'a2' WHERE item = 'a'"); // a's latest change
    await drain(r);
    await sleep(20);
    await purge();
    assert.deepEqual(await left(), ["a2", "b"]);
    const s = await status();
    assert.equal(s.unconfirmed_overdue, 2);
    assert.equal(s.confirmed, 0);

    // The DC confirms b, and an old, superseded change of a only: a's latest is still unconfirmed.
    // (a's superseded change went already: it carries no data and is not what the DC keeps.)
    const sent = upserts(await r.records());
    assert.deepEqual(
      sent.map((rec) => rec.row.item),
      ["a", "b", "a2"],
    );
    const [aFirst, b] = sent.map((rec) => rec.outboxId);
    await confirm([b, aFirst]);
    await purge();
    assert.deepEqual(await left(), ["a2"]);
    assert.equal((await status()).unconfirmed_overdue, 1);

    await confirm(sent.map((rec) => rec.outboxId));
    await purge();
    assert.deepEqual(await left(), []);
    assert.equal(await r.count("relay_outbox", "op <> 'SCHEMA'"), 0);
    assert.equal((await status()).unconfirmed_overdue, 0);
  });

  it("confirming twice, unknown ids, ids not handed off and junk are harmless", async () => {
    await setup({ retentionHours: 24 });
    await insert(["x"]);
    const [[row]] = await r.sql.query<Rows>("SELECT id FROM relay_outbox WHERE op = 'UPSERT'");
    const id = Number(row.id);
    await confirm([id, 987654321, "junk", -4, 1.5, null]); // not handed off yet: ignored
    assert.equal(await r.count("relay_outbox", "confirmed_at IS NOT NULL"), 0);
    await r.sql.query("CALL relay_confirm(NULL)");
    await r.sql.query("CALL relay_confirm('not json')");
    await r.sql.query("CALL relay_confirm('{\"outboxIds\": [1]}')");
    await drain(r);
    await confirm([id, id, 987654321]);
    const [[first]] = await r.sql.query<Rows>(
      "SELECT CAST(confirmed_at AS CHAR) AS at FROM relay_outbox WHERE id = ?",
      [id],
    );
    assert.ok(first.at);
    await sleep(5);
    await confirm([id]);
    const [[second]] = await r.sql.query<Rows>(
      "SELECT CAST(confirmed_at AS CHAR) AS at FROM relay_outbox WHERE id = ?",
      [id],
    );
    assert.equal(second.at, first.at, "the first confirmation time is kept");
    const s = await status();
    assert.equal(s.confirmed, 1);
    assert.equal(s.total_confirmed, 1);
  });

  it("confirms thousands of ids in one call", async () => {
    await setup({ retentionHours: 24, dispatchBatchSize: 500 });
    const values = Array.from({ length: 3000 }, (_, i) => `('bulk ${i}')`);
    for (let i = 0; i < values.length; i += 500) {
      await r.sql.query(
        `INSERT INTO order_data (item) VALUES ${values.slice(i, i + 500).join(", ")}`,
      );
    }
    await drain(r);
    const [ids] = await r.sql.query<Rows>("SELECT id FROM relay_outbox WHERE op = 'UPSERT'");
    assert.equal(ids.length, 3000);
    const started = Date.now();
    await confirm(ids.map((row) => Number(row.id)));
    assert.ok(Date.now() - started < 5000, `${Date.now() - started} ms`);
    assert.equal(await r.count("relay_outbox", "op = 'UPSERT' AND confirmed_at IS NULL"), 0);
  });

  it("resends a handed-off batch that vanished (never confirmed) after resendAfterMinutes; it arrives again and is then purged", async () => {
    await setup();
    await insert(["kept", "lost"]);
    await drain(r);
    const first = upserts(await r.records());
    assert.equal(first.length, 2);
    const kept = first.find((rec) => rec.row.item === "kept")!;
    const lost = first.find((rec) => rec.row.item === "lost")!;
    await confirm([kept.outboxId]);

    await drain(r); // not yet due: nothing is resent
    assert.equal(upserts(await r.records()).length, 2);

    await age(2); // resendAfterMinutes (1) has passed
    await r.sql.query("DELETE FROM lambda_invocations");
    await r.dispatch();
    const again = upserts(await r.records());
    assert.deepEqual(
      again.map((rec) => [rec.outboxId, rec.row.item]),
      [[lost.outboxId, "lost"]],
    );
    const [[o]] = await r.sql.query<Rows>(
      "SELECT resent_count, resent_at IS NOT NULL AS resent, handed_off_at IS NOT NULL AS handed FROM relay_outbox WHERE id = ?",
      [lost.outboxId],
    );
    assert.deepEqual(
      { count: Number(o.resent_count), resent: Number(o.resent), handed: Number(o.handed) },
      { count: 1, resent: 1, handed: 1 },
    );
    assert.equal((await status()).total_resent, 1);

    await sleep(20);
    await purge();
    assert.deepEqual(await left(), ["lost"], "the resent change is not confirmed yet");
    await confirm([lost.outboxId]);
    await purge();
    assert.deepEqual(await left(), []);
    await age(5);
    await r.sql.query("DELETE FROM lambda_invocations");
    await r.dispatch();
    assert.equal((await r.records()).length, 0, "nothing confirmed is resent");
  });

  it("purgeRequires handedOff keeps the first release's rule: purged once handed off, never resent", async () => {
    await setup({ purgeRequires: "handedOff" });
    await insert(["p", "q"]);
    await drain(r);
    await age(60);
    await r.sql.query("DELETE FROM lambda_invocations");
    await r.dispatch();
    assert.equal((await r.records()).length, 0);
    assert.equal((await status()).unconfirmed_overdue, 0);
    await sleep(20);
    await purge();
    assert.deepEqual(await left(), []);
    assert.equal(await r.count("relay_outbox", "op <> 'SCHEMA'"), 0);
  });

  it("counts unconfirmed changes past the retention in relay_status and the heartbeat", async () => {
    await setup();
    await insert(["h1", "h2", "h3"]);
    await drain(r);
    await sleep(20);
    const sent = upserts(await r.records());
    await confirm([sent[0].outboxId]);
    const s = await status();
    assert.equal(s.unconfirmed_overdue, 2);
    assert.equal(s.confirmed >= 1, true);
    assert.equal(s.unconfirmed >= 2, true);
    await r.sql.query("DELETE FROM lambda_invocations");
    await r.sql.query("CALL relay_heartbeat()");
    const [[row]] = await r.sql.query<Rows>("SELECT payload FROM lambda_invocations");
    const payload = JSON.parse(String(row.payload)) as unknown;
    assert.ok(isHeartbeat(payload));
    assert.equal(parseHeartbeat(payload).heartbeat.unconfirmedOverdue, 2);
  });
});
