-- Schools, exams and their settings, the versioned commitment letter, the roster,
-- the versioned system notice, the candidates' confirmations and signatures, and the
-- question bank. Roster ID numbers are stored only as a keyed blind index (the same
-- HMAC-SHA-256 as identity's, domain "id") and a masked form: never in plain text.

CREATE TABLE schools (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  code text NOT NULL UNIQUE,
  name text NOT NULL,
  created_by text NOT NULL DEFAULT '',
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE exams (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  school_id uuid NOT NULL REFERENCES schools (id),
  title text NOT NULL,
  fee_cents bigint NOT NULL CHECK (fee_cents >= 0),
  pay_deadline timestamptz,
  mode smallint NOT NULL,
  screen_share_allowed boolean NOT NULL DEFAULT false,
  materials_open_at timestamptz,
  materials_close_at timestamptz,
  created_by text NOT NULL DEFAULT '',
  created_at timestamptz NOT NULL DEFAULT now(),
  CHECK (fee_cents = 0 OR pay_deadline IS NOT NULL),
  CHECK ((materials_open_at IS NULL) = (materials_close_at IS NULL)),
  CHECK (materials_open_at IS NULL OR materials_open_at < materials_close_at)
);
CREATE INDEX exams_by_school ON exams (school_id);

-- Every version of an exam's commitment letter; the newest is the one to sign.
CREATE TABLE commitment_versions (
  exam_id uuid NOT NULL REFERENCES exams (id),
  version integer NOT NULL CHECK (version > 0),
  body text NOT NULL,
  created_by text NOT NULL DEFAULT '',
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (exam_id, version)
);

-- Rosters are big (50,000 lines in one import is normal): the key is the only index
-- besides the look-up by candidate, its text compares bytewise (COLLATE "C", whatever the
-- cluster's locale), and exam_id has no foreign key (a per-row check; an import locks its
-- exam's row, and exams are never deleted).
CREATE TABLE roster_entries (
  exam_id uuid NOT NULL,
  id_type smallint NOT NULL,
  id_number_index text COLLATE "C" NOT NULL,
  id_number_masked text NOT NULL,
  name text NOT NULL,
  gender text NOT NULL,
  major text NOT NULL,
  direction text NOT NULL,
  imported_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (exam_id, id_type, id_number_index)
);
-- A candidate's exams: by their blind index, whatever the exam.
CREATE INDEX roster_by_identity ON roster_entries (id_number_index, id_type);

CREATE TABLE notices (
  version serial PRIMARY KEY,
  body text NOT NULL,
  published_by text NOT NULL DEFAULT '',
  published_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE notice_reads (
  account_id uuid NOT NULL,
  version integer NOT NULL REFERENCES notices (version),
  read_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (account_id, version)
);

CREATE TABLE admission_confirmations (
  exam_id uuid NOT NULL REFERENCES exams (id),
  account_id uuid NOT NULL,
  confirmed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (exam_id, account_id)
);

CREATE TABLE commitment_signatures (
  exam_id uuid NOT NULL,
  account_id uuid NOT NULL,
  version integer NOT NULL,
  signed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (exam_id, account_id, version),
  FOREIGN KEY (exam_id, version) REFERENCES commitment_versions (exam_id, version)
);

CREATE TABLE questions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  exam_id uuid NOT NULL REFERENCES exams (id),
  body text NOT NULL,
  created_by text NOT NULL DEFAULT '',
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX questions_by_exam ON questions (exam_id);

INSERT INTO notices (body, published_by) VALUES (
'系统须知 / System notice

1. 考生须使用本人身份信息注册，并按要求完成实名认证（人脸识别）。
   Register with your own identity and pass the real-person (face) verification.
2. 仅名单内的考生可以选择报考单位和考试：姓名、证件类型、证件号码须与学校名单一致。
   Only candidates on a school''s roster can choose its exam: name, ID type and ID number
   must match the roster.
3. 请核对并确认报考信息，阅读并签署考试承诺书；学校要求缴费或提交材料的，须在规定时间内完成。
   Check and confirm your admission information and sign the commitment letter; pay the
   fee and submit the materials within the periods the school sets, if it requires them.
4. 面试须在安静、独立的环境中进行，按学校要求使用单机位或双机位，全程不得离开画面。
   Take the interview alone in a quiet room, with one or two cameras as the school
   requires, and stay in view throughout.',
'migration');
