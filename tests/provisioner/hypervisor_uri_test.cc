#include "kaas/provisioner/hypervisor_uri.h"

#include <gtest/gtest.h>

#include <map>

#include "kaas/provisioner/bootstrapper.h"
#include "kaas/provisioner/libvirt_fleet.h"
#include "kaas/provisioner/real_vm.h"
#include "kaas/templates/renderer.h"

namespace kaas::provisioner {
namespace {

TEST(HypervisorUriTest, TheDriversAndTransportsKaasSupportsAreAccepted) {
  for (const char* uri :
       {"test:///default", "test:///var/lib/kaas/sim/sim-1.xml", "qemu:///system",
        "qemu+ssh://hv7/system", "qemu+ssh://kaas@hv7.dc1.example.com:2222/system",
        "qemu+ssh://10.1.2.3/system", "qemu+ssh://[fd00::7]:22/system",
        "qemu+tls://hv7.example.com/system", "qemu+tls://hv7:16514/system"}) {
    EXPECT_TRUE(ValidateHypervisorUri(uri).ok())
        << uri << ": " << ValidateHypervisorUri(uri).ToString();
  }
}

TEST(HypervisorUriTest, EverythingElseIsInvalidArgumentNamingTheUri) {
  for (const char* uri : {"",
                          "nope",
                          "qemu+ext:///system?command=/bin/sh",     // runs a local program
                          "qemu+ssh://hv7/system?command=/bin/sh",  // so does ssh's command=
                          "qemu+ssh://hv7/system?netcat=/tmp/x",
                          "qemu+ssh://hv7/system?keyfile=/etc/shadow",
                          "qemu+tls://hv7/system?no_verify=1",
                          "qemu+unix:///system?socket=/tmp/evil.sock",
                          "qemu+unix:///system",
                          "qemu+tcp://hv7/system",
                          "qemu+libssh://hv7/system",
                          "qemu+libssh2://hv7/system",
                          "qemu:///session",
                          "qemu:///embed?root=/tmp",
                          "xen:///system",
                          "lxc:///",
                          "vbox:///session",
                          "esx://hv7/",
                          "qemu+ssh://-oProxyCommand=x/system",
                          "qemu+ssh://hv7/session",
                          "qemu+ssh:///system",
                          "qemu+ssh://hv7",
                          "qemu+ssh://a/b@hv7/system",
                          "qemu+ssh://hv 7/system",
                          "qemu+ssh://hv7:0/system",
                          "qemu+ssh://{{x}}/system",
                          "qemu+tls://kaas@hv7/system",
                          "qemu+ssh://hv7/system#x",
                          "test://relative.xml",
                          "test:///var/../etc/passwd",
                          "test:///default?x=1",
                          "test:///a\nb",
                          "TEST:///default"}) {
    Status st = ValidateHypervisorUri(uri);
    EXPECT_EQ(st.code(), Code::kInvalidArgument) << uri;
    EXPECT_NE(st.ToString().find("uri"), std::string::npos) << st.ToString();
  }
}

TEST(HypervisorUriTest, TheFleetNeverConnectsToARefusedUri) {
  templates::Renderer renderer(std::string(KAAS_SOURCE_DIR) + "/templates");
  LibvirtFleet fleet(renderer, {});
  auto hv = fleet.Get("evil", "qemu+ext:///system?command=/bin/sh");
  EXPECT_EQ(hv.status().code(), Code::kInvalidArgument);
  // Refused before any connection: the name stays free for a good URI.
  EXPECT_TRUE(fleet.Get("evil", "test:///default").ok());
}

TEST(HypervisorUriTest, ASimulatedHypervisorHasNoForwardedPorts) {
  templates::Renderer renderer(std::string(KAAS_SOURCE_DIR) + "/templates");
  LibvirtFleet fleet(renderer, {});
  EXPECT_EQ(fleet.FindVmEndpoint("sim", "test:///default", "kaas-cl-1-master-1").status().code(),
            Code::kNotFound);
}

// VmEndpoints as a map from (hypervisor, domain) to ports; `down` hypervisors are unreachable.
class FakeEndpoints : public VmEndpoints {
 public:
  Result<NodeAccess> FindVmEndpoint(const std::string& name, const std::string&,
                                    const std::string& domain) override {
    if (name == down) return Unavailable("cannot reach " + name);
    auto it = vms.find(name + "/" + domain);
    if (it == vms.end()) return NotFound("domain " + domain);
    return it->second;
  }
  std::map<std::string, NodeAccess> vms;
  std::string down;
};

TEST(VmNodeResolverTest, AVmIsReachedThroughItsForwardedPorts) {
  FakeEndpoints endpoints;
  endpoints.vms["hv2/kaas-cl-1-master-1"] = {"127.0.0.1", 40022, 40379, 40380};
  VmNodeResolver resolver(endpoints, {{"hv1", "qemu:///system"}, {"hv2", "qemu+ssh://h/system"}});
  auto a = resolver.Resolve("cl-1", {"master-1", "master", "master-1.cl-1.sim", true});
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->ssh_port, 40022);
  EXPECT_EQ(a->etcd_client_port, 40379);
  EXPECT_EQ(a->etcd_peer_port, 40380);
}

TEST(VmNodeResolverTest, AnythingElseIsReachedAtItsAddress) {
  FakeEndpoints endpoints;
  VmNodeResolver resolver(endpoints, {{"hv1", "qemu:///system"}});
  auto host = resolver.Resolve("cl-1", {"worker-1", "worker", "10.0.0.9:2222", false});
  ASSERT_TRUE(host.ok()) << host.status().ToString();
  EXPECT_EQ(host->host, "10.0.0.9");
  EXPECT_EQ(host->ssh_port, 2222);
  EXPECT_EQ(host->etcd_client_port, 0);
  // Not placed yet: in the inventory without an address, never a target.
  auto unplaced = resolver.Resolve("cl-1", {"worker-2", "worker", "", false});
  ASSERT_TRUE(unplaced.ok()) << unplaced.status().ToString();
  EXPECT_EQ(unplaced->host, "");
  EXPECT_EQ(resolver.Resolve("cl-1", {"worker-3", "worker", "a b", false}).status().code(),
            Code::kInvalidArgument);
}

TEST(VmNodeResolverTest, AnUnreachableHypervisorFailsTheResolution) {
  FakeEndpoints endpoints;
  endpoints.down = "hv1";
  VmNodeResolver resolver(endpoints, {{"hv1", "qemu:///system"}});
  EXPECT_EQ(resolver.Resolve("cl-1", {"worker-1", "worker", "10.0.0.9", false}).status().code(),
            Code::kUnavailable);
}

}  // namespace
}  // namespace kaas::provisioner
