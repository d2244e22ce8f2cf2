#include "media_signaling/turn_credentials.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "absl/strings/str_cat.h"
#include "common/crypto.h"

namespace admissions::media_signaling {

TurnCredential MakeTurnCredential(std::string_view secret, std::string_view account_id,
                                  int64_t expires_unix_seconds) {
  TurnCredential out;
  out.username = absl::StrCat(expires_unix_seconds, ":", std::string(account_id));
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha1(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(out.username.data()), out.username.size(), mac,
       &mac_len);
  out.credential = Base64Encode(std::string_view(reinterpret_cast<const char*>(mac), mac_len));
  return out;
}

}  // namespace admissions::media_signaling
