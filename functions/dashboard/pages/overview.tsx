import { LiveScript, LiveStatus, LiveTable, Panel, Stat } from "../components.tsx";
import { DRIFT_QUERY, OVERVIEW_QUERY } from "../queries.ts";

/** How often the overview and the drift check refresh. */
export const OVERVIEW_INTERVAL_MS = 5_000;
export const DRIFT_INTERVAL_MS = 30_000;

const accountLink = { prefix: "/dashboard/accounts/", path: "accountId" };

/**
 * The overview: pipeline health and drift, accounts with their current spend, the latest
 * invoice run and its invoices, payments by state with disputes, fraud decisions and throttle
 * states, dead letters and the audit log. `data` and `drift` are the answers to OVERVIEW_QUERY
 * and DRIFT_QUERY.
 */
export function OverviewPage(props: { data: unknown; drift: unknown; problems: string[] }) {
  const { data, drift } = props;
  return (
    <>
      <h1>Billing overview</h1>
      <LiveStatus scope="overview" checkedAt={(data as { now?: string } | null)?.now ?? null} />
      {props.problems.length > 0 ? (
        <p class="notice" role="status">
          {`Some parts could not be read: ${props.problems.join("; ")}`}
        </p>
      ) : null}
      <div class="grid" data-scope="overview">
        <Panel title="Pipeline health" wide id="pipeline">
          <dl class="stats">
            <Stat
              data={data}
              label="Outbox rows (meters)"
              path="pipelineHealth.outbox.rows"
              format="int"
            />
            <Stat
              data={data}
              label="Oldest outbox row"
              path="pipelineHealth.outbox.oldestCreatedAt"
              format="time"
            />
            <Stat
              data={data}
              label="Meters checked"
              path="pipelineHealth.outbox.accountsChecked"
              format="int"
            />
            <Stat
              data={data}
              label="Meters not answering"
              path="pipelineHealth.outbox.unreachable"
              format="int"
            />
            <Stat
              data={data}
              label="Queue backlog (messages)"
              path="pipelineHealth.queue.backlogCount"
              format="int"
            />
            <Stat
              data={data}
              label="Dead letters pending"
              path="pipelineHealth.deadLetters.pending"
              format="int"
            />
            <Stat
              data={data}
              label="Oldest dead letter"
              path="pipelineHealth.deadLetters.oldestDeadAt"
              format="time"
            />
            <Stat
              data={data}
              label="Batches retrying"
              path="pipelineHealth.retrying.batches"
              format="int"
            />
            <Stat
              data={data}
              label="Ledger lag, max (15 min)"
              path="pipelineHealth.ledgerLag.maxLagMs"
              format="ms"
            />
            <Stat
              data={data}
              label="Ledger lag, mean (15 min)"
              path="pipelineHealth.ledgerLag.avgLagMs"
              format="ms"
            />
            <Stat
              data={data}
              label="Batches applied (15 min)"
              path="pipelineHealth.ledgerLag.batches"
              format="int"
            />
            <Stat
              data={data}
              label="Last batch applied"
              path="pipelineHealth.ledgerLag.lastReceivedAt"
              format="time"
            />
          </dl>
        </Panel>
        <Panel title="Accounts" wide id="accounts">
          <LiveTable
            data={data}
            label="Accounts"
            list="accounts.nodes"
            keyPath="id"
            empty="No accounts yet."
            columns={[
              {
                label: "Account",
                path: "id",
                link: { prefix: "/dashboard/accounts/", path: "id" },
              },
              { label: "Name", path: "name" },
              { label: "Plan", path: "plan.name" },
              {
                label: "Throttle level",
                path: "throttleState.level",
                format: "lower",
                badge: true,
              },
              { label: "This period so far", path: "usage.amount.formatted", num: true },
              { label: "Outbox rows", path: "pipeline.outboxRows", format: "int", num: true },
            ]}
          />
        </Panel>
        <Panel title="Latest invoice run" wide id="invoice-run">
          <dl class="stats">
            <Stat data={data} label="Run" path="latestInvoiceRun.id" />
            <Stat data={data} label="Trigger" path="latestInvoiceRun.trigger" />
            <Stat
              data={data}
              label="Periods closed before"
              path="latestInvoiceRun.asOf"
              format="time"
            />
            <Stat data={data} label="Started" path="latestInvoiceRun.startedAt" format="time" />
            <Stat data={data} label="Finished" path="latestInvoiceRun.finishedAt" format="time" />
            <Stat
              data={data}
              label="Jobs enqueued"
              path="latestInvoiceRun.jobsEnqueued"
              format="int"
            />
            <Stat
              data={data}
              label="Invoices by status"
              path="latestInvoiceRun.invoicesByStatus"
              format="counts"
            />
          </dl>
          <LiveTable
            data={data}
            label="Invoices of the latest run"
            list="latestInvoiceRun.invoices.nodes"
            keyPath="id"
            empty="No invoices in this run (or no run yet)."
            columns={[
              {
                label: "Invoice",
                path: "number",
                link: { prefix: "/dashboard/invoices/", path: "id" },
              },
              { label: "Account", path: "account.name" },
              { label: "Period start", path: "periodStart", format: "date" },
              { label: "Period end", path: "periodEnd", format: "date" },
              { label: "Status", path: "status", format: "lower", badge: true },
              { label: "Total", path: "total.formatted", num: true },
              { label: "Due", path: "amountDue.formatted", num: true },
            ]}
          />
        </Panel>
        <Panel title="Payments (last 24 hours, by state)" id="payment-totals">
          <LiveTable
            data={data}
            label="Payments by state"
            list="paymentTotals"
            empty="No payment attempts in the last 24 hours."
            columns={[
              { label: "State", path: "status", format: "lower", badge: true },
              { label: "Attempts", path: "count", format: "int", num: true },
              { label: "Amount", path: "amount.formatted", num: true },
            ]}
          />
          <h2>Open disputes</h2>
          <LiveTable
            data={data}
            label="Open disputes"
            list="disputes.nodes"
            keyPath="id"
            empty="No open disputes."
            columns={[
              { label: "Opened", path: "openedAt", format: "time" },
              {
                label: "Invoice",
                path: "invoice.number",
                link: { prefix: "/dashboard/invoices/", path: "invoice.id" },
              },
              { label: "Status", path: "status", format: "lower", badge: true },
              { label: "Reason", path: "reason" },
              { label: "Amount", path: "amount.formatted", num: true },
            ]}
          />
        </Panel>
        <Panel title="Recent payment attempts" id="payments">
          <LiveTable
            data={data}
            label="Recent payment attempts"
            list="payments.nodes"
            keyPath="id"
            empty="No payment attempts yet."
            columns={[
              { label: "Created", path: "createdAt", format: "time" },
              {
                label: "Invoice",
                path: "invoice.number",
                link: { prefix: "/dashboard/invoices/", path: "invoice.id" },
              },
              { label: "Attempt", path: "attemptNo", format: "int", num: true },
              { label: "State", path: "status", format: "lower", badge: true },
              { label: "Failure", path: "failureCode" },
              { label: "Amount", path: "amount.formatted", num: true },
            ]}
          />
        </Panel>
        <Panel title="Fraud decisions" id="decisions">
          <LiveTable
            data={data}
            label="Fraud decisions"
            list="riskDecisions.nodes"
            keyPath="id"
            empty="No fraud decisions yet."
            columns={[
              { label: "At", path: "at", format: "time" },
              { label: "Account", path: "accountId", link: accountLink },
              { label: "Kind", path: "kind" },
              { label: "Decision", path: "decision", format: "lower", badge: true },
              { label: "Score", path: "score", format: "int", num: true },
              { label: "Reasons", path: "reasons", format: "reasons" },
            ]}
          />
        </Panel>
        <Panel title="Throttled accounts" id="throttles">
          <LiveTable
            data={data}
            label="Throttled accounts"
            list="throttleStates.nodes"
            keyPath="accountId"
            empty="No account is above normal."
            columns={[
              { label: "Account", path: "accountId", link: accountLink },
              { label: "Level", path: "level", format: "lower", badge: true },
              { label: "Score", path: "score", format: "int", num: true },
              { label: "Since", path: "levelSince", format: "time" },
              { label: "Reasons", path: "reasons", format: "reasons" },
            ]}
          />
        </Panel>
        <Panel title="Dead letters (pending)" id="dead-letters">
          <LiveTable
            data={data}
            label="Pending dead letters"
            list="deadLetters.nodes"
            keyPath="id"
            empty="No dead letters pending."
            columns={[
              { label: "Dead since", path: "deadAt", format: "time" },
              { label: "Account", path: "accountId", link: accountLink },
              { label: "Reason", path: "reason", format: "lower" },
              { label: "Code", path: "errorCode" },
              { label: "Attempts", path: "attempts", format: "int", num: true },
              { label: "Error", path: "error" },
            ]}
          />
        </Panel>
        <Panel title="Audit log" wide id="audit">
          <LiveTable
            data={data}
            label="Audit log"
            list="auditRecords.nodes"
            keyPath="id"
            empty="No audit records yet."
            columns={[
              { label: "When", path: "occurredAt", format: "time" },
              { label: "Account", path: "accountId", link: accountLink },
              { label: "Actor", path: "actor" },
              { label: "Action", path: "action" },
              { label: "Subject", path: "subjectId" },
              { label: "Amount", path: "amount.formatted", num: true },
              { label: "Reason", path: "reason" },
            ]}
          />
        </Panel>
      </div>
      <div class="grid" data-scope="drift">
        <Panel title="Drift: meters against the ledger and ClickHouse" wide id="drift">
          <LiveStatus
            scope="drift"
            checkedAt={
              (drift as { driftCheck?: { checkedAt?: string } } | null)?.driftCheck?.checkedAt ??
              null
            }
          />
          <dl class="stats">
            <Stat
              data={drift}
              label="Accounts with a mismatch"
              path="driftCheck.mismatchedAccounts"
              format="int"
            />
            <Stat
              data={drift}
              label="Accounts not clean"
              path="driftCheck.uncleanAccounts"
              format="int"
            />
            <Stat data={drift} label="Checked" path="driftCheck.checkedAt" format="time" />
          </dl>
          <LiveTable
            data={drift}
            label="Drift per account"
            list="driftCheck.accounts.nodes"
            keyPath="accountId"
            empty="No recently active or troubled account to check."
            columns={[
              { label: "Account", path: "accountId", link: accountLink },
              { label: "Clean", path: "clean", format: "bool", badge: true },
              { label: "Mismatches", path: "mismatches", format: "int", num: true },
              { label: "Outbox rows", path: "lag.outboxRows", format: "int", num: true },
              { label: "Retrying", path: "lag.retryingBatches", format: "int", num: true },
              { label: "Dead letters", path: "lag.pendingDeadLetters", format: "int", num: true },
              { label: "Unreadable sources", path: "errors", format: "list" },
            ]}
          />
        </Panel>
      </div>
      <p class="muted">
        Figures come from <code>POST /graphql</code>; usage is read from each account's meter at the
        moment of the query.
      </p>
      <LiveScript
        scope="overview"
        spec={{ query: OVERVIEW_QUERY, variables: {}, data, intervalMs: OVERVIEW_INTERVAL_MS }}
      />
      <LiveScript
        scope="drift"
        spec={{ query: DRIFT_QUERY, variables: {}, data: drift, intervalMs: DRIFT_INTERVAL_MS }}
      />
    </>
  );
}
