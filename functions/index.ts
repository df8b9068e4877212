import { routeQueues } from "../queues/router.ts";
import { createApp } from "./app.ts";

export { AccountMeter } from "../durable-objects/account-meter.ts";

const app = createApp();

/** Queue consumers by queue name (see wrangler.toml). */
const queue = routeQueues({});

export default {
  fetch: app.fetch,
  queue,
} satisfies ExportedHandler<Env>;
