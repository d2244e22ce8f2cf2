#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace admissions::media_signaling {

/// A TURN REST credential (draft-uberti-behave-turn-rest, as coturn's use-auth-secret checks
/// it): the username is "<expiry unix seconds>:<account id>" and the password is
/// base64(HMAC-SHA1(shared secret, username)), standard alphabet with padding.
struct TurnCredential {
  std::string username;
  std::string credential;
};

TurnCredential MakeTurnCredential(std::string_view secret, std::string_view account_id,
                                  int64_t expires_unix_seconds);

}  // namespace admissions::media_signaling
