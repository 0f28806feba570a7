// hypervisors, hypervisor add|drain|activate|remove, hosts, host
// add|maintenance|available|remove, orphans: the platform admin's inventory.

#include <ostream>

#include "commands.h"
#include "kaas/cli/render.h"

namespace kaas::cli {
namespace {

std::string OrDash(const std::string& s) { return s.empty() ? "-" : s; }

std::string HypervisorPath(const std::string& name) {
  return "/api/v1/hypervisors/" + UrlEncode(name);
}

std::string HostPath(const std::string& name) { return "/api/v1/hosts/" + UrlEncode(name); }

// --vcpus and --memory-gib, both required and positive, into `body`; a usage error's
// message when they are missing or wrong.
std::string PutSize(const ParsedArgs& a, Json& body) {
  for (const char* flag : {"vcpus", "memory-gib"}) {
    if (!a.Has(flag)) return std::string("--") + flag + " is required";
    auto n = ParseInt(a.Get(flag));
    if (!n || *n < 1) return std::string("--") + flag + " must be a positive whole number";
    body[std::string(flag) == "vcpus" ? "vcpus" : "memory_gib"] = *n;
  }
  return "";
}

int SetState(Env& env, const std::string& path, const std::string& what, const std::string& state,
             const std::string& said) {
  ApiResult r = env.Api().Put(path, {{"state", state}});
  if (!r.ok()) return Fail(env, *r.error);
  if (env.json) {
    PrintJson(env, r.body);
    return 0;
  }
  env.io.out << what << " " << env.args.positional[0] << " " << said << "\n";
  return 0;
}

int Remove(Env& env, const std::string& path, const std::string& what) {
  const std::string& name = env.args.positional[0];
  ApiResult r = env.Api().Delete(path);
  if (!r.ok()) return Fail(env, *r.error);
  if (env.json) {
    PrintJson(env, {{"name", name}, {"removed", true}});
    return 0;
  }
  env.io.out << "Removed " << what << " " << name << "\n";
  return 0;
}

// "env=prod,rack=r1" for a labels object.
std::string Labels(const Json& labels) {
  std::string out;
  if (!labels.is_object()) return out;
  for (const auto& [k, v] : labels.items()) {
    out += (out.empty() ? "" : ",") + k + "=" + (v.is_string() ? v.get<std::string>() : v.dump());
  }
  return out;
}

}  // namespace

// ---------- hypervisors ----------

int CmdHypervisors(Env& env) {
  return PrintList(env, env.Api().Get("/api/v1/hypervisors"), "No hypervisors.",
                   {"NAME", "URI", "STATE", "VCPU", "MEM (GiB)", "NODES"}, [](const Json& h) {
                     const Json& used = Field(h, "used");
                     return std::vector<std::string>{
                         Str(h, "name"),
                         Str(h, "uri"),
                         Str(h, "state"),
                         std::to_string(Int(used, "vcpus")) + "/" + Num(h, "vcpus"),
                         std::to_string(Int(used, "memory_gib")) + "/" + Num(h, "memory_gib"),
                         std::to_string(Int(used, "nodes"))};
                   });
}

int CmdHypervisorAdd(Env& env) {
  const ParsedArgs& a = env.args;
  if (!a.Has("uri")) return UsageError(env, "--uri is required (qemu+ssh://HOST/system)");
  Json body = {{"name", a.positional[0]}, {"uri", a.Get("uri")}};
  if (std::string bad = PutSize(a, body); !bad.empty()) return UsageError(env, bad);
  ApiResult r = env.Api().Post("/api/v1/hypervisors", body);
  if (!r.ok()) return Fail(env, *r.error);
  if (env.json) {
    PrintJson(env, r.body);
    return 0;
  }
  env.io.out << "Added hypervisor " << Str(r.body, "name") << " (" << Str(r.body, "uri") << ", "
             << Num(r.body, "vcpus") << " vCPU, " << Num(r.body, "memory_gib")
             << " GiB): " << Str(r.body, "state") << "\n";
  return 0;
}

int CmdHypervisorDrain(Env& env) {
  return SetState(env, HypervisorPath(env.args.positional[0]), "Hypervisor", "draining",
                  "is draining: it takes no new nodes; its nodes stay");
}

int CmdHypervisorActivate(Env& env) {
  return SetState(env, HypervisorPath(env.args.positional[0]), "Hypervisor", "active",
                  "is active: it takes new nodes");
}

int CmdHypervisorRemove(Env& env) {
  return Remove(env, HypervisorPath(env.args.positional[0]), "hypervisor");
}

// ---------- physical hosts ----------

int CmdHosts(Env& env) {
  return PrintList(env, env.Api().Get("/api/v1/hosts"), "No physical hosts.",
                   {"NAME", "ADDRESS", "STATE", "CLUSTER", "VCPU", "MEM", "LABELS", "HOST KEY"},
                   [](const Json& h) {
                     // The key's type: which kind kaas checks ("-": pinned at first contact).
                     std::string key = Str(h, "host_key");
                     return std::vector<std::string>{Str(h, "name"),
                                                     Str(h, "address"),
                                                     Str(h, "state"),
                                                     OrDash(Str(h, "cluster_id")),
                                                     Num(h, "vcpus"),
                                                     Num(h, "memory_gib") + " GiB",
                                                     OrDash(Labels(Field(h, "labels"))),
                                                     OrDash(key.substr(0, key.find(' ')))};
                   });
}

int CmdHostAdd(Env& env) {
  const ParsedArgs& a = env.args;
  if (!a.Has("address")) return UsageError(env, "--address is required");
  Json body = {{"name", a.positional[0]}, {"address", a.Get("address")}};
  if (std::string bad = PutSize(a, body); !bad.empty()) return UsageError(env, bad);
  Json labels = Json::object();
  for (const auto& l : a.GetAll("label")) {
    size_t eq = l.find('=');
    if (eq == std::string::npos || eq == 0) {
      return UsageError(env, "--label takes KEY=VALUE, not '" + l + "'");
    }
    labels[l.substr(0, eq)] = l.substr(eq + 1);
  }
  if (!labels.empty()) body["labels"] = labels;
  if (a.Has("host-key")) body["host_key"] = a.Get("host-key");
  ApiResult r = env.Api().Post("/api/v1/hosts", body);
  if (!r.ok()) return Fail(env, *r.error);
  if (env.json) {
    PrintJson(env, r.body);
    return 0;
  }
  env.io.out << "Added host " << Str(r.body, "name") << " (" << Str(r.body, "address") << ", "
             << Num(r.body, "vcpus") << " vCPU, " << Num(r.body, "memory_gib")
             << " GiB): " << Str(r.body, "state") << "\n";
  return 0;
}

int CmdHostMaintenance(Env& env) {
  return SetState(env, HostPath(env.args.positional[0]), "Host", "maintenance",
                  "is in maintenance: no cluster gets it");
}

int CmdHostAvailable(Env& env) {
  return SetState(env, HostPath(env.args.positional[0]), "Host", "available",
                  "is available to clusters");
}

int CmdHostRemove(Env& env) { return Remove(env, HostPath(env.args.positional[0]), "host"); }

int CmdHostKey(Env& env) {
  ApiResult r =
      env.Api().Put(HostPath(env.args.positional[0]), {{"host_key", env.args.positional[1]}});
  if (!r.ok()) return Fail(env, *r.error);
  if (env.json) {
    PrintJson(env, r.body);
    return 0;
  }
  env.io.out << "Host " << Str(r.body, "name") << " has SSH host key " << Str(r.body, "host_key")
             << "\n";
  return 0;
}

// ---------- orphans ----------

int CmdOrphans(Env& env) {
  ApiResult r = env.Api().Get("/api/v1/inventory/orphans");
  if (!r.ok()) return Fail(env, *r.error);
  if (env.json) {
    PrintJson(env, r.body);
    return 0;
  }
  std::ostream& out = env.io.out;
  const Json& domains = Field(r.body, "domains");
  const Json& hosts = Field(r.body, "hosts");
  const Json& unreachable = Field(r.body, "unreachable");
  bool any = false;
  if (domains.is_array() && !domains.empty()) {
    std::vector<std::vector<std::string>> rows = {{"HYPERVISOR", "DOMAIN", "CLUSTER", "NODE"}};
    for (const auto& d : domains) {
      rows.push_back({Str(d, "hypervisor"), Str(d, "domain"), OrDash(Str(d, "cluster_id")),
                      OrDash(Str(d, "node"))});
    }
    out << "VMs of kaas without a live node:\n" << RenderTable(rows);
    any = true;
  }
  if (hosts.is_array() && !hosts.empty()) {
    std::vector<std::vector<std::string>> rows = {{"HOST", "CLUSTER"}};
    for (const auto& h : hosts) rows.push_back({Str(h, "host"), OrDash(Str(h, "cluster_id"))});
    out << (any ? "\n" : "") << "Hosts allocated to a cluster that has no node on them:\n"
        << RenderTable(rows);
    any = true;
  }
  if (!any) out << "No orphans.\n";
  if (unreachable.is_array() && !unreachable.empty()) {
    std::string names;
    for (const auto& u : unreachable) {
      names += (names.empty() ? "" : ", ") + (u.is_string() ? u.get<std::string>() : u.dump());
    }
    out << "Not checked (unreachable): " << names << "\n";
  }
  return 0;
}

}  // namespace kaas::cli
