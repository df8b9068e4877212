import { createMiddleware } from "hono/factory";
import { AppError } from "../../lib/errors/index.ts";
import { couldBeId } from "../../lib/ids/ids.ts";
import type { AppEnv } from "../context.ts";

/**
 * Answers 404 NOT_FOUND when a path parameter cannot name anything meterline stores (`couldBeId`
 * in lib/ids; an invoice page's `.html` suffix fits too). Such a value, NUL or a lone surrogate
 * above all, must never reach Postgres (which refuses NUL in text: a 500) or name an account
 * meter (which then looks the account up). Mount it after `authenticate`, so "who are you?" is
 * still answered first.
 */
export const possibleIdsOnly = createMiddleware<AppEnv>(async (c, next) => {
  for (const [name, value] of Object.entries(c.req.param() as Record<string, string>)) {
    if (!couldBeId(value)) {
      throw new AppError("NOT_FOUND", `No resource has this ${name}`, {
        detail: `Nothing has this ${name}: ids and keys are 1–64 letters, digits, _ . : or -.`,
      });
    }
  }
  await next();
});
