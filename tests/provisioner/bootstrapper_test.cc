#include "kaas/provisioner/bootstrapper.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "kaas/templates/renderer.h"

namespace kaas::provisioner {
namespace {

// The simulated bootstrapper with a syntax check that already passed for the shipped
// playbooks (the real check runs ansible-playbook; process_test covers it).
class SimulatedBootstrapperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("kaas-bootstrap-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::promise<SyntaxCheck> checked;
    checked.set_value({Status::Ok(), {"join-master.yml", "upgrade-node.yml"}});
    syntax_ = checked.get_future().share();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  BootstrapJob Job(const std::string& playbook) const {
    BootstrapJob job;
    job.playbook = playbook;
    job.cluster_id = "cl-1";
    job.cluster_name = "billing";
    job.kubernetes_version = "1.31.4";
    job.nodes = {{"master-1", "master", "10.0.0.1"}, {"worker-1", "worker", "10.0.0.2"}};
    job.targets = {"worker-1"};
    job.work_dir = dir_ / "work";
    return job;
  }

  templates::Renderer renderer_{std::string(KAAS_SOURCE_DIR) + "/templates"};
  std::shared_future<SyntaxCheck> syntax_;
  std::filesystem::path dir_;
};

TEST_F(SimulatedBootstrapperTest, ExtraVarsGoIntoTheInventory) {
  SimulatedBootstrapper b(renderer_, syntax_, 0);
  BootstrapJob job = Job("upgrade-node.yml");
  job.extra_vars = {{"max_unavailable", "2"}};
  auto r = b.Run(job);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_NE(r->find("nothing was executed on a real machine"), std::string::npos) << *r;
  YAML::Node inventory = YAML::LoadFile((job.work_dir / "inventory.yml").string());
  YAML::Node vars = inventory["all"]["vars"];
  EXPECT_EQ(vars["max_unavailable"].as<std::string>(), "2");
  EXPECT_EQ(vars["kubernetes_version"].as<std::string>(), "1.31.4");
  EXPECT_EQ(vars["cluster_id"].as<std::string>(), "cl-1");
  EXPECT_EQ(inventory["all"]["children"]["workers"]["hosts"]["worker-1"]["ansible_host"]
                .as<std::string>(),
            "10.0.0.2");
  EXPECT_TRUE(std::filesystem::exists(job.work_dir / "worker-1.user-data"));
}

TEST_F(SimulatedBootstrapperTest, UnknownPlaybookIsFailedPrecondition) {
  SimulatedBootstrapper b(renderer_, syntax_, 0);
  auto r = b.Run(Job("no-such.yml"));
  EXPECT_EQ(r.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("no-such.yml"), std::string::npos);
}

TEST_F(SimulatedBootstrapperTest, AJobCancelledBeforeItRunsDoesNothing) {
  SimulatedBootstrapper b(renderer_, syntax_, 0);
  std::atomic<bool> cancel{true};
  BootstrapJob job = Job("join-master.yml");
  job.cancel = &cancel;
  auto r = b.Run(job);
  EXPECT_EQ(r.status().code(), Code::kCancelled);
  EXPECT_NE(r.status().message().find("join-master.yml"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(job.work_dir)) << "a cancelled run rendered files";
}

TEST_F(SimulatedBootstrapperTest, ACancelStopsARunningJobPromptly) {
  SimulatedBootstrapper b(renderer_, syntax_, 5000);
  std::atomic<bool> cancel{false};
  BootstrapJob job = Job("join-master.yml");
  job.cancel = &cancel;
  auto started = std::chrono::steady_clock::now();
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    cancel = true;
  });
  auto r = b.Run(job);
  canceller.join();
  EXPECT_EQ(r.status().code(), Code::kCancelled);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2))
      << "the run went on after the cancel";
}

TEST_F(SimulatedBootstrapperTest, WithoutACancelFlagTheRunCompletes) {
  SimulatedBootstrapper b(renderer_, syntax_, 30);
  auto r = b.Run(Job("join-master.yml"));
  EXPECT_TRUE(r.ok()) << r.status().ToString();
}

}  // namespace
}  // namespace kaas::provisioner
