#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace admissions::payment {

/// An order as a provider sees it.
struct ProviderOrder {
  std::string order_id;
  int64_t amount_cents = 0;
  std::string currency;
};

/// A provider's notification, as it arrives at POST /v1/payments/notify/{provider}.
struct RawNotification {
  std::string body;  // The raw body, exactly as received: the signature covers it.
  std::string signature;
  std::string timestamp;
  std::string nonce;
};

/// What a verified notification says.
struct PaidNotice {
  std::string notify_id;  // The same for every retry of one notification.
  std::string order_id;
  int64_t amount_cents = 0;
  std::string merchant_id;
  std::string trade_no;  // The provider's transaction number.
  absl::Time paid_at;
};

/// A payment provider (Alipay, WeChat Pay, or the development `sandbox`), as the payment
/// service uses it. Implementations are thread-safe.
class PaymentProvider {
 public:
  virtual ~PaymentProvider() = default;
  virtual std::string Name() const = 0;
  /// The merchant id this service is registered under with the provider.
  virtual std::string MerchantId() const = 0;
  /// Where the payer is sent to pay `order`.
  virtual absl::StatusOr<std::string> PayUrl(const ProviderOrder& order) = 0;
  /// Checks the signature over the raw body with the provider's public key and parses it.
  /// UNAUTHENTICATED for a bad signature, INVALID_ARGUMENT for a malformed body. The
  /// caller then checks order id, amount and merchant against its own records.
  virtual absl::StatusOr<PaidNotice> Verify(const RawNotification& raw) const = 0;
  /// The text the provider expects back once a notification is handled, so that it stops
  /// retrying.
  virtual std::string SuccessReply() const = 0;
  /// The provider's query API: the notice of a paid order, NOT_FOUND while unpaid.
  virtual absl::StatusOr<PaidNotice> Query(const std::string& order_id) = 0;
  /// Closes an unpaid order at the provider so that it can no longer be paid (the
  /// deadline passed). FAILED_PRECONDITION with reason TRADE_PAID when it was paid
  /// meanwhile: query it and settle instead.
  virtual absl::Status Close(const ProviderOrder& order) = 0;
  /// Returns the money of a paid order.
  virtual absl::Status Refund(const ProviderOrder& order, const std::string& trade_no,
                              const std::string& reason) = 0;
};

}  // namespace admissions::payment
