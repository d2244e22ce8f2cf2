// notify-gen: signed sandbox payment notifications for the payment benchmark.
//
//   notify-gen SEED_B64 MERCHANT_ID AMOUNT_CENTS < order-ids > requests.tsv
//
// Reads one order id per line and writes, per order, the notification the sandbox
// provider would send for it: body, X-Pay-Signature, X-Pay-Timestamp and X-Pay-Nonce,
// tab-separated, signed now with the sandbox's seed (the payment service must run with
// the same PAYMENT_SANDBOX_KEY). tests/bench/notify.lua replays the lines through wrk.
#include <iostream>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "common/crypto.h"
#include "payment/sandbox_provider.h"

int main(int argc, char** argv) {
  using namespace admissions;
  int64_t amount = 0;
  if (argc != 4 || !absl::SimpleAtoi(argv[3], &amount) || amount <= 0) {
    std::cerr << "usage: notify-gen SEED_B64 MERCHANT_ID AMOUNT_CENTS < order-ids\n";
    return 2;
  }
  InitCrypto();
  auto sandbox = payment::SandboxProvider::Create(argv[1], "", argv[2], "");
  if (!sandbox.ok()) {
    std::cerr << "notify-gen: " << sandbox.status().message() << "\n";
    return 2;
  }
  const absl::Time now = absl::Now();
  std::string order;
  while (std::getline(std::cin, order)) {
    if (order.empty()) continue;
    payment::PaidNotice n;
    n.notify_id = HexEncode(RandomBytes(16));
    n.order_id = order;
    n.amount_cents = amount;
    n.merchant_id = argv[2];
    n.trade_no = "BENCH" + HexEncode(RandomBytes(8));
    n.paid_at = now;
    payment::RawNotification raw = (*sandbox)->Sign(payment::SandboxProvider::Body(n), now);
    std::cout << raw.body << '\t' << raw.signature << '\t' << raw.timestamp << '\t' << raw.nonce
              << '\n';
  }
  return std::cout.good() ? 0 : 1;
}
