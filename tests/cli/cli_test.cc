#include "kaas/cli/cli.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "kaas/cli/args.h"
#include "kaas/cli/config.h"
#include "kaas/cli/credential.h"
#include "kaas/cli/events.h"
#include "kaas/cli/kubeconfig.h"
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

TEST(ParseArgsTest, KeepsEveryValueOfARepeatedFlag) {
  auto r = ParseArgs({"--team", "a", "--team=b"}, kSpecs);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->Get("team"), "b");
  EXPECT_EQ(r->GetAll("team"), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(r->GetAll("watch").empty());
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

TEST(RenderTest, UsageBar) {
  EXPECT_EQ(UsageBar(40, 64), "[#######.....] 40/64");
  EXPECT_EQ(UsageBar(0, 10), "[............] 0/10");
  EXPECT_EQ(UsageBar(1, 1000), "[#...........] 1/1000");  // in use, if only a little
  EXPECT_EQ(UsageBar(63, 64), "[###########.] 63/64");    // full only at the limit
  EXPECT_EQ(UsageBar(64, 64), "[############] 64/64");
  EXPECT_EQ(UsageBar(70, 64), "[############] 70/64");
  EXPECT_EQ(UsageBar(0, 0), "[............] 0/0");
  EXPECT_EQ(UsageBar(2, 0), "[############] 2/0");
}

TEST(SseParserTest, EventsAcrossChunksAndLineEnds) {
  SseParser p;
  std::string stream =
      "retry: 1000\n\n: keep-alive\n\nid: ev-1\nevent: step\ndata: {\"a\":1}\n\n"
      "id: ev-2\r\nevent: operation\r\ndata:x\r\ndata: y\r\n\r\n"
      "data: no id or name\r\r";
  std::vector<SseEvent> events;
  for (char c : stream) {  // one byte at a time: every cut must work
    for (auto& e : p.Feed(std::string_view(&c, 1))) events.push_back(e);
  }
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].id, "ev-1");
  EXPECT_EQ(events[0].event, "step");
  EXPECT_EQ(events[0].data, "{\"a\":1}");
  EXPECT_EQ(events[1].id, "ev-2");
  EXPECT_EQ(events[1].event, "operation");
  EXPECT_EQ(events[1].data, "x\ny");
  EXPECT_EQ(events[2].id, "ev-2");  // the last id lasts
  EXPECT_EQ(events[2].event, "message");
  EXPECT_EQ(p.last_event_id(), "ev-2");
  EXPECT_TRUE(p.Feed("id: ev-3\nevent: step\n").empty());  // not dispatched yet
  EXPECT_EQ(p.Feed("\n").size(), 0u);                      // no data: nothing to dispatch
  EXPECT_EQ(p.last_event_id(), "ev-3");
}

TEST(ApplyEventTest, OperationAndStepEventsOfTheWatchedOperationOnly) {
  OperationView op{"op-1", "create", "pending",
                   "",     0,        {{"a", "pending", "", 0}, {"b", "pending", "", 0}}};
  auto ev = [](const char* kind, const std::string& data) { return SseEvent{"ev", kind, data}; };
  EXPECT_TRUE(ApplyEvent(op, ev("operation", R"({"operation":"op-1","state":"running",
      "error":"","progress":0})")));
  EXPECT_EQ(op.state, "running");
  EXPECT_TRUE(ApplyEvent(op, ev("step", R"({"operation":"op-1","index":0,"name":"a",
      "state":"succeeded","message":"done","attempts":1})")));
  EXPECT_EQ(op.steps[0].state, "succeeded");
  EXPECT_EQ(op.steps[0].message, "done");
  EXPECT_EQ(op.progress, 50);
  // By name when the index does not match.
  EXPECT_TRUE(ApplyEvent(op, ev("step", R"({"operation":"op-1","index":7,"name":"b",
      "state":"running","message":"","attempts":2})")));
  EXPECT_EQ(op.steps[1].attempts, 2);
  // The same again changes nothing; other operations, kinds and broken data are ignored.
  EXPECT_FALSE(ApplyEvent(op, ev("step", R"({"operation":"op-1","index":1,"name":"b",
      "state":"running","message":"","attempts":2})")));
  EXPECT_FALSE(ApplyEvent(op, ev("step", R"({"operation":"op-2","index":1,"state":"failed"})")));
  EXPECT_FALSE(ApplyEvent(op, ev("cluster", R"({"operation":"op-1","status":"error"})")));
  EXPECT_FALSE(ApplyEvent(op, ev("step", "{not json")));
  EXPECT_EQ(op.steps[1].state, "running");
  EXPECT_TRUE(OperationFinished("cancelled"));
  EXPECT_FALSE(OperationFinished("running"));
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

// ---------- kubeconfig merging (kaas use) ----------

// What kaasd hands out for cluster demo to alice.
const char* const kIncoming = R"(apiVersion: v1
kind: Config
clusters:
  - name: "demo"
    cluster:
      server: "https://10.0.0.5:6443"
      certificate-authority-data: Q0E=
users:
  - name: "alice@demo"
    user:
      client-certificate-data: Q0VSVA==
      client-key-data: S0VZ
contexts:
  - name: "alice@demo"
    context:
      cluster: "demo"
      user: "alice@demo"
current-context: "alice@demo"
preferences: {}
)";

// A hand-written kubeconfig: its own key order, an unknown top-level key, quoted scalars
// that look like numbers and booleans, flow collections, an explicit tag.
const char* const kExisting = R"(# my clusters
kind: Config
apiVersion: v1
x-company-settings:
  owner: ops
  ports: [80, "443"]
  enabled: yes
clusters:
- name: prod
  cluster:
    server: https://prod.example.com:6443
    insecure-skip-tls-verify: true
- name: demo
  cluster: {server: "https://old-demo:6443"}
- name: staging
  cluster:
    server: https://staging.example.com
    extensions:
    - name: client.authentication.k8s.io/exec
      extension: {audience: "0123", flag: "true", n: 7}
users:
- name: ops
  user:
    token: "12345"
    username: !!str 007
- name: alice@demo
  user: {token: old}
contexts:
- name: prod
  context: {cluster: prod, user: ops, namespace: "0001"}
- name: staging
  context:
    cluster: staging
    user: ops
current-context: prod
preferences:
  colors: true
)";

// Deep equality that also tells a quoted "123" (a string) from a plain 123 (a number).
bool SameYaml(const YAML::Node& a, const YAML::Node& b) {
  if (a.Type() != b.Type()) return false;
  switch (a.Type()) {
    case YAML::NodeType::Scalar:
      return a.Scalar() == b.Scalar() && a.Tag() == b.Tag();
    case YAML::NodeType::Sequence:
      if (a.size() != b.size()) return false;
      for (size_t i = 0; i < a.size(); ++i) {
        if (!SameYaml(a[i], b[i])) return false;
      }
      return true;
    case YAML::NodeType::Map: {
      if (a.size() != b.size()) return false;
      auto ia = a.begin();
      for (auto ib = b.begin(); ib != b.end(); ++ia, ++ib) {
        if (!SameYaml(ia->first, ib->first) || !SameYaml(ia->second, ib->second)) return false;
      }
      return true;
    }
    default:
      return true;
  }
}

std::vector<std::string> Keys(const YAML::Node& map) {
  std::vector<std::string> keys;
  for (const auto& kv : map) keys.push_back(kv.first.Scalar());
  return keys;
}

std::vector<std::string> Names(const YAML::Node& list) {
  std::vector<std::string> names;
  for (const auto& e : list) names.push_back(e["name"].Scalar());
  return names;
}

YAML::Node Entry(const YAML::Node& list, const std::string& name) {
  for (const auto& e : list) {
    if (e["name"].Scalar() == name) return e;
  }
  ADD_FAILURE() << "no entry " << name;
  return YAML::Node();
}

TEST(KubeconfigMergeTest, IntoEmptyFile) {
  for (const char* empty : {"", "# nothing yet\n"}) {
    auto merged = MergeKubeconfig(empty, kIncoming);
    ASSERT_TRUE(merged.ok()) << merged.status().message();
    EXPECT_EQ(merged->context, "alice@demo");
    YAML::Node out = YAML::Load(merged->yaml);
    EXPECT_EQ(out["apiVersion"].Scalar(), "v1");
    EXPECT_EQ(out["kind"].Scalar(), "Config");
    EXPECT_EQ(out["current-context"].Scalar(), "alice@demo");
    YAML::Node in = YAML::Load(kIncoming);
    for (const char* list : {"clusters", "users", "contexts"}) {
      EXPECT_TRUE(SameYaml(out[list], in[list])) << list << ":\n" << merged->yaml;
    }
    auto current = ReadCurrentContext(merged->yaml);
    ASSERT_TRUE(current.ok());
    EXPECT_EQ(current->context, "alice@demo");
    EXPECT_EQ(current->cluster, "demo");
    EXPECT_EQ(current->server, "https://10.0.0.5:6443");
  }
}

TEST(KubeconfigMergeTest, ReplacesSameNamedEntriesInPlace) {
  auto merged = MergeKubeconfig(kExisting, kIncoming);
  ASSERT_TRUE(merged.ok()) << merged.status().message();
  YAML::Node out = YAML::Load(merged->yaml);
  YAML::Node in = YAML::Load(kIncoming);
  // demo keeps its place among the clusters; alice@demo too among the users; the new
  // context is appended.
  EXPECT_EQ(Names(out["clusters"]), (std::vector<std::string>{"prod", "demo", "staging"}));
  EXPECT_EQ(Names(out["users"]), (std::vector<std::string>{"ops", "alice@demo"}));
  EXPECT_EQ(Names(out["contexts"]), (std::vector<std::string>{"prod", "staging", "alice@demo"}));
  EXPECT_TRUE(SameYaml(Entry(out["clusters"], "demo"), in["clusters"][0])) << merged->yaml;
  EXPECT_TRUE(SameYaml(Entry(out["users"], "alice@demo"), in["users"][0]));
  EXPECT_TRUE(SameYaml(Entry(out["contexts"], "alice@demo"), in["contexts"][0]));
  EXPECT_EQ(out["current-context"].Scalar(), "alice@demo");

  // Merging again changes nothing: no duplicates.
  auto again = MergeKubeconfig(merged->yaml, kIncoming);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(SameYaml(YAML::Load(again->yaml), out));
}

TEST(KubeconfigMergeTest, KeepsOtherEntriesExactly) {
  auto merged = MergeKubeconfig(kExisting, kIncoming);
  ASSERT_TRUE(merged.ok()) << merged.status().message();
  YAML::Node before = YAML::Load(kExisting);
  YAML::Node out = YAML::Load(merged->yaml);
  for (const char* name : {"prod", "staging"}) {
    EXPECT_TRUE(SameYaml(Entry(out["clusters"], name), Entry(before["clusters"], name)))
        << name << ":\n"
        << merged->yaml;
    EXPECT_TRUE(SameYaml(Entry(out["contexts"], name), Entry(before["contexts"], name))) << name;
  }
  EXPECT_TRUE(SameYaml(Entry(out["users"], "ops"), Entry(before["users"], "ops")));
  // Quoted scalars stay strings.
  EXPECT_EQ(Entry(out["users"], "ops")["user"]["token"].Tag(), "!");
  EXPECT_EQ(Entry(out["contexts"], "prod")["context"]["namespace"].Tag(), "!");
  EXPECT_EQ(Entry(out["users"], "ops")["user"]["username"].Tag(), "tag:yaml.org,2002:str");
}

TEST(KubeconfigMergeTest, KeepsUnknownTopLevelKeysAndTheirOrder) {
  auto merged = MergeKubeconfig(kExisting, kIncoming);
  ASSERT_TRUE(merged.ok()) << merged.status().message();
  YAML::Node before = YAML::Load(kExisting);
  YAML::Node out = YAML::Load(merged->yaml);
  EXPECT_EQ(Keys(out), Keys(before));
  EXPECT_TRUE(SameYaml(out["x-company-settings"], before["x-company-settings"])) << merged->yaml;
  EXPECT_TRUE(SameYaml(out["preferences"], before["preferences"]));
  EXPECT_TRUE(SameYaml(out["kind"], before["kind"]));
}

TEST(KubeconfigMergeTest, AddsMissingListsToAnExistingFile) {
  auto merged = MergeKubeconfig("apiVersion: v1\nkind: Config\nusers: []\n", kIncoming);
  ASSERT_TRUE(merged.ok()) << merged.status().message();
  YAML::Node out = YAML::Load(merged->yaml);
  EXPECT_EQ(Keys(out), (std::vector<std::string>{"apiVersion", "kind", "users", "clusters",
                                                 "contexts", "current-context"}));
  EXPECT_EQ(Names(out["users"]), std::vector<std::string>{"alice@demo"});
}

TEST(KubeconfigMergeTest, RejectsWhatIsNotAKubeconfig) {
  EXPECT_FALSE(MergeKubeconfig("- a\n- b\n", kIncoming).ok());
  EXPECT_FALSE(MergeKubeconfig("clusters: {a: b}\n", kIncoming).ok());
  EXPECT_FALSE(MergeKubeconfig("key: [unclosed\n", kIncoming).ok());
  EXPECT_FALSE(MergeKubeconfig("", "").ok());
  EXPECT_FALSE(MergeKubeconfig("", "clusters: []\nusers: []\ncontexts: []\n").ok());
}

class KubeconfigFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("kaas-cli-kubeconfig-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  static unsigned Mode(const fs::path& p) {
    struct stat st {};
    return stat(p.c_str(), &st) == 0 ? st.st_mode & 0777 : 0;
  }
  fs::path dir_;
};

TEST_F(KubeconfigFileTest, CreatesPrivateFileAndDirectory) {
  fs::path file = dir_ / ".kube" / "config";
  auto context = MergeIntoKubeconfigFile(file.string(), kIncoming);
  ASSERT_TRUE(context.ok()) << context.status().message();
  EXPECT_EQ(*context, "alice@demo");
  EXPECT_EQ(Mode(file), 0600u);
  EXPECT_EQ(Mode(dir_ / ".kube"), 0700u);
  EXPECT_FALSE(fs::exists(file.string() + ".lock"));
  EXPECT_EQ(fs::directory_iterator(dir_ / ".kube")->path(), file);  // no temp file left
}

TEST_F(KubeconfigFileTest, RewritesAnExistingFileWithMode0600) {
  fs::create_directories(dir_);
  fs::path file = dir_ / "config";
  std::ofstream(file) << kExisting;
  fs::permissions(file, fs::perms(0644));
  ASSERT_TRUE(MergeIntoKubeconfigFile(file.string(), kIncoming).ok());
  EXPECT_EQ(Mode(file), 0600u);
  std::ifstream in(file);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(ReadCurrentContext(text)->context, "alice@demo");
  EXPECT_EQ(Names(YAML::Load(text)["contexts"]).size(), 3u);
}

TEST_F(KubeconfigFileTest, WaitsForKubectlsLockThenGivesUp) {
  fs::create_directories(dir_);
  fs::path file = dir_ / "config";
  std::ofstream(file.string() + ".lock") << "";
  auto context = MergeIntoKubeconfigFile(file.string(), kIncoming);
  ASSERT_FALSE(context.ok());
  EXPECT_NE(context.status().message().find("config.lock"), std::string::npos);
  EXPECT_FALSE(fs::exists(file));
  EXPECT_TRUE(fs::exists(file.string() + ".lock"));  // someone else's lock is left alone
}

TEST(KubeconfigPathTest, FirstEntryOfKubeconfigElseHome) {
  const char* saved = std::getenv("KUBECONFIG");
  std::string saved_value = saved ? saved : "";
  setenv("KUBECONFIG", "/a/config:/b/config", 1);
  EXPECT_EQ(KubeconfigPath(), "/a/config");
  setenv("KUBECONFIG", ":/b/config", 1);
  EXPECT_EQ(KubeconfigPath(), "/b/config");
  unsetenv("KUBECONFIG");
  const char* home = std::getenv("HOME");
  EXPECT_EQ(KubeconfigPath(), std::string(home ? home : "") + "/.kube/config");
  if (saved) setenv("KUBECONFIG", saved_value.c_str(), 1);
}

TEST(KubeconfigReadTest, CurrentContextOfAForeignFile) {
  auto current = ReadCurrentContext(kExisting);
  ASSERT_TRUE(current.ok());
  EXPECT_EQ(current->context, "prod");
  EXPECT_EQ(current->cluster, "prod");
  EXPECT_EQ(current->server, "https://prod.example.com:6443");
  EXPECT_EQ(ReadCurrentContext("")->context, "");
  EXPECT_FALSE(ReadCurrentContext("a: [").ok());
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
  EXPECT_EQ(Kaas({"use"}), 2);
  EXPECT_EQ(Kaas({"use", "demo", "--ttl-hours", "0"}), 2);
  EXPECT_NE(err_.str().find("--ttl-hours must be a positive whole number"), std::string::npos);
  EXPECT_EQ(Kaas({"kubeconfig", "demo", "-o", "json"}), 2);
  EXPECT_EQ(Kaas({"token"}), 2);
  EXPECT_EQ(Kaas({"token", "create"}), 2);
  EXPECT_EQ(Kaas({"token", "revoke"}), 2);
  EXPECT_EQ(Kaas({"team", "add-member", "payments", "alice"}), 2);
  EXPECT_NE(err_.str().find("--role is required"), std::string::npos);
  EXPECT_EQ(Kaas({"team", "remove-member", "payments"}), 2);
  EXPECT_EQ(Kaas({"audit", "--limit", "many"}), 2);
  EXPECT_EQ(Kaas({"user", "create"}), 2);
}

TEST_F(RunTest, NewCommandsHaveHelp) {
  EXPECT_EQ(Kaas({"help", "use"}), 0);
  EXPECT_NE(out_.str().find("--ttl-hours"), std::string::npos);
  EXPECT_NE(out_.str().find("KUBECONFIG"), std::string::npos);
  EXPECT_EQ(Kaas({"token", "create", "--help"}), 0);
  EXPECT_NE(out_.str().find("only once"), std::string::npos);
  EXPECT_EQ(Kaas({"help", "team", "add-member"}), 0);
  EXPECT_NE(out_.str().find("--role"), std::string::npos);
  EXPECT_EQ(Kaas({"help", "audit"}), 0);
  EXPECT_EQ(Kaas({"--help"}), 0);
  for (const char* c : {"kubeconfig", "use", "token create", "user create", "users", "team members",
                        "team add-member", "team remove-member", "audit"}) {
    EXPECT_NE(out_.str().find(c), std::string::npos) << c;
  }
}

TEST_F(RunTest, QuotaIsACommandAndAGroup) {
  EXPECT_EQ(Kaas({"help", "quota"}), 0);
  EXPECT_NE(out_.str().find("kaas quota request"), std::string::npos) << out_.str();
  EXPECT_EQ(Kaas({"quota", "request", "payments", "--reason", "x"}), 2);
  EXPECT_NE(err_.str().find("at least one new limit"), std::string::npos);
  EXPECT_EQ(Kaas({"quota", "request", "payments", "--vcpus", "8"}), 2);
  EXPECT_NE(err_.str().find("--reason is required"), std::string::npos);
  EXPECT_EQ(Kaas({"quota", "requests", "--state", "open"}), 2);
  EXPECT_EQ(Kaas({"quota", "approve"}), 2);
  // "kaas quota TEAM": the team is the argument, not a subcommand.
  EXPECT_EQ(Kaas({"--server", "http://127.0.0.1:1", "quota", "payments"}), 1);
  EXPECT_NE(err_.str().find("cannot reach kaasd"), std::string::npos) << err_.str();
}

TEST_F(RunTest, LifecycleAndInventoryUsageErrors) {
  EXPECT_EQ(Kaas({"cluster", "scale", "demo"}), 2);
  EXPECT_NE(err_.str().find("either --workers N or --masters N"), std::string::npos);
  EXPECT_EQ(Kaas({"cluster", "scale", "demo", "--workers", "2", "--masters", "3"}), 2);
  EXPECT_EQ(Kaas({"cluster", "scale", "demo", "--workers", "two"}), 2);
  EXPECT_EQ(Kaas({"cluster", "scale", "demo", "--workers", "2", "--allow-colocated-masters"}), 2);
  EXPECT_EQ(Kaas({"cluster", "resize-masters", "demo"}), 2);
  EXPECT_EQ(Kaas({"cluster", "upgrade", "demo"}), 2);
  EXPECT_EQ(Kaas({"cluster", "upgrade", "demo", "--version", "1.37.2", "--max-unavailable", "0"}),
            2);
  EXPECT_EQ(Kaas({"operation", "cancel"}), 2);
  EXPECT_EQ(Kaas({"operations"}), 2);
  EXPECT_EQ(Kaas({"hypervisor"}), 2);
  EXPECT_EQ(Kaas({"hypervisor", "add", "hv7", "--uri", "qemu+ssh://hv7/system", "--vcpus", "8"}),
            2);
  EXPECT_NE(err_.str().find("--memory-gib is required"), std::string::npos);
  EXPECT_EQ(Kaas({"host", "add", "h1", "--address", "10.0.0.1", "--vcpus", "8", "--memory-gib",
                  "32", "--label", "novalue"}),
            2);
  EXPECT_NE(err_.str().find("KEY=VALUE"), std::string::npos);
  EXPECT_EQ(Kaas({"help", "host", "add"}), 0);
  EXPECT_NE(out_.str().find("--label KEY=VALUE"), std::string::npos);
}

// A stand-in kaasd for --watch: one operation of two steps, its cluster's event stream
// (which `events_status` may refuse), and GET of the operation, which tells the truth once
// the stream has sent the final event.
class FakeKaasd {
 public:
  static constexpr const char* kOp = "op-01a21cf9754c00050aebfa";

  FakeKaasd() {
    server_.Get("/api/v1/operations/" + std::string(kOp), [this](const auto&, auto& res) {
      ++operation_gets;
      std::string state = finished ? final_state : "running";
      nlohmann::json steps = nlohmann::json::array();
      steps.push_back({{"name", "provision masters"},
                       {"state", finished ? "succeeded" : "pending"},
                       {"message", ""},
                       {"attempts", finished ? 2 : 0}});
      steps.push_back({{"name", "verify cluster"},
                       {"state", finished ? final_state : "pending"},
                       {"message", ""},
                       {"attempts", finished ? 1 : 0}});
      nlohmann::json op = {
          {"id", kOp},   {"cluster_id", "cl-1"},           {"type", "create"}, {"state", state},
          {"error", ""}, {"progress", finished ? 100 : 0}, {"steps", steps}};
      if (finished && final_state == "failed") op["error"] = "boom";
      res.set_content(op.dump(), "application/json");
    });
    server_.Get("/api/v1/clusters/cl-1/events", [this](const httplib::Request& req, auto& res) {
      {
        std::lock_guard lock(mu);
        last_event_ids.push_back(req.get_header_value("Last-Event-ID"));
        afters.push_back(req.get_param_value("after"));
      }
      if (events_status != 200) {
        res.status = events_status;
        res.set_content(R"({"error":{"code":"not_found","message":"no"}})", "application/json");
        return;
      }
      // The first connection ends after `break_after` events; the next resumes.
      size_t from = 0;
      if (std::string id = req.get_header_value("Last-Event-ID"); !id.empty()) {
        from = static_cast<size_t>(std::stoi(id.substr(3)));
      }
      res.set_chunked_content_provider(
          "text/event-stream", [this, from](size_t, httplib::DataSink& sink) {
            size_t end = from == 0 ? std::min(break_after, events.size()) : events.size();
            std::string out = "retry: 1000\n\n";
            for (size_t i = from; i < end; ++i) {
              if (i + 1 == events.size()) finished = true;
              out += "id: ev-" + std::to_string(i + 1) + "\nevent: " + events[i].first +
                     "\ndata: " + events[i].second + "\n\n";
            }
            sink.write(out.data(), out.size());
            sink.done();
            return true;
          });
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ~FakeKaasd() {
    server_.stop();
    thread_.join();
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // The stream: a failed first run (as a retried operation has), then the run that ends it.
  void Script(const std::string& end_state) {
    final_state = end_state;
    auto op = [](const std::string& state) {
      return nlohmann::json{
          {"operation", kOp}, {"type", "create"}, {"state", state}, {"error", ""}, {"progress", 0}}
          .dump();
    };
    auto step = [](int index, const char* name, const char* state, int attempts) {
      return nlohmann::json{{"operation", kOp}, {"index", index}, {"name", name},
                            {"state", state},   {"message", ""},  {"attempts", attempts}}
          .dump();
    };
    events = {{"operation", op("running")},
              {"step", step(0, "provision masters", "failed", 1)},
              {"cluster", R"({"status":"error","status_reason":"x"})"},
              {"operation", op("failed")},
              {"operation", op("running")},
              {"step", step(0, "provision masters", "running", 2)},
              {"step", step(0, "provision masters", "succeeded", 2)},
              {"step", step(1, "verify cluster", end_state.c_str(), 1)},
              {"operation", op(end_state)}};
  }

  std::vector<std::pair<std::string, std::string>> events;
  size_t break_after = 1000;
  int events_status = 200;
  std::string final_state = "succeeded";
  std::atomic<bool> finished{false};
  std::atomic<int> operation_gets{0};
  std::mutex mu;
  std::vector<std::string> last_event_ids, afters;

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

TEST_F(RunTest, WatchFollowsTheEventStreamAndResumesAfterABreak) {
  FakeKaasd fake;
  fake.Script("succeeded");
  fake.break_after = 5;  // the stream ends after the retried run started
  EXPECT_EQ(Kaas({"--server", fake.url(), "operation", "show", FakeKaasd::kOp, "--watch"}), 0)
      << err_.str();
  std::string out = out_.str();
  // Each transition once, in order; the first run's end did not end the watch.
  for (const char* line :
       {"operation op-01a21cf9754c00050aebfa (create)\n  · provision masters\n  · verify cluster\n"
        "  ✗ provision masters\n  ▶ provision masters (attempt 2)\n"
        "  ✓ provision masters (attempt 2)\n  ✓ verify cluster\n[##########] 100%\n"
        "operation op-01a21cf9754c00050aebfa succeeded\n"}) {
    EXPECT_NE(out.find(line), std::string::npos) << out;
  }
  EXPECT_EQ(err_.str(), "");
  std::lock_guard lock(fake.mu);
  ASSERT_EQ(fake.last_event_ids.size(), 2u);
  EXPECT_EQ(fake.last_event_ids[0], "");
  EXPECT_EQ(fake.last_event_ids[1], "ev-5");
  EXPECT_EQ(fake.afters[0], "ev-01a21cf9754c0005");  // from just before the operation
}

TEST_F(RunTest, WatchEndsWithTheOperationsOutcome) {
  FakeKaasd fake;
  fake.Script("failed");
  EXPECT_EQ(Kaas({"--server", fake.url(), "operation", "show", FakeKaasd::kOp, "--watch"}), 1);
  EXPECT_NE(err_.str().find("operation op-01a21cf9754c00050aebfa failed: boom"), std::string::npos)
      << err_.str();
}

TEST_F(RunTest, WatchPollsWhenThereIsNoEventStream) {
  FakeKaasd fake;
  fake.events_status = 404;
  std::thread finisher([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    fake.finished = true;
  });
  int rc = Kaas({"--server", fake.url(), "operation", "show", FakeKaasd::kOp, "--watch"});
  finisher.join();
  EXPECT_EQ(rc, 0) << err_.str();
  EXPECT_NE(err_.str().find("by polling"), std::string::npos) << err_.str();
  EXPECT_NE(out_.str().find("✓ verify cluster"), std::string::npos) << out_.str();
  EXPECT_GE(fake.operation_gets.load(), 3);
}

// A stand-in kaasd for the confirmation of destructive changes: cluster cl-1 ("web", dev,
// 3 masters, 3 workers), its dry runs and real submits (counted), and /flavors.
class FakeChangeKaasd {
 public:
  FakeChangeKaasd() {
    server_.Get("/api/v1/clusters/cl-1", [this](const auto&, auto& res) {
      res.set_content(Cluster().dump(), "application/json");
    });
    // The list by selector (kaas cluster delete -l): env=test matches cl-1, nothing else does;
    // after `vanish_after` lists, cl-1 no longer matches (someone relabeled it).
    server_.Get("/api/v1/clusters", [this](const httplib::Request& req, auto& res) {
      std::lock_guard lock(mu);
      selectors.push_back(req.get_param_value("selector"));
      nlohmann::json items = nlohmann::json::array();
      if (selectors.back() == "env=test" && static_cast<int>(selectors.size()) <= vanish_after) {
        nlohmann::json c = Cluster();
        c.erase("nodes");
        items.push_back(c);
      }
      res.set_content(nlohmann::json{{"items", items}, {"next_cursor", ""}}.dump(),
                      "application/json");
    });
    server_.Get("/api/v1/flavors", [](const auto&, auto& res) {
      res.set_content(R"({"master_counts":{"personal":1,"dev":3,"prod":5}})", "application/json");
    });
    auto change = [this](const httplib::Request& req, httplib::Response& res) {
      bool dry = req.get_param_value("dry_run") == "true";
      std::string what = req.path.substr(req.path.rfind('/') + 1);
      nlohmann::json body =
          req.body.empty() ? nlohmann::json::object() : nlohmann::json::parse(req.body);
      std::lock_guard lock(mu);
      if (dry)
        ++dry_runs;
      else
        ++submits;
      if (busy && !dry) {
        res.status = 409;
        res.set_content(R"({"error":{"code":"operation_in_progress","message":"busy"}})",
                        "application/json");
        return;
      }
      // After `change_after` dry runs, a colleague has added a worker: the plan differs.
      int workers = dry_runs > change_after ? 4 : 3;
      nlohmann::json steps = nlohmann::json::array();
      std::string type;
      if (what == "cl-1") {
        type = "delete";
        for (const char* s : {"remove workers", "remove masters", "release cluster"})
          steps.push_back({{"name", s}});
      } else if (what == "masters") {
        type = "scale_masters";
        for (const char* s : {"health gate (3 etcd voters)", "remove master-3 from etcd",
                              "destroy master-3", "health gate (2 etcd voters)",
                              "remove master-2 from etcd", "destroy master-2", "verify cluster"})
          steps.push_back({{"name", s}});
      } else {
        type = "scale_workers";
        int target = body.value("count", 0);
        std::string label;
        for (int i = workers; i > target; --i)
          label += (label.empty() ? "" : ", ") + ("worker-" + std::to_string(i));
        steps.push_back({{"name", "drain " + label}});
        steps.push_back({{"name", "remove " + label}});
        steps.push_back({{"name", "verify cluster"}});
      }
      nlohmann::json cluster = Cluster(workers);
      nlohmann::json op = {{"id", "op-1"}, {"type", type}, {"state", "pending"}, {"steps", steps}};
      res.status = dry ? 200 : 202;
      res.set_content(nlohmann::json{{"cluster", cluster}, {"operation", op}}.dump(),
                      "application/json");
    };
    server_.Post("/api/v1/clusters/cl-1/workers", change);
    server_.Post("/api/v1/clusters/cl-1/masters", change);
    server_.Delete("/api/v1/clusters/cl-1", change);
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ~FakeChangeKaasd() {
    server_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  static nlohmann::json Cluster(int workers = 3) {
    nlohmann::json nodes = nlohmann::json::array();
    for (int i = 1; i <= 3; ++i)
      nodes.push_back({{"name", "master-" + std::to_string(i)},
                       {"role", "master"},
                       {"kind", "vm"},
                       {"flavor", "m.small"},
                       {"vcpus", 4},
                       {"memory_gib", 4},
                       {"state", "ready"},
                       {"hypervisor", "sim-" + std::to_string(i)}});
    for (int i = 1; i <= workers; ++i)
      nodes.push_back({{"name", "worker-" + std::to_string(i)},
                       {"role", "worker"},
                       {"kind", "vm"},
                       {"flavor", "w.medium"},
                       {"vcpus", 4},
                       {"memory_gib", 8},
                       {"state", "ready"},
                       {"hypervisor", "sim-1"}});
    return {{"id", "cl-1"},
            {"name", "web"},
            {"team", "payments"},
            {"purpose", "dev"},
            {"status", "running"},
            {"masters", {{"count", 3}, {"flavor", "m.small"}, {"kind", "vm"}}},
            {"workers", {{"count", workers}, {"flavor", "w.medium"}, {"kind", "vm"}}},
            {"labels", {{"env", "test"}, {"tier", "web"}}},
            {"nodes", nodes}};
  }

  std::mutex mu;
  int dry_runs = 0;
  int submits = 0;
  int change_after = 1000;
  bool busy = false;
  std::vector<std::string> selectors;  // of every list request
  int vanish_after = 1000;

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

class ConfirmTest : public RunTest {
 protected:
  int Kaas(const std::vector<std::string>& args, const std::string& input, bool tty) {
    setenv("KAAS_CONFIG", (dir_ / "config.yaml").c_str(), 1);
    out_.str("");
    err_.str("");
    std::istringstream in(input);
    Io io{in, out_, err_, false, 80, tty};
    int rc = cli::Run(args, io);
    unsetenv("KAAS_CONFIG");
    return rc;
  }
  FakeChangeKaasd fake_;
};

TEST_F(ConfirmTest, ScaleInWithoutATerminalShowsThePlanAndRefuses) {
  EXPECT_EQ(
      Kaas({"--server", fake_.url(), "cluster", "scale", "cl-1", "--workers", "1"}, "y\n", false),
      2);
  EXPECT_NE(out_.str().find("Plan to scale workers to 1 in cluster web"), std::string::npos)
      << out_.str();
  EXPECT_NE(out_.str().find("drain worker-3, worker-2"), std::string::npos) << out_.str();
  EXPECT_NE(out_.str().find("2 workers drained and removed"), std::string::npos) << out_.str();
  EXPECT_NE(err_.str().find("stdin is not a terminal"), std::string::npos) << err_.str();
  EXPECT_NE(err_.str().find("--yes"), std::string::npos) << err_.str();
  EXPECT_EQ(fake_.submits, 0);
}

TEST_F(ConfirmTest, ScaleInAsksAndANoChangesNothing) {
  EXPECT_EQ(
      Kaas({"--server", fake_.url(), "cluster", "scale", "cl-1", "--workers", "2"}, "n\n", true),
      1);
  EXPECT_NE(out_.str().find("Do it? [y/N]"), std::string::npos) << out_.str();
  EXPECT_NE(out_.str().find("Nothing was changed."), std::string::npos) << out_.str();
  EXPECT_EQ(fake_.submits, 0);
  EXPECT_EQ(Kaas({"--server", fake_.url(), "cluster", "scale", "cl-1", "--workers", "2"}, "", true),
            1);
  EXPECT_EQ(fake_.submits, 0);  // end of input is a no
}

TEST_F(ConfirmTest, AYesSubmitsTheCheckedPlanOnce) {
  EXPECT_EQ(
      Kaas({"--server", fake_.url(), "cluster", "scale", "cl-1", "--workers", "2"}, "y\n", true), 0)
      << err_.str();
  EXPECT_EQ(fake_.dry_runs, 2);  // the plan shown, then the same plan checked before the submit
  EXPECT_EQ(fake_.submits, 1);
  EXPECT_NE(out_.str().find("operation: op-1"), std::string::npos) << out_.str();
  EXPECT_EQ(err_.str(), "");
}

TEST_F(ConfirmTest, APlanThatChangedIsShownAgainNotSubmitted) {
  fake_.change_after = 1;  // a worker appears between the plan shown and the confirmation
  EXPECT_EQ(
      Kaas({"--server", fake_.url(), "cluster", "scale", "cl-1", "--workers", "2"}, "y\nn\n", true),
      1);
  std::string out = out_.str();
  EXPECT_NE(out.find("The cluster changed since the plan was shown; nothing was submitted"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("drain worker-4, worker-3"), std::string::npos) << out;
  EXPECT_EQ(fake_.submits, 0);
  EXPECT_EQ(
      Kaas({"--server", fake_.url(), "cluster", "scale", "cl-1", "--workers", "2"}, "y\ny\n", true),
      0);
  EXPECT_EQ(fake_.submits, 1);
}

TEST_F(ConfirmTest, ThreeToOneMastersNeedsTheName) {
  EXPECT_EQ(
      Kaas({"--server", fake_.url(), "cluster", "scale", "cl-1", "--masters", "1"}, "y\n", true),
      1);
  std::string out = out_.str();
  EXPECT_NE(out.find("the cluster will no longer survive the loss of a master"), std::string::npos)
      << out;
  EXPECT_NE(out.find("1 master is fewer than a dev cluster has by default (3)"), std::string::npos)
      << out;
  EXPECT_NE(out.find("Type the cluster's name (web) to confirm"), std::string::npos) << out;
  EXPECT_NE(out.find("master-3"), std::string::npos) << out;
  EXPECT_EQ(fake_.submits, 0);
  EXPECT_EQ(
      Kaas({"--server", fake_.url(), "cluster", "scale", "cl-1", "--masters", "1"}, "web\n", true),
      0);
  EXPECT_EQ(fake_.submits, 1);
}

TEST_F(ConfirmTest, DeleteNeedsTheNameAndA409IsSaid) {
  fake_.busy = true;
  EXPECT_EQ(Kaas({"--server", fake_.url(), "cluster", "delete", "cl-1"}, "web\n", true), 1);
  EXPECT_NE(out_.str().find("this cannot be undone"), std::string::npos) << out_.str();
  EXPECT_NE(err_.str().find("busy (operation_in_progress)"), std::string::npos) << err_.str();
}

TEST_F(ConfirmTest, YesAndScaleOutDoNotAsk) {
  EXPECT_EQ(Kaas({"--server", fake_.url(), "cluster", "delete", "cl-1", "--yes"}, "", false), 0);
  EXPECT_EQ(fake_.dry_runs, 0);
  EXPECT_EQ(fake_.submits, 1);
  EXPECT_EQ(
      Kaas({"--server", fake_.url(), "cluster", "scale", "cl-1", "--workers", "5"}, "", false), 0)
      << err_.str();
  EXPECT_EQ(fake_.dry_runs, 0);
  EXPECT_EQ(fake_.submits, 2);
}

TEST_F(ConfirmTest, DeleteBySelectorWithoutATerminalListsAndRefuses) {
  EXPECT_EQ(Kaas({"--server", fake_.url(), "cluster", "delete", "-l", "env=test"}, "1\n", false),
            2);
  EXPECT_NE(out_.str().find("To delete: 1 cluster matching env=test"), std::string::npos)
      << out_.str();
  EXPECT_NE(out_.str().find("env=test,tier=web"), std::string::npos) << out_.str();
  EXPECT_NE(err_.str().find("refusing to delete 1 cluster without confirmation"), std::string::npos)
      << err_.str();
  EXPECT_NE(err_.str().find("--yes"), std::string::npos) << err_.str();
  EXPECT_EQ(fake_.submits, 0);
  EXPECT_EQ(fake_.dry_runs, 0);
}

TEST_F(ConfirmTest, DeleteBySelectorAsksForTheCountAndChecksTheListAgain) {
  EXPECT_EQ(Kaas({"--server", fake_.url(), "cluster", "delete", "-l", "env=test"}, "y\n", true), 1);
  EXPECT_NE(out_.str().find("Type the number of clusters (1) to confirm"), std::string::npos)
      << out_.str();
  EXPECT_NE(out_.str().find("Nothing was changed."), std::string::npos) << out_.str();
  EXPECT_EQ(fake_.submits, 0);

  fake_.vanish_after = static_cast<int>(fake_.selectors.size()) + 1;  // relabeled meanwhile
  EXPECT_EQ(Kaas({"--server", fake_.url(), "cluster", "delete", "-l", "env=test"}, "1\n", true), 1);
  EXPECT_NE(out_.str().find("changed since the list was shown; nothing was deleted"),
            std::string::npos)
      << out_.str();
  EXPECT_EQ(fake_.submits, 0);

  fake_.vanish_after = 1000;
  EXPECT_EQ(Kaas({"--server", fake_.url(), "cluster", "delete", "-l", "env=test"}, "1\n", true), 0)
      << err_.str();
  EXPECT_EQ(fake_.submits, 1);
  EXPECT_NE(out_.str().find("Deleting cluster web (cl-1) of team payments"), std::string::npos)
      << out_.str();
  EXPECT_EQ(fake_.selectors.back(), "env=test");  // the selector went to kaasd as typed
}

TEST_F(ConfirmTest, DeleteBySelectorDryRunYesAndNoMatch) {
  EXPECT_EQ(Kaas({"--server", fake_.url(), "cluster", "delete", "-l", "env=test", "--dry-run"}, "",
                 false),
            0);
  EXPECT_NE(out_.str().find("Would delete 1 cluster matching env=test (dry run"), std::string::npos)
      << out_.str();
  EXPECT_EQ(fake_.dry_runs, 1);  // kaasd was asked whether the delete would be admitted
  EXPECT_EQ(fake_.submits, 0);
  fake_.busy = true;  // a refused delete is said, and the others would still go
  EXPECT_EQ(
      Kaas({"--server", fake_.url(), "cluster", "delete", "-l", "env=test", "--yes"}, "", false),
      1);
  EXPECT_NE(err_.str().find("web (cl-1): busy (operation_in_progress)"), std::string::npos)
      << err_.str();
  EXPECT_EQ(Kaas({"--server", fake_.url(), "cluster", "delete", "-l", "env=prod"}, "", false), 0);
  EXPECT_NE(out_.str().find("No clusters match env=prod; nothing to delete."), std::string::npos)
      << out_.str();
  // An empty selector would match everything; a name and a selector together are ambiguous.
  EXPECT_EQ(Kaas({"--server", fake_.url(), "cluster", "delete", "-l", " "}, "", false), 2);
  EXPECT_EQ(
      Kaas({"--server", fake_.url(), "cluster", "delete", "web", "-l", "env=test"}, "", false), 2);
  EXPECT_EQ(Kaas({"--server", fake_.url(), "cluster", "delete"}, "", false), 2);
  EXPECT_EQ(fake_.submits, 1);  // only the busy one was sent
}

TEST_F(ConfirmTest, LabelChecksArgumentsAndNeedsOverwriteToChangeAValue) {
  EXPECT_EQ(Kaas({"--server", fake_.url(), "cluster", "label", "cl-1", "tier"}, "", false), 2);
  EXPECT_NE(err_.str().find("neither KEY=VALUE (set) nor KEY- (remove)"), std::string::npos)
      << err_.str();
  EXPECT_EQ(Kaas({"--server", fake_.url(), "cluster", "label", "cl-1", "-bad=x"}, "", false), 2);
  EXPECT_EQ(Kaas({"--server", fake_.url(), "cluster", "label", "cl-1", "env=a b"}, "", false), 2);
  EXPECT_EQ(Kaas({"--server", fake_.url(), "cluster", "label", "cl-1", "tier=db"}, "", false), 1);
  EXPECT_NE(err_.str().find("label tier of cluster web already has a value (web); add "
                            "--overwrite"),
            std::string::npos)
      << err_.str();
}

TEST(CredentialTest, Rfc3339RoundTripsInUtc) {
  EXPECT_EQ(FormatRfc3339(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(ParseRfc3339("2026-12-02T17:05:00Z"), std::optional<int64_t>(1796231100));
  EXPECT_EQ(ParseRfc3339(FormatRfc3339(1796231100)), std::optional<int64_t>(1796231100));
  EXPECT_EQ(ParseRfc3339("2026-12-02T17:05:00.123Z"), std::optional<int64_t>(1796231100));
  EXPECT_FALSE(ParseRfc3339("2026-12-02T17:05:00+01:00"));
  EXPECT_FALSE(ParseRfc3339("tomorrow"));
}

TEST(CredentialTest, OnlyAFreshExecCredentialIsTakenFromTheCache) {
  fs::path dir = fs::temp_directory_path() / ("kaas-cred-" + std::to_string(getpid()));
  fs::create_directories(dir);
  std::string path = (dir / "c.json").string();
  EXPECT_FALSE(FreshCachedCredential(path, 1000));  // missing
  auto write = [&](const nlohmann::json& j) { std::ofstream(path) << j.dump(); };
  nlohmann::json c = {{"apiVersion", kExecApiVersion},
                      {"kind", "ExecCredential"},
                      {"status",
                       {{"clientCertificateData", "CERT"},
                        {"clientKeyData", "KEY"},
                        {"expirationTimestamp", FormatRfc3339(2000)}}}};
  write(c);
  EXPECT_TRUE(FreshCachedCredential(path, 1999));
  EXPECT_FALSE(FreshCachedCredential(path, 2000));  // expired at that second
  c["kind"] = "Other";
  write(c);
  EXPECT_FALSE(FreshCachedCredential(path, 1000));
  std::ofstream(path) << "not json";
  EXPECT_FALSE(FreshCachedCredential(path, 1000));
  fs::remove_all(dir);
}

TEST(CredentialTest, CachePathsAreDistinctPerServerUserTeamAndCluster) {
  std::string a = CredentialCachePath("/c", "http://h:1", "alice", "", "cl-1");
  EXPECT_EQ(a.rfind("/c/credentials/", 0), 0u) << a;
  EXPECT_EQ(a.find('/', 15), std::string::npos) << a;  // the server's slashes are escaped
  EXPECT_NE(a, CredentialCachePath("/c", "http://h:2", "alice", "", "cl-1"));
  EXPECT_NE(a, CredentialCachePath("/c", "http://h:1", "bob", "", "cl-1"));
  EXPECT_NE(a, CredentialCachePath("/c", "http://h:1", "alice", "t", "cl-1"));
  EXPECT_NE(a, CredentialCachePath("/c", "http://h:1", "alice", "", "cl-2"));
}

TEST(CredentialTest, ExecUserReplacesTheCertificateAndKeepsTheCluster) {
  const std::string yaml = R"(apiVersion: v1
kind: Config
clusters:
- name: demo
  cluster: {server: "https://10.0.0.1:6443", certificate-authority-data: Q0E=}
users:
- name: alice@demo
  user: {client-certificate-data: Q0VSVA==, client-key-data: S0VZ}
contexts:
- name: alice@demo
  context: {cluster: demo, user: alice@demo}
current-context: alice@demo
)";
  auto out = WithExecUser(yaml, {"/bin/kaas", "credential", "cl-1"}, {{"KAAS_CONFIG", "/c.yaml"}},
                          "install kaas");
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  YAML::Node k = YAML::Load(*out);
  YAML::Node user = k["users"][0]["user"];
  EXPECT_FALSE(user["client-certificate-data"]);
  EXPECT_EQ(user["exec"]["apiVersion"].as<std::string>(), "client.authentication.k8s.io/v1");
  EXPECT_EQ(user["exec"]["command"].as<std::string>(), "/bin/kaas");
  EXPECT_EQ(user["exec"]["args"][1].as<std::string>(), "cl-1");
  EXPECT_EQ(user["exec"]["env"][0]["value"].as<std::string>(), "/c.yaml");
  EXPECT_EQ(user["exec"]["interactiveMode"].as<std::string>(), "Never");
  EXPECT_EQ(k["clusters"][0]["cluster"]["server"].as<std::string>(), "https://10.0.0.1:6443");
  EXPECT_EQ(k["current-context"].as<std::string>(), "alice@demo");
  // kaasd's kubeconfig without a usable certificate is refused, not turned into garbage.
  EXPECT_FALSE(ReadClientCredential(yaml).ok());
}

TEST_F(RunTest, UnreachableServerNamesIt) {
  // Port 1 on loopback: nothing listens there, so the connection is refused at once.
  EXPECT_EQ(Kaas({"--server", "http://127.0.0.1:1", "versions"}), 1);
  EXPECT_NE(err_.str().find("cannot reach kaasd at http://127.0.0.1:1"), std::string::npos)
      << err_.str();
}

}  // namespace
}  // namespace kaas::cli
