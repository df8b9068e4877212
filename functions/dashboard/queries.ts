// The GraphQL operations the dashboard's pages are rendered from. The server runs each once for
// the first paint; the page hands the same text to the client script, which re-runs it against
// POST /graphql to keep the page live. Keep each under the API's cost limit (lib/graphql/limits).

/** The overview's figures, refreshed every few seconds. */
export const OVERVIEW_QUERY = /* GraphQL */ `
query Overview {
  now
  pipelineHealth {
    checkedAt
    outbox { accountsChecked rows oldestCreatedAt unreachable }
    queue { backlogCount backlogBytes oldestMessageAt }
    deadLetters { pending oldestDeadAt }
    retrying { batches oldestFailedAt }
    ledgerLag { windowMinutes batches events maxLagMs avgLagMs lastReceivedAt }
  }
  accounts(first: 20) {
    nodes {
      id name currency
      plan { name }
      throttleState { level }
      usage { amount { formatted } }
      pipeline { outboxRows }
    }
    pageInfo { hasNextPage }
  }
  latestInvoiceRun {
    id trigger asOf startedAt finishedAt jobsEnqueued
    invoicesByStatus { status count }
    invoices(first: 20) {
      nodes {
        id number status periodStart periodEnd
        account { id name }
        total { formatted }
        amountDue { formatted }
      }
    }
  }
  paymentTotals(hours: 24) { status count amount { formatted } }
  payments(first: 10) {
    nodes {
      id status attemptNo createdAt failureCode
      amount { formatted }
      invoice { id number }
      account { id name }
    }
  }
  disputes(first: 10) {
    nodes { id status reason openedAt amount { formatted } invoice { id number } accountId }
  }
  riskDecisions(first: 10) {
    nodes { id kind decision score accountId at reasons { rule points detail } }
  }
  throttleStates(first: 20) {
    nodes { accountId level score levelSince reasons { rule points detail } }
  }
  deadLetters(first: 10) {
    nodes { id reason errorCode error accountId deadAt attempts }
  }
  auditRecords(first: 20) {
    nodes {
      id occurredAt accountId actor action subjectType subjectId reason
      amount { formatted }
    }
  }
}`;

/** The drift check: heavier (it reads three stores per account), so refreshed less often. */
export const DRIFT_QUERY = /* GraphQL */ `
query Drift {
  driftCheck {
    checkedAt mismatchedAccounts uncleanAccounts
    accounts(first: 20) {
      nodes {
        accountId clean mismatches errors
        lag { outboxRows retryingBatches pendingDeadLetters }
      }
    }
  }
}`;

/** One account: real-time usage with minute buckets for the charts, and everything about it. */
export const ACCOUNT_QUERY = /* GraphQL */ `
query Account($id: ID!, $bucketsFrom: DateTime!, $bucketsTo: DateTime!) {
  now
  account(id: $id) {
    id name email currency timeZone collectionMethod netTermsDays
    plan { id name }
    spendBudget { formatted }
    creditBalance { formatted }
    usage(bucketsFrom: $bucketsFrom, bucketsTo: $bucketsTo) {
      periodStart periodEnd sealed
      amount { formatted }
      spend { spent { formatted } capped }
      meters(first: 20) {
        nodes {
          key name unit quantity events
          amount { formatted }
          buckets(first: 60) { nodes { minute quantity } }
        }
      }
    }
    pipeline { outboxRows oldestOutboxAt retryingBatches pendingDeadLetters }
    throttleState {
      level score levelSince
      reasons { rule points detail }
      restrictions { rateTier deployments }
      transitions(first: 5) { nodes { id from to actor reason at } }
    }
    riskDecisions(first: 10) { nodes { id kind decision score at reasons { rule points detail } } }
    invoices(first: 12) {
      nodes { id number status periodStart periodEnd total { formatted } amountDue { formatted } }
    }
    auditRecords(first: 20) {
      nodes { seq occurredAt actor action subjectType subjectId reason amount { formatted } }
    }
  }
}`;

/** One account's drift report, refreshed less often than its usage. */
export const ACCOUNT_DRIFT_QUERY = /* GraphQL */ `
query AccountDrift($id: ID!) {
  account(id: $id) {
    drift {
      checkedAt clean mismatches errors
      lag { outboxRows retryingBatches pendingDeadLetters }
      rows(first: 20) {
        nodes {
          meter periodStart postgresMatches clickhouseMatches
          durableObject { quantity events }
          postgres { quantity events }
          clickhouse { quantity events }
        }
      }
    }
  }
}`;

/** One invoice with its lines, payments, credit notes and audit trail. */
export const INVOICE_QUERY = /* GraphQL */ `
query Invoice($id: ID!) {
  now
  invoice(id: $id) {
    id number status currency runId
    periodStart periodEnd finalizedAt dueAt paidAt voidedAt
    account { id name }
    subtotal { formatted }
    tax { formatted }
    creditsApplied { formatted }
    total { formatted }
    amountDue { formatted }
    amountPaid { formatted }
    amountRefunded { formatted }
    lines(first: 100) {
      nodes {
        position kind description meter quantity unitPrice exactAmount
        amount { formatted }
        tax { formatted }
      }
      pageInfo { hasNextPage }
    }
    payments(first: 10) {
      nodes {
        id attemptNo status createdAt failureCode failureMessage
        amount { formatted }
        disputes(first: 5) { nodes { id status reason openedAt amount { formatted } } }
      }
    }
    creditNotes(first: 10) { nodes { id number reason createdAt total { formatted } } }
  }
  auditRecords(first: 20, subjectType: "invoice", subjectId: $id) {
    nodes { id occurredAt actor action reason amount { formatted } }
  }
}`;
