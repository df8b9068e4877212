/**
 * Local Stripe sandbox service: `node local-stack/stripe/main.ts --data <dir> [--port N]
 * [--worker-url http://127.0.0.1:8787] [--secret-key sk_test_...] [--webhook-secret whsec_...]`.
 * Announces `{url, port, secretKey, webhookSecret}` (StripeInfo) once listening. State lives
 * in `<data>/journal.jsonl`; generated keys are kept there too, so a restart keeps them.
 */
import { mkdirSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { createLogger } from "../../lib/log/logger.ts";
import { announceReady, onShutdown, parseServiceArgs } from "../lifecycle.ts";
import { createAccount } from "./accounts.ts";
import { createSandboxServer } from "./server.ts";
import { SandboxState } from "./state.ts";
import { assertLoopbackUrl } from "./webhooks.ts";

const args = parseServiceArgs({
  "worker-url": { type: "string" },
  "secret-key": { type: "string" },
  "webhook-secret": { type: "string" },
});
mkdirSync(args.data, { recursive: true });
const log = createLogger({
  bindings: { service: "stripe-sandbox" },
  sink: (line) => process.stdout.write(`${line}\n`),
});
const state = new SandboxState(args.data);

const flagKey = args.extra["secret-key"] as string | undefined;
const flagSecret = args.extra["webhook-secret"] as string | undefined;
const workerUrl = args.extra["worker-url"] as string | undefined;

/** The announced account: made on first start, found by its id in `meta` afterwards. */
let account = state.accounts.get(String(state.meta.get("defaultAccount")));
let secretKey = state.meta.get("defaultSecretKey") as string | undefined;
if (!account || !secretKey) {
  const created = createAccount(state, {
    ...(flagKey === undefined ? {} : { secretKey: flagKey }),
    ...(flagSecret === undefined ? {} : { webhookSecret: flagSecret }),
  });
  account = created.account;
  secretKey = created.secretKey;
} else if (flagKey !== undefined && flagKey !== secretKey) {
  if (state.apiKeys.has(flagKey) && state.apiKeys.get(flagKey) !== account.id) {
    throw new Error("--secret-key belongs to another sandbox account in this data folder");
  }
  state.apiKeys.set(flagKey, account.id);
  secretKey = flagKey;
}
if (flagSecret !== undefined) {
  account.webhookSecret = flagSecret;
}
if (workerUrl !== undefined) {
  account.webhookUrl = assertLoopbackUrl(`${workerUrl.replace(/\/+$/, "")}/webhooks/stripe`);
  account.webhookMode = "push";
}
state.accounts.touch(account.id);
state.meta.set("defaultAccount", account.id);
state.meta.set("defaultSecretKey", secretKey);
state.flush();

const sandbox = createSandboxServer(state, log);
sandbox.server.listen(args.port, args.host, () => {
  const { port } = sandbox.server.address() as AddressInfo;
  announceReady({
    url: `http://${args.host}:${port}`,
    port,
    secretKey,
    webhookSecret: account.webhookSecret,
  });
});

onShutdown(() => sandbox.close());
