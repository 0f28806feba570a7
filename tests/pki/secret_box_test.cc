#include "kaas/pki/secret_box.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <yaml-cpp/binary.h>

#include <set>
#include <string>
#include <thread>
#include <vector>

#include "pki_test_util.h"

namespace kaas::pki {
namespace {

using test::TempDir;

unsigned ModeOf(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

// The sealed value with byte `index` of its binary form (nonce || ciphertext || MAC) changed.
std::string Flip(const std::string& sealed, size_t index) {
  std::vector<unsigned char> bin = YAML::DecodeBase64(sealed);
  bin.at(index) ^= 0x01;
  return YAML::EncodeBase64(bin.data(), bin.size());
}

TEST(SecretBoxTest, FirstUseCreatesA32ByteKeyFileWithMode0600) {
  TempDir dir;
  const std::string path = dir.File("master.key");
  // A permissive umask must not leak into the key file's mode.
  const mode_t old_umask = umask(0);
  auto box = SecretBox::LoadOrCreate(path);
  umask(old_umask);
  ASSERT_TRUE(box.ok()) << box.status().ToString();
  EXPECT_EQ(ModeOf(path), 0600u);
  EXPECT_EQ(test::ReadFile(path).size(), 32u);
  // No temporary file is left beside it.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()),
                          std::filesystem::directory_iterator()),
            1);
}

TEST(SecretBoxTest, TheKeyFileIsReusedAcrossLoads) {
  TempDir dir;
  const std::string path = dir.File("master.key");
  auto first = SecretBox::LoadOrCreate(path);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  const std::string key = test::ReadFile(path);
  auto sealed = first->Seal("ca key");
  ASSERT_TRUE(sealed.ok());

  auto second = SecretBox::LoadOrCreate(path);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(test::ReadFile(path), key);
  auto opened = second->Open(*sealed);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(*opened, "ca key");
}

TEST(SecretBoxTest, RoundTripsAnyBytes) {
  TempDir dir;
  auto box = SecretBox::LoadOrCreate(dir.File("master.key"));
  ASSERT_TRUE(box.ok()) << box.status().ToString();
  const std::vector<std::string> plaintexts = {"", "x", std::string("nul\0inside", 10),
                                               "-----BEGIN PRIVATE KEY-----\n...\n",
                                               std::string(1 << 20, '\xff')};
  for (const std::string& p : plaintexts) {
    auto sealed = box->Seal(p);
    ASSERT_TRUE(sealed.ok()) << sealed.status().ToString();
    auto opened = box->Open(*sealed);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    EXPECT_EQ(*opened, p) << "size " << p.size();
  }
}

TEST(SecretBoxTest, SealingTwiceGivesDifferentValues) {
  TempDir dir;
  auto box = SecretBox::LoadOrCreate(dir.File("master.key"));
  ASSERT_TRUE(box.ok());
  EXPECT_NE(*box->Seal("same"), *box->Seal("same"));
}

TEST(SecretBoxTest, AnyModifiedByteIsDetected) {
  TempDir dir;
  auto box = SecretBox::LoadOrCreate(dir.File("master.key"));
  ASSERT_TRUE(box.ok());
  const std::string sealed = *box->Seal("the cluster CA key");
  const size_t size = YAML::DecodeBase64(sealed).size();
  ASSERT_EQ(size, 24u + 16u + 18u);  // nonce, MAC, plaintext
  for (size_t i : {size_t{0}, size_t{23}, size_t{24}, size_t{39}, size_t{40}, size - 1}) {
    auto opened = box->Open(Flip(sealed, i));
    ASSERT_FALSE(opened.ok()) << "byte " << i;
    EXPECT_EQ(opened.status().code(), Code::kInternal) << "byte " << i;
  }
}

TEST(SecretBoxTest, MalformedValuesAreRefused) {
  TempDir dir;
  auto box = SecretBox::LoadOrCreate(dir.File("master.key"));
  ASSERT_TRUE(box.ok());
  const std::string sealed = *box->Seal("secret");
  std::vector<unsigned char> bin = YAML::DecodeBase64(sealed);
  const std::string truncated = YAML::EncodeBase64(bin.data(), bin.size() - 1);
  const std::string extended = sealed.substr(0, sealed.size() - 4) + "AAAAAAAA";

  EXPECT_EQ(box->Open("").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(box->Open("not base64!").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(box->Open("AAAA").status().code(), Code::kInvalidArgument);
  EXPECT_FALSE(box->Open(truncated).ok());
  EXPECT_FALSE(box->Open(extended).ok());
}

TEST(SecretBoxTest, AnotherMasterKeyCannotOpen) {
  TempDir dir;
  auto a = SecretBox::LoadOrCreate(dir.File("a.key"));
  auto b = SecretBox::LoadOrCreate(dir.File("b.key"));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(test::ReadFile(dir.File("a.key")), test::ReadFile(dir.File("b.key")));
  auto opened = b->Open(*a->Seal("secret"));
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), Code::kInternal);
}

TEST(SecretBoxTest, AKeyFileReadableByOthersIsRefusedAndLeftAlone) {
  for (unsigned mode : {0644u, 0640u, 0666u, 0400u, 0700u}) {
    TempDir dir;
    const std::string key(32, 'k');
    const std::string path = dir.Write("master.key", key);
    ASSERT_EQ(chmod(path.c_str(), mode), 0);
    auto box = SecretBox::LoadOrCreate(path);
    ASSERT_FALSE(box.ok()) << std::oct << mode;
    EXPECT_EQ(box.status().code(), Code::kFailedPrecondition);
    EXPECT_NE(box.status().message().find(path), std::string::npos) << box.status().message();
    EXPECT_NE(box.status().message().find("0600"), std::string::npos) << box.status().message();
    EXPECT_EQ(ModeOf(path), mode);
    EXPECT_EQ(test::ReadFile(path), key);
  }
}

TEST(SecretBoxTest, AKeyFileOfTheWrongSizeIsRefused) {
  for (size_t size : {size_t{0}, size_t{16}, size_t{31}, size_t{33}, size_t{64}}) {
    TempDir dir;
    const std::string path = dir.Write("master.key", std::string(size, 'k'));
    ASSERT_EQ(chmod(path.c_str(), 0600), 0);
    auto box = SecretBox::LoadOrCreate(path);
    ASSERT_FALSE(box.ok()) << size;
    EXPECT_EQ(box.status().code(), Code::kFailedPrecondition);
    EXPECT_NE(box.status().message().find("32 bytes"), std::string::npos) << box.status().message();
  }
}

TEST(SecretBoxTest, ADirectoryOrAMissingParentIsAnError) {
  TempDir dir;
  auto is_dir = SecretBox::LoadOrCreate(dir.path());
  ASSERT_FALSE(is_dir.ok());
  EXPECT_NE(is_dir.status().message().find(dir.path()), std::string::npos);
  auto no_parent = SecretBox::LoadOrCreate(dir.File("missing/master.key"));
  ASSERT_FALSE(no_parent.ok());
  EXPECT_NE(no_parent.status().message().find("missing/master.key"), std::string::npos)
      << no_parent.status().message();
}

TEST(SecretBoxTest, ConcurrentFirstUsesAgreeOnOneKey) {
  TempDir dir;
  const std::string path = dir.File("master.key");
  constexpr int kThreads = 8;
  std::vector<std::string> sealed(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      auto box = SecretBox::LoadOrCreate(path);
      if (box.ok()) sealed[i] = *box->Seal("value " + std::to_string(i));
    });
  }
  for (auto& t : threads) t.join();
  auto box = SecretBox::LoadOrCreate(path);
  ASSERT_TRUE(box.ok()) << box.status().ToString();
  for (int i = 0; i < kThreads; ++i) {
    auto opened = box->Open(sealed[i]);
    ASSERT_TRUE(opened.ok()) << i << ": " << opened.status().ToString();
    EXPECT_EQ(*opened, "value " + std::to_string(i));
  }
}

}  // namespace
}  // namespace kaas::pki
