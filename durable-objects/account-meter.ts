import { DurableObject } from "cloudflare:workers";

/** Per-account metering counter; see docs/ingestion.md. */
export class AccountMeter extends DurableObject<Env> {}
