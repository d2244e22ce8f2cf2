#pragma once

#include <map>
#include <mutex>
#include <string>

#include "absl/base/thread_annotations.h"
#include "common/crypto.h"
#include "payment/provider.h"

namespace admissions::payment {

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
  static absl::StatusOr<std::unique_ptr<SandboxProvider>> Create(const std::string& seed_b64,
                                                                 const std::string& public_key_b64,
                                                                 std::string merchant_id,
                                                                 std::string pay_base_url);

  std::string Name() const override { return "sandbox"; }
  std::string MerchantId() const override { return merchant_id_; }
  absl::StatusOr<std::string> PayUrl(const ProviderOrder& order) override;
  absl::StatusOr<PaidNotice> Verify(const RawNotification& raw) const override;
  std::string SuccessReply() const override { return "success"; }
  absl::StatusOr<PaidNotice> Query(const std::string& order_id) override;
  absl::Status Refund(const ProviderOrder& order, const std::string& trade_no,
                      const std::string& reason) override;

  /// The payer pays `order` at the provider: records it (for Query) and returns the
  /// signed notification the provider sends.
  RawNotification Pay(const ProviderOrder& order, absl::Time now);

  /// Builds and signs a notification body (tests use it to forge bad ones).
  RawNotification Sign(const std::string& body, absl::Time now) const;
  static std::string Body(const PaidNotice& notice);

 private:
  SandboxProvider(SigningKeyPair keys, std::string verify_key, std::string merchant_id,
                  std::string pay_base_url)
      : keys_(std::move(keys)),
        verify_key_(std::move(verify_key)),
        merchant_id_(std::move(merchant_id)),
        pay_base_url_(std::move(pay_base_url)) {}

  SigningKeyPair keys_;
  std::string verify_key_;
  std::string merchant_id_;
  std::string pay_base_url_;
  std::mutex mu_;
  std::map<std::string, PaidNotice> paid_ ABSL_GUARDED_BY(mu_);
};

/// Fen as a yuan amount with exactly two decimals ("12.34"), and back (strict).
std::string FenToYuan(int64_t fen);
absl::StatusOr<int64_t> YuanToFen(const std::string& yuan);

}  // namespace admissions::payment
