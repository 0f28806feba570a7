#include "kaas/provisioner/libvirt_fleet.h"

#include <fcntl.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "kaas/common/ids.h"

namespace kaas::provisioner {
namespace {

constexpr const char* kOwnerNamespace = "https://kaas.dev/xmlns/owner/1";
constexpr std::string_view kTestPrefix = "test://";

void IgnoreLibvirtError(void*, virErrorPtr) {}

void InitLibvirtOnce() {
  static const bool done = [] {
    virInitialize();
    // Errors are reported through Status; libvirt must not print them to stderr.
    virSetErrorFunc(nullptr, IgnoreLibvirtError);
    return true;
  }();
  (void)done;
}

std::string LastError(const std::string& what) {
  const char* msg = virGetLastErrorMessage();
  return what + ": " + (msg ? msg : "unknown libvirt error");
}

bool LastErrorIs(int code) { return virGetLastErrorCode() == code; }

std::string NewUuid() {
  std::string h = RandomHex(16);
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) +
         "-" + h.substr(20, 12);
}

std::string ElementText(const std::string& xml, const std::string& tag) {
  auto open = xml.find("<" + tag + ">");
  if (open == std::string::npos) return "";
  open += tag.size() + 2;
  auto close = xml.find("</" + tag + ">", open);
  if (close == std::string::npos) return "";
  return xml.substr(open, close - open);
}

// Owns a virDomainPtr.
struct DomainRef {
  virDomainPtr d = nullptr;
  explicit DomainRef(virDomainPtr p) : d(p) {}
  DomainRef(const DomainRef&) = delete;
  DomainRef& operator=(const DomainRef&) = delete;
  ~DomainRef() {
    if (d) virDomainFree(d);
  }
};

class LibvirtHypervisor : public Hypervisor {
 public:
  LibvirtHypervisor(std::string name, virConnectPtr conn, std::string sim_file,
                    const templates::Renderer& renderer, int sim_delay_ms)
      : name_(std::move(name)),
        conn_(conn),
        sim_file_(std::move(sim_file)),
        renderer_(renderer),
        sim_delay_ms_(sim_delay_ms) {}
  ~LibvirtHypervisor() override { virConnectClose(conn_); }

  const std::string& name() const override { return name_; }

  Result<DomainInfo> EnsureDomainRunning(const DomainSpec& spec) override {
    SimulateLatency();
    std::lock_guard lock(mu_);
    DomainRef dom(virDomainLookupByName(conn_, spec.name.c_str()));
    if (!dom.d) {
      if (!LastErrorIs(VIR_ERR_NO_DOMAIN)) return Unavailable(LastError("lookup " + spec.name));
      auto xml =
          renderer_.Render(DomainTemplate(), {{"domain_name", spec.name},
                                              {"uuid", NewUuid()},
                                              {"cluster_id", spec.owner.cluster_id},
                                              {"node_name", spec.owner.node_name},
                                              {"role", spec.owner.role},
                                              {"vcpus", std::to_string(spec.vcpus)},
                                              {"memory_gib", std::to_string(spec.memory_gib)}});
      if (!xml.ok()) return xml.status();
      dom.d = virDomainDefineXML(conn_, xml->c_str());
      if (!dom.d) return Unavailable(LastError("define " + spec.name));
    }
    int active = virDomainIsActive(dom.d);
    if (active < 0) return Unavailable(LastError("state of " + spec.name));
    if (active == 0 && virDomainCreate(dom.d) < 0) {
      return Unavailable(LastError("start " + spec.name));
    }
    KAAS_RETURN_IF_ERROR(SaveLocked());
    return Describe(dom.d);
  }

  Status DestroyDomain(const std::string& domain_name) override {
    SimulateLatency();
    std::lock_guard lock(mu_);
    DomainRef dom(virDomainLookupByName(conn_, domain_name.c_str()));
    if (!dom.d) {
      if (LastErrorIs(VIR_ERR_NO_DOMAIN)) return Status::Ok();
      return Unavailable(LastError("lookup " + domain_name));
    }
    if (virDomainIsActive(dom.d) == 1 && virDomainDestroy(dom.d) < 0) {
      return Unavailable(LastError("destroy " + domain_name));
    }
    if (virDomainUndefine(dom.d) < 0) return Unavailable(LastError("undefine " + domain_name));
    return SaveLocked();
  }

  Result<DomainInfo> FindDomain(const std::string& domain_name) override {
    std::lock_guard lock(mu_);
    DomainRef dom(virDomainLookupByName(conn_, domain_name.c_str()));
    if (!dom.d) {
      if (LastErrorIs(VIR_ERR_NO_DOMAIN)) return NotFound("domain " + domain_name);
      return Unavailable(LastError("lookup " + domain_name));
    }
    return Describe(dom.d);
  }

  Result<std::vector<DomainInfo>> ListDomains() override {
    std::lock_guard lock(mu_);
    virDomainPtr* doms = nullptr;
    int n = virConnectListAllDomains(conn_, &doms, 0);
    if (n < 0) return Unavailable(LastError("list domains on " + name_));
    std::vector<DomainInfo> out;
    Status st;
    for (int i = 0; i < n; ++i) {
      DomainRef d(doms[i]);
      auto info = Describe(d.d);
      if (info.ok()) {
        out.push_back(std::move(info).value());
      } else if (st.ok()) {
        st = info.status();
      }
    }
    free(doms);
    if (!st.ok()) return st;
    return out;
  }

 private:
  bool simulated() const { return !sim_file_.empty(); }

  std::string DomainTemplate() const { return "domain/test.xml"; }

  void SimulateLatency() const {
    if (simulated() && sim_delay_ms_ > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(sim_delay_ms_));
    }
  }

  Result<DomainInfo> Describe(virDomainPtr d) {
    DomainInfo info;
    const char* n = virDomainGetName(d);
    info.name = n ? n : "";
    int active = virDomainIsActive(d);
    if (active < 0) return Unavailable(LastError("state of " + info.name));
    info.running = active == 1;
    char* meta = virDomainGetMetadata(d, VIR_DOMAIN_METADATA_ELEMENT, kOwnerNamespace, 0);
    if (meta) {
      std::string xml = meta;
      free(meta);
      info.owner.cluster_id = ElementText(xml, "cluster");
      info.owner.node_name = ElementText(xml, "node");
      info.owner.role = ElementText(xml, "role");
    }
    return info;
  }

  // Rewrites the simulated hypervisor's file with its current domains and their run state.
  Status SaveLocked() {
    if (!simulated()) return Status::Ok();
    virNodeInfo node{};
    if (virNodeGetInfo(conn_, &node) < 0) return Unavailable(LastError("node info of " + name_));
    std::string out =
        "<node xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>\n  <cpu><nodes>1</nodes>"
        "<sockets>1</sockets><cores>" +
        std::to_string(node.cpus) + "</cores><threads>1</threads></cpu>\n  <memory>" +
        std::to_string(node.memory) + "</memory>\n";
    virDomainPtr* doms = nullptr;
    int n = virConnectListAllDomains(conn_, &doms, 0);
    if (n < 0) return Unavailable(LastError("list domains on " + name_));
    Status st;
    for (int i = 0; i < n; ++i) {
      DomainRef d(doms[i]);
      char* xml = virDomainGetXMLDesc(d.d, 0);
      int state = 0, reason = 0;
      if (!xml || virDomainGetState(d.d, &state, &reason, 0) < 0) {
        free(xml);
        st = Unavailable(LastError("describe domain on " + name_));
        continue;
      }
      std::string dx = xml;
      free(xml);
      auto end = dx.rfind("</domain>");
      if (end == std::string::npos) continue;
      dx.insert(end, "  <test:runstate>" + std::to_string(state) + "</test:runstate>\n");
      out += dx + "\n";
    }
    free(doms);
    if (!st.ok()) return st;
    out += "</node>\n";
    return WriteFileAtomically(sim_file_, out);
  }

 public:
  static Status WriteFileAtomically(const std::string& path, const std::string& content) {
    std::string tmp = path + ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return Internal("cannot write " + tmp);
    size_t off = 0;
    while (off < content.size()) {
      ssize_t w = ::write(fd, content.data() + off, content.size() - off);
      if (w <= 0) {
        ::close(fd);
        return Internal("cannot write " + tmp);
      }
      off += static_cast<size_t>(w);
    }
    ::fsync(fd);
    ::close(fd);
    if (::rename(tmp.c_str(), path.c_str()) != 0) return Internal("cannot rename " + tmp);
    return Status::Ok();
  }

 private:
  std::string name_;
  virConnectPtr conn_;
  std::string sim_file_;
  const templates::Renderer& renderer_;
  int sim_delay_ms_;
  std::mutex mu_;
};

}  // namespace

std::string DomainName(const std::string& cluster_id, const std::string& node_name) {
  return "kaas-" + cluster_id + "-" + node_name;
}

LibvirtFleet::LibvirtFleet(const templates::Renderer& renderer, LibvirtOptions options)
    : renderer_(renderer), options_(options) {
  InitLibvirtOnce();
}

LibvirtFleet::~LibvirtFleet() = default;

Result<Hypervisor*> LibvirtFleet::Get(const std::string& name, const std::string& uri) {
  std::lock_guard lock(mu_);
  if (auto it = hypervisors_.find(name); it != hypervisors_.end()) return it->second.get();
  std::string sim_file;
  if (uri.rfind(kTestPrefix, 0) == 0 && uri != "test:///default") {
    sim_file = uri.substr(kTestPrefix.size());
    if (!std::filesystem::exists(sim_file)) {
      return Status(Code::kUnavailable, "simulated hypervisor file " + sim_file + " is missing");
    }
  }
  virConnectPtr conn = virConnectOpen(uri.c_str());
  if (!conn) return Unavailable(LastError("connect to " + name + " (" + uri + ")"));
  auto hv =
      std::make_unique<LibvirtHypervisor>(name, conn, sim_file, renderer_, options_.sim_delay_ms);
  Hypervisor* raw = hv.get();
  hypervisors_[name] = std::move(hv);
  return raw;
}

Status LibvirtFleet::CreateSimulatedHypervisorFile(const std::string& path, int64_t vcpus,
                                                   int64_t memory_gib) {
  if (std::filesystem::exists(path)) return Status::Ok();
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  std::string xml = "<node>\n  <cpu><nodes>1</nodes><sockets>1</sockets><cores>" +
                    std::to_string(vcpus) + "</cores><threads>1</threads></cpu>\n  <memory>" +
                    std::to_string(memory_gib * 1024 * 1024) + "</memory>\n</node>\n";
  return LibvirtHypervisor::WriteFileAtomically(path, xml);
}

}  // namespace kaas::provisioner
