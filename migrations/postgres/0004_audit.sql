-- Audit trail: every money movement and state change, append-only and hash-chained per account
-- so that any edit or deletion is detectable (see lib/audit/README.md).

CREATE TABLE audit_log (
  id            text PRIMARY KEY,
  account_id    text NOT NULL,
  seq           bigint NOT NULL CHECK (seq > 0),
  occurred_at   timestamptz NOT NULL,
  actor         text NOT NULL,
  action        text NOT NULL,
  subject_type  text NOT NULL,
  subject_id    text NOT NULL,
  reason        text NOT NULL DEFAULT '',
  before        jsonb,
  after         jsonb,
  amount_minor  bigint,
  currency      char(3),
  prev_hash     text NOT NULL,
  hash          text NOT NULL,
  UNIQUE (account_id, seq)
);
CREATE INDEX audit_log_subject ON audit_log (subject_type, subject_id);
CREATE INDEX audit_log_time ON audit_log (occurred_at);

-- The head of each account's chain; its row lock serialises appends per account.
CREATE TABLE audit_heads (
  account_id  text PRIMARY KEY,
  seq         bigint NOT NULL,
  hash        text NOT NULL
);

-- Records are never changed or removed by the application; the chain detects anyone who does.
CREATE FUNCTION audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP USING ERRCODE = '42501';
END
$$;
CREATE TRIGGER audit_log_append_only
  BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_is_append_only();
