/** The machine a figure was measured on. */
import { spawnSync } from "node:child_process";
import * as os from "node:os";

export interface Machine {
  readonly nproc: number;
  readonly cpuModel: string;
  readonly memoryGiB: number;
  readonly node: string;
  readonly mariadb: string;
  readonly os: string;
}

export function machine(): Machine {
  let mariadb = "unknown";
  for (const bin of ["mariadbd", "/usr/sbin/mariadbd", "mysqld", "/usr/sbin/mysqld"]) {
    const r = spawnSync(bin, ["--version"], { encoding: "utf8" });
    if (r.status === 0 && r.stdout) {
      mariadb = r.stdout.trim().replace(/^.*?Ver\s+/, "");
      break;
    }
  }
  return {
    nproc: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model ?? "unknown",
    memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    mariadb,
    os: `${os.type()} ${os.release()}`,
  };
}
