/**
 * Runs a command in its own process group and takes the whole group down when its parent goes
 * away — even a parent killed with SIGKILL, whose end closes this process's stdin. `npm run dev`
 * runs wrangler through it, so no wrangler, workerd or esbuild outlives the dev command.
 * Usage: node scripts/supervise.ts <command> [args...]
 */
import { spawn } from "node:child_process";

const [command, ...args] = process.argv.slice(2);
if (!command) {
  process.stderr.write("usage: supervise.ts <command> [args...]\n");
  process.exit(2);
}
const child = spawn(command, args, { detached: true, stdio: ["ignore", "inherit", "inherit"] });
let stopping = false;
function stopGroup(signal: NodeJS.Signals): void {
  if (stopping || child.pid === undefined) {
    return;
  }
  stopping = true;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
  setTimeout(() => {
    try {
      process.kill(-(child.pid as number), "SIGKILL");
    } catch {
      // Already gone.
    }
  }, 5_000).unref();
}
child.once("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
process.on("SIGTERM", () => stopGroup("SIGTERM"));
process.on("SIGINT", () => stopGroup("SIGTERM"));
process.stdin.on("end", () => stopGroup("SIGTERM"));
process.stdin.on("error", () => stopGroup("SIGTERM"));
process.stdin.resume();
