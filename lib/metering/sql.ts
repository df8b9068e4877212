/**
 * The slice of Durable Object SQLite storage the metering code uses, so lib/ stays free of
 * Worker types and the same code is exercised by unit tests through the real object.
 */
export type SqlValue = string | number | null | ArrayBuffer;

export interface SqlCursor<Row> extends Iterable<Row> {
  toArray(): Row[];
  one(): Row;
  readonly rowsWritten: number;
}

export interface Sql {
  exec<Row extends Record<string, SqlValue> = Record<string, SqlValue>>(
    query: string,
    ...bindings: SqlValue[]
  ): SqlCursor<Row>;
}

/** Runs `work` as one storage transaction: all of its writes land, or none do. */
export type Transact = <T>(work: () => T) => T;
