-- Audit records mirrored from a module's own log (e.g. fraud's risk_audit) carry the source
-- record's id, so mirroring is idempotent: a retried mirror never appends twice.
ALTER TABLE audit_log ADD COLUMN source_ref text;
CREATE UNIQUE INDEX audit_log_source_ref ON audit_log (source_ref) WHERE source_ref IS NOT NULL;
