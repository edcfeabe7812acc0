/**
 * Optional HTTP endpoint of the DC consumer (`--health-port`), for systemd watchdogs, load
 * balancers and Prometheus:
 *   GET /healthz  200 {"status":"ok",…} while consuming; 503 while paused (the DC database or
 *                 SQS is failing — the body says which), starting or stopping
 *   GET /metrics  Prometheus text format: counters (`order_relay_dc_*_total`) and gauges
 * Bound to 127.0.0.1 unless `--health-host` says otherwise; it shows counts only, never data.
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import type { DcConsumerStats, DcStatus } from "./consumer";

const COUNTER_HELP: Record<keyof DcConsumerStats, string> = {
  batches: "Receive batches handled",
  received: "Messages received",
  applied: "Rows inserted or updated with a newer change",
  stale: "Changes older than or equal to what the DC holds (no-ops)",
  tombstones: "Rows marked deleted (relay_deleted_at)",
  rowsDeleted: "Rows deleted (--deletes apply)",
  parked: "Changes kept in relay_pending until their schema arrives",
  replayed: "Parked changes applied",
  schemasApplied: "SCHEMA records applied",
  schemasStale: "SCHEMA records older than the one the DC holds",
  rejected: "Messages the DC cannot apply (left for the DLQ)",
  invalid: "Message bodies that are not relay messages (left for the DLQ)",
  sqsDeleted: "Messages deleted from SQS after commit",
  dbErrors: "Database errors that held a batch",
  sqsErrors: "SQS call failures",
};

const snake = (name: string) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** The status as Prometheus text. */
export function metricsText(status: DcStatus): string {
  const lines: string[] = [];
  for (const [name, help] of Object.entries(COUNTER_HELP)) {
    const metric = `order_relay_dc_${snake(name)}_total`;
    lines.push(`# HELP ${metric} ${help}`, `# TYPE ${metric} counter`);
    lines.push(`${metric} ${status.stats[name as keyof DcConsumerStats]}`);
  }
  const gauge = (name: string, help: string, value: number) =>
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, `${name} ${value}`);
  gauge(
    "order_relay_dc_up",
    "1 while consuming (not paused, starting or stopping)",
    status.state === "running" ? 1 : 0,
  );
  gauge(
    "order_relay_dc_paused",
    "1 while receiving is paused because the DC database fails",
    status.state === "paused" ? 1 : 0,
  );
  gauge(
    "order_relay_dc_paused_seconds",
    "How long receiving has been paused",
    (status.pausedSinceMs ?? 0) / 1000,
  );
  gauge(
    "order_relay_dc_pending",
    "Changes waiting in relay_pending for their schema",
    status.pending,
  );
  gauge("order_relay_dc_batches_in_flight", "Batches being written", status.batchesInFlight);
  gauge("order_relay_dc_concurrency", "Receive loops", status.concurrency);
  if (status.lastCommitAgoMs !== undefined) {
    gauge(
      "order_relay_dc_last_commit_age_seconds",
      "Seconds since the last commit",
      status.lastCommitAgoMs / 1000,
    );
  }
  return `${lines.join("\n")}\n`;
}

export interface HealthServer {
  readonly port: number;
  close(): Promise<void>;
}

export function startHealthServer(options: {
  port: number;
  host?: string;
  status: () => DcStatus;
}): Promise<HealthServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    const status = options.status();
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" }).end();
    } else if (path === "/healthz") {
      const ok = status.state === "running";
      res.writeHead(ok ? 200 : 503, { "content-type": "application/json" }).end(
        JSON.stringify({
          status: ok ? "ok" : status.state,
          ...(status.pausedFor
            ? {
                pausedFor: status.pausedFor,
                pausedSeconds: Math.round((status.pausedSinceMs ?? 0) / 1000),
              }
            : {}),
          pending: status.pending,
          batchesInFlight: status.batchesInFlight,
          ...(status.lastCommitAgoMs !== undefined
            ? { lastCommitSecondsAgo: Math.round(status.lastCommitAgoMs / 1000) }
            : {}),
        }) + "\n",
      );
    } else if (path === "/metrics") {
      res.writeHead(200, { "content-type": "text/plain; version=0.0.4" }).end(metricsText(status));
    } else {
      res.writeHead(404, { "content-type": "text/plain" }).end("try /healthz or /metrics\n");
    }
  });
  const sockets = new Set<import("node:net").Socket>();
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host ?? "127.0.0.1", () => {
      server.off("error", reject);
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () =>
          new Promise<void>((done) => {
            for (const socket of sockets) socket.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}
