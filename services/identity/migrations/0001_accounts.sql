-- Accounts, SMS codes, login sessions and refresh tokens.
-- ID numbers and phones are stored sealed (XSalsa20-Poly1305, base64) and looked up
-- through keyed blind indexes (HMAC-SHA-256, hex); never in plain text.

CREATE TABLE accounts (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name text NOT NULL,
  id_type smallint NOT NULL,
  id_number_sealed text,
  id_number_index text UNIQUE,
  phone_sealed text,
  phone_index text UNIQUE,
  login_name text UNIQUE,
  password_hash text NOT NULL,
  roles text[] NOT NULL,
  school_id text NOT NULL DEFAULT '',
  created_at timestamptz NOT NULL DEFAULT now(),
  password_changed_at timestamptz NOT NULL DEFAULT now(),
  CHECK (id_number_index IS NOT NULL OR login_name IS NOT NULL)
);

CREATE TABLE sms_codes (
  id bigserial PRIMARY KEY,
  phone_index text NOT NULL,
  purpose smallint NOT NULL,
  code_hash text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  attempts integer NOT NULL DEFAULT 0,
  consumed_at timestamptz
);
CREATE INDEX sms_codes_lookup ON sms_codes (phone_index, purpose, id DESC);

-- Development mode only: what the SMS gateway would have sent.
CREATE TABLE sms_outbox (
  id bigserial PRIMARY KEY,
  phone_index text NOT NULL,
  phone_sealed text NOT NULL,
  purpose smallint NOT NULL,
  code_sealed text NOT NULL,
  sent_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sms_outbox_phone ON sms_outbox (phone_index, id DESC);

CREATE TABLE sessions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  account_id uuid NOT NULL REFERENCES accounts (id),
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  revoked_at timestamptz,
  revoke_reason text
);
CREATE INDEX sessions_live ON sessions (account_id) WHERE revoked_at IS NULL;

-- Opaque refresh tokens, stored as SHA-256 hex. Each is used once: rotation marks
-- it used; presenting a used one again revokes the whole session.
CREATE TABLE refresh_tokens (
  token_hash text PRIMARY KEY,
  session_id uuid NOT NULL REFERENCES sessions (id),
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  used_at timestamptz
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);
