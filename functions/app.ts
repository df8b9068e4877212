import { Hono } from "hono";
import type { AppEnv } from "./context.ts";
import { notFoundResponse, problemResponse } from "./middleware/errors.ts";
import { requestContext } from "./middleware/request-context.ts";
import { healthRoutes } from "./routes/health.ts";

/** The HTTP surface: every route of the Worker, mounted on one Hono app. */
export function createApp(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use("*", requestContext);
  app.onError((error, c) => problemResponse(c, error));
  app.notFound((c) => notFoundResponse(c));
  app.route("/", healthRoutes);
  return app;
}
