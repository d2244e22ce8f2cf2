-- Losses of second devices to report to the waiting room (which records SECOND_DEVICE_LOST
-- for the examiners). Written as soon as the loss is known, reported until the waiting room
-- has it: a loss is never only in Redis or in a retry loop's memory.
CREATE TABLE device_losses (
  id bigserial PRIMARY KEY,
  account_id text NOT NULL,
  room_id text NOT NULL,
  interview_id text NOT NULL,
  reason text NOT NULL,  -- TIMEOUT (its connection stayed away) or LEFT
  lost_at timestamptz NOT NULL DEFAULT now(),
  reported_at timestamptz
);
CREATE INDEX device_losses_unreported ON device_losses (id) WHERE reported_at IS NULL;
