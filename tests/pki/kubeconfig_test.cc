#include "kaas/pki/kubeconfig.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "kaas/pki/certificates.h"
#include "pki_test_util.h"

namespace kaas::pki {
namespace {

using test::Quote;
using test::Sh;
using test::TempDir;

std::string Decode(const YAML::Node& node) {
  std::vector<unsigned char> bin = YAML::DecodeBase64(node.as<std::string>());
  return std::string(bin.begin(), bin.end());
}

// The kubectl a user would run: /usr/local/bin first, then PATH. Empty when there is none.
std::string FindKubectl() {
  if (access("/usr/local/bin/kubectl", X_OK) == 0) return "/usr/local/bin/kubectl";
  const char* path = getenv("PATH");
  std::string dirs = path != nullptr ? path : "";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string candidate = dirs.substr(start, end - start) + "/kubectl";
    if (end > start && access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return "";
}

class KubeconfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pki = IssueClusterPki("billing-dev", test::NowS());
    ASSERT_TRUE(pki.ok()) << pki.status().ToString();
    pki_ = std::move(pki).value();
    auto cert = IssueClientCert(pki_.ca.cert_pem, pki_.ca.key_pem, "alice", {"payments"}, 3600,
                                test::NowS());
    ASSERT_TRUE(cert.ok()) << cert.status().ToString();
    cert_ = std::move(cert).value();
    yaml_ = RenderKubeconfig("billing-dev", "https://10.0.0.10:6443", pki_.ca.cert_pem, "alice",
                             cert_.cert_pem, cert_.key_pem);
    file_ = dir_.Write("kubeconfig", yaml_);
  }

  // Runs kubectl against our file only, with a scratch HOME so that nothing of the user's
  // ~/.kube is read or written.
  test::CommandResult Kubectl(const std::string& kubectl, const std::string& args) {
    return Sh("HOME=" + Quote(dir_.path()) + " KUBECONFIG= " + Quote(kubectl) + " " + args +
              " --kubeconfig " + Quote(file_));
  }

  TempDir dir_;
  ClusterPki pki_;
  ClientCert cert_;
  std::string yaml_;
  std::string file_;
};

#define REQUIRE_KUBECTL(var)                                                            \
  const std::string var = FindKubectl();                                                \
  if (var.empty()) {                                                                    \
    GTEST_SKIP() << "kubectl not found in /usr/local/bin or on PATH; cannot check the " \
                    "kubeconfig with the real client";                                  \
  }

TEST_F(KubeconfigTest, IsAV1ConfigWithClusterUserAndCurrentContext) {
  YAML::Node doc = YAML::Load(yaml_);
  EXPECT_EQ(doc["apiVersion"].as<std::string>(), "v1");
  EXPECT_EQ(doc["kind"].as<std::string>(), "Config");

  ASSERT_EQ(doc["clusters"].size(), 1u);
  const YAML::Node cluster = doc["clusters"][0];
  EXPECT_EQ(cluster["name"].as<std::string>(), "billing-dev");
  EXPECT_EQ(cluster["cluster"]["server"].as<std::string>(), "https://10.0.0.10:6443");
  EXPECT_EQ(Decode(cluster["cluster"]["certificate-authority-data"]), pki_.ca.cert_pem);

  ASSERT_EQ(doc["users"].size(), 1u);
  const YAML::Node user = doc["users"][0];
  EXPECT_EQ(user["name"].as<std::string>(), "alice@billing-dev");
  EXPECT_EQ(Decode(user["user"]["client-certificate-data"]), cert_.cert_pem);
  EXPECT_EQ(Decode(user["user"]["client-key-data"]), cert_.key_pem);

  ASSERT_EQ(doc["contexts"].size(), 1u);
  const YAML::Node context = doc["contexts"][0];
  EXPECT_EQ(context["name"].as<std::string>(), "alice@billing-dev");
  EXPECT_EQ(context["context"]["cluster"].as<std::string>(), "billing-dev");
  EXPECT_EQ(context["context"]["user"].as<std::string>(), "alice@billing-dev");
  EXPECT_EQ(doc["current-context"].as<std::string>(), "alice@billing-dev");
}

TEST_F(KubeconfigTest, KubectlConfigViewListsTheClusterAndUser) {
  REQUIRE_KUBECTL(kubectl);
  auto view = Kubectl(kubectl, "config view");
  ASSERT_EQ(view.exit_code, 0) << view.output;
  YAML::Node doc = YAML::Load(view.output);
  ASSERT_EQ(doc["clusters"].size(), 1u) << view.output;
  EXPECT_EQ(doc["clusters"][0]["name"].as<std::string>(), "billing-dev");
  EXPECT_EQ(doc["clusters"][0]["cluster"]["server"].as<std::string>(), "https://10.0.0.10:6443");
  EXPECT_EQ(doc["clusters"][0]["cluster"]["certificate-authority-data"].as<std::string>(),
            "DATA+OMITTED");
  ASSERT_EQ(doc["users"].size(), 1u) << view.output;
  EXPECT_EQ(doc["users"][0]["name"].as<std::string>(), "alice@billing-dev");
  EXPECT_EQ(doc["users"][0]["user"]["client-key-data"].as<std::string>(), "DATA+OMITTED");
  EXPECT_EQ(doc["current-context"].as<std::string>(), "alice@billing-dev");

  auto context = Kubectl(kubectl, "config current-context");
  EXPECT_EQ(context.exit_code, 0) << context.output;
  EXPECT_EQ(context.output, "alice@billing-dev\n");
}

TEST_F(KubeconfigTest, KubectlRawViewGivesBackTheSameCredentials) {
  REQUIRE_KUBECTL(kubectl);
  auto view = Kubectl(kubectl, "config view --raw");
  ASSERT_EQ(view.exit_code, 0) << view.output;
  YAML::Node doc = YAML::Load(view.output);
  YAML::Node ours = YAML::Load(yaml_);
  EXPECT_EQ(doc["clusters"][0]["cluster"]["certificate-authority-data"].as<std::string>(),
            ours["clusters"][0]["cluster"]["certificate-authority-data"].as<std::string>());
  EXPECT_EQ(Decode(doc["clusters"][0]["cluster"]["certificate-authority-data"]), pki_.ca.cert_pem);
  EXPECT_EQ(Decode(doc["users"][0]["user"]["client-certificate-data"]), cert_.cert_pem);
  EXPECT_EQ(Decode(doc["users"][0]["user"]["client-key-data"]), cert_.key_pem);

  // What kubectl hands back is a client certificate the cluster CA vouches for.
  std::string ca =
      dir_.Write("ca.pem", Decode(doc["clusters"][0]["cluster"]["certificate-authority-data"]));
  std::string client =
      dir_.Write("client.pem", Decode(doc["users"][0]["user"]["client-certificate-data"]));
  auto verify = Sh("openssl verify -purpose sslclient -CAfile " + Quote(ca) + " " + Quote(client));
  EXPECT_EQ(verify.exit_code, 0) << verify.output;
  EXPECT_NE(verify.output.find(": OK"), std::string::npos) << verify.output;
}

TEST_F(KubeconfigTest, NamesThatLookLikeOtherYamlTypesStayStrings) {
  REQUIRE_KUBECTL(kubectl);
  yaml_ = RenderKubeconfig("007", "https://127.0.0.1:6443", pki_.ca.cert_pem, "null",
                           cert_.cert_pem, cert_.key_pem);
  file_ = dir_.Write("kubeconfig", yaml_);
  auto context = Kubectl(kubectl, "config current-context");
  EXPECT_EQ(context.exit_code, 0) << context.output;
  EXPECT_EQ(context.output, "null@007\n");
  auto view = Kubectl(kubectl, "config view -o jsonpath={.clusters[0].name}");
  EXPECT_EQ(view.exit_code, 0) << view.output;
  EXPECT_EQ(view.output, "007");
}

// kubectl really authenticates with the kubeconfig: a TLS server holding a certificate from
// the cluster CA and demanding a client certificate from the same CA answers kubectl.
TEST_F(KubeconfigTest, KubectlCompletesMutualTlsWithTheClusterCa) {
  REQUIRE_KUBECTL(kubectl);
  // A server certificate for 127.0.0.1, signed by the cluster CA with the openssl CLI.
  const std::string ca = dir_.Write("ca.pem", pki_.ca.cert_pem);
  const std::string ca_key = dir_.Write("ca.key", pki_.ca.key_pem);
  const std::string ext =
      dir_.Write("server.ext", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
  auto issue = Sh("cd " + Quote(dir_.path()) +
                  " && openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
                  "-subj /CN=kube-apiserver -keyout server.key -out server.csr"
                  " && openssl x509 -req -in server.csr -CA " +
                  Quote(ca) + " -CAkey " + Quote(ca_key) + " -set_serial 1 -days 1 -extfile " +
                  Quote(ext) + " -out server.pem");
  ASSERT_EQ(issue.exit_code, 0) << issue.output;
  dir_.Write("version", "{\"major\":\"1\",\"minor\":\"32\",\"gitVersion\":\"v1.32.0\"}\n");

  // openssl s_server -WWW serves files of its working directory; -Verify demands a client cert.
  const std::string log = dir_.File("s_server.log");
  auto start = Sh("cd " + Quote(dir_.path()) +
                  " && { openssl s_server -accept 127.0.0.1:0 -naccept 5 -WWW -cert server.pem "
                  "-key server.key -CAfile ca.pem -Verify 1 -verify_return_error > " +
                  Quote(log) + " 2>&1 & echo $!; }");
  ASSERT_EQ(start.exit_code, 0) << start.output;
  const pid_t server = static_cast<pid_t>(std::stol(start.output));
  std::string port;
  for (int i = 0; i < 100 && port.empty(); ++i) {
    std::string out = test::ReadFile(log);
    size_t at = out.find("ACCEPT 127.0.0.1:");
    if (at != std::string::npos && out.find('\n', at) != std::string::npos) {
      port = out.substr(at + 17, out.find('\n', at) - at - 17);
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  if (port.empty()) {
    kill(server, SIGTERM);
    FAIL() << "openssl s_server did not start: " << test::ReadFile(log);
  }

  yaml_ = RenderKubeconfig("billing-dev", "https://127.0.0.1:" + port, pki_.ca.cert_pem, "alice",
                           cert_.cert_pem, cert_.key_pem);
  file_ = dir_.Write("kubeconfig", yaml_);
  auto get = Kubectl(kubectl, "get --raw /version");
  kill(server, SIGTERM);
  EXPECT_EQ(get.exit_code, 0) << get.output << "\nserver log:\n" << test::ReadFile(log);
  EXPECT_NE(get.output.find("v1.32.0"), std::string::npos) << get.output;
  // And the server saw alice of payments.
  EXPECT_NE(test::ReadFile(log).find("CN = alice"), std::string::npos) << test::ReadFile(log);
}

}  // namespace
}  // namespace kaas::pki
