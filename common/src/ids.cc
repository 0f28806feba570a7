#include "kaas/common/ids.h"

#include <sodium.h>

#include <chrono>
#include <cstdio>
#include <mutex>
#include <stdexcept>

namespace kaas {
namespace {

std::string ToHex(const unsigned char* data, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kDigits[data[i] >> 4];
    out[2 * i + 1] = kDigits[data[i] & 0xf];
  }
  return out;
}

void EnsureSodium() {
  static const int rc = sodium_init();
  if (rc < 0) throw std::runtime_error("libsodium initialisation failed");
}

}  // namespace

std::string RandomHex(size_t n) {
  EnsureSodium();
  std::string bytes(n, '\0');
  randombytes_buf(bytes.data(), n);
  return ToHex(reinterpret_cast<const unsigned char*>(bytes.data()), n);
}

std::string NewId(std::string_view prefix) {
  // Milliseconds, then a sequence number within the millisecond: ids made by one process sort
  // in the order they were made, even within one millisecond and if the clock steps back.
  static std::mutex mu;
  static long long last_ms = 0;
  static unsigned seq = 0;
  long long ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
  {
    std::lock_guard lock(mu);
    if (ms <= last_ms) {
      ms = last_ms;
      if (++seq > 0xffff) {
        ms = ++last_ms;
        seq = 0;
      }
    } else {
      last_ms = ms;
      seq = 0;
    }
    char ts[24];
    std::snprintf(ts, sizeof ts, "%012llx%04x", static_cast<unsigned long long>(ms), seq);
    std::string id(prefix);
    id += '-';
    id += ts;
    id += RandomHex(3);
    return id;
  }
}

std::string Sha256Hex(std::string_view data) {
  EnsureSodium();
  unsigned char out[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(out, reinterpret_cast<const unsigned char*>(data.data()), data.size());
  return ToHex(out, sizeof out);
}

}  // namespace kaas
