-- Catalogue: accounts, their API keys, meters, versioned plans and plan assignments.
-- Amounts are exact numerics; ids are meterline's prefixed ids or caller-chosen account ids.

CREATE TABLE accounts (
  id                  text PRIMARY KEY,
  name                text NOT NULL,
  email               text,
  currency            char(3) NOT NULL,
  time_zone           text NOT NULL,
  billing_interval    jsonb NOT NULL,
  collection_method   text NOT NULL
    CHECK (collection_method IN ('charge_automatically', 'send_invoice')),
  net_terms_days      integer NOT NULL DEFAULT 0 CHECK (net_terms_days BETWEEN 0 AND 365),
  po_number           text,
  stripe_customer_id  text,
  notification_url    text,
  tax_rates           jsonb NOT NULL DEFAULT '[]'::jsonb,
  -- Spend control: budget per period in the account currency, alert thresholds in percent.
  spend_budget        numeric(38, 12),
  spend_alert_percents integer[] NOT NULL DEFAULT '{50,80,100}',
  spend_hard_cap      boolean NOT NULL DEFAULT false,
  -- Bumped on every change the account meter must know about; the meter compares it.
  config_revision     bigint NOT NULL DEFAULT 1,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
  id          text PRIMARY KEY,
  account_id  text NOT NULL REFERENCES accounts (id),
  name        text NOT NULL DEFAULT '',
  -- The first characters of the key, safe to show; the key itself is never stored.
  prefix      text NOT NULL,
  hash        text NOT NULL UNIQUE,
  created_at  timestamptz NOT NULL DEFAULT now(),
  revoked_at  timestamptz
);
CREATE INDEX api_keys_account ON api_keys (account_id);

CREATE TABLE meters (
  key                        text PRIMARY KEY,
  name                       text NOT NULL,
  description                text NOT NULL DEFAULT '',
  aggregation                text NOT NULL
    CHECK (aggregation IN ('sum', 'count', 'max', 'unique_count', 'latest', 'time_weighted')),
  unit                       text NOT NULL,
  value_property             text,
  series_property            text,
  heartbeat_timeout_seconds  integer,
  allow_negative             boolean NOT NULL DEFAULT false,
  group_by                   text[] NOT NULL DEFAULT '{}',
  revision                   bigint NOT NULL DEFAULT 1,
  created_at                 timestamptz NOT NULL DEFAULT now(),
  updated_at                 timestamptz NOT NULL DEFAULT now(),
  CHECK (aggregation <> 'time_weighted'
         OR (series_property IS NOT NULL AND heartbeat_timeout_seconds > 0)),
  CHECK (aggregation <> 'unique_count' OR value_property IS NOT NULL)
);

CREATE TABLE plans (
  id          text PRIMARY KEY,
  key         text NOT NULL UNIQUE,
  name        text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- A plan's prices over time: each version applies from effective_from until the next one.
CREATE TABLE plan_versions (
  id              text PRIMARY KEY,
  plan_id         text NOT NULL REFERENCES plans (id),
  version         integer NOT NULL CHECK (version > 0),
  effective_from  timestamptz NOT NULL,
  currency        char(3) NOT NULL,
  base_fee        numeric(38, 12) NOT NULL DEFAULT 0 CHECK (base_fee >= 0),
  prices          jsonb NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (plan_id, version),
  UNIQUE (plan_id, effective_from)
);

-- Which plan an account is on, over time.
CREATE TABLE account_plans (
  account_id      text NOT NULL REFERENCES accounts (id),
  plan_id         text NOT NULL REFERENCES plans (id),
  effective_from  timestamptz NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (account_id, effective_from)
);
CREATE INDEX account_plans_plan ON account_plans (plan_id);

-- One row: bumped whenever a meter is created or changed, so every account meter can tell
-- cheaply whether its cached meter definitions are current.
CREATE TABLE catalogue_state (
  id               integer PRIMARY KEY CHECK (id = 1),
  meters_revision  bigint NOT NULL DEFAULT 0
);
INSERT INTO catalogue_state (id, meters_revision) VALUES (1, 0);
