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
  // The simulated face provider (development) and the public key identity checks
  // its callbacks with; production sets only the real provider's public key.
  std::string face_seed = RandomBytes(32);
  std::cout << "FACE_SIMULATOR_KEY=" << Base64Encode(face_seed) << "\n"
            << "FACE_PROVIDER_PUBLIC_KEY="
            << Base64Encode(KeyPairFromSeed(face_seed).value().public_key) << "\n";
  return 0;
}
