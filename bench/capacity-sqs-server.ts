/**
 * The local SQS server in a process of its own, for bench/capacity-handlers.ts: the handlers'
 * CPU time is then measured without the server's (`process.cpuUsage()` is process-wide).
 * Prints its endpoint on the first line of stdout; exits when stdin closes.
 */
import { startLocalSqs } from "../emulators/sqs";

void (async () => {
  const sqs = await startLocalSqs();
  process.stdout.write(`${sqs.endpoint}\n`);
  process.stdin.resume();
  process.stdin.on("end", () => {
    void sqs.close().then(() => process.exit(0));
  });
})();
