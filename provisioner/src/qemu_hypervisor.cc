#include "qemu_hypervisor.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "kaas/common/ids.h"
#include "kaas/provisioner/cloud_init.h"
#include "kaas/provisioner/cluster_network.h"
#include "kaas/provisioner/host_keys.h"
#include "kaas/provisioner/loopback_ports.h"
#include "kaas/provisioner/process.h"
#include "kaas/templates/xml.h"

namespace kaas::provisioner {
namespace {

using templates::XmlEscape;

// Waits until an SSH server answers (sends its banner) on host:port.
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

// The directory pool kaas keeps node disks and seeds in; defined, built and started if needed.
Result<libvirt::Pool> EnsurePool(virConnectPtr conn, const RealVmOptions& o) {
  libvirt::Pool pool(virStoragePoolLookupByName(conn, o.pool_name.c_str()));
  if (!pool) {
    std::string xml = "<pool type='dir'><name>" + XmlEscape(o.pool_name) + "</name><target><path>" +
                      XmlEscape(o.pool_dir) + "</path></target></pool>";
    pool.reset(virStoragePoolDefineXML(conn, xml.c_str(), 0));
    if (!pool) return Unavailable(libvirt::LastError("define storage pool " + o.pool_name));
    if (virStoragePoolBuild(pool.get(), 0) < 0) {
      return Unavailable(libvirt::LastError("build storage pool " + o.pool_name));
    }
    virStoragePoolSetAutostart(pool.get(), 1);
  }
  if (virStoragePoolIsActive(pool.get()) != 1 && virStoragePoolCreate(pool.get(), 0) < 0) {
    return Unavailable(libvirt::LastError("start storage pool " + o.pool_name));
  }
  return pool;
}

// Uploads `data` as raw volume `name` into the pool (works over remote URIs too).
Status UploadVolume(virConnectPtr conn, virStoragePoolPtr pool, const std::string& name,
                    const std::string& data) {
  std::string xml = "<volume><name>" + XmlEscape(name) + "</name><capacity unit='bytes'>" +
                    std::to_string(data.size()) +
                    "</capacity><target><format type='raw'/></target></volume>";
  libvirt::Volume vol(virStorageVolCreateXML(pool, xml.c_str(), 0));
  if (!vol) return Unavailable(libvirt::LastError("create volume " + name));
  libvirt::Stream st(virStreamNew(conn, 0));
  if (!st) return Unavailable(libvirt::LastError("stream for " + name));
  if (virStorageVolUpload(vol.get(), st.get(), 0, data.size(), 0) < 0) {
    return Unavailable(libvirt::LastError("upload " + name));
  }
  size_t off = 0;
  while (off < data.size()) {
    int n =
        virStreamSend(st.get(), data.data() + off, std::min<size_t>(data.size() - off, 1 << 20));
    if (n < 0) {
      virStreamAbort(st.get());
      return Unavailable(libvirt::LastError("upload " + name));
    }
    off += static_cast<size_t>(n);
  }
  if (virStreamFinish(st.get()) < 0) {
    return Unavailable(libvirt::LastError("finish upload of " + name));
  }
  return Status::Ok();
}

Status DeleteVolumeIfExists(virStoragePoolPtr pool, const std::string& name) {
  libvirt::Volume vol(virStorageVolLookupByName(pool, name.c_str()));
  if (!vol) return Status::Ok();
  if (virStorageVolDelete(vol.get(), 0) < 0) {
    return Unavailable(libvirt::LastError("delete volume " + name));
  }
  return Status::Ok();
}

Result<std::string> ReadWholeFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return Internal("cannot read " + p.string());
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The cloud-init NoCloud seed of a node: user-data + meta-data on an ISO labelled cidata, built
// locally with genisoimage.
Result<std::string> BuildSeed(const templates::Renderer& renderer, const DomainSpec& spec,
                              const RealVmOptions& o, const HostKeyPair& host_key) {
  namespace fs = std::filesystem;
  KAAS_ASSIGN_OR_RETURN(
      std::string user_data,
      RenderUserData(renderer, {spec.owner.cluster_id, spec.owner.cluster_id, spec.owner.node_name,
                                spec.owner.role, "", o.ssh_public_key, host_key.private_key,
                                host_key.public_key}));
  fs::path tmp = fs::temp_directory_path() / ("kaas-seed-" + RandomHex(8));
  std::error_code ec;
  fs::create_directories(tmp, ec);
  if (ec) return Internal("cannot create " + tmp.string());
  {
    std::ofstream(tmp / "user-data") << user_data;
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
  return bytes;
}

}  // namespace

QemuHypervisor::QemuHypervisor(std::string name, std::unique_ptr<libvirt::Connection> conn,
                               const templates::Renderer& renderer, RealVmOptions options)
    : name_(std::move(name)),
      conn_(std::move(conn)),
      renderer_(renderer),
      options_(std::move(options)) {}

Result<DomainInfo> QemuHypervisor::EnsureDomainRunning(const DomainSpec& spec) {
  int ssh_port = 0;
  {
    std::lock_guard lock(mu_);
    auto dom = conn_->Lookup(spec.name);
    if (dom.status().code() == Code::kNotFound) dom = DefineLocked(spec);
    if (!dom.ok()) return dom.status();
    KAAS_RETURN_IF_ERROR(conn_->EnsureStarted(dom->get(), spec.name));
    ssh_port = libvirt::IntElement(conn_->OwnerMetadata(dom->get()), "ssh_port");
  }
  if (ssh_port <= 0) return Internal("domain " + spec.name + " has no forwarded SSH port");
  KAAS_RETURN_IF_ERROR(WaitForSsh("127.0.0.1", ssh_port, options_.boot_timeout_seconds));
  return FindDomain(spec.name);
}

Result<libvirt::Domain> QemuHypervisor::DefineLocked(const DomainSpec& spec) {
  namespace fs = std::filesystem;
  const RealVmOptions& o = options_;
  if (o.guest_image_dir.empty()) {
    return Status(Code::kFailedPrecondition,
                  "no guest_image configured for real hypervisor " + name_);
  }
  const fs::path image = fs::absolute(o.guest_image_dir);
  KAAS_ASSIGN_OR_RETURN(libvirt::Pool pool, EnsurePool(conn_->get(), o));
  virStoragePoolRefresh(pool.get(), 0);
  const std::string disk = spec.name + ".qcow2", seed = spec.name + "-seed.iso";
  // Left over from a run that stopped before the domain was defined: made again.
  KAAS_RETURN_IF_ERROR(DeleteVolumeIfExists(pool.get(), disk));
  KAAS_RETURN_IF_ERROR(DeleteVolumeIfExists(pool.get(), seed));
  std::string vol_xml = "<volume><name>" + XmlEscape(disk) +
                        "</name><capacity unit='GiB'>16</capacity><target><format "
                        "type='qcow2'/></target><backingStore><path>" +
                        XmlEscape((image / "disk.qcow2").string()) +
                        "</path><format type='qcow2'/></backingStore></volume>";
  libvirt::Volume vol(virStorageVolCreateXML(pool.get(), vol_xml.c_str(), 0));
  if (!vol) return Unavailable(libvirt::LastError("create disk of " + spec.name));

  // The guest's SSH host key is made here: its public half goes into the domain's metadata, so
  // kaas knows it before the first connection (and after a restart of kaasd).
  KAAS_ASSIGN_OR_RETURN(HostKeyPair host_key, GenerateHostKey(spec.name));
  KAAS_ASSIGN_OR_RETURN(std::string seed_iso, BuildSeed(renderer_, spec, o, host_key));
  KAAS_RETURN_IF_ERROR(UploadVolume(conn_->get(), pool.get(), seed, seed_iso));

  KAAS_ASSIGN_OR_RETURN(std::vector<int> ports, PickLoopbackPorts(4));
  const int ssh_port = ports[0], client_port = ports[1], peer_port = ports[2],
            apiserver_port = ports[3];
  std::error_code ec;
  fs::create_directories(o.console_dir, ec);
  const ClusterSegment segment = SegmentOf(spec.owner.cluster_id);
  int64_t vcpus = spec.vcpus;
  if (o.max_vcpus > 0 && vcpus > o.max_vcpus) vcpus = o.max_vcpus;
  int64_t mib = spec.memory_gib * 1024;
  if (o.max_memory_mib > 0 && mib > o.max_memory_mib) mib = o.max_memory_mib;
  KAAS_ASSIGN_OR_RETURN(
      std::string xml,
      renderer_.Render("domain/qemu.xml",
                       {{"domain_name", spec.name},
                        {"uuid", libvirt::NewUuid()},
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
                        {"etcd_peer_port", std::to_string(peer_port)},
                        {"apiserver_port", std::to_string(apiserver_port)},
                        {"host_key", host_key.public_key},
                        {"segment_ip", SegmentAddress(ssh_port)},
                        {"segment_mac", SegmentMac(ssh_port)},
                        {"segment_group", segment.group},
                        {"segment_port", std::to_string(segment.port)}}));
  return conn_->Define(xml, spec.name);
}

Result<DomainInfo> QemuHypervisor::ResizeDomain(const DomainSpec& spec) {
  std::lock_guard lock(mu_);
  return conn_->Resize(spec);
}

Status QemuHypervisor::DestroyDomain(const std::string& domain_name) {
  std::lock_guard lock(mu_);
  KAAS_RETURN_IF_ERROR(conn_->Destroy(domain_name));
  // Also when the domain was already gone: a crash between the steps leaves nothing behind.
  return DeleteVolumesLocked(domain_name);
}

Status QemuHypervisor::DeleteVolumesLocked(const std::string& domain_name) {
  libvirt::Pool pool(virStoragePoolLookupByName(conn_->get(), options_.pool_name.c_str()));
  if (!pool) return Status::Ok();  // no pool: nothing of kaas's on this hypervisor
  virStoragePoolRefresh(pool.get(), 0);
  KAAS_RETURN_IF_ERROR(DeleteVolumeIfExists(pool.get(), domain_name + ".qcow2"));
  return DeleteVolumeIfExists(pool.get(), domain_name + "-seed.iso");
}

Status QemuHypervisor::PowerOff(const std::string& domain_name) {
  std::lock_guard lock(mu_);
  return conn_->PowerOff(domain_name);
}

Result<DomainInfo> QemuHypervisor::FindDomain(const std::string& domain_name) {
  std::lock_guard lock(mu_);
  KAAS_ASSIGN_OR_RETURN(libvirt::Domain dom, conn_->Lookup(domain_name));
  return conn_->Describe(dom.get());
}

Result<std::vector<DomainInfo>> QemuHypervisor::ListDomains() {
  std::lock_guard lock(mu_);
  return conn_->List(name_);
}

Result<NodeAccess> QemuHypervisor::Endpoint(const std::string& domain_name) {
  std::string meta;
  {
    std::lock_guard lock(mu_);
    KAAS_ASSIGN_OR_RETURN(libvirt::Domain dom, conn_->Lookup(domain_name));
    meta = conn_->OwnerMetadata(dom.get());
  }
  NodeAccess ep{"127.0.0.1", 0, 0, 0, 0};
  ep.ssh_port = libvirt::IntElement(meta, "ssh_port");
  ep.etcd_client_port = libvirt::IntElement(meta, "etcd_client_port");
  ep.etcd_peer_port = libvirt::IntElement(meta, "etcd_peer_port");
  ep.apiserver_port = libvirt::IntElement(meta, "apiserver_port");  // 0 on domains made before
  ep.host_key = libvirt::ElementText(meta, "host_key");             // "" on domains made before
  ep.segment_ip = libvirt::ElementText(meta, "segment_ip");         // "" on domains made before
  if (ep.ssh_port <= 0) return NotFound("domain " + domain_name + " has no forwarded ports");
  return ep;
}

}  // namespace kaas::provisioner
