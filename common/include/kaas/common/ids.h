#pragma once

#include <string>
#include <string_view>

namespace kaas {

// A new identifier "<prefix>-<12 hex ms timestamp><4 hex sequence><6 hex random>". Identifiers
// of one prefix made by one process sort by creation order, which keeps cursor pagination and
// event streams stable and cheap.
std::string NewId(std::string_view prefix);

// `n` cryptographically random bytes, hex encoded (2n characters).
std::string RandomHex(size_t n);

// SHA-256 of `data`, hex encoded. Used to store tokens as hashes only.
std::string Sha256Hex(std::string_view data);

}  // namespace kaas
