-- Rooms, their examiners and assigned candidates, the interview's state machine, the room's
-- event stream and its hash-chained audit. PostgreSQL is the truth: Redis holds a snapshot
-- of each room's lobby (rebuilt from here when it is gone) and presence.

CREATE TABLE rooms (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  exam_id text NOT NULL,
  school_id text NOT NULL,
  name text NOT NULL,
  starts_at timestamptz NOT NULL,
  ends_at timestamptz NOT NULL CHECK (ends_at > starts_at),
  hide_wait_estimate boolean NOT NULL DEFAULT false,
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  -- The newest event's id: every event takes last_event_id + 1 under this row's lock, so
  -- ids are gap-free per room and transitions of one room are serialised.
  last_event_id bigint NOT NULL DEFAULT 0,
  -- Bumped by every change of the room's lobby (events and admin changes alike); the
  -- Redis snapshot carries it, and an older snapshot never replaces a newer one.
  version bigint NOT NULL DEFAULT 0,
  -- The audit chain's head.
  audit_seq bigint NOT NULL DEFAULT 0,
  audit_hash text NOT NULL DEFAULT '',
  draw_seed text NOT NULL DEFAULT ''
);
CREATE INDEX rooms_exam ON rooms (exam_id, starts_at);

CREATE TABLE room_examiners (
  room_id uuid NOT NULL REFERENCES rooms (id),
  account_id text NOT NULL,
  PRIMARY KEY (room_id, account_id)
);
CREATE INDEX room_examiners_account ON room_examiners (account_id);

-- One per candidate assigned to a room, keyed by the roster's ID type and blind index
-- (the waiting room never holds an ID number). account_id is bound when the candidate's
-- account first looks at the exam's rooms.
CREATE TABLE assignments (
  room_id uuid NOT NULL REFERENCES rooms (id),
  id_type smallint NOT NULL,
  id_number_index text COLLATE "C" NOT NULL,
  id_number_masked text NOT NULL,
  name text NOT NULL,
  sequence integer NOT NULL CHECK (sequence > 0),
  account_id text,
  status text NOT NULL DEFAULT 'NOT_ENTERED' CHECK (status IN ('NOT_ENTERED', 'WAITING',
    'INVITED', 'INTERVIEWING', 'DEFERRED', 'FINISHED', 'ABSENT')),
  interview_id uuid,
  online boolean NOT NULL DEFAULT false,  -- As the last CANDIDATE_ONLINE/OFFLINE event said.
  left_at timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (room_id, id_type, id_number_index),
  UNIQUE (room_id, sequence) DEFERRABLE INITIALLY IMMEDIATE,
  UNIQUE (room_id, account_id)
);
CREATE INDEX assignments_identity ON assignments (id_number_index, id_type);
CREATE INDEX assignments_account ON assignments (account_id) WHERE account_id IS NOT NULL;

-- Every invitation; an interview starts when accepted and ends when an examiner ends it.
CREATE TABLE interviews (
  id uuid PRIMARY KEY,
  room_id uuid NOT NULL REFERENCES rooms (id),
  account_id text NOT NULL,
  sequence integer NOT NULL,
  invited_by text NOT NULL,
  invited_at timestamptz NOT NULL DEFAULT now(),
  started_at timestamptz,
  ended_at timestamptz,
  outcome text NOT NULL DEFAULT 'OPEN'
    CHECK (outcome IN ('OPEN', 'FINISHED', 'DEFERRED', 'ABSENT'))
);
CREATE INDEX interviews_room ON interviews (room_id, outcome);

-- The room's stream: gap-free ids per room; payload is the serialized
-- admissions.waiting_room.v1.Event.
CREATE TABLE room_events (
  room_id uuid NOT NULL,
  id bigint NOT NULL,
  type smallint NOT NULL,
  audience smallint NOT NULL,
  to_account_id text NOT NULL DEFAULT '',
  at timestamptz NOT NULL DEFAULT now(),
  payload text NOT NULL,  -- base64 of the serialized event
  PRIMARY KEY (room_id, id)
);

-- Questions sent, at most once per room; a draw keeps its seed.
CREATE TABLE sent_questions (
  room_id uuid NOT NULL,
  question_id text NOT NULL,
  account_id text NOT NULL,
  interview_id uuid NOT NULL,
  text text NOT NULL,
  seed text NOT NULL DEFAULT '',
  sent_by text NOT NULL,
  sent_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (room_id, question_id)
);
CREATE INDEX sent_questions_interview ON sent_questions (interview_id, sent_at);

CREATE TABLE proctor_events (
  id bigserial PRIMARY KEY,
  room_id uuid NOT NULL,
  account_id text NOT NULL,
  type smallint NOT NULL,
  at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX proctor_events_candidate ON proctor_events (room_id, account_id, id);

-- Append-only and hash-chained per room: hash = SHA-256(prev_hash || canonical entry),
-- the canonical entry being the JSON of (seq, at, actor, action, subject, detail).
CREATE TABLE audit_log (
  room_id uuid NOT NULL,
  seq bigint NOT NULL,
  at text NOT NULL,  -- RFC 3339 with microseconds, exactly as hashed.
  actor text NOT NULL,
  action text NOT NULL,
  subject text NOT NULL,
  detail text NOT NULL,
  prev_hash text NOT NULL,
  hash text NOT NULL,
  PRIMARY KEY (room_id, seq)
);

CREATE FUNCTION audit_log_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
