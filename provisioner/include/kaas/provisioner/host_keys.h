#pragma once

#include <string>
#include <string_view>

#include "kaas/common/status.h"

namespace kaas::provisioner {

// SSH host keys (DESIGN.md §6.1: known before the first connection, checked strictly). A key is
// kept as "TYPE BASE64", the middle of a known_hosts line.

// `key` as an OpenSSH public key line ("ssh-ed25519 AAAA... [comment]"), normalized to
// "TYPE BASE64" (the comment dropped). kInvalidArgument (field "host_key") for anything else.
Result<std::string> NormalizeHostKey(std::string_view key);

struct HostKeyPair {
  std::string private_key;  // OpenSSH format, what sshd reads from /etc/ssh
  std::string public_key;   // "ssh-ed25519 AAAA..."
};
// A fresh Ed25519 host key for a machine kaas creates (ssh-keygen; nothing is left on disk).
Result<HostKeyPair> GenerateHostKey(const std::string& comment);

// The host key the SSH server at host:port presents (ssh-keyscan, Ed25519 preferred): what kaas
// pins at its first contact with a physical host that was registered without one. kUnavailable
// when nothing answers within `timeout_seconds`.
Result<std::string> ScanHostKey(const std::string& host, int port, int timeout_seconds);

// One known_hosts line for `key` at host:port ("host key" for port 22, else "[host]:port key").
std::string KnownHostsLine(const std::string& host, int port, const std::string& key);

}  // namespace kaas::provisioner
