// kaasd's configuration file (--config): any YAML (or not) is read into a configuration or
// refused with a message; never a throw or a crash.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>

#include "config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/tmp/kaas-config-fuzz-" + std::to_string(getpid()) + ".yaml";
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  std::string a0 = "kaasd", a1 = "--config", a2 = path;
  char* argv[] = {a0.data(), a1.data(), a2.data(), nullptr};
  bool help = false;
  auto cfg = kaas::ParseKaasdConfig(3, argv, &help);
  if (!cfg.ok() && cfg.status().message().empty()) std::abort();
  return 0;
}
