-- User agreements (versioned content), real-person verification, manual review,
-- the provider's callback nonces, and the append-only security audit.

CREATE TABLE agreements (
  version serial PRIMARY KEY,
  title text NOT NULL,
  body text NOT NULL,
  published_at timestamptz NOT NULL DEFAULT now(),
  published_by uuid REFERENCES accounts (id)
);

-- The first version, so that a fresh installation can be used; operators publish
-- the real text with POST /v1/admin/agreements.
INSERT INTO agreements (title, body) VALUES (
  '用户协议与隐私政策 / User agreement and privacy policy',
  '本系统仅用于研究生招生远程复试。您提交的身份信息、人脸核验结果和面试材料仅用于身份确认与'
  '录取工作，按国家规定保存与销毁。/ This system is used only for postgraduate admission '
  'interviews. Identity data, face-verification results and materials are used only to '
  'confirm your identity and decide admission, and are kept and destroyed as the law requires.');

CREATE TABLE agreement_acceptances (
  account_id uuid NOT NULL REFERENCES accounts (id),
  version integer NOT NULL REFERENCES agreements (version),
  accepted_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (account_id, version)
);

ALTER TABLE accounts
  ADD COLUMN face_verified_at timestamptz,
  ADD COLUMN face_failures integer NOT NULL DEFAULT 0;

CREATE TABLE verifications (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  account_id uuid NOT NULL REFERENCES accounts (id),
  session_id uuid NOT NULL REFERENCES sessions (id),
  purpose smallint NOT NULL,
  room_id text NOT NULL DEFAULT '',
  status smallint NOT NULL,
  qr_token_hash text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  scanned_at timestamptz,
  finished_at timestamptz,
  -- What the provider said; never an image.
  score double precision,
  provider_ref text
);
CREATE INDEX verifications_room ON verifications (account_id, room_id, finished_at DESC)
  WHERE status = 3;

-- Each callback nonce is accepted once.
CREATE TABLE face_callback_nonces (
  nonce text PRIMARY KEY,
  received_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE manual_reviews (
  id bigserial PRIMARY KEY,
  account_id uuid NOT NULL REFERENCES accounts (id),
  failures integer NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  decided_at timestamptz,
  decided_by uuid REFERENCES accounts (id),
  approved boolean,
  reason text
);
-- At most one open review per account, whatever the concurrency.
CREATE UNIQUE INDEX manual_reviews_open ON manual_reviews (account_id) WHERE decided_at IS NULL;

CREATE TABLE audit_events (
  id bigserial PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT now(),
  kind text NOT NULL,
  account_id uuid,
  actor_id uuid,
  detail text NOT NULL DEFAULT '',
  request_id text NOT NULL DEFAULT '',
  ip text NOT NULL DEFAULT ''
);
CREATE INDEX audit_events_account ON audit_events (account_id, id);

CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_events is append-only';
END;
$$;
CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
