#include "payment/sandbox_provider.h"

#include <sodium.h>

#include <map>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status.h"

namespace admissions::payment {
namespace {

absl::Status Unauthenticated(std::string_view message) {
  return Error(absl::StatusCode::kUnauthenticated, "BAD_SIGNATURE", message);
}
absl::Status Malformed(std::string_view message) {
  return Error(absl::StatusCode::kInvalidArgument, "MALFORMED_NOTIFICATION", message);
}
absl::Status TradeClosed() {
  return Error(absl::StatusCode::kFailedPrecondition, "TRADE_CLOSED",
               "the order is closed at the provider and cannot be paid");
}
absl::Status TradePaid() {
  return Error(absl::StatusCode::kFailedPrecondition, "TRADE_PAID",
               "the order was paid at the provider");
}
absl::Status NotPaid() {
  return Error(absl::StatusCode::kFailedPrecondition, "NOT_PAID", "nothing to refund");
}

bool SafeValue(absl::string_view v) {
  for (char c : v) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == ':';
    if (!ok) return false;
  }
  return true;
}

std::string SignedInput(const std::string& timestamp, const std::string& nonce,
                        const std::string& body) {
  return absl::StrCat(timestamp, ".", nonce, ".", body);
}

}  // namespace

std::string FenToYuan(int64_t fen) {
  std::string cents = std::to_string(fen % 100);
  if (cents.size() < 2) cents = "0" + cents;
  return absl::StrCat(fen / 100, ".", cents);
}

absl::StatusOr<int64_t> YuanToFen(const std::string& yuan) {
  auto dot = yuan.find('.');
  if (dot == std::string::npos || dot == 0 || yuan.size() - dot != 3 || yuan.size() > 15) {
    return Malformed("total_amount must be yuan with two decimals");
  }
  for (size_t i = 0; i < yuan.size(); ++i) {
    if (i != dot && (yuan[i] < '0' || yuan[i] > '9')) {
      return Malformed("total_amount must be yuan with two decimals");
    }
  }
  int64_t whole = 0, cents = 0;
  if (!absl::SimpleAtoi(yuan.substr(0, dot), &whole) ||
      !absl::SimpleAtoi(yuan.substr(dot + 1), &cents)) {
    return Malformed("total_amount must be yuan with two decimals");
  }
  return whole * 100 + cents;
}

absl::StatusOr<PaidNotice> MemorySandboxTradeBook::Pay(const PaidNotice& notice) {
  std::lock_guard<std::mutex> lock(mu_);
  Trade& t = trades_[notice.order_id];
  if (t.paid) return *t.paid;
  if (t.closed) return TradeClosed();
  t.paid = notice;
  return notice;
}

absl::StatusOr<PaidNotice> MemorySandboxTradeBook::Find(const std::string& order_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = trades_.find(order_id);
  if (it == trades_.end() || !it->second.paid) return absl::NotFoundError("not paid");
  return *it->second.paid;
}

absl::Status MemorySandboxTradeBook::Close(const std::string& order_id) {
  std::lock_guard<std::mutex> lock(mu_);
  Trade& t = trades_[order_id];
  if (t.paid) return TradePaid();
  t.closed = true;
  return absl::OkStatus();
}

absl::Status MemorySandboxTradeBook::Refund(const std::string& order_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = trades_.find(order_id);
  if (it == trades_.end() || !it->second.paid) return NotPaid();
  ++it->second.refunds;
  return absl::OkStatus();
}

int MemorySandboxTradeBook::Refunds(const std::string& order_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = trades_.find(order_id);
  return it == trades_.end() ? 0 : it->second.refunds;
}

absl::StatusOr<std::unique_ptr<SandboxProvider>> SandboxProvider::Create(
    const std::string& seed_b64, const std::string& public_key_b64, std::string merchant_id,
    std::string pay_base_url, SandboxTradeBook* book) {
  auto seed = Base64Decode(seed_b64);
  if (!seed || seed->size() != 32) {
    return absl::InvalidArgumentError("the sandbox seed must be 32 bytes of base64");
  }
  auto keys = KeyPairFromSeed(*seed);
  if (!keys.ok()) return keys.status();
  std::string verify = keys->public_key;
  if (!public_key_b64.empty()) {
    auto pk = Base64Decode(public_key_b64);
    if (!pk || pk->size() != crypto_sign_PUBLICKEYBYTES) {
      return absl::InvalidArgumentError("the provider public key must be 32 bytes of base64");
    }
    verify = *pk;
  }
  return std::unique_ptr<SandboxProvider>(new SandboxProvider(
      *std::move(keys), std::move(verify), std::move(merchant_id), std::move(pay_base_url), book));
}

absl::StatusOr<std::string> SandboxProvider::PayUrl(const ProviderOrder& order) {
  return absl::StrCat(pay_base_url_, "?out_trade_no=", order.order_id,
                      "&total_amount=", FenToYuan(order.amount_cents),
                      "&merchant_id=", merchant_id_);
}

std::string SandboxProvider::Body(const PaidNotice& n) {
  return absl::StrCat("notify_id=", n.notify_id, "&out_trade_no=", n.order_id,
                      "&total_amount=", FenToYuan(n.amount_cents), "&merchant_id=", n.merchant_id,
                      "&trade_no=", n.trade_no, "&trade_status=TRADE_SUCCESS",
                      "&gmt_payment=", absl::ToUnixSeconds(n.paid_at));
}

RawNotification SandboxProvider::Sign(const std::string& body, absl::Time now) const {
  RawNotification raw;
  raw.body = body;
  raw.timestamp = std::to_string(absl::ToUnixSeconds(now));
  raw.nonce = HexEncode(RandomBytes(12));
  std::string input = SignedInput(raw.timestamp, raw.nonce, raw.body);
  unsigned char sig[crypto_sign_BYTES];
  crypto_sign_detached(sig, nullptr, reinterpret_cast<const unsigned char*>(input.data()),
                       input.size(),
                       reinterpret_cast<const unsigned char*>(keys_.secret_key.data()));
  raw.signature = Base64Encode(std::string(reinterpret_cast<const char*>(sig), sizeof sig));
  return raw;
}

absl::StatusOr<PaidNotice> SandboxProvider::Verify(const RawNotification& raw) const {
  auto sig = Base64Decode(raw.signature);
  if (!sig || sig->size() != crypto_sign_BYTES)
    return Unauthenticated("bad notification signature");
  std::string input = SignedInput(raw.timestamp, raw.nonce, raw.body);
  if (crypto_sign_verify_detached(
          reinterpret_cast<const unsigned char*>(sig->data()),
          reinterpret_cast<const unsigned char*>(input.data()), input.size(),
          reinterpret_cast<const unsigned char*>(verify_key_.data())) != 0) {
    return Unauthenticated("bad notification signature");
  }
  std::map<std::string, std::string> fields;
  for (absl::string_view pair : absl::StrSplit(absl::string_view(raw.body), '&')) {
    std::vector<absl::string_view> kv = absl::StrSplit(pair, absl::MaxSplits('=', 1));
    if (kv.size() != 2 || kv[0].empty() || !SafeValue(kv[1])) return Malformed("malformed body");
    if (!fields.emplace(std::string(kv[0]), std::string(kv[1])).second) {
      return Malformed("a field appears twice");
    }
  }
  for (const char* f : {"notify_id", "out_trade_no", "total_amount", "merchant_id", "trade_no",
                        "trade_status", "gmt_payment"}) {
    if (fields[f].empty()) return Malformed(absl::StrCat("missing ", f));
  }
  if (fields["trade_status"] != "TRADE_SUCCESS") return Malformed("unknown trade_status");
  PaidNotice n;
  n.notify_id = fields["notify_id"];
  n.order_id = fields["out_trade_no"];
  auto fen = YuanToFen(fields["total_amount"]);
  if (!fen.ok()) return fen.status();
  n.amount_cents = *fen;
  n.merchant_id = fields["merchant_id"];
  n.trade_no = fields["trade_no"];
  int64_t secs = 0;
  if (!absl::SimpleAtoi(fields["gmt_payment"], &secs)) return Malformed("bad gmt_payment");
  n.paid_at = absl::FromUnixSeconds(secs);
  return n;
}

absl::StatusOr<RawNotification> SandboxProvider::Pay(const ProviderOrder& order, absl::Time now) {
  PaidNotice n;
  n.notify_id = HexEncode(RandomBytes(16));
  n.order_id = order.order_id;
  n.amount_cents = order.amount_cents;
  n.merchant_id = merchant_id_;
  n.trade_no = absl::StrCat("SBX", HexEncode(RandomBytes(10)));
  n.paid_at = now;
  // Paying twice at the provider resends the first payment's notification.
  ASSIGN_OR_RETURN(PaidNotice paid, book_->Pay(n));
  return Sign(Body(paid), now);
}

absl::StatusOr<PaidNotice> SandboxProvider::Query(const std::string& order_id) {
  return book_->Find(order_id);
}

absl::Status SandboxProvider::Close(const ProviderOrder& order) {
  return book_->Close(order.order_id);
}

absl::Status SandboxProvider::Refund(const ProviderOrder& order, const std::string&,
                                     const std::string&) {
  return book_->Refund(order.order_id);
}

}  // namespace admissions::payment
