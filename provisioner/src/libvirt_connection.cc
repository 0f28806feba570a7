#include "libvirt_connection.h"

#include <libvirt/virterror.h>

#include <cstdlib>

#include "kaas/common/ids.h"

namespace kaas::provisioner::libvirt {
namespace {

void IgnoreError(void*, virErrorPtr) {}

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

}  // namespace

void InitOnce() {
  static const bool done = [] {
    virInitialize();
    virSetErrorFunc(nullptr, IgnoreError);
    return true;
  }();
  (void)done;
}

std::string LastError(const std::string& what) {
  const char* msg = virGetLastErrorMessage();
  return what + ": " + (msg ? msg : "unknown libvirt error");
}

bool LastErrorIs(int code) { return virGetLastErrorCode() == code; }

std::string ElementText(const std::string& xml, const std::string& tag) {
  auto open = xml.find("<" + tag + ">");
  if (open == std::string::npos) return "";
  open += tag.size() + 2;
  auto close = xml.find("</" + tag + ">", open);
  if (close == std::string::npos) return "";
  return xml.substr(open, close - open);
}

int IntElement(const std::string& xml, const std::string& tag) {
  try {
    return std::stoi(ElementText(xml, tag));
  } catch (const std::exception&) {
    return 0;
  }
}

std::string NewUuid() {
  std::string h = RandomHex(16);
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) +
         "-" + h.substr(20, 12);
}

Result<std::unique_ptr<Connection>> Connection::Open(const std::string& uri,
                                                     const std::string& what) {
  InitOnce();
  virConnectPtr conn = virConnectOpen(uri.c_str());
  if (!conn) return Unavailable(LastError("connect to " + what));
  return std::unique_ptr<Connection>(new Connection(conn));
}

Connection::~Connection() { virConnectClose(conn_); }

Result<Domain> Connection::Lookup(const std::string& name) {
  Domain dom(virDomainLookupByName(conn_, name.c_str()));
  if (dom) return dom;
  if (LastErrorIs(VIR_ERR_NO_DOMAIN)) return NotFound("domain " + name);
  return Unavailable(LastError("lookup " + name));
}

Result<Domain> Connection::Define(const std::string& xml, const std::string& name) {
  Domain dom(virDomainDefineXML(conn_, xml.c_str()));
  if (!dom) return Unavailable(LastError("define " + name));
  return dom;
}

Status Connection::EnsureStarted(virDomainPtr d, const std::string& name) {
  int active = virDomainIsActive(d);
  if (active < 0) return Unavailable(LastError("state of " + name));
  if (active == 0 && virDomainCreate(d) < 0) return Unavailable(LastError("start " + name));
  return Status::Ok();
}

std::string Connection::OwnerMetadata(virDomainPtr d) {
  char* meta = virDomainGetMetadata(d, VIR_DOMAIN_METADATA_ELEMENT, kOwnerNamespace, 0);
  if (!meta) return "";
  std::string xml = meta;
  free(meta);
  return xml;
}

Result<DomainInfo> Connection::Describe(virDomainPtr d) {
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
  if (std::string xml = OwnerMetadata(d); !xml.empty()) {
    info.owner.cluster_id = ElementText(xml, "cluster");
    info.owner.node_name = ElementText(xml, "node");
    info.owner.role = ElementText(xml, "role");
    info.ssh_port = IntElement(xml, "ssh_port");
    info.etcd_client_port = IntElement(xml, "etcd_client_port");
  }
  return info;
}

Result<std::vector<DomainInfo>> Connection::List(const std::string& hypervisor) {
  virDomainPtr* doms = nullptr;
  int n = virConnectListAllDomains(conn_, &doms, 0);
  if (n < 0) return Unavailable(LastError("list domains on " + hypervisor));
  std::vector<DomainInfo> out;
  Status st;
  for (int i = 0; i < n; ++i) {
    Domain d(doms[i]);
    auto info = Describe(d.get());
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

Status Connection::PowerOff(const std::string& name) {
  KAAS_ASSIGN_OR_RETURN(Domain dom, Lookup(name));
  if (virDomainIsActive(dom.get()) == 1 && virDomainDestroy(dom.get()) < 0) {
    return Unavailable(LastError("power off " + name));
  }
  return Status::Ok();
}

Status Connection::Destroy(const std::string& name) {
  auto dom = Lookup(name);
  if (dom.status().code() == Code::kNotFound) return Status::Ok();
  if (!dom.ok()) return dom.status();
  if (virDomainIsActive(dom->get()) == 1 && virDomainDestroy(dom->get()) < 0) {
    return Unavailable(LastError("destroy " + name));
  }
  if (virDomainUndefine(dom->get()) < 0) return Unavailable(LastError("undefine " + name));
  return Status::Ok();
}

Result<DomainInfo> Connection::Resize(const DomainSpec& spec) {
  KAAS_ASSIGN_OR_RETURN(Domain dom, Lookup(spec.name));
  KAAS_ASSIGN_OR_RETURN(DomainInfo now, Describe(dom.get()));
  if (now.vcpus == spec.vcpus && now.memory_gib == spec.memory_gib && now.running) return now;
  char* raw = virDomainGetXMLDesc(dom.get(), VIR_DOMAIN_XML_INACTIVE);
  if (!raw) return Unavailable(LastError("describe " + spec.name));
  std::string xml = raw;
  free(raw);
  const std::string kib = std::to_string(spec.memory_gib * 1024 * 1024);
  xml = ReplaceElement(xml, "vcpu", std::to_string(spec.vcpus));
  xml = ReplaceElement(xml, "memory", kib);
  xml = ReplaceElement(xml, "currentMemory", kib);
  if (virDomainIsActive(dom.get()) == 1 && virDomainDestroy(dom.get()) < 0) {
    return Unavailable(LastError("power off " + spec.name));
  }
  Domain redefined(virDomainDefineXML(conn_, xml.c_str()));
  if (!redefined) return Unavailable(LastError("redefine " + spec.name));
  if (virDomainCreate(redefined.get()) < 0) return Unavailable(LastError("start " + spec.name));
  return Describe(redefined.get());
}

}  // namespace kaas::provisioner::libvirt
