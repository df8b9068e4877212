-- Fraud and abuse: scoring configuration, per-account risk state (the throttle ladder), the
-- signals that move it, durable identity links, the audit of every decision and transition, and
-- the notification outbox. See docs/fraud.md and lib/fraud/README.md.

-- Free tier: an account without a plan, or on a plan flagged free_tier, is free tier.
ALTER TABLE plans ADD COLUMN free_tier boolean NOT NULL DEFAULT false;
-- What a deployment may request on this plan (admission check):
-- {"maxVcpus": 1, "maxMemoryMb": 1024, "maxGpus": 0, "maxInstances": 1, "regions": ["iad"]}.
-- NULL means the plan sets no deployment limits.
ALTER TABLE plans ADD COLUMN deployment_limits jsonb;

-- Weights and thresholds, versioned: the highest version is in force. No row means the defaults
-- compiled into lib/fraud/config.ts.
CREATE TABLE risk_config_versions (
  version     bigint PRIMARY KEY CHECK (version > 0),
  config      jsonb NOT NULL,
  actor       text NOT NULL,
  reason      text NOT NULL,
  created_at  timestamptz NOT NULL
);

-- The current rung of each account on the throttle ladder. No row means normal with score 0.
-- Not a foreign key to accounts: a signup is scored before the platform creates the account.
CREATE TABLE account_risk (
  account_id   text PRIMARY KEY,
  level        text NOT NULL CHECK (level IN ('normal', 'watch', 'limited', 'suspended')),
  score        integer NOT NULL CHECK (score BETWEEN 0 AND 100),
  reasons      jsonb NOT NULL DEFAULT '[]'::jsonb,
  -- Signals recorded before this instant were weighed by an admin and no longer raise the level.
  baseline_at  timestamptz,
  level_since  timestamptz NOT NULL,
  updated_at   timestamptz NOT NULL
);
CREATE INDEX account_risk_level ON account_risk (level) WHERE level <> 'normal';

-- Facts about an account that feed its score: Stripe early fraud warnings, disputes and failed
-- charges, usage patterns, links to farms, miner deployments, detected card testing.
-- Idempotent by (account, kind, source id): a redelivered webhook or message changes nothing.
CREATE TABLE risk_signals (
  id            text PRIMARY KEY,
  account_id    text NOT NULL,
  kind          text NOT NULL,
  source_id     text NOT NULL,
  -- SHA-256 based hash of the card fingerprint (lib/fraud/identity.ts); never the fingerprint.
  card_hash     text,
  amount_minor  bigint,
  currency      char(3),
  occurred_at   timestamptz NOT NULL,
  recorded_at   timestamptz NOT NULL,
  evidence      jsonb NOT NULL DEFAULT '{}'::jsonb,
  UNIQUE (account_id, kind, source_id),
  CHECK ((amount_minor IS NULL) = (currency IS NULL))
);
CREATE INDEX risk_signals_account_time ON risk_signals (account_id, recorded_at);
CREATE INDEX risk_signals_card ON risk_signals (card_hash) WHERE card_hash IS NOT NULL;

-- Which accounts presented which card, device or normalised email (hashed), for farm detection.
CREATE TABLE risk_identities (
  kind           text NOT NULL CHECK (kind IN ('card', 'device', 'email')),
  value_hash     text NOT NULL,
  account_id     text NOT NULL,
  first_seen_at  timestamptz NOT NULL,
  PRIMARY KEY (kind, value_hash, account_id)
);
CREATE INDEX risk_identities_account ON risk_identities (account_id);

-- Append-only audit of fraud decisions, ladder transitions and configuration changes, written
-- only by recordRiskAudit() in lib/fraud/audit.ts.
CREATE TABLE risk_audit (
  id          text PRIMARY KEY,
  account_id  text,
  action      text NOT NULL CHECK (action IN (
                'decision.signup', 'decision.deployment', 'level.raised', 'level.set',
                'config.updated')),
  actor       text NOT NULL,
  reason      text NOT NULL,
  before      jsonb,
  after       jsonb,
  reasons     jsonb NOT NULL DEFAULT '[]'::jsonb,
  created_at  timestamptz NOT NULL
);
CREATE INDEX risk_audit_account_time ON risk_audit (account_id, created_at);

CREATE RULE risk_audit_no_update AS ON UPDATE TO risk_audit DO INSTEAD NOTHING;
CREATE RULE risk_audit_no_delete AS ON DELETE TO risk_audit DO INSTEAD NOTHING;

-- Ladder transitions waiting to be (or already) published to the platform through QStash.
-- One row per transition; its id is the transition's audit id (the notification body is built
-- from that audit record), which is also the QStash deduplication id.
CREATE TABLE risk_notifications (
  id            text PRIMARY KEY REFERENCES risk_audit (id),
  account_id    text NOT NULL,
  created_at    timestamptz NOT NULL,
  published_at  timestamptz,
  message_id    text,
  destination   text
);
CREATE INDEX risk_notifications_pending ON risk_notifications (account_id)
  WHERE published_at IS NULL;
