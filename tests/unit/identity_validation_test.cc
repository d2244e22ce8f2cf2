#include <gtest/gtest.h>

#include "common/status.h"
#include "identity/password.h"
#include "identity/validation.h"

namespace admissions::identity {
namespace {

TEST(ResidentIdTest, CheckDigit) {
  EXPECT_TRUE(IsValidResidentId("11010519491231002X"));
  EXPECT_TRUE(IsValidResidentId("320106199003071234"));
  EXPECT_FALSE(IsValidResidentId("440524188001010014"));  // Born 1880: out of range.
  EXPECT_FALSE(IsValidResidentId("110105194912310021"));  // Wrong check digit.
  EXPECT_FALSE(IsValidResidentId("11010519491331002X"));  // Month 13.
  EXPECT_FALSE(IsValidResidentId("11010519490230002X"));  // 30 February.
  EXPECT_FALSE(IsValidResidentId("1101051949123100"));
  EXPECT_FALSE(IsValidResidentId("11010519491231002x"));  // Not normalised.
}

TEST(ResidentIdTest, NormalizeUppercasesAndNamesTheField) {
  EXPECT_EQ(*NormalizeIdNumber(v1::RESIDENT_ID, " 11010519491231002x "), "11010519491231002X");
  auto bad = NormalizeIdNumber(v1::RESIDENT_ID, "110105194912310021");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(DetailsOf(bad.status()).at("field"), "idNumber");
  EXPECT_NE(bad.status().message().find("check digit"), std::string::npos);
  EXPECT_EQ(DetailsOf(NormalizeIdNumber(v1::ID_TYPE_UNSPECIFIED, "E12345678").status()).at("field"),
            "idType");
  EXPECT_EQ(*NormalizeIdNumber(v1::PASSPORT, "e1234567"), "E1234567");
  EXPECT_FALSE(NormalizeIdNumber(v1::PASSPORT, "E12-34567").ok());
}

TEST(PhoneTest, MainlandMobileOnly) {
  EXPECT_TRUE(ValidatePhone("13800138000").ok());
  EXPECT_TRUE(ValidatePhone("19912345678").ok());
  EXPECT_FALSE(ValidatePhone("12800138000").ok());
  EXPECT_FALSE(ValidatePhone("1380013800").ok());
  EXPECT_FALSE(ValidatePhone("138001380001").ok());
  EXPECT_FALSE(ValidatePhone("1380013800a").ok());
  EXPECT_FALSE(ValidatePhone("+8613800138000").ok());
}

TEST(PasswordTest, LengthInCharacters) {
  EXPECT_FALSE(ValidatePassword("1234567").ok());
  EXPECT_TRUE(ValidatePassword("12345678").ok());
  EXPECT_TRUE(ValidatePassword(std::string(64, 'a')).ok());
  EXPECT_FALSE(ValidatePassword(std::string(65, 'a')).ok());
  EXPECT_TRUE(ValidatePassword("密码密码密码密码").ok());  // 8 characters, 24 bytes.
  EXPECT_FALSE(ValidatePassword("\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8").ok());
}

TEST(PasswordTest, HashVerifyAndRehash) {
  PasswordParams weak{1, 8 * 1024 * 1024};
  PasswordParams owasp;
  auto hash = HashPassword("correct horse", weak).value();
  EXPECT_EQ(hash.rfind("$argon2id$", 0), 0u);
  EXPECT_TRUE(VerifyPassword("correct horse", hash));
  EXPECT_FALSE(VerifyPassword("correct horsE", hash));
  EXPECT_TRUE(NeedsRehash(hash, owasp));
  EXPECT_FALSE(NeedsRehash(hash, weak));
}

TEST(NameTest, TrimsAndRefusesControlCharacters) {
  EXPECT_EQ(*NormalizeName("  张三 "), "张三");
  EXPECT_FALSE(NormalizeName("").ok());
  EXPECT_FALSE(NormalizeName("a\tb").ok());
  EXPECT_FALSE(NormalizeName(std::string(65, 'a')).ok());
}

TEST(MaskTest, KeepsEnds) {
  EXPECT_EQ(MaskIdNumber("11010519491231002X"), "110***********002X");
  EXPECT_EQ(MaskPhone("13800138000"), "138****8000");
  EXPECT_EQ(MaskIdNumber("E1234567"), "E12*4567");
}

}  // namespace
}  // namespace admissions::identity
