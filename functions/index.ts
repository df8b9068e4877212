import { deadLetterConsumer } from "../queues/dead-letters.ts";
import { invoiceJobsConsumer, invoiceJobsDeadLetters } from "../queues/invoice-jobs.ts";
import { ratedUsageConsumer } from "../queues/rated-usage.ts";
import { routeQueues } from "../queues/router.ts";
import { workConsumer, workDeadLetters } from "../queues/work.ts";
import { createApp } from "./app.ts";
import { scheduled } from "./scheduled.ts";

export { AccountMeter } from "../durable-objects/account-meter.ts";

const app = createApp();

/** Queue consumers by queue name (see wrangler.toml). */
const queue = routeQueues({
  "meterline-rated-usage": ratedUsageConsumer,
  "meterline-rated-usage-dlq": deadLetterConsumer,
  "meterline-work": workConsumer,
  "meterline-invoice-jobs": invoiceJobsConsumer,
  "meterline-invoice-jobs-dlq": invoiceJobsDeadLetters,
  "meterline-work-dlq": workDeadLetters,
});

export default {
  fetch: app.fetch,
  queue,
  scheduled,
} satisfies ExportedHandler<Env>;
