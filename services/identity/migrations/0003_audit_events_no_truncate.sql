-- audit_events is append-only: the row trigger of 0002 refuses UPDATE and DELETE, but
-- TRUNCATE fires no row trigger. Refuse it too.
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();
