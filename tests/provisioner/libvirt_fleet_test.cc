#include "kaas/provisioner/libvirt_fleet.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "kaas/templates/renderer.h"

namespace kaas::provisioner {
namespace {

// Runs against libvirt's own test driver: an in-process simulated hypervisor backed by a file.
class LibvirtFleetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("kaas-libvirt-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    path_ = (dir_ / "sim-1.xml").string();
    ASSERT_TRUE(LibvirtFleet::CreateSimulatedHypervisorFile(path_, 128, 512).ok());
    uri_ = "test://" + path_;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  Hypervisor* Open(LibvirtFleet& fleet) {
    auto hv = fleet.Get("sim-1", uri_);
    EXPECT_TRUE(hv.ok()) << hv.status().ToString();
    return hv.ok() ? *hv : nullptr;
  }

  static DomainSpec Spec(const std::string& cluster, const std::string& node,
                         const std::string& role) {
    return {DomainName(cluster, node), {cluster, node, role}, 4, 4};
  }

  // name -> running, for the kaas domains on the hypervisor.
  static std::map<std::string, bool> Domains(Hypervisor& hv) {
    auto list = hv.ListDomains();
    EXPECT_TRUE(list.ok()) << list.status().ToString();
    std::map<std::string, bool> out;
    if (!list.ok()) return out;
    for (const auto& d : *list) out[d.name] = d.running;
    return out;
  }

  templates::Renderer renderer_{std::string(KAAS_SOURCE_DIR) + "/templates"};
  std::filesystem::path dir_;
  std::string path_;
  std::string uri_;
};

TEST_F(LibvirtFleetTest, DomainNameCarriesClusterAndNode) {
  EXPECT_EQ(DomainName("cl-42", "master-1"), "kaas-cl-42-master-1");
}

TEST_F(LibvirtFleetTest, NewSimulatedHypervisorHasNoDomains) {
  LibvirtFleet fleet(renderer_, {});
  Hypervisor* hv = Open(fleet);
  ASSERT_NE(hv, nullptr);
  EXPECT_EQ(hv->name(), "sim-1");
  EXPECT_TRUE(Domains(*hv).empty());
}

TEST_F(LibvirtFleetTest, GetReturnsTheSameConnectionForTheSameName) {
  LibvirtFleet fleet(renderer_, {});
  Hypervisor* a = Open(fleet);
  Hypervisor* b = Open(fleet);
  EXPECT_EQ(a, b);
}

TEST_F(LibvirtFleetTest, MissingSimulatedFileIsUnavailable) {
  LibvirtFleet fleet(renderer_, {});
  auto hv = fleet.Get("sim-9", "test://" + (dir_ / "nope.xml").string());
  ASSERT_FALSE(hv.ok());
  EXPECT_EQ(hv.status().code(), Code::kUnavailable);
}

TEST_F(LibvirtFleetTest, CreatingTheFileTwiceKeepsItsDomains) {
  {
    LibvirtFleet fleet(renderer_, {});
    Hypervisor* hv = Open(fleet);
    ASSERT_NE(hv, nullptr);
    ASSERT_TRUE(hv->EnsureDomainRunning(Spec("cl-1", "master-1", "master")).ok());
  }
  ASSERT_TRUE(LibvirtFleet::CreateSimulatedHypervisorFile(path_, 128, 512).ok());
  LibvirtFleet fleet(renderer_, {});
  Hypervisor* hv = Open(fleet);
  ASSERT_NE(hv, nullptr);
  EXPECT_EQ(Domains(*hv).size(), 1u);
}

TEST_F(LibvirtFleetTest, EnsureDomainRunningIsIdempotent) {
  LibvirtFleet fleet(renderer_, {});
  Hypervisor* hv = Open(fleet);
  ASSERT_NE(hv, nullptr);
  DomainSpec spec = Spec("cl-1", "master-1", "master");

  auto first = hv->EnsureDomainRunning(spec);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->name, spec.name);
  EXPECT_TRUE(first->running);

  auto second = hv->EnsureDomainRunning(spec);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_TRUE(second->running);

  EXPECT_EQ(Domains(*hv), (std::map<std::string, bool>{{spec.name, true}}));
}

TEST_F(LibvirtFleetTest, OwnershipMetadataRoundTrips) {
  LibvirtFleet fleet(renderer_, {});
  Hypervisor* hv = Open(fleet);
  ASSERT_NE(hv, nullptr);
  ASSERT_TRUE(hv->EnsureDomainRunning(Spec("cl-1", "master-1", "master")).ok());
  ASSERT_TRUE(hv->EnsureDomainRunning(Spec("cl-1", "worker-1", "worker")).ok());
  ASSERT_TRUE(hv->EnsureDomainRunning(Spec("cl-2", "master-1", "master")).ok());

  auto found = hv->FindDomain(DomainName("cl-1", "worker-1"));
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_EQ(found->name, "kaas-cl-1-worker-1");
  EXPECT_TRUE(found->running);
  EXPECT_EQ(found->owner.cluster_id, "cl-1");
  EXPECT_EQ(found->owner.node_name, "worker-1");
  EXPECT_EQ(found->owner.role, "worker");

  auto list = hv->ListDomains();
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  std::map<std::string, Ownership> owners;
  for (const auto& d : *list) owners[d.name] = d.owner;
  ASSERT_EQ(owners.size(), 3u);
  EXPECT_EQ(owners["kaas-cl-1-master-1"].cluster_id, "cl-1");
  EXPECT_EQ(owners["kaas-cl-1-master-1"].node_name, "master-1");
  EXPECT_EQ(owners["kaas-cl-1-master-1"].role, "master");
  EXPECT_EQ(owners["kaas-cl-2-master-1"].cluster_id, "cl-2");
  EXPECT_EQ(owners["kaas-cl-2-master-1"].role, "master");
}

TEST_F(LibvirtFleetTest, FindDomainOfAbsentDomainIsNotFound) {
  LibvirtFleet fleet(renderer_, {});
  Hypervisor* hv = Open(fleet);
  ASSERT_NE(hv, nullptr);
  EXPECT_EQ(hv->FindDomain("kaas-nope").status().code(), Code::kNotFound);
}

TEST_F(LibvirtFleetTest, DestroyDomainTwiceIsOk) {
  LibvirtFleet fleet(renderer_, {});
  Hypervisor* hv = Open(fleet);
  ASSERT_NE(hv, nullptr);
  DomainSpec keep = Spec("cl-1", "master-1", "master");
  DomainSpec drop = Spec("cl-1", "worker-1", "worker");
  ASSERT_TRUE(hv->EnsureDomainRunning(keep).ok());
  ASSERT_TRUE(hv->EnsureDomainRunning(drop).ok());

  Status first = hv->DestroyDomain(drop.name);
  EXPECT_TRUE(first.ok()) << first.ToString();
  Status second = hv->DestroyDomain(drop.name);
  EXPECT_TRUE(second.ok()) << second.ToString();
  EXPECT_EQ(hv->FindDomain(drop.name).status().code(), Code::kNotFound);
  EXPECT_EQ(Domains(*hv), (std::map<std::string, bool>{{keep.name, true}}));
}

TEST_F(LibvirtFleetTest, SecondFleetOnTheSameFileSeesTheSameDomains) {
  DomainSpec m1 = Spec("cl-1", "master-1", "master");
  DomainSpec m2 = Spec("cl-1", "master-2", "master");
  DomainSpec gone = Spec("cl-1", "worker-1", "worker");
  {
    LibvirtFleet fleet(renderer_, {});
    Hypervisor* hv = Open(fleet);
    ASSERT_NE(hv, nullptr);
    ASSERT_TRUE(hv->EnsureDomainRunning(m1).ok());
    ASSERT_TRUE(hv->EnsureDomainRunning(m2).ok());
    ASSERT_TRUE(hv->EnsureDomainRunning(gone).ok());
    ASSERT_TRUE(hv->DestroyDomain(gone.name).ok());
  }
  // A new process (here: a new fleet, hence a new test-driver connection) reads the file.
  LibvirtFleet restarted(renderer_, {});
  Hypervisor* hv = Open(restarted);
  ASSERT_NE(hv, nullptr);
  EXPECT_EQ(Domains(*hv), (std::map<std::string, bool>{{m1.name, true}, {m2.name, true}}));
  auto found = hv->FindDomain(m2.name);
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_EQ(found->owner.cluster_id, "cl-1");
  EXPECT_EQ(found->owner.node_name, "master-2");
  EXPECT_EQ(found->owner.role, "master");

  // Ensure on the restarted side observes the existing domain instead of defining another.
  ASSERT_TRUE(hv->EnsureDomainRunning(m1).ok());
  EXPECT_EQ(Domains(*hv).size(), 2u);
}

TEST_F(LibvirtFleetTest, RunStateIsPersistedNotJustTheDefinition) {
  // libvirt's test driver starts every domain of its file unless told otherwise, so a file that
  // forgot run states would show a stopped domain as running after a restart.
  {
    std::ofstream out(path_, std::ios::trunc);
    out << "<node xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>\n"
           "  <cpu><nodes>1</nodes><sockets>1</sockets><cores>128</cores><threads>1</threads>"
           "</cpu>\n  <memory>536870912</memory>\n"
           "  <domain type='test'><name>kaas-cl-1-master-1</name>"
           "<memory unit='GiB'>4</memory><vcpu>4</vcpu><os><type>hvm</type></os>"
           "<test:runstate>5</test:runstate></domain>\n"
           "</node>\n";
  }
  DomainSpec stopped = Spec("cl-1", "master-1", "master");
  DomainSpec other = Spec("cl-1", "master-2", "master");
  {
    LibvirtFleet fleet(renderer_, {});
    Hypervisor* hv = Open(fleet);
    ASSERT_NE(hv, nullptr);
    ASSERT_EQ(Domains(*hv), (std::map<std::string, bool>{{stopped.name, false}}));
    ASSERT_TRUE(hv->EnsureDomainRunning(other).ok());  // rewrites the file
  }
  {
    LibvirtFleet fleet(renderer_, {});
    Hypervisor* hv = Open(fleet);
    ASSERT_NE(hv, nullptr);
    EXPECT_EQ(Domains(*hv),
              (std::map<std::string, bool>{{stopped.name, false}, {other.name, true}}));
    auto started = hv->EnsureDomainRunning(stopped);
    ASSERT_TRUE(started.ok()) << started.status().ToString();
    EXPECT_TRUE(started->running);
  }
  LibvirtFleet fleet(renderer_, {});
  Hypervisor* hv = Open(fleet);
  ASSERT_NE(hv, nullptr);
  EXPECT_EQ(Domains(*hv), (std::map<std::string, bool>{{stopped.name, true}, {other.name, true}}));
}

TEST_F(LibvirtFleetTest, PersistedStateSurvivesWithoutAGracefulShutdown) {
  // Both fleets are alive at once: the second one must see the first one's changes, which
  // are only in the file, without the first being destroyed (as after kill -9).
  LibvirtFleet first(renderer_, {});
  Hypervisor* a = Open(first);
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(a->EnsureDomainRunning(Spec("cl-1", "master-1", "master")).ok());

  LibvirtFleet second(renderer_, {});
  Hypervisor* b = Open(second);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(Domains(*b), (std::map<std::string, bool>{{"kaas-cl-1-master-1", true}}));
}

TEST_F(LibvirtFleetTest, ManyDomainsInParallelAllPersist) {
  {
    LibvirtFleet fleet(renderer_, {});
    Hypervisor* hv = Open(fleet);
    ASSERT_NE(hv, nullptr);
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (int i = 1; i <= 8; ++i) {
      threads.emplace_back([&, i] {
        if (!hv->EnsureDomainRunning(Spec("cl-1", "worker-" + std::to_string(i), "worker")).ok()) {
          failures++;
        }
      });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(failures.load(), 0);
  }
  LibvirtFleet restarted(renderer_, {});
  Hypervisor* hv = Open(restarted);
  ASSERT_NE(hv, nullptr);
  auto domains = Domains(*hv);
  EXPECT_EQ(domains.size(), 8u);
  for (const auto& [name, running] : domains) EXPECT_TRUE(running) << name;
}

TEST_F(LibvirtFleetTest, DomainInfoReportsTheSize) {
  LibvirtFleet fleet(renderer_, {});
  Hypervisor* hv = Open(fleet);
  ASSERT_NE(hv, nullptr);
  auto ensured = hv->EnsureDomainRunning(Spec("cl-1", "master-1", "master"));
  ASSERT_TRUE(ensured.ok()) << ensured.status().ToString();
  EXPECT_EQ(ensured->vcpus, 4);
  EXPECT_EQ(ensured->memory_gib, 4);
  auto found = hv->FindDomain(DomainName("cl-1", "master-1"));
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_EQ(found->vcpus, 4);
  EXPECT_EQ(found->memory_gib, 4);
}

TEST_F(LibvirtFleetTest, ResizeDomainChangesTheSizeAndKeepsItRunningAndOwned) {
  DomainSpec spec = Spec("cl-1", "master-1", "master");
  DomainSpec other = Spec("cl-1", "master-2", "master");
  {
    LibvirtFleet fleet(renderer_, {});
    Hypervisor* hv = Open(fleet);
    ASSERT_NE(hv, nullptr);
    ASSERT_TRUE(hv->EnsureDomainRunning(spec).ok());
    ASSERT_TRUE(hv->EnsureDomainRunning(other).ok());
    DomainSpec bigger = spec;
    bigger.vcpus = 8;
    bigger.memory_gib = 16;
    auto resized = hv->ResizeDomain(bigger);
    ASSERT_TRUE(resized.ok()) << resized.status().ToString();
    EXPECT_EQ(resized->name, spec.name);
    EXPECT_TRUE(resized->running);
    EXPECT_EQ(resized->vcpus, 8);
    EXPECT_EQ(resized->memory_gib, 16);
    EXPECT_EQ(resized->owner.cluster_id, "cl-1");
    EXPECT_EQ(resized->owner.node_name, "master-1");
    EXPECT_EQ(resized->owner.role, "master");
    auto untouched = hv->FindDomain(other.name);
    ASSERT_TRUE(untouched.ok());
    EXPECT_EQ(untouched->vcpus, 4);
    EXPECT_EQ(Domains(*hv), (std::map<std::string, bool>{{spec.name, true}, {other.name, true}}));
  }
  // The new size is in the hypervisor's file: a restarted process sees it.
  LibvirtFleet restarted(renderer_, {});
  Hypervisor* hv = Open(restarted);
  ASSERT_NE(hv, nullptr);
  auto found = hv->FindDomain(spec.name);
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_TRUE(found->running);
  EXPECT_EQ(found->vcpus, 8);
  EXPECT_EQ(found->memory_gib, 16);
  EXPECT_EQ(found->owner.node_name, "master-1");
  EXPECT_EQ(Domains(*hv).size(), 2u);
}

TEST_F(LibvirtFleetTest, ResizeDomainIsIdempotent) {
  LibvirtFleet fleet(renderer_, {});
  Hypervisor* hv = Open(fleet);
  ASSERT_NE(hv, nullptr);
  DomainSpec spec = Spec("cl-1", "master-1", "master");
  ASSERT_TRUE(hv->EnsureDomainRunning(spec).ok());
  auto same = hv->ResizeDomain(spec);
  ASSERT_TRUE(same.ok()) << same.status().ToString();
  EXPECT_TRUE(same->running);
  EXPECT_EQ(same->vcpus, 4);
  spec.vcpus = 8;
  spec.memory_gib = 8;
  ASSERT_TRUE(hv->ResizeDomain(spec).ok());
  auto again = hv->ResizeDomain(spec);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE(again->running);
  EXPECT_EQ(again->vcpus, 8);
  EXPECT_EQ(again->memory_gib, 8);
  EXPECT_EQ(Domains(*hv).size(), 1u);
}

TEST_F(LibvirtFleetTest, ResizeDomainOfAbsentDomainIsNotFound) {
  LibvirtFleet fleet(renderer_, {});
  Hypervisor* hv = Open(fleet);
  ASSERT_NE(hv, nullptr);
  EXPECT_EQ(hv->ResizeDomain(Spec("cl-1", "master-9", "master")).status().code(), Code::kNotFound);
  EXPECT_TRUE(Domains(*hv).empty()) << "a resize does not create a domain";
}

}  // namespace
}  // namespace kaas::provisioner
