#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

#include "kaas/common/status.h"

namespace kaas::pki {

// Encryption at rest of small secrets (CA keys, service-account keys) under one master key kept
// in a file: libsodium crypto_secretbox (XSalsa20-Poly1305, authenticated), a fresh random
// nonce per Seal. Seal and Open are const and thread-safe. The key is wiped on destruction.
class SecretBox {
 public:
  static constexpr size_t kKeyBytes = 32;

  // Loads the master key from `path`. When `path` does not exist, first creates it: 32 random
  // bytes, mode 0600, published atomically (a reader never sees a partial key; when several
  // processes race, all end up with the same winner's key). The directory must exist.
  // kFailedPrecondition, naming the path and the fix, when the existing file is not a regular
  // file, its mode is not exactly 0600 or its size is not 32 bytes; kInternal on I/O errors.
  static Result<SecretBox> LoadOrCreate(const std::string& path);

  SecretBox(SecretBox&& other) noexcept;
  SecretBox& operator=(SecretBox&& other) noexcept;
  SecretBox(const SecretBox&) = delete;
  SecretBox& operator=(const SecretBox&) = delete;
  ~SecretBox();

  // base64(nonce || ciphertext-with-MAC), standard alphabet with padding; safe to store as
  // text. Two seals of the same plaintext differ.
  Result<std::string> Seal(std::string_view plaintext) const;

  // The plaintext given to Seal. kInvalidArgument when `sealed` is not base64 or too short to
  // be a sealed value; kInternal when authentication fails (the value was modified, or sealed
  // under another master key) — nothing of a forged value is ever returned.
  Result<std::string> Open(std::string_view sealed) const;

 private:
  explicit SecretBox(const std::array<unsigned char, kKeyBytes>& key) : key_(key) {}

  std::array<unsigned char, kKeyBytes> key_{};
};

}  // namespace kaas::pki
