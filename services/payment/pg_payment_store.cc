#include "payment/pg_payment_store.h"

#include "absl/strings/str_cat.h"
#include "common/crypto.h"

namespace admissions::payment {
namespace {

#define ORDER_COLUMNS                                                                    \
  "id::text, account_id, exam_id, school_id, amount_cents, currency, status, provider, " \
  "(extract(epoch FROM pay_deadline) * 1000000)::int8, "                                 \
  "(extract(epoch FROM created_at) * 1000000)::int8, "                                   \
  "(extract(epoch FROM paid_at) * 1000000)::int8, coalesce(provider_trade_no, ''), "     \
  "refund_due, coalesce(refund_reason, '') "

constexpr char kFindLive[] = "find_live";
constexpr char kFindLatest[] = "find_latest";
constexpr char kInsertOrder[] = "insert_order";
constexpr char kGetOrder[] = "get_order";
constexpr char kLockOrder[] = "lock_order";
constexpr char kInsertNotification[] = "insert_notification";
constexpr char kFindHandled[] = "find_handled";
constexpr char kMarkPaid[] = "mark_paid";
constexpr char kMarkLate[] = "mark_late";
constexpr char kInsertLedger[] = "insert_ledger";
constexpr char kListExam[] = "list_exam";
constexpr char kListStale[] = "list_stale";
constexpr char kMarkRefunded[] = "mark_refunded";
constexpr char kListExpired[] = "list_expired";
constexpr char kCloseUnpaid[] = "close_unpaid";
constexpr char kClaimRefund[] = "claim_refund";
constexpr char kReleaseRefund[] = "release_refund";
constexpr char kRefundable[] = "refundable";
constexpr char kFindIdem[] = "find_idem";
constexpr char kInsertIdem[] = "insert_idem";

std::vector<PgStatement> Statements() {
  return {
      {kFindLive,
       "SELECT " ORDER_COLUMNS "FROM orders WHERE account_id = $1 AND exam_id = $2 AND status IN "
       "('UNPAID', 'PAID')"},
      {kFindLatest, "SELECT " ORDER_COLUMNS "FROM orders WHERE account_id = $1 AND exam_id = $2 "
                    "ORDER BY created_at DESC, id LIMIT 1"},
      {kInsertOrder,
       "INSERT INTO orders (account_id, exam_id, school_id, amount_cents, status, provider, "
       "pay_deadline) VALUES ($1, $2, $3, $4, 'UNPAID', $5, "
       "to_timestamp(NULLIF($6::int8, 0)::float8 / 1000000)) "
       "ON CONFLICT (account_id, exam_id) WHERE status IN ('UNPAID', 'PAID') DO NOTHING "
       "RETURNING " ORDER_COLUMNS},
      {kGetOrder, "SELECT " ORDER_COLUMNS "FROM orders WHERE id = $1::uuid"},
      {kLockOrder, "SELECT " ORDER_COLUMNS "FROM orders WHERE id = $1::uuid FOR UPDATE"},
      {kInsertNotification,
       "INSERT INTO notifications (provider, notify_id, order_id) VALUES ($1, $2, $3::uuid) "
       "ON CONFLICT DO NOTHING"},
      {kFindHandled,
       "SELECT o.amount_cents, o.provider FROM notifications n JOIN orders o ON o.id = n.order_id "
       "WHERE n.provider = $1 AND n.notify_id = $2 AND n.order_id = $3::uuid"},
      {kMarkPaid,
       "UPDATE orders SET status = 'PAID', paid_at = to_timestamp($2::float8 / 1000000), "
       "provider_trade_no = $3 WHERE id = $1::uuid AND status = 'UNPAID'"},
      {kMarkLate,
       "UPDATE orders SET status = 'CLOSED', refund_due = true, "
       "paid_at = coalesce(paid_at, to_timestamp($2::float8 / 1000000)), "
       "provider_trade_no = coalesce(provider_trade_no, $3) "
       "WHERE id = $1::uuid AND status IN ('UNPAID', 'CLOSED')"},
      {kInsertLedger,
       "INSERT INTO ledger (order_id, kind, amount_cents, provider_trade_no, late) "
       "VALUES ($1::uuid, $2, $3, $4, $5) ON CONFLICT (order_id, kind) DO NOTHING"},
      {kListExam,
       "SELECT " ORDER_COLUMNS "FROM orders WHERE exam_id = $1 AND ($2 = '' OR status = $2) "
       "ORDER BY created_at, id"},
      {kListStale, "SELECT " ORDER_COLUMNS "FROM orders WHERE status = 'UNPAID' AND "
                   "created_at < to_timestamp($1::float8 / 1000000) ORDER BY created_at LIMIT $2"},
      {kListExpired, "SELECT " ORDER_COLUMNS "FROM orders WHERE status = 'UNPAID' AND "
                     "pay_deadline < to_timestamp($1::float8 / 1000000) ORDER BY pay_deadline "
                     "LIMIT $2"},
      {kCloseUnpaid,
       "UPDATE orders SET status = 'CLOSED' WHERE id = $1::uuid AND status = 'UNPAID'"},
      {kClaimRefund,
       "UPDATE orders SET refund_claimed_at = now() WHERE id = $1::uuid "
       "AND (status = 'PAID' OR refund_due) AND (refund_claimed_at IS NULL OR "
       "refund_claimed_at < now() - interval '10 minutes') RETURNING id"},
      {kReleaseRefund, "UPDATE orders SET refund_claimed_at = NULL WHERE id = $1::uuid"},
      {kRefundable, "SELECT status = 'PAID' OR refund_due FROM orders WHERE id = $1::uuid"},
      {kMarkRefunded,
       "UPDATE orders SET status = 'REFUNDED', refund_due = false, refund_reason = $2, "
       "refunded_at = now() WHERE id = $1::uuid AND (status = 'PAID' OR refund_due) "
       "RETURNING amount_cents, coalesce(provider_trade_no, '')"},
      {kFindIdem,
       "SELECT request_hash, response FROM idempotency WHERE account_id = $1 AND key = $2"},
      {kInsertIdem,
       "INSERT INTO idempotency (account_id, key, request_hash, response) VALUES ($1, $2, $3, $4) "
       "ON CONFLICT DO NOTHING"},
  };
}

std::optional<absl::Time> TimeOf(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return absl::FromUnixMicros(f.as<int64_t>());
}

Order ReadOrder(const pqxx::row& r) {
  Order o;
  o.id = r[0].as<std::string>();
  o.account_id = r[1].as<std::string>();
  o.exam_id = r[2].as<std::string>();
  o.school_id = r[3].as<std::string>();
  o.amount_cents = r[4].as<int64_t>();
  o.currency = r[5].as<std::string>();
  o.status = r[6].as<std::string>();
  o.provider = r[7].as<std::string>();
  o.pay_deadline = TimeOf(r[8]);
  o.created_at = TimeOf(r[9]).value_or(absl::UnixEpoch());
  o.paid_at = TimeOf(r[10]);
  o.provider_trade_no = r[11].as<std::string>();
  o.refund_due = r[12].as<bool>();
  o.refund_reason = r[13].as<std::string>();
  return o;
}

absl::Status UnknownOrder() {
  return Error(absl::StatusCode::kNotFound, "UNKNOWN_ORDER", "no such order");
}

}  // namespace

bool IsUuid(const std::string& s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
      return false;
    }
  }
  return true;
}

PgPaymentStore::PgPaymentStore(const std::string& uri, int pool_size)
    : pool_(uri, "payment", pool_size, Statements()) {}

absl::StatusOr<std::optional<Order>> PgPaymentStore::FindLiveOrder(const std::string& account_id,
                                                                   const std::string& exam_id) {
  return pool_.Read([&](pqxx::transaction_base& tx) -> absl::StatusOr<std::optional<Order>> {
    auto r = tx.exec_prepared(kFindLive, account_id, exam_id);
    if (r.empty()) return std::nullopt;
    return ReadOrder(r[0]);
  });
}

absl::StatusOr<std::optional<Order>> PgPaymentStore::FindLatestOrder(const std::string& account_id,
                                                                     const std::string& exam_id) {
  return pool_.Read([&](pqxx::transaction_base& tx) -> absl::StatusOr<std::optional<Order>> {
    auto r = tx.exec_prepared(kFindLatest, account_id, exam_id);
    if (r.empty()) return std::nullopt;
    return ReadOrder(r[0]);
  });
}

absl::StatusOr<Order> PgPaymentStore::CreateOrGetOrder(const NewOrder& o) {
  int64_t deadline = o.pay_deadline ? absl::ToUnixMicros(*o.pay_deadline) : 0;
  return pool_.Transact([&](pqxx::work& tx) -> absl::StatusOr<Order> {
    auto r = tx.exec_prepared(kInsertOrder, o.account_id, o.exam_id, o.school_id, o.amount_cents,
                              o.provider, deadline);
    if (!r.empty()) return ReadOrder(r[0]);
    auto live = tx.exec_prepared(kFindLive, o.account_id, o.exam_id);
    if (live.empty()) {
      return Error(absl::StatusCode::kAborted, "CONFLICT", "the order changed, try again");
    }
    return ReadOrder(live[0]);
  });
}

absl::StatusOr<Order> PgPaymentStore::GetOrder(const std::string& order_id) {
  if (!IsUuid(order_id)) return UnknownOrder();
  return pool_.Read([&](pqxx::transaction_base& tx) -> absl::StatusOr<Order> {
    auto r = tx.exec_prepared(kGetOrder, order_id);
    if (r.empty()) return UnknownOrder();
    return ReadOrder(r[0]);
  });
}

absl::StatusOr<Settlement> PgPaymentStore::Settle(const std::string& provider, const PaidNotice& n,
                                                  absl::Time now) {
  if (!IsUuid(n.order_id)) return UnknownOrder();
  // A provider retries until it hears back, so most notifications after the first are
  // replays: one read answers them without queueing on the order's row lock. Anything
  // the read does not vouch for takes the full path below.
  auto handled = pool_.Read([&](pqxx::transaction_base& tx) -> absl::StatusOr<bool> {
    auto r = tx.exec_prepared(kFindHandled, provider, n.notify_id, n.order_id);
    return !r.empty() && r[0][0].as<int64_t>() == n.amount_cents &&
           r[0][1].as<std::string>() == provider;
  });
  if (handled.ok() && *handled) return Settlement::kDuplicate;
  return pool_.Transact([&](pqxx::work& tx) -> absl::StatusOr<Settlement> {
    auto r = tx.exec_prepared(kLockOrder, n.order_id);
    if (r.empty()) return UnknownOrder();
    Order o = ReadOrder(r[0]);
    if (o.provider != provider) {
      return Error(absl::StatusCode::kInvalidArgument, "PROVIDER_MISMATCH",
                   "the order was not placed with this provider");
    }
    if (o.amount_cents != n.amount_cents) {
      return Error(absl::StatusCode::kInvalidArgument, "AMOUNT_MISMATCH",
                   "the amount does not match the order");
    }
    auto ins = tx.exec_prepared(kInsertNotification, provider, n.notify_id, n.order_id);
    if (ins.affected_rows() == 0) return Settlement::kDuplicate;
    const int64_t paid_at = absl::ToUnixMicros(n.paid_at);
    const bool in_time = !o.pay_deadline || n.paid_at <= *o.pay_deadline;
    if (o.status == "UNPAID" && in_time) {
      tx.exec_prepared(kMarkPaid, n.order_id, paid_at, n.trade_no);
      tx.exec_prepared(kInsertLedger, n.order_id, "PAYMENT", o.amount_cents, n.trade_no, false);
      return Settlement::kPaid;
    }
    if (o.status == "UNPAID" || o.status == "CLOSED") {
      auto led =
          tx.exec_prepared(kInsertLedger, n.order_id, "PAYMENT", o.amount_cents, n.trade_no, true);
      if (led.affected_rows() == 0) return Settlement::kDuplicate;
      tx.exec_prepared(kMarkLate, n.order_id, paid_at, n.trade_no);
      return Settlement::kLate;
    }
    return Settlement::kDuplicate;  // Already PAID or REFUNDED: the payment is on the ledger.
  });
}

absl::StatusOr<std::vector<Order>> PgPaymentStore::ListExamOrders(const std::string& exam_id,
                                                                  const std::string& status) {
  return pool_.Read([&](pqxx::transaction_base& tx) -> absl::StatusOr<std::vector<Order>> {
    std::vector<Order> out;
    for (const auto& r : tx.exec_prepared(kListExam, exam_id, status)) out.push_back(ReadOrder(r));
    return out;
  });
}

absl::StatusOr<std::vector<Order>> PgPaymentStore::ListStaleUnpaid(absl::Time before, int limit) {
  return pool_.Read([&](pqxx::transaction_base& tx) -> absl::StatusOr<std::vector<Order>> {
    std::vector<Order> out;
    for (const auto& r : tx.exec_prepared(kListStale, absl::ToUnixMicros(before), limit)) {
      out.push_back(ReadOrder(r));
    }
    return out;
  });
}

absl::StatusOr<std::vector<Order>> PgPaymentStore::ListExpiredUnpaid(absl::Time before, int limit) {
  return pool_.Read([&](pqxx::transaction_base& tx) -> absl::StatusOr<std::vector<Order>> {
    std::vector<Order> out;
    for (const auto& r : tx.exec_prepared(kListExpired, absl::ToUnixMicros(before), limit)) {
      out.push_back(ReadOrder(r));
    }
    return out;
  });
}

absl::StatusOr<bool> PgPaymentStore::CloseUnpaid(const std::string& order_id) {
  if (!IsUuid(order_id)) return UnknownOrder();
  return pool_.Transact([&](pqxx::work& tx) -> absl::StatusOr<bool> {
    return tx.exec_prepared(kCloseUnpaid, order_id).affected_rows() == 1;
  });
}

absl::Status PgPaymentStore::ClaimRefund(const std::string& order_id) {
  if (!IsUuid(order_id)) return UnknownOrder();
  return pool_.Transact([&](pqxx::work& tx) -> absl::Status {
    if (!tx.exec_prepared(kClaimRefund, order_id).empty()) return absl::OkStatus();
    auto refundable = tx.exec_prepared(kRefundable, order_id);
    if (refundable.empty()) return UnknownOrder();
    if (!refundable[0][0].as<bool>()) {
      return Error(absl::StatusCode::kFailedPrecondition, "NOT_REFUNDABLE",
                   "only a paid order, or money that came late, can be refunded");
    }
    return Error(absl::StatusCode::kFailedPrecondition, "REFUND_IN_PROGRESS",
                 "another refund of this order is in progress");
  });
}

absl::Status PgPaymentStore::ReleaseRefundClaim(const std::string& order_id) {
  if (!IsUuid(order_id)) return UnknownOrder();
  return pool_.Transact([&](pqxx::work& tx) -> absl::Status {
    tx.exec_prepared0(kReleaseRefund, order_id);
    return absl::OkStatus();
  });
}

absl::Status PgPaymentStore::MarkRefunded(const std::string& order_id, const std::string& reason) {
  if (!IsUuid(order_id)) return UnknownOrder();
  return pool_.Transact([&](pqxx::work& tx) -> absl::Status {
    auto r = tx.exec_prepared(kMarkRefunded, order_id, reason);
    if (r.empty()) {
      return Error(absl::StatusCode::kFailedPrecondition, "NOT_REFUNDABLE",
                   "only a paid order, or money that came late, can be refunded");
    }
    tx.exec_prepared(kInsertLedger, order_id, "REFUND", -r[0][0].as<int64_t>(),
                     r[0][1].as<std::string>(), false);
    return absl::OkStatus();
  });
}

absl::StatusOr<std::optional<std::string>> PgPaymentStore::FindIdempotent(
    const std::string& account_id, const std::string& key, const std::string& hash) {
  return pool_.Read([&](pqxx::transaction_base& tx) -> absl::StatusOr<std::optional<std::string>> {
    auto r = tx.exec_prepared(kFindIdem, account_id, key);
    if (r.empty()) return std::nullopt;
    if (r[0][0].as<std::string>() != hash) {
      return Error(absl::StatusCode::kAlreadyExists, "IDEMPOTENCY_KEY_REUSED",
                   "this Idempotency-Key was used with other parameters");
    }
    auto bytes = Base64Decode(r[0][1].as<std::string>());
    if (!bytes) return absl::InternalError("bad stored answer");
    return *bytes;
  });
}

absl::StatusOr<std::string> PgPaymentStore::SaveIdempotent(const std::string& account_id,
                                                           const std::string& key,
                                                           const std::string& hash,
                                                           const std::string& response) {
  return pool_.Transact([&](pqxx::work& tx) -> absl::StatusOr<std::string> {
    tx.exec_prepared(kInsertIdem, account_id, key, hash, Base64Encode(response));
    auto r = tx.exec_prepared(kFindIdem, account_id, key);
    if (r.empty() || r[0][0].as<std::string>() != hash) {
      return Error(absl::StatusCode::kAlreadyExists, "IDEMPOTENCY_KEY_REUSED",
                   "this Idempotency-Key was used with other parameters");
    }
    auto bytes = Base64Decode(r[0][1].as<std::string>());
    if (!bytes) return absl::InternalError("bad stored answer");
    return *bytes;
  });
}

// ---- The sandbox provider's book.

namespace {

constexpr char kSbxPay[] = "sbx_pay";
constexpr char kSbxFind[] = "sbx_find";
constexpr char kSbxClose[] = "sbx_close";
constexpr char kSbxRefund[] = "sbx_refund";

#define SANDBOX_COLUMNS                                                                       \
  "coalesce(notify_id, ''), order_id, coalesce(amount_cents, 0), coalesce(merchant_id, ''), " \
  "coalesce(trade_no, ''), (extract(epoch FROM paid_at) * 1000000)::int8, closed_at IS NOT NULL "

std::vector<PgStatement> SandboxStatements() {
  return {
      // A new trade is paid; an unpaid, unclosed one too; a paid or closed one is left.
      {kSbxPay,
       "INSERT INTO sandbox_trades (order_id, notify_id, amount_cents, merchant_id, trade_no, "
       "paid_at) VALUES ($1, $2, $3, $4, $5, to_timestamp($6::float8 / 1000000)) "
       "ON CONFLICT (order_id) DO UPDATE SET notify_id = EXCLUDED.notify_id, "
       "amount_cents = EXCLUDED.amount_cents, merchant_id = EXCLUDED.merchant_id, "
       "trade_no = EXCLUDED.trade_no, paid_at = EXCLUDED.paid_at "
       "WHERE sandbox_trades.paid_at IS NULL AND sandbox_trades.closed_at IS NULL"},
      {kSbxFind, "SELECT " SANDBOX_COLUMNS "FROM sandbox_trades WHERE order_id = $1"},
      {kSbxClose,
       "INSERT INTO sandbox_trades (order_id, closed_at) VALUES ($1, now()) "
       "ON CONFLICT (order_id) DO UPDATE SET closed_at = coalesce(sandbox_trades.closed_at, now()) "
       "WHERE sandbox_trades.paid_at IS NULL"},
      {kSbxRefund,
       "UPDATE sandbox_trades SET refunds = refunds + 1 WHERE order_id = $1 AND paid_at IS NOT "
       "NULL"},
  };
}

PaidNotice ReadTrade(const pqxx::row& r) {
  PaidNotice n;
  n.notify_id = r[0].as<std::string>();
  n.order_id = r[1].as<std::string>();
  n.amount_cents = r[2].as<int64_t>();
  n.merchant_id = r[3].as<std::string>();
  n.trade_no = r[4].as<std::string>();
  n.paid_at = TimeOf(r[5]).value_or(absl::UnixEpoch());
  return n;
}

}  // namespace

PgSandboxTradeBook::PgSandboxTradeBook(const std::string& uri, int pool_size)
    : pool_(uri, "payment", pool_size, SandboxStatements()) {}

absl::StatusOr<PaidNotice> PgSandboxTradeBook::Pay(const PaidNotice& n) {
  return pool_.Transact([&](pqxx::work& tx) -> absl::StatusOr<PaidNotice> {
    tx.exec_prepared0(kSbxPay, n.order_id, n.notify_id, n.amount_cents, n.merchant_id, n.trade_no,
                      absl::ToUnixMicros(n.paid_at));
    auto r = tx.exec_prepared(kSbxFind, n.order_id);
    if (r.empty() || r[0][5].is_null()) {
      return Error(absl::StatusCode::kFailedPrecondition, "TRADE_CLOSED",
                   "the order is closed at the provider and cannot be paid");
    }
    return ReadTrade(r[0]);
  });
}

absl::StatusOr<PaidNotice> PgSandboxTradeBook::Find(const std::string& order_id) {
  return pool_.Read([&](pqxx::transaction_base& tx) -> absl::StatusOr<PaidNotice> {
    auto r = tx.exec_prepared(kSbxFind, order_id);
    if (r.empty() || r[0][5].is_null()) return absl::NotFoundError("not paid at the provider");
    return ReadTrade(r[0]);
  });
}

absl::Status PgSandboxTradeBook::Close(const std::string& order_id) {
  return pool_.Transact([&](pqxx::work& tx) -> absl::Status {
    if (tx.exec_prepared(kSbxClose, order_id).affected_rows() == 1) return absl::OkStatus();
    return Error(absl::StatusCode::kFailedPrecondition, "TRADE_PAID",
                 "the order was paid at the provider");
  });
}

absl::Status PgSandboxTradeBook::Refund(const std::string& order_id) {
  return pool_.Transact([&](pqxx::work& tx) -> absl::Status {
    if (tx.exec_prepared(kSbxRefund, order_id).affected_rows() == 1) return absl::OkStatus();
    return Error(absl::StatusCode::kFailedPrecondition, "NOT_PAID", "nothing to refund");
  });
}

}  // namespace admissions::payment
