import type { Clock } from "../lib/clock/clock.ts";
import type { Config } from "../lib/env/config.ts";
import type { IdGenerator } from "../lib/ids/ids.ts";
import type { Logger } from "../lib/log/logger.ts";

/**
 * Who made the request, once the auth middleware has decided. An account principal's key is
 * verified by its account meter: either already (`verified`), or by the meter call the route
 * makes with `keyHash` (routes that go to the meter anyway save a round trip).
 */
export type Principal =
  | { kind: "admin" }
  | { kind: "account"; accountId: string; keyHash: string; verified: boolean };

/** Hono's typing for meterline's Worker: bindings plus the per-request dependencies. */
export interface AppEnv {
  Bindings: Env;
  Variables: {
    requestId: string;
    log: Logger;
    config: Config;
    clock: Clock;
    ids: IdGenerator;
    principal: Principal;
  };
}
