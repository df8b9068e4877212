import { GraphQLError } from "graphql";
import { createYoga, type Plugin, type YogaServerInstance } from "graphql-yoga";
import type { GraphQLContext, GraphQLDeps } from "./context.ts";
import { requestError, toClientError } from "./errors.ts";
import { MAX_QUERY_COST, MAX_QUERY_DEPTH, measureQuery } from "./limits.ts";
import { createLoaders } from "./loaders.ts";
import { buildSchema } from "./schema/index.ts";

/** What the HTTP edge hands the server per request. */
export interface GraphQLServerContext {
  deps: GraphQLDeps;
}

/** Where the server answers. The edge routes only this path to it. */
export const GRAPHQL_PATH = "/graphql";

function withCode(error: unknown, code: "GRAPHQL_PARSE_FAILED" | "GRAPHQL_VALIDATION_FAILED") {
  if (!(error instanceof GraphQLError) || typeof error.extensions.code === "string") {
    return error;
  }
  return new GraphQLError(error.message, {
    nodes: error.nodes ?? null,
    source: error.source ?? null,
    positions: error.positions ?? null,
    path: error.path ?? null,
    extensions: { ...error.extensions, code },
  });
}

/**
 * Gives parse and validation failures their stable codes, rejects operations that are too deep
 * or too costly before anything runs, and turns whatever resolvers threw into client errors with
 * stable codes (see errors.ts).
 */
const meterlinePolicies: Plugin<GraphQLContext> = {
  onParse() {
    return ({ result, replaceParseResult }) => {
      if (result instanceof Error) {
        replaceParseResult(withCode(result, "GRAPHQL_PARSE_FAILED"));
      }
    };
  },
  onValidate() {
    return ({ valid, result, setResult }) => {
      if (!valid) {
        setResult(result.map((e: unknown) => withCode(e, "GRAPHQL_VALIDATION_FAILED")));
      }
    };
  },
  onExecute({ args, setResultAndStopExecution }) {
    const measure = measureQuery(
      args.schema,
      args.document,
      args.operationName,
      args.variableValues as Record<string, unknown> | undefined,
    );
    if (measure && measure.depth > MAX_QUERY_DEPTH) {
      setResultAndStopExecution({
        errors: [
          requestError("QUERY_TOO_DEEP", `The query nests ${measure.depth} levels deep`, {
            detail: `Queries may nest at most ${MAX_QUERY_DEPTH} fields deep (connection nodes and pageInfo do not count).`,
            depth: measure.depth,
            maxDepth: MAX_QUERY_DEPTH,
          }),
        ],
      });
      return;
    }
    if (measure && measure.cost > MAX_QUERY_COST) {
      setResultAndStopExecution({
        errors: [
          requestError("QUERY_TOO_COSTLY", `The query would cost ${measure.cost}`, {
            detail: `Queries may cost at most ${MAX_QUERY_COST}; ask for smaller pages (first) or fewer nested lists.`,
            cost: measure.cost,
            maxCost: MAX_QUERY_COST,
          }),
        ],
      });
      return;
    }
    const requestId = args.contextValue.deps.requestId;
    return {
      onExecuteDone({ result, setResult }) {
        if ("errors" in result && result.errors && result.errors.length > 0) {
          setResult({
            ...result,
            errors: result.errors.map((error) => toClientError(error, requestId)),
          });
        }
      },
    };
  },
};

/**
 * Isolate-level cache of the server: building the schema and Yoga's pipeline takes
 * milliseconds, so it happens once per isolate and lives as long as the isolate.
 */
let SERVER: YogaServerInstance<GraphQLServerContext, GraphQLContext> | undefined;

/**
 * The GraphQL server (graphql-yoga), POST-only on GRAPHQL_PATH. It never answers CORS (the
 * dashboard is same-origin; Yoga's default would reflect any origin with credentials), has no
 * GraphiQL or landing page, and no batching. Each request gets fresh DataLoaders and one "now".
 */
export function graphQLServer(): YogaServerInstance<GraphQLServerContext, GraphQLContext> {
  SERVER ??= createYoga<GraphQLServerContext, GraphQLContext>({
    schema: buildSchema(),
    graphqlEndpoint: GRAPHQL_PATH,
    graphiql: false,
    landingPage: false,
    cors: false,
    batching: false,
    logging: false,
    maskedErrors: false,
    healthCheckEndpoint: false as never,
    plugins: [meterlinePolicies],
    context: ({ deps }) => {
      const nowMs = deps.clock.nowMs();
      return { deps, nowMs, loaders: createLoaders(deps, nowMs) };
    },
  });
  return SERVER;
}
