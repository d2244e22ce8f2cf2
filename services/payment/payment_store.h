#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "payment/provider.h"

namespace admissions::payment {

struct Order {
  std::string id;
  std::string account_id;
  std::string exam_id;
  std::string school_id;
  int64_t amount_cents = 0;
  std::string currency;
  std::string status;  // UNPAID, PAID, CLOSED, REFUNDED
  std::string provider;
  std::optional<absl::Time> pay_deadline;
  absl::Time created_at;
  std::optional<absl::Time> paid_at;
  std::string provider_trade_no;
  bool refund_due = false;
  std::string refund_reason;
};

struct NewOrder {
  std::string account_id;
  std::string exam_id;
  std::string school_id;
  int64_t amount_cents = 0;
  std::string provider;
  std::optional<absl::Time> pay_deadline;
};

/// What a settlement did.
enum class Settlement {
  kPaid,       // UNPAID → PAID, one ledger row.
  kLate,       // Money after the deadline or on a closed order: recorded, marked for refund.
  kDuplicate,  // This notification (or another for the same payment) was handled before.
};

/// The payment service's storage. Every method is one transaction.
class PaymentStore {
 public:
  virtual ~PaymentStore() = default;
  /// The live (UNPAID or PAID) order of the candidate for the exam, if any.
  virtual absl::StatusOr<std::optional<Order>> FindLiveOrder(const std::string& account_id,
                                                             const std::string& exam_id) = 0;
  /// The latest order of any status.
  virtual absl::StatusOr<std::optional<Order>> FindLatestOrder(const std::string& account_id,
                                                               const std::string& exam_id) = 0;
  /// Creates an UNPAID order, or returns the live one when another request made it first.
  virtual absl::StatusOr<Order> CreateOrGetOrder(const NewOrder& order) = 0;
  virtual absl::StatusOr<Order> GetOrder(const std::string& order_id) = 0;
  /// Verifies `notice` against the order (amount to the fen; INVALID_ARGUMENT otherwise;
  /// NOT_FOUND for an unknown order) and settles it exactly once, in one transaction with
  /// the processed-notification record and the ledger row.
  virtual absl::StatusOr<Settlement> Settle(const std::string& provider, const PaidNotice& notice,
                                            absl::Time now) = 0;
  virtual absl::StatusOr<std::vector<Order>> ListExamOrders(const std::string& exam_id,
                                                            const std::string& status) = 0;
  /// UNPAID orders created before `before`, oldest first.
  virtual absl::StatusOr<std::vector<Order>> ListStaleUnpaid(absl::Time before, int limit) = 0;
  /// UNPAID orders whose payment deadline passed before `before`, oldest deadline first.
  virtual absl::StatusOr<std::vector<Order>> ListExpiredUnpaid(absl::Time before, int limit) = 0;
  /// UNPAID → CLOSED; false when the order was no longer UNPAID (settled meanwhile).
  virtual absl::StatusOr<bool> CloseUnpaid(const std::string& order_id) = 0;
  /// Claims a refundable order for one refund at a time: FAILED_PRECONDITION
  /// (REFUND_IN_PROGRESS) while another refund holds it (for up to ten minutes),
  /// NOT_REFUNDABLE when the order is not paid.
  virtual absl::Status ClaimRefund(const std::string& order_id) = 0;
  /// Gives a claim back after the provider refused the refund.
  virtual absl::Status ReleaseRefundClaim(const std::string& order_id) = 0;
  /// PAID (or refund-due) → REFUNDED with a REFUND ledger row; FAILED_PRECONDITION otherwise.
  virtual absl::Status MarkRefunded(const std::string& order_id, const std::string& reason) = 0;
  /// An idempotent request's first answer: nullopt when the key is new. ALREADY_EXISTS
  /// (reason IDEMPOTENCY_KEY_REUSED) when the key was used with other parameters.
  virtual absl::StatusOr<std::optional<std::string>> FindIdempotent(const std::string& account_id,
                                                                    const std::string& key,
                                                                    const std::string& hash) = 0;
  /// Stores the first answer; a concurrent first writer wins (its answer is returned).
  virtual absl::StatusOr<std::string> SaveIdempotent(const std::string& account_id,
                                                     const std::string& key,
                                                     const std::string& hash,
                                                     const std::string& response) = 0;
};

}  // namespace admissions::payment
