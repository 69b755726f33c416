#include "storage/object_copy.h"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "storage/open_store.h"

namespace swapline::storage {
namespace {

namespace fs = std::filesystem;

std::string BaseName(const std::string& key) {
  const std::size_t slash = key.rfind('/');
  return slash == std::string::npos ? key : key.substr(slash + 1);
}

bool NamesFolder(const fs::path& path) { return !path.has_filename(); }

// Fills in the name a copy ends up with: "s3://b/dir/" or an existing folder
// keeps the source's file name.
void ResolveDest(const StorageUri& source, StorageUri& dest) {
  if (!source.is_s3()) {
    if (dest.key.empty() || dest.key.ends_with('/')) dest.key += source.local_path.filename().string();
  } else if (!dest.is_s3()) {
    std::error_code ec;
    if (fs::is_directory(dest.local_path, ec) || NamesFolder(dest.local_path)) {
      dest.local_path /= BaseName(source.key);
    }
  } else if (dest.key.empty() || dest.key.ends_with('/')) {
    dest.key += BaseName(source.key);
  }
}

// One copy on `store` (the S3 side: the destination bucket for s3→s3).
// `known`: the source object's size and ETag from a listing (saves a HEAD).
Status CopyOne(ObjectStore& store, const StorageUri& source, const StorageUri& dest, const CopyOptions& options,
               const ProgressCallback& progress, const std::optional<ObjectInfo>& known = std::nullopt) {
  CopyReport report;
  if (!source.is_s3()) {
    PutOptions put = options.put;
    put.progress = progress;
    SWAPLINE_RETURN_IF_ERROR(store.PutFile(dest.key, source.local_path, put).status());
    report = {"upload", source.local_path.string(), dest.ToString()};
  } else if (!dest.is_s3()) {
    GetOptions get;
    get.progress = progress;
    get.known = known;
    SWAPLINE_RETURN_IF_ERROR(store.GetToFile(source.key, dest.local_path, get).status());
    report = {"download", source.ToString(), dest.local_path.string()};
  } else {
    auto* s3 = dynamic_cast<S3Store*>(&store);
    if (s3 == nullptr) return InvalidArgument("server-side copy needs an s3:// destination");
    SWAPLINE_RETURN_IF_ERROR(s3->CopyFrom(source.bucket, source.key, dest.key));
    report = {"copy", source.ToString(), dest.ToString()};
  }
  if (options.on_copied) options.on_copied(report);
  return Status::Ok();
}

Status CopyRecursive(ObjectStore& store, const StorageUri& source, const StorageUri& dest, const S3Options& s3,
                     const CopyOptions& options) {
  const auto join = [](const std::string& prefix, const std::string& rest) {
    return prefix.empty() || prefix.ends_with('/') ? prefix + rest : prefix + "/" + rest;
  };
  struct File {
    StorageUri source, dest;
    std::uint64_t size = 0;
    std::optional<ObjectInfo> listed;  // S3 sources: from the listing
  };
  std::vector<File> files;
  if (!source.is_s3()) {
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(source.local_path, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (!it->is_regular_file()) continue;
      File file{.source = {}, .dest = dest, .size = 0, .listed = std::nullopt};
      file.source.local_path = it->path();
      file.dest.key = join(dest.key, it->path().lexically_relative(source.local_path).generic_string());
      file.size = it->file_size(ec);
      files.push_back(std::move(file));
    }
    if (ec) return ErrnoStatus(ec.value(), "cannot walk", source.local_path.string());
  } else {
    std::unique_ptr<ObjectStore> listing;
    if (dest.is_s3()) {
      SWAPLINE_ASSIGN_OR_RETURN(listing, OpenObjectStore(source, s3));  // the source bucket
    }
    SWAPLINE_ASSIGN_OR_RETURN(std::vector<ObjectInfo> objects, ListAll(listing ? *listing : store, source.key));
    for (const ObjectInfo& info : objects) {
      const std::string relative = info.key.substr(source.key.size());
      if (relative.empty() || relative.ends_with('/')) continue;  // "folder" markers
      File file{.source = source, .dest = dest, .size = info.size, .listed = info};
      file.source.key = info.key;
      if (dest.is_s3()) {
        file.dest.key = join(dest.key, relative);
      } else {
        file.dest.local_path = dest.local_path / relative;
        std::error_code ec;
        fs::create_directories(file.dest.local_path.parent_path(), ec);
      }
      files.push_back(std::move(file));
    }
  }

  std::uint64_t total = 0;
  for (const File& file : files) total += file.size;
  std::atomic<std::uint64_t> done_bytes{0};
  std::atomic<std::size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex mutex;
  Status first_error;
  auto work = [&] {
    for (std::size_t i = next++; i < files.size() && !failed; i = next++) {
      ProgressCallback progress;
      std::uint64_t reported = 0;  // this file's bytes already added to done_bytes
      if (options.progress) {
        progress = [&](std::uint64_t done, std::uint64_t) {
          const std::uint64_t now = done_bytes += done - std::min(done, reported);
          reported = std::max(reported, done);
          options.progress(now, total);
        };
      }
      const Status status = CopyOne(store, files[i].source, files[i].dest, options, progress, files[i].listed);
      if (!status.ok()) {
        std::lock_guard lock(mutex);
        if (!failed.exchange(true)) first_error = status;
      }
    }
  };
  const std::size_t workers =
      std::min<std::size_t>(static_cast<std::size_t>(std::max(1, options.concurrency)), files.size());
  std::vector<std::thread> threads;
  for (std::size_t w = 1; w < workers; ++w) threads.emplace_back(work);
  if (workers > 0) work();
  for (std::thread& thread : threads) thread.join();
  return first_error;
}

}  // namespace

Status CopyObjects(const StorageUri& source, StorageUri dest, const S3Options& s3, const CopyOptions& options) {
  if (!source.is_s3() && !dest.is_s3()) return InvalidArgument("one side of a copy must be an s3:// URI");
  if (!options.recursive) ResolveDest(source, dest);
  SWAPLINE_ASSIGN_OR_RETURN(std::unique_ptr<ObjectStore> store, OpenObjectStore(dest.is_s3() ? dest : source, s3));
  if (options.recursive) return CopyRecursive(*store, source, dest, s3, options);
  return CopyOne(*store, source, dest, options, options.progress);
}

}  // namespace swapline::storage
