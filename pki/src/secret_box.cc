#include "kaas/pki/secret_box.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "kaas/common/ids.h"

namespace kaas::pki {
namespace {

Status ErrnoInternal(const std::string& what, const std::string& path) {
  const int err = errno;
  return Internal(what + " " + path + ": " + std::strerror(err));
}

Status FailedPrecondition(std::string message) {
  return {Code::kFailedPrecondition, std::move(message)};
}

// Closes a file descriptor on scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }
  // Closes now and reports the error close(2) gives (on NFS a failed write surfaces here).
  int Close() {
    int rc = close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

Status WriteAll(int fd, const unsigned char* data, size_t n, const std::string& path) {
  while (n > 0) {
    ssize_t w = write(fd, data, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return ErrnoInternal("writing", path);
    data += w;
    n -= static_cast<size_t>(w);
  }
  return Status::Ok();
}

std::string DirectoryOf(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// Writes a fresh key to a temporary file beside `path`, then link(2)s it into place: link never
// replaces an existing file, so the first creator wins and nobody reads a half-written key.
Status CreateKeyFile(const std::string& path) {
  const std::string tmp = path + ".tmp-" + RandomHex(8);
  Fd fd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (fd.get() < 0) return ErrnoInternal("creating master key file", tmp);
  std::array<unsigned char, SecretBox::kKeyBytes> key;
  crypto_secretbox_keygen(key.data());
  Status st = WriteAll(fd.get(), key.data(), key.size(), tmp);
  sodium_memzero(key.data(), key.size());
  // The umask may have cleared bits of 0600; the mode must be exactly 0600.
  if (st.ok() && fchmod(fd.get(), 0600) != 0) st = ErrnoInternal("chmod 0600", tmp);
  if (st.ok() && fsync(fd.get()) != 0) st = ErrnoInternal("fsync", tmp);
  if (st.ok() && fd.Close() != 0) st = ErrnoInternal("closing", tmp);
  if (st.ok() && link(tmp.c_str(), path.c_str()) != 0 && errno != EEXIST) {
    st = ErrnoInternal("publishing master key file", path);
  }
  unlink(tmp.c_str());
  if (!st.ok()) return st;
  // Make the new directory entry durable before anything is sealed under the key.
  const std::string dir = DirectoryOf(path);
  Fd dir_fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd.get() < 0 || fsync(dir_fd.get()) != 0) return ErrnoInternal("fsync directory", dir);
  return Status::Ok();
}

}  // namespace

Result<SecretBox> SecretBox::LoadOrCreate(const std::string& path) {
  if (sodium_init() < 0) return Internal("libsodium failed to initialise");
  int raw_fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (raw_fd < 0 && errno == ENOENT) {
    KAAS_RETURN_IF_ERROR(CreateKeyFile(path));
    raw_fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  }
  if (raw_fd < 0) return ErrnoInternal("opening master key file", path);
  Fd fd(raw_fd);

  struct stat st;
  if (fstat(fd.get(), &st) != 0) return ErrnoInternal("stat", path);
  if (!S_ISREG(st.st_mode)) {
    return FailedPrecondition("master key file " + path + " is not a regular file");
  }
  const unsigned mode = st.st_mode & 07777;
  if (mode != 0600) {
    char octal[8];
    std::snprintf(octal, sizeof octal, "%04o", mode);
    return FailedPrecondition("master key file " + path + " has mode " + octal +
                              "; it must be 0600 (owner read/write only): chmod 600 " + path);
  }
  if (st.st_size != static_cast<off_t>(kKeyBytes)) {
    return FailedPrecondition("master key file " + path + " is " + std::to_string(st.st_size) +
                              " bytes; a master key is exactly " + std::to_string(kKeyBytes) +
                              " bytes (the file is damaged or not a kaas master key)");
  }
  std::array<unsigned char, kKeyBytes> key;
  size_t got = 0;
  while (got < key.size()) {
    ssize_t r = read(fd.get(), key.data() + got, key.size() - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return ErrnoInternal("reading", path);
    if (r == 0) return FailedPrecondition("master key file " + path + " shrank while reading");
    got += static_cast<size_t>(r);
  }
  SecretBox box(key);
  sodium_memzero(key.data(), key.size());
  return box;
}

SecretBox::SecretBox(SecretBox&& other) noexcept : key_(other.key_) {
  sodium_memzero(other.key_.data(), other.key_.size());
}

SecretBox& SecretBox::operator=(SecretBox&& other) noexcept {
  if (this != &other) {
    key_ = other.key_;
    sodium_memzero(other.key_.data(), other.key_.size());
  }
  return *this;
}

SecretBox::~SecretBox() { sodium_memzero(key_.data(), key_.size()); }

Result<std::string> SecretBox::Seal(std::string_view plaintext) const {
  std::vector<unsigned char> box(crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES +
                                 plaintext.size());
  unsigned char* nonce = box.data();
  randombytes_buf(nonce, crypto_secretbox_NONCEBYTES);
  if (crypto_secretbox_easy(box.data() + crypto_secretbox_NONCEBYTES,
                            reinterpret_cast<const unsigned char*>(plaintext.data()),
                            plaintext.size(), nonce, key_.data()) != 0) {
    return Internal("crypto_secretbox_easy failed");
  }
  const int variant = sodium_base64_VARIANT_ORIGINAL;
  std::string out(sodium_base64_ENCODED_LEN(box.size(), variant), '\0');
  sodium_bin2base64(out.data(), out.size(), box.data(), box.size(), variant);
  out.resize(out.size() - 1);  // the encoder's trailing NUL
  return out;
}

Result<std::string> SecretBox::Open(std::string_view sealed) const {
  std::vector<unsigned char> box(sealed.size() / 4 * 3 + 3);
  size_t box_len = 0;
  if (sodium_base642bin(box.data(), box.size(), sealed.data(), sealed.size(), nullptr, &box_len,
                        nullptr, sodium_base64_VARIANT_ORIGINAL) != 0) {
    return InvalidArgument("sealed", "sealed value is not base64");
  }
  if (box_len < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES) {
    return InvalidArgument("sealed", "sealed value is too short to be one");
  }
  const unsigned char* nonce = box.data();
  const unsigned char* cipher = box.data() + crypto_secretbox_NONCEBYTES;
  const size_t cipher_len = box_len - crypto_secretbox_NONCEBYTES;
  std::string plain(cipher_len - crypto_secretbox_MACBYTES, '\0');
  if (crypto_secretbox_open_easy(reinterpret_cast<unsigned char*>(plain.data()), cipher, cipher_len,
                                 nonce, key_.data()) != 0) {
    return Internal(
        "sealed value failed authentication: it was modified, or sealed under another master "
        "key");
  }
  return plain;
}

}  // namespace kaas::pki
