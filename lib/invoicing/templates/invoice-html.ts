import { Decimal } from "../../money/decimal.ts";
import { formatMoney, fromMinorUnits } from "../../money/money.ts";
import { formatIsoDate } from "../../periods/civil-date.ts";
import { instantToLocal } from "../../periods/zone.ts";
import type { InvoiceDocument } from "../invoices.ts";

/** HTML-escapes text for element content and attribute values. */
function esc(value: unknown): string {
  return String(value ?? "")
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");
}

const pad = (n: number) => String(n).padStart(2, "0");

/** `2026-11-01 00:00` in the account's zone, with the zone named once in the header. */
function localTime(ms: number | null, zone: string): string {
  if (ms === null) {
    return "—";
  }
  const local = instantToLocal(zone, ms);
  return `${formatIsoDate(local)} ${pad(local.hour)}:${pad(local.minute)}`;
}

function localDate(ms: number | null, zone: string): string {
  return ms === null ? "—" : formatIsoDate(instantToLocal(zone, ms));
}

const STYLE = `
  body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1a1a1a;
         max-width: 60rem; margin: 2rem auto; padding: 0 1.5rem; }
  h1 { font-size: 1.6rem; margin: 0; } h2 { font-size: 1.05rem; margin: 2rem 0 .5rem; }
  .status { display: inline-block; padding: .1rem .6rem; border-radius: 1rem; font-size: .8rem;
            border: 1px solid currentColor; text-transform: uppercase; letter-spacing: .05em; }
  .parties { display: grid; grid-template-columns: 1fr 1fr; gap: 1.5rem; margin-top: 1.5rem; }
  dl { display: grid; grid-template-columns: max-content 1fr; gap: .15rem 1rem; margin: 0; }
  dt { color: #666; } dd { margin: 0; }
  table { width: 100%; border-collapse: collapse; margin-top: .5rem; }
  th, td { padding: .35rem .5rem; border-bottom: 1px solid #ddd; text-align: left;
           vertical-align: top; }
  th { font-size: .8rem; color: #555; text-transform: uppercase; letter-spacing: .03em; }
  td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
  .trace { color: #666; font-size: .8rem; }
  table.totals { width: auto; margin-left: auto; min-width: 22rem; }
  table.totals tr.due td { font-weight: 700; border-top: 2px solid #1a1a1a; }
  footer { margin-top: 2.5rem; color: #666; font-size: .8rem; }
  @media print { body { margin: 0; max-width: none; } a { color: inherit; }
                 tr { page-break-inside: avoid; } }
`;

/**
 * The printable page of an invoice: who is billed, the period in the account's time zone, every
 * line with what it traces back to (meter, plan version, tier, quantity, unit price, flat fee,
 * the full-precision amount and the rounded one, its tax), taxes per rate, credit applied,
 * credit notes and the amount due. Self-contained HTML with print styles; all text escaped.
 */
export function renderInvoiceHtml(doc: InvoiceDocument): string {
  const { invoice } = doc;
  const zone = invoice.customer?.timeZone ?? "UTC";
  const money = (minor: bigint) =>
    esc(formatMoney(fromMinorUnits(minor, invoice.currency), invoice.currency));
  const decimal = (text: string | null) =>
    text === null ? "" : esc(Decimal.from(text).toString());
  const title = invoice.number ?? `Draft ${invoice.id}`;
  const lines = doc.lines
    .map((line) => {
      const trace = [
        line.meter ? `meter ${line.meter}` : null,
        line.planVersionId ? `plan ${line.planId} · version ${line.planVersionId}` : null,
        line.tier === null ? null : `tier ${line.tier}`,
        `${localTime(line.periodStartMs, zone)} – ${localTime(line.periodEndMs, zone)}`,
        `exact ${Decimal.from(line.amount).toString()}`,
      ]
        .filter((part) => part !== null)
        .map(esc)
        .join(" · ");
      const credited =
        line.creditedMinor > 0n
          ? `<div class="trace">credited ${money(line.creditedMinor)}</div>`
          : "";
      return `<tr id="${esc(line.id)}">
        <td class="num">${line.position}</td>
        <td>${esc(line.description)}<div class="trace">${trace}</div>${credited}</td>
        <td class="num">${decimal(line.quantity)}</td>
        <td class="num">${decimal(line.unitPrice)}</td>
        <td class="num">${decimal(line.flatFee)}</td>
        <td class="num">${money(line.amountMinor)}</td>
        <td class="num">${money(line.taxMinor)}</td>
      </tr>`;
    })
    .join("\n");
  const taxes = doc.taxes
    .map(
      (t) =>
        `<tr><td>${esc(t.name)} ${esc(t.percent)} % on ${money(t.taxableMinor)}</td><td class="num">${money(t.taxMinor)}</td></tr>`,
    )
    .join("\n");
  const credits = doc.credits
    .map(
      (c) =>
        `<tr><td>Credit applied (${esc(c.kind)} grant ${esc(c.grantId)})</td><td class="num">−${money(c.amountMinor)}</td></tr>`,
    )
    .join("\n");
  const notes = doc.creditNotes.length
    ? `<h2>Credit notes</h2><table><thead><tr><th>Number</th><th>Date</th><th>Reason</th>
        <th class="num">Total</th><th class="num">Off amount due</th><th class="num">To balance</th></tr></thead><tbody>
        ${doc.creditNotes
          .map(
            (n) => `<tr><td>${esc(n.number)}</td><td>${esc(localDate(n.createdAtMs, zone))}</td>
              <td>${esc(n.reason)}</td><td class="num">${money(n.totalMinor)}</td>
              <td class="num">${money(n.appliedToDueMinor)}</td>
              <td class="num">${money(n.creditedToBalanceMinor)}</td></tr>`,
          )
          .join("\n")}</tbody></table>`
    : "";
  const terms =
    invoice.collectionMethod === "send_invoice"
      ? `Net ${invoice.netTermsDays} — pay by bank transfer quoting ${esc(invoice.number ?? invoice.id)}`
      : "Charged automatically to the payment method on file";
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title><style>${STYLE}</style></head>
<body>
<header>
  <h1>Invoice ${esc(title)} <span class="status">${esc(invoice.status)}</span></h1>
</header>
<section class="parties">
  <dl>
    <dt>Billed to</dt><dd>${esc(invoice.customer?.name ?? invoice.accountId)}</dd>
    <dt>Email</dt><dd>${esc(invoice.customer?.email ?? "—")}</dd>
    <dt>Account</dt><dd>${esc(invoice.accountId)}</dd>
    <dt>PO number</dt><dd>${esc(invoice.poNumber ?? "—")}</dd>
  </dl>
  <dl>
    <dt>Period</dt><dd>${esc(localTime(invoice.periodStartMs, zone))} – ${esc(localTime(invoice.periodEndMs, zone))} (${esc(zone)})</dd>
    <dt>Issued</dt><dd>${esc(localDate(invoice.finalizedAtMs, zone))}</dd>
    <dt>Due</dt><dd>${esc(localDate(invoice.dueAtMs, zone))}</dd>
    <dt>Terms</dt><dd>${terms}</dd>
  </dl>
</section>
<h2>Lines</h2>
<table>
  <thead><tr><th class="num">#</th><th>Description</th><th class="num">Quantity</th>
  <th class="num">Unit price</th><th class="num">Flat fee</th><th class="num">Amount</th>
  <th class="num">Tax</th></tr></thead>
  <tbody>${lines}</tbody>
</table>
<table class="totals"><tbody>
  <tr><td>Subtotal</td><td class="num">${money(invoice.subtotalMinor)}</td></tr>
  ${taxes}
  <tr><td>Total</td><td class="num">${money(invoice.totalMinor)}</td></tr>
  ${credits}
  ${invoice.amountCreditedMinor > 0n ? `<tr><td>Credit notes</td><td class="num">−${money(invoice.amountCreditedMinor)}</td></tr>` : ""}
  ${invoice.amountPaidMinor > 0n ? `<tr><td>Paid</td><td class="num">${money(invoice.amountPaidMinor)}</td></tr>` : ""}
  <tr class="due"><td>Amount due</td><td class="num">${money(invoice.status === "void" ? 0n : invoice.amountDueMinor)}</td></tr>
</tbody></table>
${notes}
<footer>
  Each line is rounded once to ${esc(invoice.currency)} (half up) from its exact amount; taxes are
  rounded once per rate on the invoice and shared over the lines by largest remainder, so the line
  taxes add up to the tax total. Times are in ${esc(zone)}.
</footer>
</body></html>
`;
}
