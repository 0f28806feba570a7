#include "kaas/templates/renderer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "kaas/templates/xml.h"

namespace kaas::templates {
namespace {

TEST(XmlEscapeTest, EscapesTheFiveSpecialCharacters) {
  EXPECT_EQ(XmlEscape(R"(<a href="x" title='y'>&</a>)"),
            "&lt;a href=&quot;x&quot; title=&apos;y&apos;&gt;&amp;&lt;/a&gt;");
}

TEST(XmlEscapeTest, LeavesOtherTextAlone) {
  EXPECT_EQ(XmlEscape("kaas-cl-1-master-1 /var/lib/ü 42"), "kaas-cl-1-master-1 /var/lib/ü 42");
  EXPECT_EQ(XmlEscape(""), "");
}

TEST(XmlEscapeTest, AnEntityIsEscapedAgainNotPassedThrough) {
  EXPECT_EQ(XmlEscape("&amp;"), "&amp;amp;");
}

TEST(RendererSubstituteTest, ReplacesEveryName) {
  auto r = Renderer::Substitute("{{a}}-{{b}}-{{a}}", {{"a", "x"}, {"b", "y"}}, false);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, "x-y-x");
}

TEST(RendererSubstituteTest, AMissingValueFailsTheRender) {
  auto r = Renderer::Substitute("name: {{nmae}}", {{"name", "x"}}, false);
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("{{nmae}}"), std::string::npos) << r.status().message();
}

TEST(RendererSubstituteTest, AnUnterminatedNameFailsTheRender) {
  EXPECT_EQ(Renderer::Substitute("a {{b", {{"b", "x"}}, false).status().code(),
            Code::kInvalidArgument);
}

TEST(RendererSubstituteTest, ValuesAreNotRenderedAgain) {
  auto r = Renderer::Substitute("{{a}}", {{"a", "{{b}}"}, {"b", "no"}}, false);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "{{b}}");
}

class RendererTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("kaas-renderer-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_ / "domain");
    std::ofstream(dir_ / "domain" / "d.xml") << "<name>{{name}}</name>";
    std::ofstream(dir_ / "plain.txt") << "name: {{name}}";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(RendererTest, ValuesInXmlTemplatesAreEscaped) {
  Renderer renderer(dir_);
  auto r = renderer.Render("domain/d.xml", {{"name", "a</name><evil/>&"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, "<name>a&lt;/name&gt;&lt;evil/&gt;&amp;</name>");
}

TEST_F(RendererTest, ValuesInOtherTemplatesAreVerbatim) {
  Renderer renderer(dir_);
  auto r = renderer.Render("plain.txt", {{"name", "a<b>&"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, "name: a<b>&");
}

TEST_F(RendererTest, AMissingTemplateIsNotFoundAndAnErrorNamesTheTemplate) {
  Renderer renderer(dir_);
  EXPECT_EQ(renderer.Render("nope.xml", {}).status().code(), Code::kNotFound);
  auto r = renderer.Render("plain.txt", {});
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("plain.txt"), std::string::npos) << r.status().message();
}

// Every shipped template renders with the values its caller gives (a renamed placeholder
// would otherwise only fail on a real hypervisor).
TEST(ShippedTemplatesTest, DomainAndCloudInitTemplatesRender) {
  Renderer renderer(std::string(KAAS_SOURCE_DIR) + "/templates");
  Values owner = {{"domain_name", "kaas-cl-1-master-1"},
                  {"uuid", "00000000-0000-0000-0000-000000000001"},
                  {"cluster_id", "cl-1"},
                  {"node_name", "master-1"},
                  {"role", "master"},
                  {"vcpus", "2"}};
  Values test = owner;
  test["memory_gib"] = "4";
  EXPECT_TRUE(renderer.Render("domain/test.xml", test).ok());
  Values qemu = owner;
  for (const char* k :
       {"memory_mib", "kernel", "initrd", "pool", "disk_volume", "seed_volume", "console_log",
        "ssh_port", "etcd_client_port", "etcd_peer_port", "apiserver_port", "host_key",
        "segment_ip", "segment_mac", "segment_group", "segment_port"}) {
    qemu[k] = "1";
  }
  auto q = renderer.Render("domain/qemu.xml", qemu);
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  // The guest's user-mode NIC is restricted; the cluster's segment is its second NIC.
  EXPECT_NE(q->find("user,id=kaasnet,restrict=on,"), std::string::npos) << *q;
  EXPECT_NE(q->find("socket,id=kaasseg,mcast=1:1,localaddr=127.0.0.1"), std::string::npos) << *q;
  auto user_data = renderer.Render("cloud-init/user-data", {{"cluster_name", "billing"},
                                                            {"cluster_id", "cl-1"},
                                                            {"node_name", "master-1"},
                                                            {"role", "master"},
                                                            {"kubernetes_version", "1.37.2"},
                                                            {"ssh_public_key", "ssh-ed25519 K"},
                                                            {"host_private_key", "P"},
                                                            {"host_public_key", "ssh-ed25519 H"}});
  EXPECT_TRUE(user_data.ok()) << user_data.status().ToString();
}

}  // namespace
}  // namespace kaas::templates
