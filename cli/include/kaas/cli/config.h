#pragma once

#include <string>

#include "kaas/common/status.h"

namespace kaas::cli {

// What `kaas login` remembers between invocations.
struct ClientConfig {
  std::string server;
  std::string token;
  std::string username;
  std::string expires_at;
  std::string ca_file;  // kaas login --ca-file: the private CA the server's certificate is from
};

// Where the config lives: $KAAS_CONFIG if set, else $XDG_CONFIG_HOME/kaas/config.yaml, else
// $HOME/.config/kaas/config.yaml.
std::string ConfigPath();

// Reads the YAML config at `path`. A missing file is an empty config, not an error.
Result<ClientConfig> LoadConfig(const std::string& path);

// Replaces the config at `path` atomically. The file is created with mode 0600 (it holds a
// bearer token) and missing parent directories with mode 0700.
Status SaveConfig(const std::string& path, const ClientConfig& config);

// Replaces the file at `path` with `text` atomically: written to a fresh temp file next to it,
// synced and renamed over it, so readers see the old or the new file and never half of one.
// The result has mode 0600 whatever the old file had (it holds secrets); missing parent
// directories are created with mode 0700.
Status WritePrivateFile(const std::string& path, const std::string& text);

// Creates `dir` and its missing ancestors, top-down, with mode 0700; existing ones are kept as
// they are, since they may be shared (~/.config).
Status MakePrivateDirs(const std::string& dir);

}  // namespace kaas::cli
