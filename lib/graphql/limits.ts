import {
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLSchema,
  getArgumentValues,
  getNamedType,
  getVariableValues,
  isLeafType,
  isObjectType,
  Kind,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from "graphql";
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from "./connection.ts";

/**
 * Deepest field nesting a query may have. Connection plumbing (`nodes`, `pageInfo`) does not
 * count, so `accounts { nodes { invoices { nodes { lines { nodes { amount } } } } } }` is 4.
 */
export const MAX_QUERY_DEPTH = 8;

/**
 * Most a query may cost. Each object field costs 1 (scalars 0, some fields more: see
 * FIELD_COSTS); a connection costs 1 plus `first` times what one node costs (1, plus its
 * fields). The dashboard's largest query, the account page, costs under 2,000.
 */
export const MAX_QUERY_COST = 5_000;

/**
 * Fields that cost more than reading a row: a Durable Object call per account, a ClickHouse
 * query, a comparison across three stores. Keyed by `Type.field`.
 */
export const FIELD_COSTS: Readonly<Record<string, number>> = {
  "Account.usage": 5,
  "Account.usageHistory": 10,
  "Account.pipeline": 3,
  "Account.drift": 25,
  "Account.auditChain": 10,
  "Query.drift": 25,
  "Query.driftCheck": 500,
  "Query.pipelineHealth": 25,
  "Query.auditChain": 10,
};

/** Connection fields that are plumbing: they add no depth. */
const PLUMBING = new Set(["nodes", "pageInfo"]);

/** How deep an operation nests and what it is estimated to cost. */
export interface QueryMeasure {
  depth: number;
  cost: number;
}

interface Walk {
  schema: GraphQLSchema;
  fragments: Map<string, FragmentDefinitionNode>;
  variables: Record<string, unknown>;
}

function pageSizeOf(field: GraphQLField<unknown, unknown>, args: Record<string, unknown>): number {
  const first = args.first;
  if (typeof first === "number" && Number.isFinite(first)) {
    return Math.min(Math.max(Math.trunc(first), 1), MAX_PAGE_SIZE);
  }
  return field.args.some((a) => a.name === "first") ? DEFAULT_PAGE_SIZE : 1;
}

function measureSelections(
  walk: Walk,
  parent: GraphQLNamedType,
  selectionSet: SelectionSetNode,
  seenFragments: ReadonlySet<string>,
): QueryMeasure {
  let depth = 0;
  let cost = 0;
  for (const selection of selectionSet.selections) {
    let inner: QueryMeasure = { depth: 0, cost: 0 };
    if (selection.kind === Kind.INLINE_FRAGMENT) {
      const typed = selection.typeCondition
        ? (walk.schema.getType(selection.typeCondition.name.value) ?? parent)
        : parent;
      inner = measureSelections(walk, typed, selection.selectionSet, seenFragments);
    } else if (selection.kind === Kind.FRAGMENT_SPREAD) {
      const name = selection.name.value;
      const fragment = walk.fragments.get(name);
      if (fragment && !seenFragments.has(name)) {
        const typed = walk.schema.getType(fragment.typeCondition.name.value) ?? parent;
        inner = measureSelections(
          walk,
          typed,
          fragment.selectionSet,
          new Set([...seenFragments, name]),
        );
      }
    } else {
      inner = measureField(walk, parent, selection, seenFragments);
    }
    depth = Math.max(depth, inner.depth);
    cost += inner.cost;
  }
  return { depth, cost };
}

function measureField(
  walk: Walk,
  parent: GraphQLNamedType,
  node: FieldNode,
  seenFragments: ReadonlySet<string>,
): QueryMeasure {
  const name = node.name.value;
  if (name.startsWith("__") || !isObjectType(parent)) {
    // Introspection is free: tools ask for the schema once, and its depth is the type system's.
    return { depth: 0, cost: 0 };
  }
  const field = parent.getFields()[name];
  if (!field) {
    return { depth: 0, cost: 0 };
  }
  const type = getNamedType(field.type);
  let args: Record<string, unknown> = {};
  try {
    args = getArgumentValues(field, node, walk.variables);
  } catch {
    // Bad arguments fail in execution with BAD_USER_INPUT; measure with the defaults meanwhile.
  }
  const children = node.selectionSet
    ? measureSelections(walk, type, node.selectionSet, seenFragments)
    : { depth: 0, cost: 0 };
  const plumbing = PLUMBING.has(name);
  // Each node of a page costs 1 (through `nodes`); `pageInfo` is free.
  const base =
    name === "pageInfo"
      ? 0
      : name === "nodes"
        ? 1
        : (FIELD_COSTS[`${parent.name}.${name}`] ?? (isLeafType(type) ? 0 : 1));
  const multiplier = type.name.endsWith("Connection") ? pageSizeOf(field, args) : 1;
  return {
    depth: children.depth + (plumbing ? 0 : 1),
    cost: base + multiplier * children.cost,
  };
}

/**
 * Measures the operation a request runs: its depth (see MAX_QUERY_DEPTH) and its estimated cost
 * (see MAX_QUERY_COST), with page sizes taken from literal arguments, variables or schema
 * defaults. Fragments are expanded (a fragment spread inside itself counts once). Returns null
 * when the document has no operation of that name, leaving the error to execution.
 */
export function measureQuery(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  rawVariables: Record<string, unknown> | null | undefined,
): QueryMeasure | null {
  const operations = document.definitions.filter(
    (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION,
  );
  const operation = operationName
    ? operations.find((o) => o.name?.value === operationName)
    : operations.length === 1
      ? operations[0]
      : undefined;
  if (!operation) {
    return null;
  }
  const fragments = new Map(
    document.definitions
      .filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION)
      .map((d) => [d.name.value, d]),
  );
  const coerced = getVariableValues(
    schema,
    operation.variableDefinitions ?? [],
    rawVariables ?? {},
  );
  const root = operation.operation === "query" ? schema.getQueryType() : schema.getMutationType();
  if (!root) {
    return null;
  }
  return measureSelections(
    { schema, fragments, variables: coerced.coerced ?? {} },
    root,
    operation.selectionSet,
    new Set(),
  );
}
