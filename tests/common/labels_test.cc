#include "kaas/common/labels.h"

#include <gtest/gtest.h>

#include <string>

#include "status_testing.h"

namespace kaas {
namespace {

TEST(LabelKeyTest, KubernetesKeysAreValid) {
  for (const char* k :
       {"env", "Env", "app.kubernetes.io/name", "a", "team_1", "x-y.z", "example.com/tier", "9"}) {
    EXPECT_EQ(LabelKeyError(k), "") << k;
  }
  EXPECT_EQ(LabelKeyError(std::string(63, 'k')), "");
  EXPECT_EQ(LabelKeyError(std::string(253, 'p') + "/" + std::string(63, 'n')), "");
}

TEST(LabelKeyTest, AnythingElseSaysWhy) {
  for (const char* k : {"", "-env", "env-", "_a", "a b", "a/b/c", "/name", "Example.com/x",
                        "ex_ample.com/x", "a/", "é", "a=b", "a,b"}) {
    EXPECT_NE(LabelKeyError(k), "") << k;
  }
  EXPECT_NE(LabelKeyError(std::string(64, 'k')), "");
  EXPECT_NE(LabelKeyError(std::string(254, 'p') + "/n"), "");
}

TEST(LabelValueTest, EmptyOrAQualifiedName) {
  for (const char* v : {"", "prod", "1.30", "a_b-c.D"}) EXPECT_EQ(LabelValueError(v), "") << v;
  for (const char* v : {"-a", "a-", "a b", "a/b", "é"}) EXPECT_NE(LabelValueError(v), "") << v;
  EXPECT_EQ(LabelValueError(std::string(63, 'v')), "");
  EXPECT_NE(LabelValueError(std::string(64, 'v')), "");
}

TEST(CheckLabelsTest, NamesTheFieldOfTheBadValue) {
  EXPECT_OK(CheckLabels("labels", {{"env", "prod"}, {"tier", ""}}));
  Status bad = CheckLabels("labels", {{"env", "pr od"}});
  EXPECT_EQ(bad.code(), Code::kInvalidArgument);
  EXPECT_EQ(bad.field(), "labels.env");
  EXPECT_EQ(CheckLabels("labels", {{"-env", "x"}}).field(), "labels");
  Labels many;
  for (size_t i = 0; i <= kMaxLabelsPerObject; ++i) many["k" + std::to_string(i)] = "v";
  EXPECT_EQ(CheckLabels("labels", many).code(), Code::kInvalidArgument);
}

// Table: selector text -> canonical text (ToString) after parsing.
TEST(LabelSelectorTest, ParsesTheKubernetesGrammar) {
  struct Case {
    const char* text;
    const char* canonical;
  };
  const Case cases[] = {
      {"", ""},
      {"   ", ""},
      {"env=prod", "env=prod"},
      {"env==prod", "env=prod"},
      {"env = prod", "env=prod"},
      {"tier!=db", "tier!=db"},
      {"region in (b,a)", "region in (a,b)"},
      {"region in(a, a ,b)", "region in (a,b)"},
      {"region notin (a)", "region notin (a)"},
      {"legacy", "legacy"},
      {"!legacy", "!legacy"},
      {" ! legacy ", "!legacy"},
      {"env=", "env="},
      {"env=,tier", "env=,tier"},
      {"region in ()", "region in ()"},
      {"region in (a,)", "region in (,a)"},
      {"example.com/tier=web", "example.com/tier=web"},
      {"env=prod,tier!=db,region in (a,b),!legacy", "env=prod,tier!=db,region in (a,b),!legacy"},
      {"env=in", "env=in"},
  };
  for (const auto& c : cases) {
    auto s = ParseLabelSelector(c.text);
    ASSERT_OK(s);
    EXPECT_EQ(s->ToString(), c.canonical) << c.text;
    auto again = ParseLabelSelector(s->ToString());
    ASSERT_OK(again);
    EXPECT_EQ(again->requirements, s->requirements) << c.text;
  }
}

// Table: bad selector -> the 1-based position named in the message.
TEST(LabelSelectorTest, BadSelectorsNameThePosition) {
  struct Case {
    const char* text;
    int position;
  };
  const Case cases[] = {
      {"env=prod,", 10},        // a requirement must follow the comma
      {",env", 1},              // nothing before the comma
      {"env prod", 5},          // two words
      {"env=prod tier", 10},    // missing comma
      {"region in a", 11},      // '(' missing
      {"region in (a", 13},     // ')' missing
      {"region in (a b)", 14},  // ',' missing
      {"env=(", 5},             // not a value
      {"env>1", 4},             // gt/lt are not supported
      {"-env=x", 1},            // bad key
      {"env=pr*d", 5},          // bad value
      {"!", 2},                 // '!' without a key
      {"in", 1},                // a keyword is not a key
      {"env=a=b", 6},           // a second operator
      {"a/b/c=d", 1},           // bad key
  };
  for (const auto& c : cases) {
    auto s = ParseLabelSelector(c.text);
    ASSERT_FALSE(s.ok()) << c.text;
    EXPECT_EQ(s.status().code(), Code::kInvalidArgument) << c.text;
    EXPECT_EQ(s.status().field(), "selector") << c.text;
    EXPECT_NE(s.status().message().find("position " + std::to_string(c.position) + ":"),
              std::string::npos)
        << c.text << ": " << s.status().message();
  }
}

TEST(LabelSelectorTest, MatchesAsKubernetesDoes) {
  const Labels prod{{"env", "prod"}, {"region", "a"}};
  const Labels test{{"env", "test"}, {"legacy", ""}};
  const Labels none{};
  struct Case {
    const char* selector;
    bool prod, test, none;
  };
  const Case cases[] = {
      {"", true, true, true},
      {"env=prod", true, false, false},
      {"env!=prod", false, true, true},  // absent key: != matches
      {"region in (a,b)", true, false, false},
      {"region notin (a)", false, true, true},
      {"legacy", false, true, false},
      {"!legacy", true, false, true},
      {"legacy=", false, true, false},
      {"env,!legacy", true, false, false},
  };
  for (const auto& c : cases) {
    auto s = ParseLabelSelector(c.selector);
    ASSERT_OK(s);
    EXPECT_EQ(s->Matches(prod), c.prod) << c.selector;
    EXPECT_EQ(s->Matches(test), c.test) << c.selector;
    EXPECT_EQ(s->Matches(none), c.none) << c.selector;
  }
}

}  // namespace
}  // namespace kaas
