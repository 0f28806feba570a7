// SSH host keys (DESIGN.md §6.1): the key kaas makes for a VM, how it reaches the guest's
// cloud-init, how keys are written down and read from a machine.
#include "kaas/provisioner/host_keys.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <vector>

#include "kaas/common/ids.h"
#include "kaas/provisioner/cloud_init.h"
#include "kaas/provisioner/process.h"
#include "kaas/templates/renderer.h"

namespace kaas::provisioner {
namespace {

// The public key ssh-keygen derives from `private_key` ("TYPE BASE64").
std::string PublicOf(const std::string& private_key) {
  const auto path = std::filesystem::temp_directory_path() / ("kaas-host-key-test-" + RandomHex(8));
  {
    std::ofstream out(path);
    out << private_key;
  }
  std::filesystem::permissions(
      path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  auto run = RunProcess({"ssh-keygen", "-y", "-f", path.string()}, "/", 10000);
  std::filesystem::remove(path);
  if (!run.ok() || run->exit_code != 0) return "ssh-keygen -y failed";
  auto key = NormalizeHostKey(run->output);
  return key.ok() ? *key : key.status().ToString();
}

TEST(HostKeysTest, PublicKeyLinesAreNormalizedAndAnythingElseRefused) {
  const std::string b64 = "AAAAC3NzaC1lZDI1NTE5AAAAIHdvcmtlci0xLWhvc3Qta2V5LTAwMDAwMDAwMDAw";
  EXPECT_EQ(*NormalizeHostKey("ssh-ed25519 " + b64), "ssh-ed25519 " + b64);
  EXPECT_EQ(*NormalizeHostKey("  ssh-ed25519\t" + b64 + " root@pm-1\n"), "ssh-ed25519 " + b64);
  EXPECT_TRUE(NormalizeHostKey("ecdsa-sha2-nistp256 " + b64).ok());
  for (const std::string& bad : std::vector<std::string>{
           std::string(""), "ssh-ed25519", "ssh-dss " + b64, "ssh-ed25519 not*base64",
           "ssh-ed25519 " + b64 + " a b", "ssh-ed25519 " + b64 + "\nssh-rsa " + b64,
           "[pm-1]:22 ssh-ed25519 " + b64, "ssh-ed25519 short"}) {
    auto key = NormalizeHostKey(bad);
    EXPECT_FALSE(key.ok()) << bad;
    if (!key.ok()) EXPECT_EQ(key.status().field(), "host_key") << bad;
  }
}

TEST(HostKeysTest, AGeneratedKeyIsAFreshEd25519Pair) {
  auto pair = GenerateHostKey("kaas-cl-1-master-1");
  ASSERT_TRUE(pair.ok()) << pair.status().ToString();
  EXPECT_EQ(pair->public_key.rfind("ssh-ed25519 ", 0), 0u) << pair->public_key;
  EXPECT_NE(pair->private_key.find("BEGIN OPENSSH PRIVATE KEY"), std::string::npos);
  EXPECT_EQ(PublicOf(pair->private_key), pair->public_key);
  EXPECT_NE(GenerateHostKey("other")->public_key, pair->public_key);
}

// The seed a real VM boots with: cloud-init gets the very key kaas recorded (the YAML block
// keeps the private key's lines), and no other key is generated.
TEST(HostKeysTest, TheUserDataCarriesTheHostKeyIntact) {
  auto pair = GenerateHostKey("kaas-cl-1-master-1");
  ASSERT_TRUE(pair.ok()) << pair.status().ToString();
  templates::Renderer renderer(std::string(KAAS_SOURCE_DIR) + "/templates");
  auto user_data = RenderUserData(
      renderer, {"billing", "cl-1", "master-1", "master", "1.37.2", "ssh-ed25519 AUTHORIZED kaas",
                 pair->private_key, pair->public_key});
  ASSERT_TRUE(user_data.ok()) << user_data.status().ToString();
  YAML::Node doc = YAML::Load(*user_data);
  EXPECT_TRUE(doc["ssh_deletekeys"].as<bool>());
  EXPECT_EQ(doc["ssh_genkeytypes"].size(), 0u);
  EXPECT_EQ(PublicOf(doc["ssh_keys"]["ed25519_private"].as<std::string>()), pair->public_key);
  EXPECT_EQ(doc["ssh_keys"]["ed25519_public"].as<std::string>(), pair->public_key);
}

TEST(HostKeysTest, KnownHostsLinesNameThePortWhenItIsNot22) {
  EXPECT_EQ(KnownHostsLine("10.0.0.2", 22, "ssh-ed25519 K"), "10.0.0.2 ssh-ed25519 K");
  EXPECT_EQ(KnownHostsLine("127.0.0.1", 40022, "ssh-ed25519 K"), "[127.0.0.1]:40022 ssh-ed25519 K");
}

TEST(HostKeysTest, NothingListeningIsUnavailable) {
  auto key = ScanHostKey("127.0.0.1", 1, 3);
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().code(), Code::kUnavailable) << key.status().ToString();
}

}  // namespace
}  // namespace kaas::provisioner
