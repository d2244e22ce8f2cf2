#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "common/crypto.h"
#include "payment/provider.h"

namespace admissions::payment {

/// The sandbox provider's own records, what a real provider keeps on its side: who paid,
/// which trades are closed, how many refunds were made. They live outside the payment
/// service's memory (PgSandboxTradeBook) so that they outlive its restarts, as a real
/// provider's do; reconciliation after a crash depends on that. Thread-safe.
class SandboxTradeBook {
 public:
  virtual ~SandboxTradeBook() = default;
  /// Records `notice` as the order's payment. An order paid before keeps (and returns)
  /// its first payment; a closed one answers FAILED_PRECONDITION (TRADE_CLOSED).
  virtual absl::StatusOr<PaidNotice> Pay(const PaidNotice& notice) = 0;
  /// The order's payment; NOT_FOUND while unpaid.
  virtual absl::StatusOr<PaidNotice> Find(const std::string& order_id) = 0;
  /// Closes an unpaid order; FAILED_PRECONDITION (TRADE_PAID) when it is paid.
  virtual absl::Status Close(const std::string& order_id) = 0;
  /// Counts one refund of a paid order; FAILED_PRECONDITION (NOT_PAID) otherwise.
  virtual absl::Status Refund(const std::string& order_id) = 0;
};

/// The book in memory, for unit tests and tools.
class MemorySandboxTradeBook final : public SandboxTradeBook {
 public:
  absl::StatusOr<PaidNotice> Pay(const PaidNotice& notice) override;
  absl::StatusOr<PaidNotice> Find(const std::string& order_id) override;
  absl::Status Close(const std::string& order_id) override;
  absl::Status Refund(const std::string& order_id) override;
  int Refunds(const std::string& order_id);

 private:
  struct Trade {
    std::optional<PaidNotice> paid;
    bool closed = false;
    int refunds = 0;
  };
  std::mutex mu_;
  std::map<std::string, Trade> trades_ ABSL_GUARDED_BY(mu_);
};

/// The development provider: behaves like a real one (signed asynchronous notifications
/// over a form-encoded body, a query API, refunds) with an Ed25519 key pair of its own.
///
/// Body: `notify_id=..&out_trade_no=..&total_amount=12.34&merchant_id=..&trade_no=..
/// &trade_status=TRADE_SUCCESS&gmt_payment=<unix seconds>`; the signature is Ed25519 over
/// `timestamp "." nonce "." body`, base64, in X-Pay-Signature.
class SandboxProvider final : public PaymentProvider {
 public:
  /// `seed_b64`: the sandbox's signing seed (32 bytes, base64). `public_key_b64`, when set,
  /// is the key notifications are checked with (otherwise the seed's own public key).
  /// `book` keeps the provider's side of each trade (not owned); null: one in memory.
  static absl::StatusOr<std::unique_ptr<SandboxProvider>> Create(const std::string& seed_b64,
                                                                 const std::string& public_key_b64,
                                                                 std::string merchant_id,
                                                                 std::string pay_base_url,
                                                                 SandboxTradeBook* book = nullptr);

  std::string Name() const override { return "sandbox"; }
  std::string MerchantId() const override { return merchant_id_; }
  absl::StatusOr<std::string> PayUrl(const ProviderOrder& order) override;
  absl::StatusOr<PaidNotice> Verify(const RawNotification& raw) const override;
  std::string SuccessReply() const override { return "success"; }
  absl::StatusOr<PaidNotice> Query(const std::string& order_id) override;
  absl::Status Close(const ProviderOrder& order) override;
  absl::Status Refund(const ProviderOrder& order, const std::string& trade_no,
                      const std::string& reason) override;

  /// The payer pays `order` at the provider: records it in the book (for Query) and
  /// returns the signed notification the provider sends, signed at `now` (a provider signs
  /// every retry afresh). Paying a paid order again resends its first payment; a closed
  /// order cannot be paid (FAILED_PRECONDITION TRADE_CLOSED).
  absl::StatusOr<RawNotification> Pay(const ProviderOrder& order, absl::Time now);

  /// Builds and signs a notification body (tests use it to forge bad ones).
  RawNotification Sign(const std::string& body, absl::Time now) const;
  static std::string Body(const PaidNotice& notice);

 private:
  SandboxProvider(SigningKeyPair keys, std::string verify_key, std::string merchant_id,
                  std::string pay_base_url, SandboxTradeBook* book)
      : keys_(std::move(keys)),
        verify_key_(std::move(verify_key)),
        merchant_id_(std::move(merchant_id)),
        pay_base_url_(std::move(pay_base_url)),
        book_(book != nullptr ? book : &own_book_) {}

  SigningKeyPair keys_;
  std::string verify_key_;
  std::string merchant_id_;
  std::string pay_base_url_;
  MemorySandboxTradeBook own_book_;
  SandboxTradeBook* book_;
};

/// Fen as a yuan amount with exactly two decimals ("12.34"), and back (strict).
std::string FenToYuan(int64_t fen);
absl::StatusOr<int64_t> YuanToFen(const std::string& yuan);

}  // namespace admissions::payment
