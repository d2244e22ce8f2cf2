#include "gtest/gtest.h"
#include "media_signaling/turn_credentials.h"

namespace admissions::media_signaling {
namespace {

// Vectors computed independently with Python's hmac and base64 modules:
//   base64.b64encode(hmac.new(secret, username, hashlib.sha1).digest())
TEST(MediaSignalingTurnTest, MatchesKnownVector) {
  TurnCredential c = MakeTurnCredential("turn-shared-secret", "acc-42", 1700000000);
  EXPECT_EQ(c.username, "1700000000:acc-42");
  EXPECT_EQ(c.credential, "SK9HmK/216lkpkrHyi2u0Ilm0QY=");
}

TEST(MediaSignalingTurnTest, EmptySecretAndAccount) {
  TurnCredential c = MakeTurnCredential("", "", 0);
  EXPECT_EQ(c.username, "0:");
  EXPECT_EQ(c.credential, "OMULkEY8i3k1y1l5jqF6MXE1eYs=");
}

}  // namespace
}  // namespace admissions::media_signaling
