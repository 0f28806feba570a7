#include "kaas/cli/kubeconfig.h"

#include <fcntl.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <thread>

#include "kaas/cli/config.h"

namespace kaas::cli {
namespace {

namespace fs = std::filesystem;

// The lists `kaas use` merges into, in the order a new file gets them.
const char* const kLists[] = {"clusters", "users", "contexts"};
constexpr const char* kCurrent = "current-context";

// ---------- emitting a loaded document back without changing what it means ----------

// yaml-cpp keeps the tag of each node: "?" for a plain scalar (its type comes from its text,
// `123` is a number), "!" for a quoted one (always a string), else an explicit tag.
void EmitTag(YAML::Emitter& out, const std::string& tag) {
  static const std::string kCore = "tag:yaml.org,2002:";
  if (tag.empty() || tag == "?" || tag == "!") return;
  if (tag.rfind(kCore, 0) == 0) {
    out << YAML::SecondaryTag(tag.substr(kCore.size()));
  } else if (tag[0] == '!') {
    out << YAML::LocalTag(tag.substr(1));
  } else {
    out << YAML::VerbatimTag(tag);
  }
}

// yaml-cpp's own `out << node` writes a quoted "0123" back as the plain number 0123, which
// kubectl then refuses for a string field; this keeps quoted scalars quoted, and keeps the
// flow or block style of each collection. Anchors are written out as copies.
void Emit(YAML::Emitter& out, const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      out << YAML::Null;
      return;
    case YAML::NodeType::Scalar:
      if (n.Tag() == "!") {
        out << YAML::DoubleQuoted << n.Scalar();
        return;
      }
      EmitTag(out, n.Tag());
      out << n.Scalar();
      return;
    case YAML::NodeType::Sequence:
      EmitTag(out, n.Tag());
      if (n.Style() == YAML::EmitterStyle::Flow) out << YAML::Flow;
      out << YAML::BeginSeq;
      for (const auto& item : n) Emit(out, item);
      out << YAML::EndSeq;
      return;
    case YAML::NodeType::Map:
      EmitTag(out, n.Tag());
      if (n.Style() == YAML::EmitterStyle::Flow) out << YAML::Flow;
      out << YAML::BeginMap;
      for (const auto& kv : n) {
        out << YAML::Key;
        Emit(out, kv.first);
        out << YAML::Value;
        Emit(out, kv.second);
      }
      out << YAML::EndMap;
      return;
  }
}

// ---------- reading ----------

// The document in `text` as a mapping; an empty document (or one of only comments) is an
// empty mapping when `allow_empty`.
Result<YAML::Node> LoadMapping(const std::string& text, const std::string& what, bool allow_empty) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return InvalidArgument(what, what + " is not valid YAML: " + e.what());
  }
  if (!root || root.IsNull()) {
    if (allow_empty) return YAML::Node(YAML::NodeType::Map);
    return InvalidArgument(what, what + " is empty");
  }
  if (!root.IsMap()) return InvalidArgument(what, what + " is not a YAML mapping");
  return root;
}

bool IsKey(const YAML::Node& key, const char* name) {
  return key.IsScalar() && key.Scalar() == name;
}

// The value of top-level `key`, without inserting it (operator[] on a non-const node would).
YAML::Node Lookup(const YAML::Node& map, const char* key) {
  for (const auto& kv : map) {
    if (IsKey(kv.first, key)) return kv.second;
  }
  return YAML::Node();
}

// The `name` of a list entry; "" when it has none.
std::string EntryName(const YAML::Node& entry) {
  if (!entry.IsMap()) return "";
  YAML::Node name = Lookup(entry, "name");
  return name.IsScalar() ? name.Scalar() : "";
}

// The entry of `list` named `name`.
std::optional<YAML::Node> FindEntry(const YAML::Node& list, const std::string& name) {
  if (!list.IsSequence()) return std::nullopt;
  for (const auto& entry : list) {
    if (EntryName(entry) == name) return entry;
  }
  return std::nullopt;
}

// `existing` with each entry of `incoming` in place of the first existing entry of the same
// name (later ones of that name are dropped: they would be shadowed), the rest appended.
Result<YAML::Node> MergeList(const YAML::Node& existing, const YAML::Node& incoming,
                             const std::string& key) {
  YAML::Node out(YAML::NodeType::Sequence);
  std::set<std::string> placed;
  if (existing && !existing.IsNull()) {
    if (!existing.IsSequence()) {
      return InvalidArgument(key, "the kubeconfig's " + key + " is not a list");
    }
    for (const auto& entry : existing) {
      std::string name = EntryName(entry);
      auto replacement = name.empty() ? std::nullopt : FindEntry(incoming, name);
      if (!replacement) {
        out.push_back(entry);
      } else if (placed.insert(name).second) {
        out.push_back(*replacement);
      }
    }
  }
  for (const auto& entry : incoming) {
    if (!placed.count(EntryName(entry))) out.push_back(entry);
  }
  return out;
}

// Checks that `incoming` is what kaasd hands out and returns the context it selects.
Result<std::string> IncomingContext(const YAML::Node& incoming) {
  for (const char* key : kLists) {
    YAML::Node list = Lookup(incoming, key);
    if (!list.IsSequence() || list.size() == 0) {
      return InvalidArgument(key, std::string("the cluster's kubeconfig has no ") + key);
    }
    for (const auto& entry : list) {
      if (EntryName(entry).empty()) {
        return InvalidArgument(key, std::string("the cluster's kubeconfig has an entry in ") + key +
                                        " without a name");
      }
    }
  }
  YAML::Node current = Lookup(incoming, kCurrent);
  std::string context = current.IsScalar() ? current.Scalar() : "";
  if (context.empty()) context = EntryName(Lookup(incoming, "contexts")[0]);
  if (!FindEntry(Lookup(incoming, "contexts"), context)) {
    return InvalidArgument(kCurrent, "the cluster's kubeconfig selects context " + context +
                                         ", which it does not define");
  }
  return context;
}

Status Errno(const std::string& what) { return Internal(what + ": " + std::strerror(errno)); }

// kubectl's lock protocol: whoever creates `<file>.lock` exclusively may rewrite the file.
class KubeconfigLock {
 public:
  static Result<std::unique_ptr<KubeconfigLock>> Acquire(const std::string& file) {
    std::string path = file + ".lock";
    // kubectl holds the lock for milliseconds; a lock that outlives 3 s is a leftover.
    for (int attempt = 0; attempt < 30; ++attempt) {
      int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
      if (fd >= 0) {
        close(fd);
        return std::unique_ptr<KubeconfigLock>(new KubeconfigLock(path));
      }
      if (errno != EEXIST) return Errno("cannot create the lock file " + path);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return Status(Code::kFailedPrecondition,
                  "the kubeconfig is locked by " + path +
                      "; remove that file if no kubectl or kaas is writing " + file);
  }
  ~KubeconfigLock() { unlink(path_.c_str()); }
  KubeconfigLock(const KubeconfigLock&) = delete;
  KubeconfigLock& operator=(const KubeconfigLock&) = delete;

 private:
  explicit KubeconfigLock(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

}  // namespace

std::string KubeconfigPath() {
  const char* list = std::getenv("KUBECONFIG");
  std::string paths = list ? list : "";
  size_t start = 0;
  while (start <= paths.size()) {
    size_t end = paths.find(':', start);
    if (end == std::string::npos) end = paths.size();
    if (end > start) return paths.substr(start, end - start);
    start = end + 1;
  }
  const char* home = std::getenv("HOME");
  return std::string(home ? home : "") + "/.kube/config";
}

Result<MergedKubeconfig> MergeKubeconfig(const std::string& existing, const std::string& incoming) {
  KAAS_ASSIGN_OR_RETURN(YAML::Node in, LoadMapping(incoming, "the cluster's kubeconfig", false));
  KAAS_ASSIGN_OR_RETURN(std::string context, IncomingContext(in));
  KAAS_ASSIGN_OR_RETURN(YAML::Node root, LoadMapping(existing, "the kubeconfig", true));

  std::map<std::string, YAML::Node> merged;
  for (const char* key : kLists) {
    KAAS_ASSIGN_OR_RETURN(merged[key], MergeList(Lookup(root, key), Lookup(in, key), key));
  }

  YAML::Emitter out;
  out << YAML::BeginMap;
  if (root.size() == 0) {
    out << YAML::Key << "apiVersion" << YAML::Value << "v1";
    out << YAML::Key << "kind" << YAML::Value << "Config";
    out << YAML::Key << "preferences" << YAML::Value << YAML::Flow << YAML::BeginMap
        << YAML::EndMap;
  }
  std::set<std::string> written;
  auto emit_ours = [&](const std::string& key) {
    out << YAML::Key << key << YAML::Value;
    if (key == kCurrent) {
      out << YAML::DoubleQuoted << context;
    } else {
      out << YAML::Block;
      Emit(out, merged[key]);
    }
    written.insert(key);
  };
  for (const auto& kv : root) {
    bool ours = kv.first.IsScalar() &&
                (merged.count(kv.first.Scalar()) > 0 || kv.first.Scalar() == kCurrent);
    if (ours && !written.count(kv.first.Scalar())) {
      emit_ours(kv.first.Scalar());
    } else if (!ours) {
      out << YAML::Key;
      Emit(out, kv.first);
      out << YAML::Value;
      Emit(out, kv.second);
    }
  }
  for (const char* key : {"clusters", "users", "contexts", kCurrent}) {
    if (!written.count(key)) emit_ours(key);
  }
  out << YAML::EndMap;
  if (!out.good()) return Internal("cannot write the kubeconfig: " + out.GetLastError());
  return MergedKubeconfig{std::string(out.c_str()) + "\n", context};
}

Result<std::string> MergeIntoKubeconfigFile(const std::string& path, const std::string& incoming) {
  // A kubeconfig that is a symlink (into a dotfiles repository, say) is updated where it
  // points, not replaced by a regular file.
  std::string target = path;
  std::error_code ec;
  if (fs::is_symlink(path, ec)) {
    fs::path real = fs::weakly_canonical(path, ec);
    if (!ec) target = real.string();
  }
  fs::path parent = fs::path(target).parent_path();
  if (!parent.empty()) KAAS_RETURN_IF_ERROR(MakePrivateDirs(parent.string()));
  KAAS_ASSIGN_OR_RETURN(auto lock, KubeconfigLock::Acquire(target));

  std::string existing;
  if (fs::exists(target, ec)) {
    std::ifstream in(target, std::ios::binary);
    if (!in.is_open()) return Errno("cannot read " + target);
    existing.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    if (in.bad()) return Errno("cannot read " + target);
  }
  auto merged = MergeKubeconfig(existing, incoming);
  if (!merged.ok()) {
    return Status(merged.status().code(), target + ": " + merged.status().message());
  }
  KAAS_RETURN_IF_ERROR(WritePrivateFile(target, merged->yaml));
  return merged->context;
}

Result<CurrentContext> ReadCurrentContext(const std::string& yaml) {
  KAAS_ASSIGN_OR_RETURN(YAML::Node root, LoadMapping(yaml, "the kubeconfig", true));
  CurrentContext cc;
  YAML::Node current = Lookup(root, kCurrent);
  if (!current.IsScalar()) return cc;
  cc.context = current.Scalar();
  auto context_entry = FindEntry(Lookup(root, "contexts"), cc.context);
  if (!context_entry) return cc;
  YAML::Node context = Lookup(*context_entry, "context");
  if (!context.IsMap()) return cc;
  YAML::Node cluster = Lookup(context, "cluster");
  if (!cluster.IsScalar()) return cc;
  cc.cluster = cluster.Scalar();
  auto cluster_entry = FindEntry(Lookup(root, "clusters"), cc.cluster);
  YAML::Node entry = cluster_entry ? Lookup(*cluster_entry, "cluster") : YAML::Node();
  if (entry.IsMap()) {
    YAML::Node server = Lookup(entry, "server");
    if (server.IsScalar()) cc.server = server.Scalar();
  }
  return cc;
}

}  // namespace kaas::cli
