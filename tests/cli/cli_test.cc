#include "kaas/cli/cli.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "kaas/cli/args.h"
#include "kaas/cli/config.h"
#include "kaas/cli/render.h"

namespace kaas::cli {
namespace {

namespace fs = std::filesystem;

const std::vector<FlagSpec> kSpecs = {
    {"team", "T", ""}, {"watch", "", ""}, {"output", "FORMAT", "", 'o'}};

TEST(ParseArgsTest, ReadsValuesSwitchesAndPositionals) {
  auto r = ParseArgs({"demo", "--team", "payments", "--watch", "-o", "json"}, kSpecs);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->positional, std::vector<std::string>{"demo"});
  EXPECT_EQ(r->Get("team"), "payments");
  EXPECT_EQ(r->Get("watch"), "true");
  EXPECT_EQ(r->Get("output"), "json");
}

TEST(ParseArgsTest, AcceptsInlineValuesAndDoubleDash) {
  auto r = ParseArgs({"--team=a", "--", "--watch"}, kSpecs);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->Get("team"), "a");
  EXPECT_FALSE(r->Has("watch"));
  EXPECT_EQ(r->positional, std::vector<std::string>{"--watch"});
}

TEST(ParseArgsTest, RejectsUnknownFlagsAndMissingValues) {
  EXPECT_FALSE(ParseArgs({"--bogus"}, kSpecs).ok());
  EXPECT_FALSE(ParseArgs({"--team"}, kSpecs).ok());
  EXPECT_FALSE(ParseArgs({"--watch=yes"}, kSpecs).ok());
}

TEST(ParseIntTest, TakesOnlyWholeNumbers) {
  EXPECT_EQ(ParseInt("3"), 3);
  EXPECT_EQ(ParseInt("-1"), -1);
  EXPECT_FALSE(ParseInt(""));
  EXPECT_FALSE(ParseInt("3x"));
  EXPECT_FALSE(ParseInt("1e3"));
}

TEST(RenderTest, TableAlignsByDisplayWidth) {
  EXPECT_EQ(DisplayWidth("3×m.small"), 9u);
  std::string t = RenderTable({{"MASTERS", "ID"}, {"3×m.small", "cl-1"}, {"1×m.large", ""}});
  EXPECT_EQ(t, "MASTERS     ID\n3×m.small   cl-1\n1×m.large\n");
}

TEST(RenderTest, ProgressBar) {
  EXPECT_EQ(ProgressBar(0), "[..........] 0%");
  EXPECT_EQ(ProgressBar(50), "[#####.....] 50%");
  EXPECT_EQ(ProgressBar(100), "[##########] 100%");
  EXPECT_EQ(ProgressBar(140), "[##########] 100%");
}

TEST(RenderTest, StepsShowStateAttemptsAndMessage) {
  EXPECT_EQ(RenderStep({"provision masters", "succeeded", "", 1}), "✓ provision masters");
  EXPECT_EQ(RenderStep({"join workers", "running", "waiting", 2}),
            "▶ join workers (attempt 2): waiting");
  EXPECT_EQ(RenderStep({"verify", "failed", "boom", 3}), "✗ verify (attempt 3): boom");
  EXPECT_EQ(RenderStep({"verify", "pending", "", 0}), "· verify");
  OperationView op{"op-1", "create", "running", "", 50, {{"a", "succeeded", "", 1}}};
  EXPECT_EQ(RenderOperation(op), (std::vector<std::string>{"operation op-1 (create): running",
                                                           "  ✓ a", "[#####.....] 50%"}));
}

TEST(RenderTest, TruncateKeepsUtf8Whole) {
  EXPECT_EQ(Truncate("✓ abc", 3), "✓ a");
  EXPECT_EQ(Truncate("abc", 10), "abc");
}

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("kaas-cli-config-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(ConfigTest, SavesPrivatelyAndLoadsBack) {
  std::string path = (dir_ / "kaas" / "config.yaml").string();
  ASSERT_TRUE(SaveConfig(path, {"http://h:1", "kaas_tok", "alice", "2030-01-01T00:00:00Z"}).ok());
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(stat((dir_ / "kaas").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  auto loaded = LoadConfig(path);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->server, "http://h:1");
  EXPECT_EQ(loaded->token, "kaas_tok");
  EXPECT_EQ(loaded->username, "alice");
  EXPECT_EQ(loaded->expires_at, "2030-01-01T00:00:00Z");
}

TEST_F(ConfigTest, MissingFileIsEmpty) {
  auto loaded = LoadConfig((dir_ / "none.yaml").string());
  ASSERT_TRUE(loaded.ok());
  EXPECT_TRUE(loaded->token.empty());
}

TEST_F(ConfigTest, PathFollowsEnvironment) {
  setenv("KAAS_CONFIG", "/x/c.yaml", 1);
  EXPECT_EQ(ConfigPath(), "/x/c.yaml");
  unsetenv("KAAS_CONFIG");
  setenv("XDG_CONFIG_HOME", "/xdg", 1);
  EXPECT_EQ(ConfigPath(), "/xdg/kaas/config.yaml");
  unsetenv("XDG_CONFIG_HOME");
  const char* home = std::getenv("HOME");
  std::string saved_home = home ? home : "";
  setenv("HOME", "/home/u", 1);
  EXPECT_EQ(ConfigPath(), "/home/u/.config/kaas/config.yaml");
  setenv("HOME", saved_home.c_str(), 1);
}

// Runs the CLI in-process against a config in a fresh temp dir.
class RunTest : public ConfigTest {
 protected:
  int Kaas(const std::vector<std::string>& args) {
    setenv("KAAS_CONFIG", (dir_ / "config.yaml").c_str(), 1);
    out_.str("");
    err_.str("");
    Io io{in_, out_, err_, false, 80};
    int rc = cli::Run(args, io);
    unsetenv("KAAS_CONFIG");
    return rc;
  }
  std::istringstream in_;
  std::ostringstream out_, err_;
};

TEST_F(RunTest, HelpExitsZero) {
  EXPECT_EQ(Kaas({"--help"}), 0);
  EXPECT_NE(out_.str().find("cluster create"), std::string::npos);
  EXPECT_EQ(Kaas({"help", "cluster", "create"}), 0);
  EXPECT_NE(out_.str().find("--worker-flavor"), std::string::npos);
  EXPECT_EQ(Kaas({"clusters", "--help"}), 0);
}

TEST_F(RunTest, UsageErrorsExitTwo) {
  EXPECT_EQ(Kaas({}), 2);
  EXPECT_EQ(Kaas({"frobnicate"}), 2);
  EXPECT_EQ(Kaas({"cluster"}), 2);
  EXPECT_EQ(Kaas({"cluster", "show"}), 2);
  EXPECT_EQ(Kaas({"cluster", "show", "a", "b"}), 2);
  EXPECT_EQ(Kaas({"cluster", "create", "x", "--team", "t", "--purpose", "dev", "--workers", "x"}),
            2);
  EXPECT_NE(err_.str().find("--workers must be a whole number"), std::string::npos);
  EXPECT_EQ(Kaas({"clusters", "--output", "yaml"}), 2);
  EXPECT_EQ(Kaas({"clusters", "--server", "not a url"}), 2);
}

TEST_F(RunTest, UnreachableServerNamesIt) {
  // Port 1 on loopback: nothing listens there, so the connection is refused at once.
  EXPECT_EQ(Kaas({"--server", "http://127.0.0.1:1", "versions"}), 1);
  EXPECT_NE(err_.str().find("cannot reach kaasd at http://127.0.0.1:1"), std::string::npos)
      << err_.str();
}

}  // namespace
}  // namespace kaas::cli
