import { LiveScript, LiveStatus, LiveTable, Panel, Stat } from "../components.tsx";
import { formatValue, valueAt } from "../format.ts";
import { INVOICE_QUERY } from "../queries.ts";

/** How often an open invoice page refreshes (its status and payments may change). */
export const INVOICE_INTERVAL_MS = 5_000;

/**
 * One invoice: its totals, lines (amounts at full precision and as rounded once), payment
 * attempts with their disputes, credit notes and audit trail. `data` answers INVOICE_QUERY.
 */
export function InvoicePage(props: { data: unknown; id: string; problems: string[] }) {
  const { data } = props;
  const number = formatValue(valueAt(data, "invoice.number"));
  return (
    <>
      <h1>{`Invoice ${number}`}</h1>
      <p class="subtitle">
        {"Account "}
        <a
          href={`/dashboard/accounts/${encodeURIComponent(String(valueAt(data, "invoice.account.id")))}`}
        >
          {formatValue(valueAt(data, "invoice.account.name"))}
        </a>
        {` · ${formatValue(valueAt(data, "invoice.periodStart"), "date")} to ${formatValue(valueAt(data, "invoice.periodEnd"), "date")} · ${props.id}`}
      </p>
      <LiveStatus scope="invoice" checkedAt={valueAt(data, "now")} />
      {props.problems.length > 0 ? (
        <p class="notice" role="status">
          {`Some parts could not be read: ${props.problems.join("; ")}`}
        </p>
      ) : null}
      <div class="grid" data-scope="invoice">
        <Panel title="Totals" wide id="totals">
          <dl class="stats">
            <Stat data={data} label="Status" path="invoice.status" format="lower" />
            <Stat data={data} label="Subtotal" path="invoice.subtotal.formatted" />
            <Stat data={data} label="Tax" path="invoice.tax.formatted" />
            <Stat data={data} label="Credits applied" path="invoice.creditsApplied.formatted" />
            <Stat data={data} label="Total" path="invoice.total.formatted" />
            <Stat data={data} label="Amount due" path="invoice.amountDue.formatted" />
            <Stat data={data} label="Paid" path="invoice.amountPaid.formatted" />
            <Stat data={data} label="Refunded" path="invoice.amountRefunded.formatted" />
            <Stat data={data} label="Finalized" path="invoice.finalizedAt" format="time" />
            <Stat data={data} label="Due" path="invoice.dueAt" format="time" />
            <Stat data={data} label="Paid at" path="invoice.paidAt" format="time" />
            <Stat data={data} label="Invoice run" path="invoice.runId" />
          </dl>
        </Panel>
        <Panel title="Lines" wide id="lines">
          <LiveTable
            data={data}
            label="Invoice lines"
            list="invoice.lines.nodes"
            keyPath="position"
            empty="This invoice has no lines."
            columns={[
              { label: "#", path: "position", format: "int", num: true },
              { label: "Kind", path: "kind", format: "lower" },
              { label: "Description", path: "description" },
              { label: "Meter", path: "meter" },
              { label: "Quantity", path: "quantity", num: true },
              { label: "Unit price", path: "unitPrice", num: true },
              { label: "Exact amount", path: "exactAmount", num: true },
              { label: "Amount", path: "amount.formatted", num: true },
              { label: "Tax", path: "tax.formatted", num: true },
            ]}
          />
        </Panel>
        <Panel title="Payment attempts" id="payments">
          <LiveTable
            data={data}
            label="Payment attempts"
            list="invoice.payments.nodes"
            keyPath="id"
            empty="No payment attempted yet."
            columns={[
              { label: "#", path: "attemptNo", format: "int", num: true },
              { label: "Created", path: "createdAt", format: "time" },
              { label: "State", path: "status", format: "lower", badge: true },
              { label: "Amount", path: "amount.formatted", num: true },
              { label: "Failure", path: "failureMessage" },
              { label: "Disputes", path: "disputes.nodes", format: "disputes" },
            ]}
          />
        </Panel>
        <Panel title="Credit notes" id="credit-notes">
          <LiveTable
            data={data}
            label="Credit notes"
            list="invoice.creditNotes.nodes"
            keyPath="id"
            empty="No credit notes."
            columns={[
              { label: "Number", path: "number" },
              { label: "Issued", path: "createdAt", format: "time" },
              { label: "Reason", path: "reason" },
              { label: "Total", path: "total.formatted", num: true },
            ]}
          />
        </Panel>
        <Panel title="Audit trail" wide id="audit">
          <LiveTable
            data={data}
            label="Audit trail of this invoice"
            list="auditRecords.nodes"
            keyPath="id"
            empty="No audit records for this invoice."
            columns={[
              { label: "When", path: "occurredAt", format: "time" },
              { label: "Actor", path: "actor" },
              { label: "Action", path: "action" },
              { label: "Amount", path: "amount.formatted", num: true },
              { label: "Reason", path: "reason" },
            ]}
          />
        </Panel>
      </div>
      <LiveScript
        scope="invoice"
        spec={{
          query: INVOICE_QUERY,
          variables: { id: props.id },
          data,
          intervalMs: INVOICE_INTERVAL_MS,
        }}
      />
    </>
  );
}
