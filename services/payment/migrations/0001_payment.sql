-- Fee orders, the settlement ledger, the notifications already processed and the
-- answers of idempotent requests. Amounts are in fen (CNY cents).

CREATE TABLE orders (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  account_id text NOT NULL,
  exam_id text NOT NULL,
  school_id text NOT NULL,
  amount_cents bigint NOT NULL CHECK (amount_cents > 0),
  currency text NOT NULL DEFAULT 'CNY',
  status text NOT NULL CHECK (status IN ('UNPAID', 'PAID', 'CLOSED', 'REFUNDED')),
  provider text NOT NULL,
  pay_deadline timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  paid_at timestamptz,
  provider_trade_no text,
  -- Money arrived after the deadline or on a closed order: kept, to be refunded.
  refund_due boolean NOT NULL DEFAULT false,
  refund_reason text,
  refunded_at timestamptz
);
-- One live order (unpaid or paid) per candidate and exam.
CREATE UNIQUE INDEX orders_one_live ON orders (account_id, exam_id)
  WHERE status IN ('UNPAID', 'PAID');
CREATE INDEX orders_exam ON orders (exam_id, created_at);
CREATE INDEX orders_unpaid ON orders (created_at) WHERE status = 'UNPAID';

-- One row per money movement; a PAYMENT row per order at most, a REFUND row at most.
CREATE TABLE ledger (
  id bigserial PRIMARY KEY,
  order_id uuid NOT NULL REFERENCES orders (id),
  kind text NOT NULL CHECK (kind IN ('PAYMENT', 'REFUND')),
  amount_cents bigint NOT NULL,
  provider_trade_no text NOT NULL DEFAULT '',
  late boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (order_id, kind)
);

-- Every notification that settled (or was found to be a replay of one that did).
CREATE TABLE notifications (
  provider text NOT NULL,
  notify_id text NOT NULL,
  order_id uuid NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (provider, notify_id)
);

CREATE TABLE idempotency (
  account_id text NOT NULL,
  key text NOT NULL,
  request_hash text NOT NULL,
  response text NOT NULL,  -- base64 of the serialized answer
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (account_id, key)
);
