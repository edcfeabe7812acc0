/** Text rendering of the local run: the live progress lines and the final summary. */
import type { Progress, RunReport } from "./runner";

const pad = (value: string | number, width: number) => String(value).padStart(width);

export function formatProgress(progress: Progress): string[] {
  const lines = [
    `t=${(progress.elapsedMs / 1000).toFixed(1)}s  lambda in flight ${progress.lambdaInFlight}  ` +
      `aggregator queued ${progress.aggregatorQueued}  aggregator DLQ ${progress.aggregatorDlq}` +
      (progress.faults.length ? `  [${progress.faults.slice(-3).join("; ")}]` : ""),
    `${"region".padEnd(16)}${pad("inserted", 9)}${pad("handedOff", 10)}${pad("outbox", 8)}${pad("queued", 8)}${pad("DLQ", 5)}${pad("atDC", 7)}${pad("lag", 8)}${pad("purged", 8)}`,
  ];
  for (const r of progress.regions) {
    lines.push(
      `${r.region.padEnd(16)}${pad(r.inserted, 9)}${pad(r.handedOff, 10)}${pad(r.pendingOutbox, 8)}${pad(r.queued, 8)}${pad(r.dlq, 5)}${pad(r.atDc, 7)}${pad(`${(r.lagMs / 1000).toFixed(1)}s`, 8)}${pad(r.purged, 8)}`,
    );
  }
  return lines;
}

export function formatSummary(report: RunReport): string {
  const s = report.summary;
  const d = report.details;
  const seconds = (report.durationMs / 1000).toFixed(1);
  const notAtDc = s.inserted - s.delivered;
  const backlog =
    `${notAtDc} order(s) not at the DC yet: ${s.pending} still in the relay` +
    ` (${report.missing.reduce((a, m) => a + m.inOutbox, 0)} in the outbox), ${s.lost} lost`;
  const lines = [
    report.interrupted
      ? `INTERRUPTED after ${seconds} s — partial summary; ${notAtDc ? backlog : "every order inserted so far reached the DC"}`
      : report.completed
        ? s.rowsEqual === s.rowsCompared && s.extraAtDc === 0
          ? `DONE in ${seconds} s — every inserted order reached the DC; every row equals the source`
          : `DONE in ${seconds} s — ${s.rowsCompared - s.rowsEqual} row(s) differ from the source`
        : report.settled
          ? `ENDED after ${seconds} s — nothing left in the relay could still reach the DC; ${backlog}`
          : `TIMED OUT after ${seconds} s — ${backlog}`,
    `  stack ${d.stack}, regions ${d.regions.join(", ")}; dispatch/purge driven by ${d.eventsDrivenBy}`,
    `  inserted ${s.inserted}, delivered ${s.delivered}, pending ${s.pending}, lost ${s.lost}, duplicates at DC ${s.duplicatesAtDc}, purged ${s.purged} (order rows left ${d.orderDataLeft})`,
    `  latency insert→DC p50 ${s.latencyMs.p50} ms, p95 ${s.latencyMs.p95} ms, p99 ${s.latencyMs.p99} ms; ${s.ordersPerSecond} orders/s`,
    `  SQS calls/order ${s.sqsCallsPerOrder}; Lambda invocations/order ${s.lambdaInvocationsPerOrder} ` +
      `(notify ${d.notify.invocations}, ${d.notify.failures} failed, ${d.notify.toOnFailure} to on-failure DLQ; ` +
      `forwarder ${d.forwarder.invocations}, ${d.forwarder.failures} failed` +
      `${d.acks ? `; ack ${d.acks.invocations}, ${d.acks.failures} failed` : ""})`,
    `  confirmed by the DC ${s.confirmed}, resent ${s.resent}, unconfirmed past the retention ${s.unconfirmedOverdue}; ` +
      `purged before the DC had them ${s.purgedBeforeDelivery}` +
      (d.notify.dropped > 0
        ? `; handed-off batches dropped ${d.notify.dropped} (${d.notify.droppedRecords} records)`
        : ""),
  ];
  if (d.acks) {
    lines.push(
      `  ack path per order: SQS calls ${d.acks.sqsCallsPerOrder}, Lambda invocations ${d.acks.lambdaInvocationsPerOrder} ` +
        `(${Object.entries(d.acks.sqsCalls)
          .map(([action, n]) => `${action} ${n}`)
          .join(", ")})`,
    );
  }
  for (const example of d.purgedBeforeDeliveryExamples ?? [])
    lines.push(`  PURGED BEFORE THE DC HAD IT ${example}`);
  const byTable = Object.entries(s.tables)
    .map(([t, n]) => `${t} ${n.equal}/${n.compared}`)
    .join(", ");
  lines.push(
    `  rows compared with the source ${s.rowsCompared}, equal ${s.rowsEqual} (${byTable || "no table"}); ` +
      `mismatches ${s.mismatches}, missing at DC ${s.missingAtDc}, extra at DC ${s.extraAtDc}; ` +
      `load: ${s.inserted} orders, ${s.writes.updates} updates, ${s.writes.deletes} deletes`,
  );
  for (const m of s.firstMismatches)
    lines.push(`  DIFFERS ${m.table} ${m.region} order ${m.key}: ${m.columns.join(", ")}`);
  if (d.dcUnreadable) lines.push(`  DC database not readable at the end: ${d.dcUnreadable}`);
  if (d.redriven.moved + d.redriven.reinvoked > 0) {
    lines.push(
      `  redriven from DLQs: ${d.redriven.moved} message(s) moved, ${d.redriven.reinvoked} notify event(s) re-invoked`,
    );
  }
  if (d.insertRetries > 0 || d.dbRestarted) {
    lines.push(
      `  database restarted: ${d.dbRestarted}; storefront insert retries ${d.insertRetries}`,
    );
  }
  const dlq = Object.entries(d.dlqAtEnd).filter(([, n]) => n > 0);
  if (dlq.length) lines.push(`  left in DLQs: ${dlq.map(([q, n]) => `${q}=${n}`).join(", ")}`);
  for (const m of report.missing) {
    const where = Object.entries(m.where)
      .filter(([, n]) => n > 0)
      .map(([k, n]) => `${k}=${n}`)
      .join(", ");
    const verdict = [
      m.inOutbox ? `${m.inOutbox} still in the outbox` : "",
      m.inTransit ? `${m.inTransit} possibly in transit` : "",
      m.lost ? `${m.lost} lost (nowhere in the relay)` : "",
    ]
      .filter(Boolean)
      .join(", ");
    lines.push(
      `  NOT AT THE DC ${m.region}: ${m.count} order(s) (row ids ${m.rowIds.slice(0, 10).join(",")}${m.count > 10 ? ",…" : ""}): ${verdict}; where: ${where || "nowhere visible"}`,
    );
  }
  return lines.join("\n");
}
