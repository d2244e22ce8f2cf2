-- The candidate's second device (R18, dual-camera exams) as media signaling reports it:
-- NONE until paired, PAIRED, LOST when its heartbeat stopped (with a SECOND_DEVICE_LOST
-- proctoring event in the same transaction).
ALTER TABLE assignments ADD COLUMN second_device text NOT NULL DEFAULT 'NONE'
  CHECK (second_device IN ('NONE', 'PAIRED', 'LOST'));
