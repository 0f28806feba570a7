// etcd's answers come from a guest (etcd-status.yml prints etcdctl's JSON): a compromised
// guest controls them. The input is "MEMBER-LIST-JSON\0ENDPOINT-HEALTH-JSON"; whatever it holds,
// ParseEtcdAnswers returns a view or an error and never throws.
#include <cstddef>
#include <cstdint>
#include <string>

#include "kaas/provisioner/bootstrapper.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string in(reinterpret_cast<const char*>(data), size);
  const size_t cut = in.find('\0');
  const std::string members = in.substr(0, cut);
  const std::string health = cut == std::string::npos ? "" : in.substr(cut + 1);
  auto view = kaas::provisioner::ParseEtcdAnswers(members, health);
  (void)view;
  return 0;
}
