#pragma once

// The libvirt C API behind RAII handles, with libvirt's per-thread last error turned into a
// Status at every call. Shared by the simulated and the QEMU hypervisor; private to
// provisioner/.

#include <libvirt/libvirt.h>

#include <memory>
#include <string>
#include <vector>

#include "kaas/common/status.h"
#include "kaas/provisioner/hypervisor.h"

namespace kaas::provisioner::libvirt {

// Namespace of the ownership metadata element every kaas domain carries.
inline constexpr const char* kOwnerNamespace = "https://kaas.dev/xmlns/owner/1";

// Initialises libvirt once per process; libvirt's error printer is turned off (errors reach the
// caller as a Status instead of stderr).
void InitOnce();

// "<what>: <libvirt's last error on this thread>".
std::string LastError(const std::string& what);
bool LastErrorIs(int code);

// Owns a libvirt object pointer and frees it with `Free`.
template <typename T, int (*Free)(T)>
class Handle {
 public:
  explicit Handle(T p = nullptr) : p_(p) {}
  Handle(Handle&& o) noexcept : p_(o.release()) {}
  Handle& operator=(Handle&& o) noexcept {
    reset(o.release());
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() { reset(); }
  T get() const { return p_; }
  explicit operator bool() const { return p_ != nullptr; }
  T release() {
    T p = p_;
    p_ = nullptr;
    return p;
  }
  void reset(T p = nullptr) {
    if (p_) Free(p_);
    p_ = p;
  }

 private:
  T p_;
};
using Domain = Handle<virDomainPtr, virDomainFree>;
using Pool = Handle<virStoragePoolPtr, virStoragePoolFree>;
using Volume = Handle<virStorageVolPtr, virStorageVolFree>;
using Stream = Handle<virStreamPtr, virStreamFree>;

// Text of the first <tag>text</tag> in `xml`; "" when absent.
std::string ElementText(const std::string& xml, const std::string& tag);
// The same as a number; 0 when absent or not a number.
int IntElement(const std::string& xml, const std::string& tag);

// One open libvirt connection, closed by the destructor. Not synchronised: the hypervisor that
// owns it serialises its calls.
class Connection {
 public:
  // kUnavailable with libvirt's message when `uri` cannot be opened (`what` names it).
  static Result<std::unique_ptr<Connection>> Open(const std::string& uri, const std::string& what);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  virConnectPtr get() const { return conn_; }

  // kNotFound ("domain <name>") when there is no such domain, kUnavailable on other errors.
  Result<Domain> Lookup(const std::string& name);
  // Defines (or redefines) a domain from XML; `name` is for the error message.
  Result<Domain> Define(const std::string& xml, const std::string& name);
  // Starts the domain unless it runs already.
  Status EnsureStarted(virDomainPtr d, const std::string& name);
  // Run state, size and ownership of a domain.
  Result<DomainInfo> Describe(virDomainPtr d);
  // The ownership metadata element of a domain as XML; "" when it has none.
  std::string OwnerMetadata(virDomainPtr d);
  // Every domain; `hypervisor` names the connection in errors.
  Result<std::vector<DomainInfo>> List(const std::string& hypervisor);
  // Stops the domain at once (virDomainDestroy); OK when it is not running.
  Status PowerOff(const std::string& name);
  // Stops and undefines the domain; OK when there is none.
  Status Destroy(const std::string& name);
  // Hypervisor::ResizeDomain: power off, redefine with the new vCPU/memory, start. Returns the
  // domain as it is afterwards (unchanged when it already had that size and runs).
  Result<DomainInfo> Resize(const DomainSpec& spec);

 private:
  explicit Connection(virConnectPtr conn) : conn_(conn) {}
  virConnectPtr conn_;
};

// A fresh random UUID for a new domain.
std::string NewUuid();

}  // namespace kaas::provisioner::libvirt
