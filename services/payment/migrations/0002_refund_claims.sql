-- A refund is claimed before the provider is asked, so that two staff refunding one
-- order at once ask the provider once. A claim older than ten minutes (a crash between
-- the claim and the provider's answer) can be taken again.
ALTER TABLE orders ADD COLUMN refund_claimed_at timestamptz;
