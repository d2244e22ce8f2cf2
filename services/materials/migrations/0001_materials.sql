-- What exams ask for, what candidates hand in, resumable uploads and the school's review.
-- File bytes live in the blob store, addressed by their SHA-256; an item row exists only
-- once its blob is durably in place.

CREATE TABLE requirements (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  exam_id text NOT NULL,
  school_id text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('VIDEO', 'AUDIO', 'IMAGE', 'TEXT', 'OTHER')),
  title text NOT NULL,
  description text NOT NULL DEFAULT '',
  formats text[] NOT NULL DEFAULT '{}',
  min_count integer NOT NULL CHECK (min_count >= 0),
  max_count integer NOT NULL CHECK (max_count >= 1 AND max_count >= min_count),
  max_bytes bigint NOT NULL CHECK (max_bytes > 0),
  required boolean NOT NULL,
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX requirements_exam ON requirements (exam_id, created_at);

-- One per candidate and exam, created on the first change; the row every change locks
-- (SELECT ... FOR UPDATE), so that an upload cannot slip in after a submit.
CREATE TABLE submissions (
  exam_id text NOT NULL,
  account_id text NOT NULL,
  status text NOT NULL DEFAULT 'DRAFT'
    CHECK (status IN ('DRAFT', 'SUBMITTED', 'RETURNED', 'APPROVED')),
  return_reason text NOT NULL DEFAULT '',
  submitted_at timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (exam_id, account_id)
);
CREATE INDEX submissions_status ON submissions (exam_id, status);

CREATE TABLE items (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  exam_id text NOT NULL,
  account_id text NOT NULL,
  requirement_id uuid NOT NULL REFERENCES requirements (id),
  filename text NOT NULL DEFAULT '',
  size_bytes bigint NOT NULL DEFAULT 0,
  sha256 text NOT NULL DEFAULT '',  -- Lowercase hex; '' for text.
  format text NOT NULL,             -- As sniffed, or 'text'.
  content_type text NOT NULL,
  body text,                        -- TEXT requirements only.
  created_at timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (exam_id, account_id) REFERENCES submissions (exam_id, account_id)
);
CREATE INDEX items_owner ON items (exam_id, account_id, requirement_id);
CREATE INDEX items_sha256 ON items (sha256) WHERE sha256 <> '';

-- Resumable uploads: offset_bytes is what is fsynced in the partial file and recorded here.
CREATE TABLE uploads (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  exam_id text NOT NULL,
  account_id text NOT NULL,
  requirement_id uuid NOT NULL REFERENCES requirements (id),
  filename text NOT NULL,
  size_bytes bigint NOT NULL CHECK (size_bytes > 0),
  offset_bytes bigint NOT NULL DEFAULT 0 CHECK (offset_bytes >= 0 AND offset_bytes <= size_bytes),
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  completed_at timestamptz,
  item_id uuid,
  sha256 text NOT NULL DEFAULT ''
);
CREATE INDEX uploads_expiry ON uploads (expires_at) WHERE completed_at IS NULL;

-- Every review decision, append-only.
CREATE TABLE reviews (
  id bigserial PRIMARY KEY,
  exam_id text NOT NULL,
  account_id text NOT NULL,
  decision text NOT NULL CHECK (decision IN ('APPROVE', 'RETURN')),
  reason text NOT NULL DEFAULT '',
  reviewer_id text NOT NULL,
  decided_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reviews_candidate ON reviews (exam_id, account_id, id);

CREATE FUNCTION reviews_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'reviews is append-only';
END;
$$;
CREATE TRIGGER reviews_no_change BEFORE UPDATE OR DELETE ON reviews
  FOR EACH ROW EXECUTE FUNCTION reviews_append_only();
