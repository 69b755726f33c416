// AtomicFile: output that appears whole or not at all.
//
// Every writer in swapline goes through this. Bytes are written to a temporary file
// in the destination's own folder (so the final rename never crosses a filesystem),
// flushed with fsync, then renamed over the destination, and the folder is fsynced.
// Readers of the destination see the old file or the complete new one, never a
// partial one. If Commit() is not reached (error, exception, crash) the temporary is
// removed by the destructor; after a crash a stray ".swapline-tmp-*" may remain, which
// is never the destination name.
//
// Errors: a missing or unwritable destination folder gives Code::kOutputNotWritable
// with a message naming the folder.
//
// Thread safety: one AtomicFile is used by one thread at a time.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>

#include "core/status.h"

namespace swapline {

class AtomicFile {
 public:
  // Opens a new temporary file beside `destination`.
  static Result<AtomicFile> Create(const std::filesystem::path& destination);

  AtomicFile(AtomicFile&& other) noexcept;
  AtomicFile& operator=(AtomicFile&& other) noexcept;
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile();

  // Appends bytes to the temporary file.
  Status Append(std::span<const std::uint8_t> bytes);

  // Path of the temporary file, for libraries that insist on opening a path
  // themselves (the video muxer). They must write only to this path.
  const std::filesystem::path& temp_path() const { return temp_path_; }
  const std::filesystem::path& destination() const { return destination_; }

  // fsync, rename over the destination, fsync the folder.
  // REQUIRES: not yet committed.
  Status Commit();

 private:
  AtomicFile(std::filesystem::path destination, std::filesystem::path temp_path, int fd);
  void Discard();

  std::filesystem::path destination_;
  std::filesystem::path temp_path_;
  int fd_ = -1;
  bool committed_ = false;
};

// Writes `bytes` to `destination` through an AtomicFile.
Status WriteFileAtomically(const std::filesystem::path& destination,
                           std::span<const std::uint8_t> bytes);

}  // namespace swapline
