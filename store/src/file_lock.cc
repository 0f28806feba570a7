#include "kaas/store/file_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace kaas::store {

Result<FileLock> FileLock::Acquire(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Internal("cannot open " + path + ": " + std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    char holder[32] = {};
    ssize_t n = ::pread(fd, holder, sizeof(holder) - 1, 0);
    ::close(fd);
    if (err != EWOULDBLOCK) return Internal("cannot lock " + path + ": " + std::strerror(err));
    std::string pid = n > 0 ? std::string(holder, static_cast<size_t>(n)) : "?";
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
    return Status(Code::kFailedPrecondition,
                  "another kaasd (pid " + pid + ") already uses this SQLite database (" + path +
                      " is locked): SQLite serves one kaasd process; run several replicas on "
                      "PostgreSQL (--database postgresql://...)");
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  // The pid only makes a refusal's message nicer; the lock holds without it.
  if (::ftruncate(fd, 0) == 0) {
    [[maybe_unused]] ssize_t written = ::pwrite(fd, pid.data(), pid.size(), 0);
  }
  return FileLock(fd);
}

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);
}

std::string SqlitePath(const std::string& url) {
  constexpr std::string_view kPrefix = "sqlite://";
  return url.rfind(kPrefix, 0) == 0 ? url.substr(kPrefix.size()) : "";
}

}  // namespace kaas::store
