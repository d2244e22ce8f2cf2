#pragma once

#include "common/pg.h"
#include "payment/payment_store.h"
#include "payment/sandbox_provider.h"

namespace admissions::payment {

/// PaymentStore on PostgreSQL (schema `payment`).
class PgPaymentStore final : public PaymentStore {
 public:
  PgPaymentStore(const std::string& uri, int pool_size);

  absl::StatusOr<std::optional<Order>> FindLiveOrder(const std::string& account_id,
                                                     const std::string& exam_id) override;
  absl::StatusOr<std::optional<Order>> FindLatestOrder(const std::string& account_id,
                                                       const std::string& exam_id) override;
  absl::StatusOr<Order> CreateOrGetOrder(const NewOrder& order) override;
  absl::StatusOr<Order> GetOrder(const std::string& order_id) override;
  absl::StatusOr<Settlement> Settle(const std::string& provider, const PaidNotice& notice,
                                    absl::Time now) override;
  absl::StatusOr<std::vector<Order>> ListExamOrders(const std::string& exam_id,
                                                    const std::string& status) override;
  absl::StatusOr<std::vector<Order>> ListStaleUnpaid(absl::Time before, int limit) override;
  absl::StatusOr<std::vector<Order>> ListExpiredUnpaid(absl::Time before, int limit) override;
  absl::StatusOr<bool> CloseUnpaid(const std::string& order_id) override;
  absl::Status ClaimRefund(const std::string& order_id) override;
  absl::Status ReleaseRefundClaim(const std::string& order_id) override;
  absl::Status MarkRefunded(const std::string& order_id, const std::string& reason) override;
  absl::StatusOr<std::optional<std::string>> FindIdempotent(const std::string& account_id,
                                                            const std::string& key,
                                                            const std::string& hash) override;
  absl::StatusOr<std::string> SaveIdempotent(const std::string& account_id, const std::string& key,
                                             const std::string& hash,
                                             const std::string& response) override;

 private:
  PgPool pool_;
};

/// The sandbox provider's book on PostgreSQL (table payment.sandbox_trades).
class PgSandboxTradeBook final : public SandboxTradeBook {
 public:
  PgSandboxTradeBook(const std::string& uri, int pool_size);
  absl::StatusOr<PaidNotice> Pay(const PaidNotice& notice) override;
  absl::StatusOr<PaidNotice> Find(const std::string& order_id) override;
  absl::Status Close(const std::string& order_id) override;
  absl::Status Refund(const std::string& order_id) override;

 private:
  PgPool pool_;
};

/// True for the canonical text form of a UUID.
bool IsUuid(const std::string& s);

}  // namespace admissions::payment
