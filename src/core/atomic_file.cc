#include "core/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <string>
#include <utility>

namespace swapline {
namespace {

Status OutputError(int err, const std::filesystem::path& destination) {
  const std::filesystem::path folder =
      destination.has_parent_path() ? destination.parent_path() : std::filesystem::path(".");
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      return OutputNotWritable("output folder '" + folder.string() +
                               "' does not exist; create it first");
    case EACCES:
    case EPERM:
    case EROFS:
      return OutputNotWritable("output folder '" + folder.string() + "' is not writable: " +
                               std::strerror(err));
    case ENOSPC:
    case EDQUOT:
      return OutputNotWritable("no space left for '" + destination.string() + "'");
    default:
      return OutputNotWritable("cannot write '" + destination.string() + "': " +
                               std::strerror(err));
  }
}

// Six random characters of [0-9a-zA-Z], as mkstemp's.
std::string RandomSuffix() {
  static constexpr char kChars[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string suffix(6, '0');
  for (char& c : suffix) c = kChars[rng() % (sizeof(kChars) - 1)];
  return suffix;
}

}  // namespace

Result<AtomicFile> AtomicFile::Create(const std::filesystem::path& destination) {
  if (destination.empty() || !destination.has_filename()) {
    return InvalidArgument("output path '" + destination.string() + "' names no file");
  }
  std::error_code ec;
  if (std::filesystem::is_directory(destination, ec)) {
    return OutputNotWritable("output path '" + destination.string() + "' is a folder");
  }
  const std::filesystem::path folder =
      destination.has_parent_path() ? destination.parent_path() : std::filesystem::path(".");
  // Created with mode 0666 so the kernel applies the process umask, as for any other
  // output (mkstemp would create 0600, and reading the umask means changing it, which
  // races with files other threads create meanwhile).
  const std::string prefix = (folder / (".swapline-tmp-" + destination.filename().string() + "-")).string();
  std::string pattern;
  int fd = -1;
  for (int attempt = 0; fd < 0; ++attempt) {
    pattern = prefix + RandomSuffix();
    fd = ::open(pattern.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && (errno != EEXIST || attempt == 100)) return OutputError(errno, destination);
  }
  return AtomicFile(destination, std::filesystem::path(pattern), fd);
}

AtomicFile::AtomicFile(std::filesystem::path destination, std::filesystem::path temp_path, int fd)
    : destination_(std::move(destination)), temp_path_(std::move(temp_path)), fd_(fd) {}

AtomicFile::AtomicFile(AtomicFile&& other) noexcept
    : destination_(std::move(other.destination_)),
      temp_path_(std::move(other.temp_path_)),
      fd_(std::exchange(other.fd_, -1)),
      committed_(std::exchange(other.committed_, true)) {}

AtomicFile& AtomicFile::operator=(AtomicFile&& other) noexcept {
  if (this != &other) {
    Discard();
    destination_ = std::move(other.destination_);
    temp_path_ = std::move(other.temp_path_);
    fd_ = std::exchange(other.fd_, -1);
    committed_ = std::exchange(other.committed_, true);
  }
  return *this;
}

AtomicFile::~AtomicFile() { Discard(); }

void AtomicFile::Discard() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  if (!committed_ && !temp_path_.empty()) {
    ::unlink(temp_path_.c_str());
  }
  committed_ = true;
}

Status AtomicFile::Append(std::span<const std::uint8_t> bytes) {
  const std::uint8_t* data = bytes.data();
  std::size_t left = bytes.size();
  while (left > 0) {
    const ssize_t n = ::write(fd_, data, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return OutputError(errno, destination_);
    }
    data += n;
    left -= static_cast<std::size_t>(n);
  }
  return Status::Ok();
}

Status AtomicFile::Commit() {
  if (::fsync(fd_) != 0) return OutputError(errno, destination_);
  if (::close(fd_) != 0) {
    fd_ = -1;
    return OutputError(errno, destination_);
  }
  fd_ = -1;
  if (::rename(temp_path_.c_str(), destination_.c_str()) != 0) return OutputError(errno, destination_);
  committed_ = true;
  const std::filesystem::path folder =
      destination_.has_parent_path() ? destination_.parent_path() : std::filesystem::path(".");
  const int dir_fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);  // best effort: the rename is durable once the folder is
    ::close(dir_fd);
  }
  return Status::Ok();
}

Status WriteFileAtomically(const std::filesystem::path& destination,
                           std::span<const std::uint8_t> bytes) {
  SWAPLINE_ASSIGN_OR_RETURN(AtomicFile file, AtomicFile::Create(destination));
  SWAPLINE_RETURN_IF_ERROR(file.Append(bytes));
  return file.Commit();
}

}  // namespace swapline
