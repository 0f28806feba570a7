#include "kaas/provisioner/process.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "kaas/provisioner/bootstrapper.h"

namespace kaas::provisioner {
namespace {

using std::chrono::steady_clock;

double SecondsSince(steady_clock::time_point start) {
  return std::chrono::duration<double>(steady_clock::now() - start).count();
}

TEST(RunProcessTest, ReportsExitCodeAndEveryOutputLine) {
  std::vector<std::string> lines;
  auto r = RunProcess({"sh", "-c", "echo first; echo second >&2; printf last; exit 3"}, "", 10000,
                      [&](const std::string& line) { lines.push_back(line); });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_FALSE(r->timed_out);
  EXPECT_FALSE(r->cancelled);
  EXPECT_EQ(lines, (std::vector<std::string>{"first", "second", "last"}));
  EXPECT_EQ(r->output, "first\nsecond\nlast");
}

TEST(RunProcessTest, SuccessfulProcessExitsZero) {
  auto r = RunProcess({"true"}, "", 10000);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_EQ(r->output, "");
}

TEST(RunProcessTest, RunsInTheGivenWorkingDirectory) {
  auto dir = std::filesystem::temp_directory_path() / ("kaas-proc-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  auto r = RunProcess({"pwd"}, dir.string(), 10000);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->output, std::filesystem::canonical(dir).string() + "\n");
  std::filesystem::remove_all(dir);
}

TEST(RunProcessTest, TimeoutKillsTheChild) {
  auto start = steady_clock::now();
  auto r = RunProcess({"sleep", "30"}, "", 300);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->timed_out);
  EXPECT_FALSE(r->cancelled);
  EXPECT_EQ(r->exit_code, -1) << "killed by a signal";
  EXPECT_LT(SecondsSince(start), 10.0) << "the child must not run its 30 s";
}

TEST(RunProcessTest, TimeoutAlsoKillsGrandchildren) {
  // ansible-playbook forks workers; a timeout must take the whole process group down, or the
  // pipe stays open and the call hangs until the grandchild exits.
  auto start = steady_clock::now();
  auto r = RunProcess({"sh", "-c", "sleep 30; echo done"}, "", 300);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->timed_out);
  EXPECT_EQ(r->output.find("done"), std::string::npos);
  EXPECT_LT(SecondsSince(start), 10.0);
}

TEST(RunProcessTest, CancelFlagStopsTheChild) {
  std::atomic<bool> cancel{false};
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    cancel = true;
  });
  auto start = steady_clock::now();
  auto r = RunProcess({"sleep", "30"}, "", 0, {}, &cancel);
  canceller.join();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->cancelled);
  EXPECT_FALSE(r->timed_out);
  EXPECT_EQ(r->exit_code, -1);
  EXPECT_LT(SecondsSince(start), 10.0);
}

TEST(RunProcessTest, MissingBinaryIsFailedPrecondition) {
  auto r = RunProcess({"kaas-no-such-binary-xyz"}, "", 10000);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("kaas-no-such-binary-xyz"), std::string::npos);
}

TEST(RunProcessTest, EmptyArgvIsInvalidArgument) {
  auto r = RunProcess({}, "", 1000);
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
}

TEST(CheckPlaybooksTest, ShippedPlaybooksPassAnsibleSyntaxCheck) {
  SyntaxCheck check = CheckPlaybooks(std::string(KAAS_SOURCE_DIR) + "/templates/ansible");
  EXPECT_TRUE(check.status.ok()) << check.status.ToString();
  EXPECT_EQ(check.playbooks,
            (std::vector<std::string>{"bootstrap-master.yml", "drain-node.yml", "etcd-status.yml",
                                      "join-master.yml", "join-worker.yml", "promote-master.yml",
                                      "remove-master.yml", "upgrade-node.yml", "wipe-host.yml"}));
}

TEST(CheckPlaybooksTest, BrokenPlaybookFailsWithAnsiblesOutput) {
  auto dir = std::filesystem::temp_directory_path() / ("kaas-pb-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  {
    std::ofstream out(dir / "broken.yml");
    out << "- hosts: all\n  tasks:\n    - name: x\n      no_such_module_xyz: {}\n";
  }
  SyntaxCheck check = CheckPlaybooks(dir);
  EXPECT_EQ(check.status.code(), Code::kFailedPrecondition);
  EXPECT_NE(check.status.message().find("syntax-check failed"), std::string::npos);
  EXPECT_EQ(check.playbooks, (std::vector<std::string>{"broken.yml"}));
  std::filesystem::remove_all(dir);
}

TEST(CheckPlaybooksTest, FolderWithoutPlaybooksIsNotFound) {
  auto dir = std::filesystem::temp_directory_path() / ("kaas-nopb-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  EXPECT_EQ(CheckPlaybooks(dir).status.code(), Code::kNotFound);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace kaas::provisioner
