import { createApp } from "./app.ts";

export { AccountMeter } from "../durable-objects/account-meter.ts";

const app = createApp();

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Env>;
