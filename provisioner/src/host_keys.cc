#include "kaas/provisioner/host_keys.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "kaas/common/ids.h"
#include "kaas/provisioner/process.h"

namespace kaas::provisioner {
namespace {

bool KnownType(std::string_view type) {
  for (const char* t : {"ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
                        "ecdsa-sha2-nistp521", "ssh-rsa"}) {
    if (type == t) return true;
  }
  return false;
}

bool Base64(std::string_view s) {
  if (s.size() < 16 || s.size() > 4096) return false;
  for (char c : s) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '+' || c == '/' || c == '=';
    if (!ok) return false;
  }
  return true;
}

std::vector<std::string> Fields(std::string_view line) {
  std::vector<std::string> out;
  std::istringstream in{std::string(line)};
  for (std::string f; in >> f;) out.push_back(f);
  return out;
}

}  // namespace

Result<std::string> NormalizeHostKey(std::string_view key) {
  while (!key.empty() && (key.back() == '\n' || key.back() == '\r' || key.back() == ' ')) {
    key.remove_suffix(1);  // a .pub file's line end
  }
  const std::vector<std::string> f = Fields(key);
  if (key.find_first_of("\n\r") != std::string_view::npos || f.size() < 2 || f.size() > 3 ||
      !KnownType(f[0]) || !Base64(f[1])) {
    return InvalidArgument("host_key",
                           "host_key must be an SSH public key: TYPE BASE64 [comment], TYPE one "
                           "of ssh-ed25519, ecdsa-sha2-nistp256/384/521, ssh-rsa");
  }
  return f[0] + " " + f[1];
}

Result<HostKeyPair> GenerateHostKey(const std::string& comment) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("kaas-hostkey-" + RandomHex(8));
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Internal("cannot create " + dir.string() + ": " + ec.message());
  auto run = RunProcess(
      {"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", (dir / "key").string()},
      dir.string(), 30000);
  HostKeyPair pair;
  auto read = [](const fs::path& p) {
    std::ifstream in(p);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  if (run.ok() && run->exit_code == 0) {
    pair.private_key = read(dir / "key");
    pair.public_key = read(dir / "key.pub");
  }
  fs::remove_all(dir, ec);
  if (!run.ok()) return run.status();
  if (run->exit_code != 0) return Internal("ssh-keygen failed: " + run->output);
  KAAS_ASSIGN_OR_RETURN(pair.public_key, NormalizeHostKey(pair.public_key));
  return pair;
}

Result<std::string> ScanHostKey(const std::string& host, int port, int timeout_seconds) {
  auto run = RunProcess({"ssh-keyscan", "-T", std::to_string(timeout_seconds), "-p",
                         std::to_string(port), "-t", "ed25519,ecdsa,rsa", host},
                        "/", (timeout_seconds + 5) * 1000);
  if (!run.ok()) return run.status();
  // "host ssh-ed25519 AAAA..." per key; comments ("# host:port SSH-2.0-...") and errors
  // interleaved. Ed25519 first, else the first key offered.
  std::string found;
  std::istringstream lines(run->output);
  for (std::string line; std::getline(lines, line);) {
    const std::vector<std::string> f = Fields(line);
    if (f.size() != 3 || f[0].rfind('#', 0) == 0 || !KnownType(f[1]) || !Base64(f[2])) continue;
    if (f[1] == "ssh-ed25519") return f[1] + " " + f[2];
    if (found.empty()) found = f[1] + " " + f[2];
  }
  if (found.empty()) {
    return Unavailable("no SSH host key from " + host + ":" + std::to_string(port) + " within " +
                       std::to_string(timeout_seconds) + " s");
  }
  return found;
}

std::string KnownHostsLine(const std::string& host, int port, const std::string& key) {
  const std::string where = port == 22 ? host : "[" + host + "]:" + std::to_string(port);
  return key.empty() ? where : where + " " + key;
}

}  // namespace kaas::provisioner
