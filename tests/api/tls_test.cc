// kaasd over TLS (DESIGN.md §6.1): --tls-cert/--tls-key serve HTTPS only, with a certificate
// from a private CA made here by the openssl command; plain HTTP to that port gets no answer,
// a client that does not trust the CA refuses the server, and `kaas login --ca-file` works.

#include <gtest/gtest.h>
#include <stdio.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "kaasd_process.h"

namespace kaas::testing {
namespace {

namespace fs = std::filesystem;

// Runs a shell command; its exit status and combined output.
int Shell(const std::string& cmd, std::string* out = nullptr) {
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return -1;
  char buf[4096];
  size_t n;
  std::string text;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) text.append(buf, n);
  int status = pclose(p);
  if (out) *out = text;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kaas-tls-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    // A private CA and a server certificate for 127.0.0.1 signed by it (P-256).
    std::ofstream(dir_ / "server.ext") << "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                                          "basicConstraints=CA:FALSE\n"
                                          "extendedKeyUsage=serverAuth\n";
    std::string d = dir_.string(), out;
    std::string ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
    ASSERT_EQ(Shell("cd " + d + " && openssl req -x509 " + ec +
                        " -keyout ca.key -out ca.pem -days 2 -subj /CN=kaas-test-ca &&"
                        " openssl req " +
                        ec +
                        " -keyout server.key -out server.csr -subj /CN=127.0.0.1 &&"
                        " openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key"
                        " -CAcreateserial -days 2 -extfile server.ext -out server.pem",
                    &out),
              0)
        << out;
    kaasd_ = std::make_unique<KaasdProcess>(std::vector<std::string>{
        "--tls-cert", (dir_ / "server.pem").string(), "--tls-key", (dir_ / "server.key").string()});
    kaasd_->UseTls((dir_ / "ca.pem").string());
  }
  void TearDown() override {
    kaasd_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  fs::path dir_;
  std::unique_ptr<KaasdProcess> kaasd_;
};

TEST_F(TlsTest, ServesHttpsWithTheGivenCertificateAndNothingInPlain) {
  ASSERT_TRUE(kaasd_->Start());  // /readyz answered over verified TLS
  ASSERT_FALSE(kaasd_->LoginAdmin().empty());
  auto me = kaasd_->Call("GET", "/api/v1/me");
  EXPECT_EQ(me.status, 200) << me.raw;
  EXPECT_EQ(me.body["username"], "admin");

  // The certificate kaasd presents is the one it was given.
  std::string presented;
  ASSERT_EQ(Shell("openssl s_client -connect 127.0.0.1:" + std::to_string(kaasd_->port()) +
                      " -CAfile " + (dir_ / "ca.pem").string() +
                      " -verify_return_error </dev/null | openssl x509 -noout -fingerprint "
                      "-sha256",
                  &presented),
            0)
      << presented;
  std::string given;
  ASSERT_EQ(Shell("openssl x509 -noout -fingerprint -sha256 -in " + (dir_ / "server.pem").string(),
                  &given),
            0);
  EXPECT_NE(presented.find(given.substr(0, given.size() - 1)), std::string::npos)
      << presented << " vs " << given;

  // Plain HTTP to the TLS port gets no HTTP answer.
  httplib::Client plain("http://127.0.0.1:" + std::to_string(kaasd_->port()));
  plain.set_connection_timeout(2, 0);
  plain.set_read_timeout(5, 0);
  auto res =
      plain.Post("/api/v1/auth/login", R"({"username":"admin","password":"correct-horse-battery"})",
                 "application/json");
  EXPECT_FALSE(res) << "plain HTTP got HTTP " << res->status << ": " << res->body;

  // A client that does not trust the private CA refuses the server.
  httplib::Client untrusting(kaasd_->base_url());
  untrusting.enable_server_certificate_verification(true);
  untrusting.set_connection_timeout(2, 0);
  auto refused = untrusting.Get("/healthz");
  EXPECT_FALSE(refused);
  if (!refused) EXPECT_EQ(refused.error(), httplib::Error::SSLServerVerification);
}

TEST_F(TlsTest, KaasLoginWithCaFileRemembersTheCa) {
  ASSERT_TRUE(kaasd_->Start());
  std::string kaas = std::string(KAAS_BINARY_DIR) + "/bin/kaas";
  std::string env = "KAAS_CONFIG=" + (dir_ / "kaas.yaml").string() + " ";
  std::string server = " --server " + kaasd_->base_url();
  std::string out;
  // Without the CA the system trust store does not know kaasd's certificate.
  EXPECT_EQ(Shell("printf '%s' correct-horse-battery | " + env + kaas + " login" + server +
                      " --password-stdin",
                  &out),
            1)
      << out;
  EXPECT_NE(out.find("TLS"), std::string::npos) << out;
  ASSERT_EQ(Shell("printf '%s' correct-horse-battery | " + env + kaas + " login" + server +
                      " --password-stdin --ca-file " + (dir_ / "ca.pem").string(),
                  &out),
            0)
      << out;
  // Later commands use the CA kaas login was given.
  ASSERT_EQ(Shell(env + kaas + " whoami", &out), 0) << out;
  EXPECT_NE(out.find("admin"), std::string::npos) << out;
}

TEST_F(TlsTest, AKeyThatDoesNotLoadStopsKaasdAtStart) {
  std::ofstream(dir_ / "broken.key") << "not a key\n";
  KaasdProcess broken(
      {"--tls-cert", (dir_ / "server.pem").string(), "--tls-key", (dir_ / "broken.key").string()});
  broken.UseTls((dir_ / "ca.pem").string());
  EXPECT_FALSE(broken.Start());
  std::ifstream log(broken.data_dir() / "kaasd.log");
  std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("cannot serve HTTPS"), std::string::npos) << text;
  // A certificate without its key is refused before anything starts.
  KaasdProcess half({"--tls-cert", (dir_ / "server.pem").string()});
  EXPECT_FALSE(half.Start());
}

}  // namespace
}  // namespace kaas::testing
