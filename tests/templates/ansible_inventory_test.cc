#include "kaas/templates/ansible_inventory.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

namespace kaas::templates {
namespace {

Inventory Small() {
  Inventory inv;
  inv.vars = {{"cluster_id", std::string("cl-1")},
              {"kubernetes_install", false},
              {"max_unavailable", std::string("2")}};
  inv.groups = {
      {"masters",
       {{"master-1", {{"ansible_host", std::string("10.0.0.1")}, {"ansible_port", int64_t{22}}}}}},
      {"workers", {}},
      {"etcd_voters", {{"master-1", {}}}}};
  return inv;
}

TEST(AnsibleInventoryTest, HasGroupsHostsAndTypedVariables) {
  auto yaml = RenderInventory(Small());
  ASSERT_TRUE(yaml.ok()) << yaml.status().ToString();
  YAML::Node all = YAML::Load(*yaml)["all"];
  EXPECT_EQ(all["vars"]["cluster_id"].as<std::string>(), "cl-1");
  EXPECT_EQ(all["vars"]["max_unavailable"].as<std::string>(), "2");
  // Booleans and numbers keep their type: `kubernetes_install | bool` must see false.
  EXPECT_EQ(all["vars"]["kubernetes_install"].Tag(), "?");
  EXPECT_FALSE(all["vars"]["kubernetes_install"].as<bool>());
  YAML::Node m1 = all["children"]["masters"]["hosts"]["master-1"];
  EXPECT_EQ(m1["ansible_host"].as<std::string>(), "10.0.0.1");
  EXPECT_EQ(m1["ansible_port"].as<int>(), 22);
  EXPECT_EQ(m1["ansible_port"].Tag(), "?");
  EXPECT_TRUE(all["children"]["workers"]["hosts"].IsMap());
  EXPECT_EQ(all["children"]["workers"]["hosts"].size(), 0u);
  EXPECT_TRUE(all["children"]["etcd_voters"]["hosts"]["master-1"].IsMap());
}

// The Jinja in a value stays text: tagged !unsafe, so Ansible never evaluates it
// (tests/provisioner's AnsibleBootstrapperTest runs the real ansible-playbook on it).
TEST(AnsibleInventoryTest, EveryTextValueIsTaggedUnsafe) {
  Inventory inv = Small();
  const std::string jinja = "{{ lookup('pipe', 'id') }}";
  inv.vars.emplace_back("cluster_name", jinja);
  inv.groups[0].hosts[0].vars.emplace_back("etcd_advertise_host", jinja);
  auto yaml = RenderInventory(inv);
  ASSERT_TRUE(yaml.ok()) << yaml.status().ToString();
  YAML::Node all = YAML::Load(*yaml)["all"];
  for (const char* key : {"cluster_id", "max_unavailable", "cluster_name"}) {
    EXPECT_EQ(all["vars"][key].Tag(), "!unsafe") << key << "\n" << *yaml;
  }
  YAML::Node m1 = all["children"]["masters"]["hosts"]["master-1"];
  EXPECT_EQ(m1["ansible_host"].Tag(), "!unsafe");
  EXPECT_EQ(m1["etcd_advertise_host"].Tag(), "!unsafe");
  EXPECT_EQ(m1["etcd_advertise_host"].as<std::string>(), jinja);
  EXPECT_EQ(all["vars"]["cluster_name"].as<std::string>(), jinja);
}

TEST(AnsibleInventoryTest, QuotesNewlinesAndYamlSyntaxSurviveAsText) {
  Inventory inv;
  const std::string tricky = "a: b\n- c # d\n\"e\" 'f' !g &h *i {j} [k]";
  inv.vars = {{"note", tricky}};
  auto yaml = RenderInventory(inv);
  ASSERT_TRUE(yaml.ok()) << yaml.status().ToString();
  EXPECT_EQ(YAML::Load(*yaml)["all"]["vars"]["note"].as<std::string>(), tricky) << *yaml;
}

TEST(AnsibleInventoryTest, NamesThatAreNotKaasOwnAreRefused) {
  Inventory bad_var = Small();
  bad_var.vars.emplace_back("{{ x }}", std::string("y"));
  EXPECT_EQ(RenderInventory(bad_var).status().code(), Code::kInvalidArgument);
  Inventory bad_host = Small();
  bad_host.groups[1].hosts.push_back({"w{{1}}", {}});
  EXPECT_EQ(RenderInventory(bad_host).status().code(), Code::kInvalidArgument);
  Inventory bad_group = Small();
  bad_group.groups.push_back({"a group", {}});
  EXPECT_EQ(RenderInventory(bad_group).status().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace kaas::templates
