-- Orders left unpaid past their exam's deadline are closed by a job (and at the
-- provider), found through this index.
CREATE INDEX orders_unpaid_deadline ON orders (pay_deadline) WHERE status = 'UNPAID';

-- The sandbox provider's own book: what a real provider keeps on its side (who paid,
-- which trades are closed, how many refunds it made). Only the development `sandbox`
-- adapter uses it; it lives in the database so that it outlives the payment service's
-- restarts, as a real provider's records do.
CREATE TABLE sandbox_trades (
  order_id text PRIMARY KEY,
  notify_id text,
  amount_cents bigint,
  merchant_id text,
  trade_no text,
  paid_at timestamptz,
  closed_at timestamptz,
  refunds integer NOT NULL DEFAULT 0,
  CHECK (paid_at IS NULL OR closed_at IS NULL)
);
