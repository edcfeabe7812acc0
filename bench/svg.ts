/**
 * Figure 6: latency percentiles and throughput against offered load, as a hand-written SVG (no
 * browser, no native dependencies). Two panels sharing the x axis (offered orders/s, one tick per
 * measured point): end-to-end latency p50/p95/p99 with the 2 s goal, and orders/s inserted and
 * delivered with the offered load (y = x) and the 1,000/s goal.
 */
import type { RelayPoint } from "./relay";

const W = 760;
const PANEL_H = 250;
const M = { left: 70, right: 150, top: 40, gap: 70, bottom: 50 };
const COLORS = { p50: "#1b9e77", p95: "#d95f02", p99: "#7570b3", ins: "#66a61e", del: "#e7298a" };

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

export function plotSvg(points: readonly RelayPoint[], title: string): string {
  const pts = [...points].sort((a, b) => a.offered - b.offered);
  const plotW = W - M.left - M.right;
  const H = M.top + PANEL_H * 2 + M.gap + M.bottom;
  const x = (i: number) => M.left + (pts.length === 1 ? plotW / 2 : (i * plotW) / (pts.length - 1));
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${esc(title)}</text>`,
  );

  const panel = (
    top: number,
    yLabel: string,
    yMax: number,
    series: { name: string; color: string; values: number[]; dash?: string }[],
    goal: { value: number; label: string },
  ) => {
    const y = (v: number) => top + PANEL_H - (Math.min(v, yMax) / yMax) * PANEL_H;
    out.push(
      `<rect x="${M.left}" y="${top}" width="${plotW}" height="${PANEL_H}" fill="none" stroke="#999"/>`,
    );
    for (let k = 0; k <= 5; k++) {
      const v = (yMax * k) / 5;
      out.push(
        `<line x1="${M.left}" x2="${M.left + plotW}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/>`,
        `<text x="${M.left - 6}" y="${y(v) + 4}" text-anchor="end">${Math.round(v)}</text>`,
      );
    }
    pts.forEach((_p, i) =>
      out.push(
        `<line x1="${x(i)}" x2="${x(i)}" y1="${top}" y2="${top + PANEL_H}" stroke="#f3f3f3"/>`,
      ),
    );
    out.push(
      `<text transform="translate(${M.left - 52},${top + PANEL_H / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`,
      `<line x1="${M.left}" x2="${M.left + plotW}" y1="${y(goal.value)}" y2="${y(goal.value)}" stroke="#c00" stroke-dasharray="6 4"/>`,
      `<text x="${M.left + plotW + 6}" y="${y(goal.value) + 4}" fill="#c00">${esc(goal.label)}</text>`,
    );
    series.forEach((s, k) => {
      const d = s.values.map((v, i) => `${i ? "L" : "M"}${x(i).toFixed(1)},${y(v).toFixed(1)}`);
      out.push(
        `<path d="${d.join(" ")}" fill="none" stroke="${s.color}" stroke-width="2"${s.dash ? ` stroke-dasharray="${s.dash}"` : ""}/>`,
      );
      s.values.forEach((v, i) =>
        out.push(
          `<circle cx="${x(i).toFixed(1)}" cy="${y(v).toFixed(1)}" r="3" fill="${s.color}"/>`,
        ),
      );
      const ly = top + 14 + k * 18;
      out.push(
        `<line x1="${M.left + plotW + 6}" x2="${M.left + plotW + 26}" y1="${ly + 30}" y2="${ly + 30}" stroke="${s.color}" stroke-width="2"${s.dash ? ` stroke-dasharray="${s.dash}"` : ""}/>`,
        `<text x="${M.left + plotW + 30}" y="${ly + 34}">${esc(s.name)}</text>`,
      );
    });
  };

  const latMax = niceMax(Math.max(2500, ...pts.map((p) => p.p99)));
  panel(
    M.top,
    "end-to-end latency (ms)",
    latMax,
    [
      { name: "p50", color: COLORS.p50, values: pts.map((p) => p.p50) },
      { name: "p95", color: COLORS.p95, values: pts.map((p) => p.p95) },
      { name: "p99", color: COLORS.p99, values: pts.map((p) => p.p99) },
    ],
    { value: 2000, label: "goal p99 ≤ 2 s" },
  );
  const top2 = M.top + PANEL_H + M.gap;
  const thrMax = niceMax(Math.max(1100, ...pts.map((p) => p.offered)));
  panel(
    top2,
    "orders per second",
    thrMax,
    [
      { name: "offered", color: "#999", values: pts.map((p) => p.offered), dash: "2 3" },
      { name: "inserted", color: COLORS.ins, values: pts.map((p) => p.insertedPerSecond) },
      {
        name: "delivered (steady)",
        color: COLORS.del,
        values: pts.map((p) =>
          Number.isFinite(p.steadyDeliveredPerSecond)
            ? p.steadyDeliveredPerSecond
            : p.deliveredPerSecond,
        ),
      },
    ],
    { value: 1000, label: "goal ≥ 1,000/s" },
  );
  pts.forEach((p, i) =>
    out.push(
      `<text x="${x(i)}" y="${top2 + PANEL_H + 18}" text-anchor="middle">${p.offered}</text>`,
      `<text x="${x(i)}" y="${M.top + PANEL_H + 18}" text-anchor="middle" fill="#666">${p.offered}</text>`,
    ),
  );
  out.push(
    `<text x="${M.left + plotW / 2}" y="${top2 + PANEL_H + 40}" text-anchor="middle">offered load (orders/s, prod stack, 3 regions)</text>`,
    `</svg>`,
  );
  return `${out.join("\n")}\n`;
}
