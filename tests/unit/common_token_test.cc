#include <gtest/gtest.h>

#include "common/crypto.h"
#include "common/status.h"
#include "common/token.h"

namespace admissions {
namespace {

class TokenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    InitCrypto();
    signer_ = std::make_unique<TokenSigner>(
        TokenSigner::FromBase64Seed(Base64Encode(RandomBytes(32))).value());
    verifier_ = std::make_unique<TokenVerifier>(
        TokenVerifier::FromBase64PublicKeys(signer_->PublicKeyBase64()).value());
    claims_.set_sub("account-1");
    claims_.set_sid("session-1");
    claims_.add_roles("CANDIDATE");
    claims_.set_iat(1000);
    claims_.set_exp(2000);
  }
  std::unique_ptr<TokenSigner> signer_;
  std::unique_ptr<TokenVerifier> verifier_;
  api::v1::TokenClaims claims_;
};

TEST_F(TokenTest, SignedTokenVerifies) {
  auto got = verifier_->Verify(signer_->Sign(claims_), 1500);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->sub(), "account-1");
  EXPECT_EQ(got->sid(), "session-1");
  EXPECT_EQ(got->roles(0), "CANDIDATE");
}

TEST_F(TokenTest, ExpiredTokenIsRefused) {
  auto got = verifier_->Verify(signer_->Sign(claims_), 2000);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(got.status().message().find("expired"), std::string::npos);
}

TEST_F(TokenTest, TamperedClaimsAreRefused) {
  std::string token = signer_->Sign(claims_);
  api::v1::TokenClaims forged = claims_;
  forged.set_sub("account-2");
  std::string other = signer_->Sign(forged);
  // Claims of one token with the signature of another.
  size_t d1 = token.find('.'), d2 = token.rfind('.');
  size_t o1 = other.find('.'), o2 = other.rfind('.');
  std::string spliced =
      token.substr(0, d1 + 1) + other.substr(o1 + 1, o2 - o1 - 1) + token.substr(d2);
  EXPECT_EQ(verifier_->Verify(spliced, 1500).status().code(), absl::StatusCode::kUnauthenticated);
}

TEST_F(TokenTest, AlgNoneIsRefused) {
  std::string token = signer_->Sign(claims_);
  std::string header = Base64UrlEncode(R"({"alg":"none","typ":"JWT"})");
  std::string claims = token.substr(token.find('.') + 1, token.rfind('.') - token.find('.') - 1);
  EXPECT_FALSE(verifier_->Verify(header + "." + claims + ".", 1500).ok());
  auto st =
      verifier_->Verify(header + "." + claims + "." + token.substr(token.rfind('.') + 1), 1500);
  EXPECT_EQ(st.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(st.status().message().find("algorithm"), std::string::npos);
}

TEST_F(TokenTest, OtherKeyIsRefused) {
  auto other = TokenSigner::FromBase64Seed(Base64Encode(RandomBytes(32))).value();
  EXPECT_FALSE(verifier_->Verify(other.Sign(claims_), 1500).ok());
}

TEST_F(TokenTest, GarbageIsRefused) {
  for (const char* t : {"", ".", "..", "a.b.c", "a.b", "a.b.c.d", "%%%.%%%.%%%"}) {
    EXPECT_EQ(verifier_->Verify(t, 1500).status().code(), absl::StatusCode::kUnauthenticated) << t;
  }
}

TEST(RevocationListTest, RevokesUntilItsTime) {
  RevocationList list;
  list.Add("s1", 100);
  EXPECT_TRUE(list.IsRevoked("s1", 99));
  EXPECT_FALSE(list.IsRevoked("s1", 100));
  EXPECT_FALSE(list.IsRevoked("s2", 50));
  list.Prune(100);
  EXPECT_EQ(list.size(), 0u);
}

TEST(CryptoTest, SecretBoxRoundTripAndTamper) {
  InitCrypto();
  auto box = SecretBox::FromBase64Key(Base64Encode(RandomBytes(32))).value();
  std::string sealed = box.Seal("11010519491231002X");
  EXPECT_EQ(box.Open(sealed).value(), "11010519491231002X");
  EXPECT_NE(box.Seal("x"), box.Seal("x"));  // Fresh nonce each time.
  sealed.back() ^= 1;
  EXPECT_FALSE(box.Open(sealed).ok());
  EXPECT_FALSE(SecretBox::FromBase64Key("short").ok());
}

TEST(CryptoTest, BlindIndexIsKeyedAndDomainSeparated) {
  InitCrypto();
  auto a = BlindIndex::FromBase64Key(Base64Encode(RandomBytes(32))).value();
  auto b = BlindIndex::FromBase64Key(Base64Encode(RandomBytes(32))).value();
  EXPECT_EQ(a.Compute("phone", "13800138000"), a.Compute("phone", "13800138000"));
  EXPECT_NE(a.Compute("phone", "13800138000"), b.Compute("phone", "13800138000"));
  EXPECT_NE(a.Compute("phone", "13800138000"), a.Compute("id", "13800138000"));
}

}  // namespace
}  // namespace admissions
