#pragma once

#include <string>

#include "kaas/common/status.h"

namespace kaas::store {

// An exclusive lock on a file (flock), held until the object is destroyed or the process
// ends, however it ends. kaasd takes one on `<sqlite file>.lock` before it opens a SQLite
// database: SQLite serves one kaasd process (several replicas need PostgreSQL), and a second
// kaasd on the same file is refused instead of running every operation twice.
class FileLock {
 public:
  // kFailedPrecondition naming the holder's pid (written into the file by the holder) when
  // another process holds the lock; kInternal when the file cannot be opened.
  static Result<FileLock> Acquire(const std::string& path);
  FileLock(FileLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  FileLock& operator=(FileLock&&) = delete;
  FileLock(const FileLock&) = delete;
  ~FileLock();

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

// The file of a sqlite:// URL ("" for other URLs).
std::string SqlitePath(const std::string& url);

}  // namespace kaas::store
