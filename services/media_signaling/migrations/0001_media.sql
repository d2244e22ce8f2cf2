-- Second-device pairing (R18). A pairing code is single use and short-lived; only the SHA-256
-- of its secret is kept, so a copy of this table cannot pair anything. A pairing names the
-- phone's login session: a Connect from that session joins as the candidate's SECONDARY.

CREATE TABLE pairing_codes (
  code_hash text COLLATE "C" PRIMARY KEY,  -- hex SHA-256 of the 32 random bytes of the QR
  account_id text NOT NULL,                -- the candidate
  room_id text NOT NULL,
  session_id text NOT NULL,                -- the first device's login session
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  used_at timestamptz
);
CREATE INDEX pairing_codes_expires ON pairing_codes (expires_at);

-- One active pairing per candidate and room; pairing again replaces it.
CREATE TABLE pairings (
  account_id text NOT NULL,
  room_id text NOT NULL,
  phone_session_id text NOT NULL,
  first_session_id text NOT NULL,
  paired_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (account_id, room_id)
);
