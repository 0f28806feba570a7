#include "kaas/common/names.h"

#include <gtest/gtest.h>

#include <string>

namespace kaas {
namespace {

TEST(DnsLabelTest, LowercaseLettersDigitsAndInnerDashesAreALabel) {
  for (const char* s : {"a", "billing-dev", "sim-1", "0", "a-b-c", "x9"}) {
    EXPECT_TRUE(IsDnsLabel(s)) << s;
  }
}

TEST(DnsLabelTest, AnythingElseIsNot) {
  for (const char* s : {"", "-a", "a-", "Billing", "a_b", "a.b", "a b", "ä", "a/b"}) {
    EXPECT_FALSE(IsDnsLabel(s)) << s;
  }
}

TEST(DnsLabelTest, TheLimitIsInclusiveAndDefaultsTo63) {
  EXPECT_TRUE(IsDnsLabel(std::string(63, 'a')));
  EXPECT_FALSE(IsDnsLabel(std::string(64, 'a')));
  EXPECT_TRUE(IsDnsLabel(std::string(40, 'a'), 40));
  EXPECT_FALSE(IsDnsLabel(std::string(41, 'a'), 40));
}

TEST(DnsLabelTest, CheckNamesTheFieldAndTheLimit) {
  EXPECT_TRUE(CheckDnsLabel("name", "ok-name", 40).ok());
  Status st = CheckDnsLabel("name", std::string(41, 'a'), 40);
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  EXPECT_EQ(st.field(), "name");
  EXPECT_NE(st.message().find("1-40 characters"), std::string::npos) << st.message();
  EXPECT_EQ(CheckDnsLabel("name", "Bad").field(), "name");
}

}  // namespace
}  // namespace kaas
