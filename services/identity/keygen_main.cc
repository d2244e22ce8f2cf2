// identity-keygen: prints fresh keys as shell assignments, for development set-ups
// and as the form production secrets take.
#include <iostream>

#include "common/crypto.h"

int main() {
  using namespace admissions;
  InitCrypto();
  std::string seed = RandomBytes(32);
  auto keys = KeyPairFromSeed(seed).value();
  std::cout << "TOKEN_SIGNING_KEY=" << Base64Encode(seed) << "\n"
            << "TOKEN_PUBLIC_KEYS=" << Base64Encode(keys.public_key) << "\n"
            << "PII_ENCRYPTION_KEY=" << Base64Encode(RandomBytes(32)) << "\n"
            << "PII_INDEX_KEY=" << Base64Encode(RandomBytes(32)) << "\n";
  return 0;
}
