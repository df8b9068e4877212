-- Catalogue admin API: idempotency keys for creates, and the indexes its lists and checks need.

-- One row per Idempotency-Key an admin sent with a create. Written in the same transaction as
-- the create itself, so a key is recorded exactly when its create committed; a retry with the
-- same key and the same request replays the stored response byte for byte.
CREATE TABLE idempotency_keys (
  key                  text PRIMARY KEY,
  -- SHA-256 (hex) of method, path and the canonical JSON body.
  request_fingerprint  text NOT NULL,
  method               text NOT NULL,
  path                 text NOT NULL,
  response_status      integer NOT NULL,
  -- The response body exactly as sent (text, not jsonb, which would reorder keys).
  response_body        text NOT NULL,
  created_at           timestamptz NOT NULL
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- Which accounts a meter change concerns: plan versions that price a meter key.
CREATE INDEX plan_versions_prices ON plan_versions USING gin (prices);
