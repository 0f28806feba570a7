#include "kaas/provisioner/libvirt_fleet.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "kaas/common/ids.h"
#include "kaas/provisioner/process.h"
#include "kaas/provisioner/real_vm.h"

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

// Replaces the text of the first <tag ...>text</tag> (attributes of the opening tag kept,
// except a unit attribute, since the new value is in KiB for memory).
std::string ReplaceElement(const std::string& xml, const std::string& tag,
                           const std::string& value) {
  auto open = xml.find("<" + tag);
  while (open != std::string::npos && xml[open + tag.size() + 1] != '>' &&
         xml[open + tag.size() + 1] != ' ') {
    open = xml.find("<" + tag, open + 1);
  }
  if (open == std::string::npos) return xml;
  auto gt = xml.find('>', open);
  auto close = xml.find("</" + tag + ">", gt);
  if (gt == std::string::npos || close == std::string::npos) return xml;
  std::string opening = "<" + tag + (tag == "vcpu" ? "" : " unit='KiB'") + ">";
  if (tag == "vcpu") opening = xml.substr(open, gt - open + 1);
  return xml.substr(0, open) + opening + value + xml.substr(close);
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

// ---- real-VM path helpers (qemu:///system and every other non-test URI) ----

std::mutex g_real_mu;
RealVmOptions g_real_options;

// A free TCP port on 127.0.0.1 (the kernel picks it; QEMU binds it right after).
Result<int> FreeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Internal("socket failed");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(fd);
    return Internal("cannot pick a free port on 127.0.0.1");
  }
  ::close(fd);
  return static_cast<int>(ntohs(a.sin_port));
}

int IntElement(const std::string& xml, const std::string& tag) {
  try {
    return std::stoi(ElementText(xml, tag));
  } catch (const std::exception&) {
    return 0;
  }
}

struct PoolRef {
  virStoragePoolPtr p = nullptr;
  explicit PoolRef(virStoragePoolPtr x) : p(x) {}
  PoolRef(const PoolRef&) = delete;
  PoolRef& operator=(const PoolRef&) = delete;
  ~PoolRef() {
    if (p) virStoragePoolFree(p);
  }
};

struct VolRef {
  virStorageVolPtr v = nullptr;
  explicit VolRef(virStorageVolPtr x) : v(x) {}
  VolRef(const VolRef&) = delete;
  VolRef& operator=(const VolRef&) = delete;
  ~VolRef() {
    if (v) virStorageVolFree(v);
  }
};

std::string XmlText(const std::string& s) {
  std::string out;
  for (char ch : s) {
    switch (ch) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '\'':
        out += "&apos;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += ch;
    }
  }
  return out;
}

// The directory pool kaas keeps node disks and seeds in; defined, built and started if needed.
Result<virStoragePoolPtr> EnsurePool(virConnectPtr conn, const RealVmOptions& o) {
  virStoragePoolPtr pool = virStoragePoolLookupByName(conn, o.pool_name.c_str());
  if (!pool) {
    std::string xml = "<pool type='dir'><name>" + XmlText(o.pool_name) + "</name><target><path>" +
                      XmlText(o.pool_dir) + "</path></target></pool>";
    pool = virStoragePoolDefineXML(conn, xml.c_str(), 0);
    if (!pool) return Unavailable(LastError("define storage pool " + o.pool_name));
    if (virStoragePoolBuild(pool, 0) < 0) {
      virStoragePoolFree(pool);
      return Unavailable(LastError("build storage pool " + o.pool_name));
    }
    virStoragePoolSetAutostart(pool, 1);
  }
  if (virStoragePoolIsActive(pool) != 1 && virStoragePoolCreate(pool, 0) < 0) {
    virStoragePoolFree(pool);
    return Unavailable(LastError("start storage pool " + o.pool_name));
  }
  return pool;
}

// Uploads `data` as raw volume `name` into the pool (works over remote URIs too).
Status UploadVolume(virConnectPtr conn, virStoragePoolPtr pool, const std::string& name,
                    const std::string& data) {
  std::string xml = "<volume><name>" + XmlText(name) + "</name><capacity unit='bytes'>" +
                    std::to_string(data.size()) +
                    "</capacity><target><format type='raw'/></target></volume>";
  VolRef vol(virStorageVolCreateXML(pool, xml.c_str(), 0));
  if (!vol.v) return Unavailable(LastError("create volume " + name));
  virStreamPtr st = virStreamNew(conn, 0);
  if (!st) return Unavailable(LastError("stream for " + name));
  if (virStorageVolUpload(vol.v, st, 0, data.size(), 0) < 0) {
    virStreamFree(st);
    return Unavailable(LastError("upload " + name));
  }
  size_t off = 0;
  while (off < data.size()) {
    int n = virStreamSend(st, data.data() + off, std::min<size_t>(data.size() - off, 1 << 20));
    if (n < 0) {
      virStreamAbort(st);
      virStreamFree(st);
      return Unavailable(LastError("upload " + name));
    }
    off += static_cast<size_t>(n);
  }
  int fin = virStreamFinish(st);
  virStreamFree(st);
  if (fin < 0) return Unavailable(LastError("finish upload of " + name));
  return Status::Ok();
}

Status DeleteVolumeIfExists(virStoragePoolPtr pool, const std::string& name) {
  VolRef vol(virStorageVolLookupByName(pool, name.c_str()));
  if (!vol.v) return Status::Ok();
  if (virStorageVolDelete(vol.v, 0) < 0) return Unavailable(LastError("delete volume " + name));
  return Status::Ok();
}

Result<std::string> ReadWholeFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return Internal("cannot read " + p.string());
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class LibvirtHypervisor : public Hypervisor {
 public:
  LibvirtHypervisor(std::string name, virConnectPtr conn, std::string sim_file,
                    const templates::Renderer& renderer, int sim_delay_ms, bool real = false)
      : name_(std::move(name)),
        conn_(conn),
        sim_file_(std::move(sim_file)),
        renderer_(renderer),
        sim_delay_ms_(sim_delay_ms),
        real_(real) {}
  ~LibvirtHypervisor() override { virConnectClose(conn_); }

  const std::string& name() const override { return name_; }

  Result<DomainInfo> EnsureDomainRunning(const DomainSpec& spec) override {
    if (real_) return EnsureRealDomainRunning(spec);
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

  Result<DomainInfo> ResizeDomain(const DomainSpec& spec) override {
    SimulateLatency();
    std::lock_guard lock(mu_);
    DomainRef dom(virDomainLookupByName(conn_, spec.name.c_str()));
    if (!dom.d) {
      if (LastErrorIs(VIR_ERR_NO_DOMAIN)) return NotFound("domain " + spec.name);
      return Unavailable(LastError("lookup " + spec.name));
    }
    KAAS_ASSIGN_OR_RETURN(DomainInfo now, Describe(dom.d));
    if (now.vcpus == spec.vcpus && now.memory_gib == spec.memory_gib && now.running) return now;
    char* raw = virDomainGetXMLDesc(dom.d, VIR_DOMAIN_XML_INACTIVE);
    if (!raw) return Unavailable(LastError("describe " + spec.name));
    std::string xml = raw;
    free(raw);
    xml = ReplaceElement(xml, "vcpu", std::to_string(spec.vcpus));
    xml = ReplaceElement(xml, "memory", std::to_string(spec.memory_gib * 1024 * 1024));
    xml = ReplaceElement(xml, "currentMemory", std::to_string(spec.memory_gib * 1024 * 1024));
    if (virDomainIsActive(dom.d) == 1 && virDomainDestroy(dom.d) < 0) {
      return Unavailable(LastError("power off " + spec.name));
    }
    DomainRef redefined(virDomainDefineXML(conn_, xml.c_str()));
    if (!redefined.d) return Unavailable(LastError("redefine " + spec.name));
    if (virDomainCreate(redefined.d) < 0) return Unavailable(LastError("start " + spec.name));
    KAAS_RETURN_IF_ERROR(SaveLocked());
    return Describe(redefined.d);
  }

  Status DestroyDomain(const std::string& domain_name) override {
    SimulateLatency();
    std::lock_guard lock(mu_);
    DomainRef dom(virDomainLookupByName(conn_, domain_name.c_str()));
    if (!dom.d) {
      if (LastErrorIs(VIR_ERR_NO_DOMAIN))
        return real_ ? DeleteRealVolumes(domain_name) : Status::Ok();
      return Unavailable(LastError("lookup " + domain_name));
    }
    if (virDomainIsActive(dom.d) == 1 && virDomainDestroy(dom.d) < 0) {
      return Unavailable(LastError("destroy " + domain_name));
    }
    if (virDomainUndefine(dom.d) < 0) return Unavailable(LastError("undefine " + domain_name));
    if (real_) return DeleteRealVolumes(domain_name);
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

  std::string DomainTemplate() const { return real_ ? "domain/qemu.xml" : "domain/test.xml"; }

  // Real path: a qcow2 overlay on the guest image and a cloud-init NoCloud seed in the kaas
  // pool, a QEMU domain with user-mode networking (SSH/etcd forwarded on 127.0.0.1), started;
  // returns once SSH answers. The hypervisor's lock is not held while the guest boots.
  Result<DomainInfo> EnsureRealDomainRunning(const DomainSpec& spec) {
    const RealVmOptions o = GetRealVmOptions();
    int ssh_port = 0;
    {
      std::lock_guard lock(mu_);
      DomainRef dom(virDomainLookupByName(conn_, spec.name.c_str()));
      if (!dom.d) {
        if (!LastErrorIs(VIR_ERR_NO_DOMAIN)) return Unavailable(LastError("lookup " + spec.name));
        KAAS_ASSIGN_OR_RETURN(dom.d, DefineReal(spec, o));
      }
      int active = virDomainIsActive(dom.d);
      if (active < 0) return Unavailable(LastError("state of " + spec.name));
      if (active == 0 && virDomainCreate(dom.d) < 0) {
        return Unavailable(LastError("start " + spec.name));
      }
      char* meta = virDomainGetMetadata(dom.d, VIR_DOMAIN_METADATA_ELEMENT, kOwnerNamespace, 0);
      if (meta) {
        ssh_port = IntElement(meta, "ssh_port");
        free(meta);
      }
    }
    if (ssh_port <= 0) return Internal("domain " + spec.name + " has no forwarded SSH port");
    KAAS_RETURN_IF_ERROR(WaitForSsh("127.0.0.1", ssh_port, o.boot_timeout_seconds));
    return FindDomain(spec.name);
  }

  Result<virDomainPtr> DefineReal(const DomainSpec& spec, const RealVmOptions& o) {
    namespace fs = std::filesystem;
    if (o.guest_image_dir.empty()) {
      return Status(Code::kFailedPrecondition,
                    "no guest_image configured for real hypervisor " + name_);
    }
    const fs::path image = fs::absolute(o.guest_image_dir);
    KAAS_ASSIGN_OR_RETURN(virStoragePoolPtr raw_pool, EnsurePool(conn_, o));
    PoolRef pool(raw_pool);
    virStoragePoolRefresh(pool.p, 0);
    const std::string disk = spec.name + ".qcow2", seed = spec.name + "-seed.iso";
    // Left over from a run that stopped before the domain was defined: made again.
    KAAS_RETURN_IF_ERROR(DeleteVolumeIfExists(pool.p, disk));
    KAAS_RETURN_IF_ERROR(DeleteVolumeIfExists(pool.p, seed));
    std::string vol_xml = "<volume><name>" + XmlText(disk) +
                          "</name><capacity unit='GiB'>4</capacity><target><format "
                          "type='qcow2'/></target><backingStore><path>" +
                          XmlText((image / "disk.qcow2").string()) +
                          "</path><format type='qcow2'/></backingStore></volume>";
    VolRef vol(virStorageVolCreateXML(pool.p, vol_xml.c_str(), 0));
    if (!vol.v) return Unavailable(LastError("create disk of " + spec.name));

    // cloud-init NoCloud seed: user-data + meta-data on an ISO labelled cidata.
    auto user_data =
        renderer_.Render("cloud-init/user-data", {{"cluster_name", spec.owner.cluster_id},
                                                  {"cluster_id", spec.owner.cluster_id},
                                                  {"node_name", spec.owner.node_name},
                                                  {"role", spec.owner.role},
                                                  {"kubernetes_version", ""},
                                                  {"ssh_public_key", o.ssh_public_key}});
    if (!user_data.ok()) return user_data.status();
    fs::path tmp = fs::temp_directory_path() / ("kaas-seed-" + RandomHex(8));
    std::error_code ec;
    fs::create_directories(tmp, ec);
    if (ec) return Internal("cannot create " + tmp.string());
    {
      std::ofstream(tmp / "user-data") << *user_data;
      std::ofstream(tmp / "meta-data") << "instance-id: " << spec.name << "-" << RandomHex(4)
                                       << "\nlocal-hostname: " << spec.owner.node_name << "\n";
    }
    auto iso = RunProcess({"genisoimage", "-quiet", "-output", "seed.iso", "-volid", "cidata",
                           "-joliet", "-rock", "user-data", "meta-data"},
                          tmp.string(), 60000);
    Result<std::string> bytes = Internal("seed not built");
    if (iso.ok() && iso->exit_code == 0) bytes = ReadWholeFile(tmp / "seed.iso");
    fs::remove_all(tmp, ec);
    if (!iso.ok()) return iso.status();
    if (iso->exit_code != 0) return Internal("genisoimage failed: " + iso->output);
    if (!bytes.ok()) return bytes.status();
    KAAS_RETURN_IF_ERROR(UploadVolume(conn_, pool.p, seed, *bytes));

    KAAS_ASSIGN_OR_RETURN(int ssh_port, FreeLoopbackPort());
    KAAS_ASSIGN_OR_RETURN(int client_port, FreeLoopbackPort());
    KAAS_ASSIGN_OR_RETURN(int peer_port, FreeLoopbackPort());
    fs::create_directories(o.console_dir, ec);
    int64_t vcpus = spec.vcpus;
    if (o.max_vcpus > 0 && vcpus > o.max_vcpus) vcpus = o.max_vcpus;
    int64_t mib = spec.memory_gib * 1024;
    if (o.max_memory_mib > 0 && mib > o.max_memory_mib) mib = o.max_memory_mib;
    auto xml = renderer_.Render(
        DomainTemplate(),
        {{"domain_name", spec.name},
         {"uuid", NewUuid()},
         {"cluster_id", spec.owner.cluster_id},
         {"node_name", spec.owner.node_name},
         {"role", spec.owner.role},
         {"vcpus", std::to_string(vcpus)},
         {"memory_mib", std::to_string(mib)},
         {"kernel", (image / "vmlinuz").string()},
         {"initrd", (image / "initrd.img").string()},
         {"pool", o.pool_name},
         {"disk_volume", disk},
         {"seed_volume", seed},
         {"console_log", (fs::path(o.console_dir) / (spec.name + ".log")).string()},
         {"ssh_port", std::to_string(ssh_port)},
         {"etcd_client_port", std::to_string(client_port)},
         {"etcd_peer_port", std::to_string(peer_port)}});
    if (!xml.ok()) return xml.status();
    virDomainPtr d = virDomainDefineXML(conn_, xml->c_str());
    if (!d) return Unavailable(LastError("define " + spec.name));
    return d;
  }

  Status DeleteRealVolumes(const std::string& domain_name) {
    const RealVmOptions o = GetRealVmOptions();
    PoolRef pool(virStoragePoolLookupByName(conn_, o.pool_name.c_str()));
    if (!pool.p) return Status::Ok();  // no pool: nothing of kaas's on this hypervisor
    virStoragePoolRefresh(pool.p, 0);
    KAAS_RETURN_IF_ERROR(DeleteVolumeIfExists(pool.p, domain_name + ".qcow2"));
    return DeleteVolumeIfExists(pool.p, domain_name + "-seed.iso");
  }

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
    virDomainInfo di{};
    if (virDomainGetInfo(d, &di) == 0) {
      info.vcpus = di.nrVirtCpu;
      info.memory_gib = static_cast<int64_t>(di.maxMem / (1024 * 1024));
    }
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
  bool real_ = false;
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
  const bool real = uri.rfind(kTestPrefix, 0) != 0;
  auto hv = std::make_unique<LibvirtHypervisor>(name, conn, sim_file, renderer_,
                                                options_.sim_delay_ms, real);
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

namespace kaas::provisioner {

void SetRealVmOptions(const RealVmOptions& options) {
  std::lock_guard lock(g_real_mu);
  g_real_options = options;
}

const RealVmOptions& GetRealVmOptions() {
  std::lock_guard lock(g_real_mu);
  return g_real_options;
}

Result<VmEndpoint> LookupVmEndpoint(const std::string& uri, const std::string& domain_name) {
  InitLibvirtOnce();
  virConnectPtr conn = virConnectOpen(uri.c_str());
  if (!conn) return Unavailable(LastError("connect to " + uri));
  DomainRef dom(virDomainLookupByName(conn, domain_name.c_str()));
  if (!dom.d) {
    bool missing = LastErrorIs(VIR_ERR_NO_DOMAIN);
    std::string err = LastError("lookup " + domain_name);
    virConnectClose(conn);
    return missing ? NotFound("domain " + domain_name) : Unavailable(err);
  }
  VmEndpoint ep;
  char* meta = virDomainGetMetadata(dom.d, VIR_DOMAIN_METADATA_ELEMENT, kOwnerNamespace, 0);
  if (meta) {
    ep.ssh_port = IntElement(meta, "ssh_port");
    ep.etcd_client_port = IntElement(meta, "etcd_client_port");
    ep.etcd_peer_port = IntElement(meta, "etcd_peer_port");
    free(meta);
  }
  virDomainFree(dom.d);
  dom.d = nullptr;
  virConnectClose(conn);
  if (ep.ssh_port <= 0) return NotFound("domain " + domain_name + " has no forwarded ports");
  return ep;
}

Status WaitForSsh(const std::string& host, int port, int timeout_seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return Internal("socket failed");
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    ::inet_pton(AF_INET, host.c_str(), &a.sin_addr);
    bool banner = false;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
      // QEMU's user-mode forward accepts at once; only sshd's banner means SSH answers.
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 5000) > 0) {
        char buf[8] = {};
        ssize_t n = ::read(fd, buf, 4);
        banner = n == 4 && std::string(buf, 4) == "SSH-";
      }
    }
    ::close(fd);
    if (banner) return Status::Ok();
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  return Unavailable("SSH on " + host + ":" + std::to_string(port) + " did not answer within " +
                     std::to_string(timeout_seconds) + " s");
}

}  // namespace kaas::provisioner
