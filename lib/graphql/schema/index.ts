import { createSchema } from "graphql-yoga";
import type { GraphQLContext } from "../context.ts";
import { auditResolvers, auditTypeDefs } from "./audit.ts";
import { billingResolvers, billingTypeDefs } from "./billing.ts";
import { catalogueResolvers, catalogueTypeDefs } from "./catalogue.ts";
import { commonResolvers, commonTypeDefs } from "./common.ts";
import { paymentResolvers, paymentTypeDefs } from "./payments.ts";
import { pipelineResolvers, pipelineTypeDefs } from "./pipeline.ts";
import { riskResolvers, riskTypeDefs } from "./risk.ts";
import { usageResolvers, usageTypeDefs } from "./usage.ts";

/**
 * The whole read-only schema, one part per domain. Each part declares its types, extends
 * `Query` (and the types of other parts, e.g. `Account.invoices`), and brings its resolvers;
 * resolvers call lib/ reads and this folder's batched sources through the request's loaders.
 */
export function buildSchema() {
  return createSchema<GraphQLContext>({
    typeDefs: [
      commonTypeDefs,
      catalogueTypeDefs,
      usageTypeDefs,
      billingTypeDefs,
      paymentTypeDefs,
      pipelineTypeDefs,
      riskTypeDefs,
      auditTypeDefs,
    ],
    resolvers: [
      commonResolvers,
      catalogueResolvers,
      usageResolvers,
      billingResolvers,
      paymentResolvers,
      pipelineResolvers,
      riskResolvers,
      auditResolvers,
    ] as never,
  });
}
