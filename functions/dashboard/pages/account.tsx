import { LiveScript, LiveStatus, LiveTable, Panel, Stat } from "../components.tsx";
import { formatValue, valueAt } from "../format.ts";
import { ACCOUNT_DRIFT_QUERY, ACCOUNT_QUERY } from "../queries.ts";

/** How often the account's usage refreshes, and its drift report. */
export const ACCOUNT_INTERVAL_MS = 2_000;
export const ACCOUNT_DRIFT_INTERVAL_MS = 15_000;
/** The trailing window of the minute charts. */
export const CHART_MINUTES = 60;

interface MeterNode {
  key: string;
  name: string;
  unit: string;
}

/**
 * One account: real-time usage per meter (totals and per-minute charts), its pipeline share
 * and drift, throttle state and fraud decisions, invoices and audit trail. `data` answers
 * ACCOUNT_QUERY for `variables`; `drift` answers ACCOUNT_DRIFT_QUERY.
 */
export function AccountPage(props: {
  data: unknown;
  drift: unknown;
  variables: Record<string, unknown>;
  problems: string[];
}) {
  const { data, drift } = props;
  const meters = (valueAt(data, "account.usage.meters.nodes") as MeterNode[] | null) ?? [];
  const name = formatValue(valueAt(data, "account.name"));
  return (
    <>
      <h1>{`Account ${name}`}</h1>
      <p class="subtitle">
        {`${formatValue(valueAt(data, "account.id"))} · ${formatValue(valueAt(data, "account.currency"))} · ${formatValue(valueAt(data, "account.timeZone"))}`}
      </p>
      <LiveStatus scope="account" checkedAt={valueAt(data, "now")} />
      {props.problems.length > 0 ? (
        <p class="notice" role="status">
          {`Some parts could not be read: ${props.problems.join("; ")}`}
        </p>
      ) : null}
      <div class="grid" data-scope="account">
        <Panel title="Current billing period" wide id="period">
          <dl class="stats">
            <Stat data={data} label="Plan" path="account.plan.name" />
            <Stat data={data} label="Period start" path="account.usage.periodStart" format="time" />
            <Stat data={data} label="Period end" path="account.usage.periodEnd" format="time" />
            <Stat data={data} label="Rated so far" path="account.usage.amount.formatted" />
            <Stat data={data} label="Spend budget" path="account.spendBudget.formatted" />
            <Stat
              data={data}
              label="Hard cap reached"
              path="account.usage.spend.capped"
              format="bool"
            />
            <Stat data={data} label="Credit available" path="account.creditBalance.0.formatted" />
            <Stat data={data} label="Outbox rows" path="account.pipeline.outboxRows" format="int" />
            <Stat
              data={data}
              label="Batches retrying"
              path="account.pipeline.retryingBatches"
              format="int"
            />
            <Stat
              data={data}
              label="Dead letters pending"
              path="account.pipeline.pendingDeadLetters"
              format="int"
            />
          </dl>
        </Panel>
        <Panel title="Usage by meter (this period)" wide id="usage">
          <LiveTable
            data={data}
            label="Usage by meter"
            list="account.usage.meters.nodes"
            keyPath="key"
            empty="No usage this period yet."
            columns={[
              { label: "Meter", path: "key" },
              { label: "Name", path: "name" },
              { label: "Unit", path: "unit" },
              { label: "Quantity", path: "quantity", num: true },
              { label: "Events", path: "events", format: "int", num: true },
              { label: "Rated amount", path: "amount.formatted", num: true },
            ]}
          />
          <h2>{`Per minute, last ${CHART_MINUTES} minutes`}</h2>
          <div class="charts" data-charts="account.usage.meters.nodes">
            {meters.map((meter) => (
              <figure class="chart" data-chart-key={meter.key}>
                <figcaption>{`${meter.name} (${meter.key}) — ${meter.unit} per minute, UTC`}</figcaption>
                <div class="plot" />
              </figure>
            ))}
          </div>
        </Panel>
        <Panel title="Throttle state" id="throttle">
          <dl class="stats">
            <Stat data={data} label="Level" path="account.throttleState.level" format="lower" />
            <Stat data={data} label="Score" path="account.throttleState.score" format="int" />
            <Stat data={data} label="Since" path="account.throttleState.levelSince" format="time" />
            <Stat
              data={data}
              label="Rate tier"
              path="account.throttleState.restrictions.rateTier"
            />
            <Stat
              data={data}
              label="Deployments"
              path="account.throttleState.restrictions.deployments"
            />
          </dl>
          <p>
            <strong>Why: </strong>
            <span data-bind="account.throttleState.reasons" data-format="reasons">
              {formatValue(valueAt(data, "account.throttleState.reasons"), "reasons")}
            </span>
          </p>
          <LiveTable
            data={data}
            label="Level changes"
            list="account.throttleState.transitions.nodes"
            keyPath="id"
            empty="Never moved off normal."
            columns={[
              { label: "At", path: "at", format: "time" },
              { label: "From", path: "from", format: "lower" },
              { label: "To", path: "to", format: "lower", badge: true },
              { label: "By", path: "actor" },
              { label: "Reason", path: "reason" },
            ]}
          />
        </Panel>
        <Panel title="Fraud decisions" id="decisions">
          <LiveTable
            data={data}
            label="Fraud decisions"
            list="account.riskDecisions.nodes"
            keyPath="id"
            empty="No fraud decisions for this account."
            columns={[
              { label: "At", path: "at", format: "time" },
              { label: "Kind", path: "kind" },
              { label: "Decision", path: "decision", format: "lower", badge: true },
              { label: "Score", path: "score", format: "int", num: true },
              { label: "Reasons", path: "reasons", format: "reasons" },
            ]}
          />
        </Panel>
        <Panel title="Invoices" id="invoices">
          <LiveTable
            data={data}
            label="Invoices"
            list="account.invoices.nodes"
            keyPath="id"
            empty="No invoices yet."
            columns={[
              {
                label: "Invoice",
                path: "number",
                link: { prefix: "/dashboard/invoices/", path: "id" },
              },
              { label: "Period start", path: "periodStart", format: "date" },
              { label: "Status", path: "status", format: "lower", badge: true },
              { label: "Total", path: "total.formatted", num: true },
              { label: "Due", path: "amountDue.formatted", num: true },
            ]}
          />
        </Panel>
        <Panel title="Audit trail" id="audit">
          <LiveTable
            data={data}
            label="Audit trail"
            list="account.auditRecords.nodes"
            keyPath="seq"
            empty="No audit records for this account."
            columns={[
              { label: "#", path: "seq", format: "int", num: true },
              { label: "When", path: "occurredAt", format: "time" },
              { label: "Actor", path: "actor" },
              { label: "Action", path: "action" },
              { label: "Subject", path: "subjectId" },
              { label: "Amount", path: "amount.formatted", num: true },
              { label: "Reason", path: "reason" },
            ]}
          />
        </Panel>
      </div>
      <div class="grid" data-scope="account-drift">
        <Panel title="Drift: this meter against the ledger and ClickHouse" wide id="drift">
          <LiveStatus scope="account-drift" checkedAt={valueAt(drift, "account.drift.checkedAt")} />
          <dl class="stats">
            <Stat data={drift} label="Clean" path="account.drift.clean" format="bool" />
            <Stat data={drift} label="Mismatches" path="account.drift.mismatches" format="int" />
            <Stat
              data={drift}
              label="In flight: outbox rows"
              path="account.drift.lag.outboxRows"
              format="int"
            />
            <Stat
              data={drift}
              label="Unreadable sources"
              path="account.drift.errors"
              format="list"
            />
          </dl>
          <LiveTable
            data={drift}
            label="Totals per meter and period"
            list="account.drift.rows.nodes"
            empty="No periods with usage yet."
            columns={[
              { label: "Meter", path: "meter" },
              { label: "Period start", path: "periodStart", format: "date" },
              { label: "Meter quantity", path: "durableObject.quantity", num: true },
              { label: "Ledger quantity", path: "postgres.quantity", num: true },
              { label: "ClickHouse quantity", path: "clickhouse.quantity", num: true },
              { label: "Ledger matches", path: "postgresMatches", format: "bool", badge: true },
              {
                label: "ClickHouse matches",
                path: "clickhouseMatches",
                format: "bool",
                badge: true,
              },
            ]}
          />
        </Panel>
      </div>
      <LiveScript
        scope="account"
        spec={{
          query: ACCOUNT_QUERY,
          variables: props.variables,
          data,
          intervalMs: ACCOUNT_INTERVAL_MS,
          span: { minutes: CHART_MINUTES },
        }}
      />
      <LiveScript
        scope="account-drift"
        spec={{
          query: ACCOUNT_DRIFT_QUERY,
          variables: { id: props.variables.id },
          data: drift,
          intervalMs: ACCOUNT_DRIFT_INTERVAL_MS,
        }}
      />
    </>
  );
}
