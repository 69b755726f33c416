#include "models/model_dir.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <vector>

#include "core/env.h"
#include "storage/hashing.h"
#include "storage/http_client.h"
#include "storage/open_store.h"
#include "storage/storage_uri.h"

namespace swapline::models {
namespace {

namespace fs = std::filesystem;

Result<std::string> FileSha256(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return ErrnoStatus(errno, "open", path.string());
  storage::Sha256Hasher hasher;
  std::vector<char> buffer(1 << 20);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    hasher.Update({reinterpret_cast<const std::uint8_t*>(buffer.data()), static_cast<std::size_t>(in.gcount())});
  }
  if (in.bad()) return IOError("cannot read " + path.string());
  return storage::HexEncode(hasher.Finish());
}

Status CheckLicense(const ModelEntry& entry, const std::set<std::string>& accepted) {
  if (entry.commercial_use || accepted.count(entry.name) != 0) return Status::Ok();
  return FailedPrecondition("model " + entry.name + " is under a license that does not allow commercial use (" +
                            entry.license + "): pass --accept-license " + entry.name + " to use it anyway");
}

// The URI of `file` under a mirror's base URI.
std::string UnderMirror(std::string base, const std::string& file) {
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + "/" + file;
}

// Appends the bytes of `uri` from `offset` to `sink`.
Status Download(const std::string& uri, std::uint64_t offset, const storage::S3Settings& s3,
                const storage::ByteSink& sink) {
  if (uri.rfind("https://", 0) == 0) {
    storage::HttpOptions http;
    http.ca_bundle = s3.ca_bundle;
    storage::HttpClient client(http);
    storage::HttpRequest request;
    request.method = "GET";
    request.url = uri;
    if (offset > 0) request.headers.emplace_back("Range", "bytes=" + std::to_string(offset) + "-");
    SWAPLINE_ASSIGN_OR_RETURN(const storage::HttpResponse response, client.Send(request, &sink));
    if (response.status / 100 != 2) {
      return Status(response.status == 404 ? Code::kNotFound : Code::kUnavailable,
                    uri + ": HTTP " + std::to_string(response.status));
    }
    return Status::Ok();
  }
  SWAPLINE_ASSIGN_OR_RETURN(const storage::StorageUri location, storage::ParseStorageUri(uri));
  std::string key = location.key;
  storage::StorageUri folder = location;
  if (!location.is_s3()) {
    key = location.local_path.filename().string();
    folder.local_path = location.local_path.parent_path();
  }
  SWAPLINE_ASSIGN_OR_RETURN(const storage::S3Options s3_options, storage::MakeS3Options(s3));
  SWAPLINE_ASSIGN_OR_RETURN(auto store, storage::OpenObjectStore(folder, s3_options));
  storage::GetOptions get;
  if (offset > 0) get.range = storage::ByteRange{offset, std::nullopt};
  return store->Get(key, get, sink);
}

}  // namespace

fs::path DefaultModelsDir() {
  const std::string configured = EnvOr("SWAPLINE_MODELS_DIR", "");
  if (!configured.empty()) return configured;
  const std::string cache = EnvOr("XDG_CACHE_HOME", "");
  if (!cache.empty()) return fs::path(cache) / "swapline" / "models";
  return fs::path(EnvOr("HOME", "/tmp")) / ".cache" / "swapline" / "models";
}

fs::path ModelsDirOr(const std::string& configured) {
  return configured.empty() ? DefaultModelsDir() : fs::path(configured);
}

const char* ModelStateName(ModelState state) {
  switch (state) {
    case ModelState::kMissing: return "missing";
    case ModelState::kPartial: return "partial";
    case ModelState::kInstalled: return "installed";
    case ModelState::kCorrupt: return "corrupt";
  }
  return "?";
}

ModelDir::ModelDir(fs::path root, const ModelManifest& manifest) : root_(std::move(root)), manifest_(manifest) {}

Result<const ModelEntry*> ModelDir::Lookup(const std::string& name) const {
  const ModelEntry* entry = manifest_.Find(name);
  if (entry == nullptr) {
    return FailedPrecondition("unknown model '" + name + "' (`swapline models list` shows the known ones)");
  }
  return entry;
}

fs::path ModelDir::PartialPath(const ModelEntry& entry) const { return root_ / ".partial" / (entry.name + ".part"); }

ModelStatus ModelDir::Inspect(const ModelEntry& entry, bool verify_checksum) const {
  ModelStatus status;
  std::error_code error;
  const fs::path path = root_ / entry.file;
  if (fs::is_regular_file(path, error)) {
    status.bytes = fs::file_size(path, error);
    status.state = ModelState::kInstalled;
    if (status.bytes != entry.size) {
      status.state = ModelState::kCorrupt;
      status.problem = std::to_string(status.bytes) + " bytes, the manifest says " + std::to_string(entry.size);
    } else if (verify_checksum) {
      auto digest = FileSha256(path);
      if (!digest.ok() || *digest != entry.sha256) {
        status.state = ModelState::kCorrupt;
        status.problem = digest.ok() ? "sha256 " + *digest + ", the manifest says " + entry.sha256
                                     : digest.status().message();
      }
    }
    return status;
  }
  const fs::path partial = PartialPath(entry);
  if (fs::is_regular_file(partial, error)) {
    status.state = ModelState::kPartial;
    status.bytes = fs::file_size(partial, error);
  }
  return status;
}

Status ModelDir::FetchFrom(const ModelEntry& entry, const std::string& uri, const PullOptions& options) {
  const fs::path partial = PartialPath(entry);
  std::error_code error;
  fs::create_directories(partial.parent_path(), error);
  if (error) return IOError("cannot create " + partial.parent_path().string() + ": " + error.message());
  std::uint64_t offset = fs::is_regular_file(partial, error) ? fs::file_size(partial, error) : 0;
  if (offset > entry.size) {
    fs::remove(partial, error);
    offset = 0;
  }
  if (offset < entry.size) {
    const int fd = ::open(partial.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return ErrnoStatus(errno, "open", partial.string());
    std::uint64_t done = offset;
    const storage::ByteSink sink = [&](std::span<const std::uint8_t> bytes) -> Status {
      // A source that sends more than the manifest's size is not this file (or it
      // ignored our Range): stop early instead of filling the disk.
      if (done + bytes.size() > entry.size) {
        return UnsupportedInput(uri + " sends more than the " + std::to_string(entry.size) + " bytes of " + entry.name);
      }
      for (std::size_t written = 0; written < bytes.size();) {
        const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return ErrnoStatus(errno, "write", partial.string());
        written += static_cast<std::size_t>(n);
      }
      done += bytes.size();
      if (options.progress) options.progress(done, entry.size);
      return Status::Ok();
    };
    Status fetched = Download(uri, offset, options.s3, sink);
    const bool synced = ::fsync(fd) == 0;
    ::close(fd);
    // Bytes that are not this file are dropped (the next pull starts over), and so is
    // an empty partial file of a source that sent nothing.
    if (fetched.code() == Code::kUnsupportedInput || done == 0) fs::remove(partial, error);
    if (!fetched.ok()) return fetched.WithContext(uri);
    if (!synced) return IOError("cannot sync " + partial.string());
    if (done < entry.size) {
      return Unavailable(uri + " ended after " + std::to_string(done) + " of " + std::to_string(entry.size) +
                         " bytes (kept; the next pull resumes)");
    }
  }
  SWAPLINE_ASSIGN_OR_RETURN(const std::string digest, FileSha256(partial));
  if (digest != entry.sha256) {
    fs::remove(partial, error);
    return UnsupportedInput(uri + " gave a file with sha256 " + digest + ", the manifest says " + entry.sha256);
  }
  const fs::path path = root_ / entry.file;
  fs::create_directories(path.parent_path(), error);
  if (error) return IOError("cannot create " + path.parent_path().string() + ": " + error.message());
  fs::rename(partial, path, error);
  if (error) return IOError("cannot move the model into " + path.string() + ": " + error.message());
  return Status::Ok();
}

Result<fs::path> ModelDir::Pull(const std::string& name, const PullOptions& options) {
  SWAPLINE_ASSIGN_OR_RETURN(const ModelEntry* entry, Lookup(name));
  SWAPLINE_RETURN_IF_ERROR(CheckLicense(*entry, options.accepted_licenses));
  const fs::path path = root_ / entry->file;
  const ModelStatus status = Inspect(*entry, /*verify_checksum=*/true);
  if (status.state == ModelState::kInstalled) return path;
  std::error_code error;
  if (status.state == ModelState::kCorrupt) fs::remove(path, error);
  std::vector<std::string> sources;
  for (const std::string& mirror : options.mirrors) sources.push_back(UnderMirror(mirror, entry->file));
  sources.insert(sources.end(), entry->sources.begin(), entry->sources.end());
  if (sources.empty()) {
    return FailedPrecondition("model " + name + " lists no source: give a mirror that holds " + entry->file +
                              " with --from URI");
  }
  Status last;
  std::string tried;
  for (const std::string& source : sources) {
    last = FetchFrom(*entry, source, options);
    if (last.ok()) {
      std::lock_guard lock(verified_mutex_);
      verified_.insert(name);
      return path;
    }
    tried += (tried.empty() ? "" : "; ") + last.message();
  }
  return Status(last.code(), "cannot pull model " + name + ": " + tried);
}

Result<fs::path> ModelDir::Resolve(const std::string& name, const std::set<std::string>& accepted_licenses) {
  SWAPLINE_ASSIGN_OR_RETURN(const ModelEntry* entry, Lookup(name));
  SWAPLINE_RETURN_IF_ERROR(CheckLicense(*entry, accepted_licenses));
  const fs::path path = root_ / entry->file;
  {
    std::lock_guard lock(verified_mutex_);
    if (verified_.count(name) != 0) return path;
  }
  const ModelStatus status = Inspect(*entry, /*verify_checksum=*/true);
  if (status.state == ModelState::kCorrupt) {
    return FailedPrecondition("model " + name + " in " + root_.string() + " is corrupt (" + status.problem +
                              "): run `swapline models rm " + name + "` and `swapline models pull " + name + "`");
  }
  if (status.state != ModelState::kInstalled) {
    return FailedPrecondition("model " + name + " is not installed in " + root_.string() + ": run `swapline models pull " +
                              name + "`");
  }
  std::lock_guard lock(verified_mutex_);
  verified_.insert(name);
  return path;
}

Status ModelDir::Remove(const std::string& name) {
  SWAPLINE_ASSIGN_OR_RETURN(const ModelEntry* entry, Lookup(name));
  std::error_code error;
  for (const fs::path& path : {root_ / entry->file, PartialPath(*entry)}) {
    fs::remove(path, error);
    if (error) return IOError("cannot remove " + path.string() + ": " + error.message());
  }
  std::lock_guard lock(verified_mutex_);
  verified_.erase(name);
  return Status::Ok();
}

}  // namespace swapline::models
