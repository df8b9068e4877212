import { OpenAPIHono, z } from "@hono/zod-openapi";
import type { FieldError } from "../lib/errors/index.ts";
import { AppError } from "../lib/errors/index.ts";
import { textProblem } from "../lib/pricing/fields.ts";
import type { AppEnv } from "./context.ts";

/** Problem document (RFC 9457) every error response carries. */
export const ProblemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    instance: z.string().openapi({ description: "The request id" }),
    code: z.string().openapi({ description: "Stable error code", example: "VALIDATION_FAILED" }),
    errors: z
      .array(z.object({ field: z.string(), code: z.string(), detail: z.string() }))
      .optional(),
    retryable: z.boolean().optional(),
  })
  .openapi("Problem");

/** Standard error responses, for routes to spread into their `responses`. */
export function problemResponses(...statuses: number[]) {
  const out: Record<
    number,
    {
      description: string;
      content: { "application/problem+json": { schema: typeof ProblemSchema } };
    }
  > = {};
  for (const status of statuses) {
    out[status] = {
      description: `Problem (${status})`,
      content: { "application/problem+json": { schema: ProblemSchema } },
    };
  }
  return out;
}

/** Bearer auth: the admin key or an account key. */
export const BEARER = [{ bearerAuth: [] as string[] }];

/**
 * A free-text request field (a reason, a description, a name) that is stored and read back as
 * sent: NUL and other control characters (tab, LF and CR allowed when `multiline`) and lone
 * surrogates are refused with a 422 INVALID_TEXT at the field's pointer (lib/pricing/fields.ts).
 */
export function plainText(options: { multiline?: boolean } = {}) {
  return z.string().superRefine((value, ctx) => {
    const problem = textProblem(value, options);
    if (problem !== null) {
      ctx.addIssue({ code: "custom", message: problem, params: { code: "INVALID_TEXT" } });
    }
  });
}

/** Turns zod validation failures into VALIDATION_FAILED with per-field errors (JSON pointers). */
export function validationHook(result: {
  success: boolean;
  error?: {
    issues: { path: PropertyKey[]; code: string; message: string; params?: { code?: unknown } }[];
  };
}): void {
  if (result.success || !result.error) {
    return;
  }
  const fieldErrors: FieldError[] = result.error.issues.map((issue) => ({
    field: `/${issue.path.map(String).join("/")}`,
    // A custom check names its own stable code (see `plainText`); zod's codes otherwise.
    code: typeof issue.params?.code === "string" ? issue.params.code : issue.code,
    detail: issue.message,
  }));
  throw new AppError("VALIDATION_FAILED", "The request is invalid", {
    detail: fieldErrors.map((e) => `${e.field}: ${e.detail}`).join("; "),
    fieldErrors,
  });
}

/** A router that documents itself and reports validation failures as problems. */
export function createRouter(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({ defaultHook: (result) => validationHook(result as never) });
}
