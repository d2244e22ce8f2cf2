// IdentityLogic against an in-memory store: the domain rules without a database.
#include "identity/identity_logic.h"

#include <gtest/gtest.h>

#include "common/status.h"
#include "unit/fake_identity_store.h"

namespace admissions::identity {
namespace {

class CapturingSms : public SmsSender {
 public:
  absl::Status Send(const std::string& phone, int purpose, const std::string& code) override {
    last_phone = phone;
    last_code = code;
    ++sent;
    return absl::OkStatus();
  }
  std::string last_phone, last_code;
  int sent = 0;
};

class IdentityLogicTest : public ::testing::Test {
 protected:
  IdentityLogicTest() {
    InitCrypto();
    std::string seed = Base64Encode(RandomBytes(32));
    auto signer = TokenSigner::FromBase64Seed(seed).value();
    verifier_ = std::make_unique<TokenVerifier>(
        TokenVerifier::FromBase64PublicKeys(signer.PublicKeyBase64()).value());
    settings_.password = PasswordParams{1, 8 * 1024 * 1024};  // Cheap, for speed.
    logic_ = std::make_unique<IdentityLogic>(
        &store_, &sms_, nullptr, std::move(signer),
        SecretBox::FromBase64Key(Base64Encode(RandomBytes(32))).value(),
        BlindIndex::FromBase64Key(Base64Encode(RandomBytes(32))).value(), settings_);
  }

  std::string Register(const std::string& phone, const std::string& id) {
    v1::SendSmsCodeRequest send;
    send.set_phone(phone);
    send.set_purpose(v1::REGISTER);
    EXPECT_TRUE(logic_->SendSmsCode(send).ok());
    v1::CreateAccountRequest req;
    req.set_phone(phone);
    req.set_sms_code(sms_.last_code);
    req.set_password("pass-word-1");
    req.set_name("王五");
    req.set_id_type(v1::RESIDENT_ID);
    req.set_id_number(id);
    auto resp = logic_->CreateAccount(req);
    EXPECT_TRUE(resp.ok()) << resp.status();
    return resp.ok() ? resp->account_id() : "";
  }

  v1::SessionTokens LoginOk(const std::string& login, const std::string& password) {
    v1::CreateSessionRequest req;
    req.set_login(login);
    req.set_password(password);
    auto tokens = logic_->CreateSession(req);
    EXPECT_TRUE(tokens.ok()) << tokens.status();
    return tokens.ok() ? *tokens : v1::SessionTokens();
  }

  Caller CallerOf(const v1::SessionTokens& tokens) {
    auto claims = verifier_->Verify(tokens.access_token(), NowSeconds()).value();
    Caller c;
    c.account_id = claims.sub();
    c.session_id = claims.sid();
    return c;
  }

  identity::testing::FakeIdentityStore store_;
  CapturingSms sms_;
  IdentitySettings settings_;
  std::unique_ptr<TokenVerifier> verifier_;
  std::unique_ptr<IdentityLogic> logic_;
};

TEST_F(IdentityLogicTest, RegisterThenLoginByPhoneOrId) {
  std::string id = Register("13700000001", "11010519491231002X");
  ASSERT_FALSE(id.empty());
  auto tokens = LoginOk("13700000001", "pass-word-1");
  auto claims = verifier_->Verify(tokens.access_token(), NowSeconds()).value();
  EXPECT_EQ(claims.sub(), id);
  EXPECT_EQ(claims.roles(0), "CANDIDATE");
  EXPECT_EQ(tokens.expires_in_seconds(), 900);
  LoginOk("11010519491231002x", "pass-word-1");
  auto me = logic_->GetMe(CallerOf(tokens)).value();
  EXPECT_EQ(me.id_number_masked(), "110***********002X");
  EXPECT_EQ(me.phone_masked(), "137****0001");
}

TEST_F(IdentityLogicTest, PersonalDataIsSealedInTheStore) {
  std::string id = Register("13700000002", "11010519491231002X");
  const Account& a = store_.accounts[id];
  EXPECT_EQ(a.id_number_sealed.find("11010519491231002X"), std::string::npos);
  EXPECT_EQ(a.phone_sealed.find("13700000002"), std::string::npos);
  EXPECT_EQ(store_.indexes[id].first.size(), 64u);  // HMAC-SHA-256, hex.
}

TEST_F(IdentityLogicTest, WrongPasswordAndUnknownLoginAnswerAlike) {
  Register("13700000003", "11010519491231002X");
  v1::CreateSessionRequest wrong, unknown;
  wrong.set_login("13700000003");
  wrong.set_password("nope-nope");
  unknown.set_login("13700000099");
  unknown.set_password("nope-nope");
  auto a = logic_->CreateSession(wrong).status();
  auto b = logic_->CreateSession(unknown).status();
  EXPECT_EQ(a.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(a, b);
}

TEST_F(IdentityLogicTest, RehashesWhenParametersRise) {
  Register("13700000004", "11010519491231002X");
  EXPECT_EQ(store_.rehashes, 0);
  // Same store, stronger parameters: the next login upgrades the stored hash.
  IdentitySettings stronger = settings_;
  stronger.password = PasswordParams{2, 16 * 1024 * 1024};
  InitCrypto();
  IdentityLogic upgraded(&store_, &sms_, nullptr,
                         TokenSigner::FromBase64Seed(Base64Encode(RandomBytes(32))).value(),
                         logic_->box(), logic_->index(), stronger);
  v1::CreateSessionRequest req;
  req.set_login("13700000004");
  req.set_password("pass-word-1");
  ASSERT_TRUE(upgraded.CreateSession(req).ok());
  EXPECT_EQ(store_.rehashes, 1);
  ASSERT_TRUE(upgraded.CreateSession(req).ok());
  EXPECT_EQ(store_.rehashes, 1);
}

TEST_F(IdentityLogicTest, ResetPasswordForUnknownPhoneSendsNothing) {
  v1::SendSmsCodeRequest send;
  send.set_phone("13700000005");
  send.set_purpose(v1::RESET_PASSWORD);
  EXPECT_TRUE(logic_->SendSmsCode(send).ok());
  EXPECT_EQ(sms_.sent, 0);
}

TEST_F(IdentityLogicTest, LogoutEndsOnlyThatSession) {
  Register("13700000006", "11010519491231002X");
  auto one = LoginOk("13700000006", "pass-word-1");
  auto two = LoginOk("13700000006", "pass-word-1");
  ASSERT_TRUE(logic_->DeleteCurrentSession(CallerOf(one)).ok());
  EXPECT_EQ(logic_->GetMe(CallerOf(one)).status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(logic_->GetMe(CallerOf(two)).ok());
  EXPECT_EQ(logic_->DeleteCurrentSession(CallerOf(one)).code(), absl::StatusCode::kUnauthenticated);
}

TEST_F(IdentityLogicTest, OutboxIsDevModeOnly) {
  v1::ListSmsOutboxRequest req;
  req.set_phone("13700000007");
  EXPECT_EQ(logic_->ListSmsOutbox(req).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace admissions::identity
