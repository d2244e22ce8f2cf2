#include <gtest/gtest.h>
#include <stdlib.h>

#include "common/config.h"

namespace admissions {
namespace {

TEST(ConfigTest, FlagBeatsEnvBeatsDefault) {
  setenv("CONFIG_TEST_A", "from-env", 1);
  setenv("CONFIG_TEST_B", "from-env", 1);
  const char* argv[] = {"prog", "--a=from-flag", "--n=42", "--on"};
  Config c(4, const_cast<char**>(argv));
  EXPECT_EQ(c.String("a", "CONFIG_TEST_A", "def", ""), "from-flag");
  EXPECT_EQ(c.String("b", "CONFIG_TEST_B", "def", ""), "from-env");
  EXPECT_EQ(c.String("c", "CONFIG_TEST_C_UNSET", "def", ""), "def");
  EXPECT_EQ(c.Int("n", "", 1, ""), 42);
  EXPECT_TRUE(c.Bool("on", "", false, ""));
  EXPECT_TRUE(c.Finish().ok());
}

TEST(ConfigTest, UnknownFlagAndBadValuesAreRefused) {
  const char* argv[] = {"prog", "--typo=1", "--n=forty"};
  Config c(3, const_cast<char**>(argv));
  EXPECT_EQ(c.Int("n", "", 1, ""), 1);
  absl::Status st = c.Finish();
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("--typo"), std::string::npos);
  EXPECT_NE(st.message().find("--n must be an integer"), std::string::npos);
}

}  // namespace
}  // namespace admissions
