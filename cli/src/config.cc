#include "kaas/cli/config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <vector>

namespace kaas::cli {
namespace {

namespace fs = std::filesystem;

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

Status Errno(const std::string& what) { return Internal(what + ": " + std::strerror(errno)); }

}  // namespace

std::string ConfigPath() {
  if (std::string p = Env("KAAS_CONFIG"); !p.empty()) return p;
  if (std::string xdg = Env("XDG_CONFIG_HOME"); !xdg.empty()) return xdg + "/kaas/config.yaml";
  return Env("HOME") + "/.config/kaas/config.yaml";
}

Result<ClientConfig> LoadConfig(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return ClientConfig{};
  try {
    YAML::Node root = YAML::LoadFile(path);
    ClientConfig c;
    if (!root || root.IsNull()) return c;
    if (!root.IsMap()) return Internal("config " + path + " is not a YAML mapping");
    auto get = [&](const char* key) {
      YAML::Node n = root[key];
      return n && n.IsScalar() ? n.as<std::string>() : std::string();
    };
    c.server = get("server");
    c.token = get("token");
    c.username = get("username");
    c.expires_at = get("expires_at");
    c.ca_file = get("ca_file");
    return c;
  } catch (const YAML::Exception& e) {
    return Internal("cannot read config " + path + ": " + e.what());
  }
}

Status MakePrivateDirs(const std::string& dir) {
  std::vector<fs::path> missing;
  for (fs::path p = dir; !p.empty() && !fs::exists(p); p = p.parent_path()) {
    missing.push_back(p);
    if (p == p.parent_path()) break;
  }
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    if (mkdir(it->c_str(), 0700) != 0 && errno != EEXIST) {
      return Errno("cannot create directory " + it->string());
    }
  }
  return Status::Ok();
}

Status SaveConfig(const std::string& path, const ClientConfig& config) {
  YAML::Emitter yaml;
  yaml << YAML::BeginMap;
  yaml << YAML::Key << "server" << YAML::Value << config.server;
  yaml << YAML::Key << "token" << YAML::Value << config.token;
  yaml << YAML::Key << "username" << YAML::Value << config.username;
  yaml << YAML::Key << "expires_at" << YAML::Value << config.expires_at;
  if (!config.ca_file.empty()) yaml << YAML::Key << "ca_file" << YAML::Value << config.ca_file;
  yaml << YAML::EndMap;
  return WritePrivateFile(path, std::string(yaml.c_str()) + "\n");
}

Status WritePrivateFile(const std::string& path, const std::string& text) {
  fs::path target(path);
  if (target.has_parent_path())
    KAAS_RETURN_IF_ERROR(MakePrivateDirs(target.parent_path().string()));

  // mkstemp creates the temp file exclusively with mode 0600, so the secrets are never
  // readable by others, and two writers never share a temp file.
  std::string tmp = path + ".tmp.XXXXXX";
  int fd = mkstemp(tmp.data());
  if (fd < 0) return Errno("cannot write " + path);
  bool written = fchmod(fd, 0600) == 0;
  for (size_t done = 0; written && done < text.size();) {
    ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    written = n > 0;
    if (written) done += static_cast<size_t>(n);
  }
  written = written && fsync(fd) == 0;
  Status st = written ? Status::Ok() : Errno("cannot write " + tmp);
  if (close(fd) != 0 && st.ok()) st = Errno("cannot write " + tmp);
  if (st.ok() && rename(tmp.c_str(), path.c_str()) != 0) st = Errno("cannot replace " + path);
  if (!st.ok()) unlink(tmp.c_str());
  return st;
}

}  // namespace kaas::cli
