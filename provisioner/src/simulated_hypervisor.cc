#include "simulated_hypervisor.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>

namespace kaas::provisioner {
namespace {

Status WriteFileAtomically(const std::string& path, const std::string& content) {
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

}  // namespace

SimulatedHypervisor::SimulatedHypervisor(std::string name, std::string uri,
                                         std::unique_ptr<libvirt::Connection> conn,
                                         std::string state_file,
                                         const templates::Renderer& renderer, int sim_delay_ms)
    : name_(std::move(name)),
      uri_(std::move(uri)),
      conn_(std::move(conn)),
      state_file_(std::move(state_file)),
      renderer_(renderer),
      sim_delay_ms_(sim_delay_ms) {
  if (persisted()) {
    lock_fd_ = ::open((state_file_ + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    stamp_ = FileStamp();
  }
}

SimulatedHypervisor::~SimulatedHypervisor() {
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

class SimulatedHypervisor::FileGuard {
 public:
  explicit FileGuard(int fd) : fd_(fd) {}
  FileGuard(FileGuard&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  FileGuard(const FileGuard&) = delete;
  ~FileGuard() {
    if (fd_ >= 0) ::flock(fd_, LOCK_UN);
  }

 private:
  int fd_;
};

std::string SimulatedHypervisor::FileStamp() const {
  struct stat st {};
  if (::stat(state_file_.c_str(), &st) != 0) return "";
  return std::to_string(st.st_ino) + ":" + std::to_string(st.st_size) + ":" +
         std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec);
}

Result<SimulatedHypervisor::FileGuard> SimulatedHypervisor::SyncLocked() {
  if (lock_fd_ < 0) return FileGuard(-1);
  if (::flock(lock_fd_, LOCK_EX) != 0) return Unavailable("cannot lock " + state_file_ + ".lock");
  FileGuard guard(lock_fd_);
  std::string stamp = FileStamp();
  if (stamp == stamp_) return guard;
  // Another kaasd wrote the file (saves replace it by rename): read it anew.
  KAAS_ASSIGN_OR_RETURN(conn_, libvirt::Connection::Open(uri_, name_ + " (" + uri_ + ")"));
  stamp_ = stamp;
  return guard;
}

Result<DomainInfo> SimulatedHypervisor::EnsureDomainRunning(const DomainSpec& spec) {
  SimulateLatency();
  std::lock_guard lock(mu_);
  KAAS_ASSIGN_OR_RETURN(FileGuard file, SyncLocked());
  auto dom = conn_->Lookup(spec.name);
  if (dom.status().code() == Code::kNotFound) {
    KAAS_ASSIGN_OR_RETURN(
        std::string xml,
        renderer_.Render("domain/test.xml", {{"domain_name", spec.name},
                                             {"uuid", libvirt::NewUuid()},
                                             {"cluster_id", spec.owner.cluster_id},
                                             {"node_name", spec.owner.node_name},
                                             {"role", spec.owner.role},
                                             {"vcpus", std::to_string(spec.vcpus)},
                                             {"memory_gib", std::to_string(spec.memory_gib)}}));
    dom = conn_->Define(xml, spec.name);
  }
  if (!dom.ok()) return dom.status();
  KAAS_RETURN_IF_ERROR(conn_->EnsureStarted(dom->get(), spec.name));
  KAAS_RETURN_IF_ERROR(SaveLocked());
  return conn_->Describe(dom->get());
}

Result<DomainInfo> SimulatedHypervisor::ResizeDomain(const DomainSpec& spec) {
  SimulateLatency();
  std::lock_guard lock(mu_);
  KAAS_ASSIGN_OR_RETURN(FileGuard file, SyncLocked());
  KAAS_ASSIGN_OR_RETURN(DomainInfo info, conn_->Resize(spec));
  KAAS_RETURN_IF_ERROR(SaveLocked());
  return info;
}

Status SimulatedHypervisor::DestroyDomain(const std::string& domain_name) {
  SimulateLatency();
  std::lock_guard lock(mu_);
  KAAS_ASSIGN_OR_RETURN(FileGuard file, SyncLocked());
  KAAS_RETURN_IF_ERROR(conn_->Destroy(domain_name));
  return SaveLocked();
}

Status SimulatedHypervisor::PowerOff(const std::string& domain_name) {
  std::lock_guard lock(mu_);
  KAAS_ASSIGN_OR_RETURN(FileGuard file, SyncLocked());
  KAAS_RETURN_IF_ERROR(conn_->PowerOff(domain_name));
  return SaveLocked();
}

Result<DomainInfo> SimulatedHypervisor::FindDomain(const std::string& domain_name) {
  std::lock_guard lock(mu_);
  KAAS_ASSIGN_OR_RETURN(FileGuard file, SyncLocked());
  KAAS_ASSIGN_OR_RETURN(libvirt::Domain dom, conn_->Lookup(domain_name));
  return conn_->Describe(dom.get());
}

Result<std::vector<DomainInfo>> SimulatedHypervisor::ListDomains() {
  std::lock_guard lock(mu_);
  KAAS_ASSIGN_OR_RETURN(FileGuard file, SyncLocked());
  return conn_->List(name_);
}

void SimulatedHypervisor::SimulateLatency() const {
  if (persisted() && sim_delay_ms_ > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(sim_delay_ms_));
  }
}

// Rewrites the hypervisor's file with its current domains and their run state.
Status SimulatedHypervisor::SaveLocked() {
  if (!persisted()) return Status::Ok();
  virNodeInfo node{};
  if (virNodeGetInfo(conn_->get(), &node) < 0) {
    return Unavailable(libvirt::LastError("node info of " + name_));
  }
  std::string out =
      "<node xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>\n  <cpu><nodes>1</nodes>"
      "<sockets>1</sockets><cores>" +
      std::to_string(node.cpus) + "</cores><threads>1</threads></cpu>\n  <memory>" +
      std::to_string(node.memory) + "</memory>\n";
  virDomainPtr* doms = nullptr;
  int n = virConnectListAllDomains(conn_->get(), &doms, 0);
  if (n < 0) return Unavailable(libvirt::LastError("list domains on " + name_));
  Status st;
  for (int i = 0; i < n; ++i) {
    libvirt::Domain d(doms[i]);
    char* xml = virDomainGetXMLDesc(d.get(), 0);
    int state = 0, reason = 0;
    if (!xml || virDomainGetState(d.get(), &state, &reason, 0) < 0) {
      free(xml);
      st = Unavailable(libvirt::LastError("describe domain on " + name_));
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
  KAAS_RETURN_IF_ERROR(WriteFileAtomically(state_file_, out));
  stamp_ = FileStamp();
  return Status::Ok();
}

Status SimulatedHypervisor::CreateFile(const std::string& path, int64_t vcpus, int64_t memory_gib) {
  if (std::filesystem::exists(path)) return Status::Ok();
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  std::string xml = "<node>\n  <cpu><nodes>1</nodes><sockets>1</sockets><cores>" +
                    std::to_string(vcpus) + "</cores><threads>1</threads></cpu>\n  <memory>" +
                    std::to_string(memory_gib * 1024 * 1024) + "</memory>\n</node>\n";
  return WriteFileAtomically(path, xml);
}

}  // namespace kaas::provisioner
