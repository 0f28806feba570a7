#include "kaas/provisioner/cluster_network.h"

#include <cstdio>

#include "kaas/common/ids.h"

namespace kaas::provisioner {
namespace {

int HexByte(const std::string& hex, size_t i) {
  return std::stoi(hex.substr(2 * i, 2), nullptr, 16);
}

}  // namespace

ClusterSegment SegmentOf(std::string_view cluster_id) {
  const std::string h = Sha256Hex(cluster_id);
  ClusterSegment s;
  s.group = "239." + std::to_string(128 + HexByte(h, 0) % 128) + "." +
            std::to_string(HexByte(h, 1)) + "." + std::to_string(HexByte(h, 2));
  s.port = 20000 + (HexByte(h, 3) * 256 + HexByte(h, 4)) % 40000;
  return s;
}

std::string SegmentAddress(int ssh_port) {
  return "10.200." + std::to_string((ssh_port >> 8) & 0xff) + "." + std::to_string(ssh_port & 0xff);
}

std::string SegmentMac(int ssh_port) {
  char mac[18];
  std::snprintf(mac, sizeof mac, "52:54:00:c8:%02x:%02x", (ssh_port >> 8) & 0xff, ssh_port & 0xff);
  return mac;
}

}  // namespace kaas::provisioner
