#include "storage/file_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <istream>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "storage/content_type.h"
#include "storage/hashing.h"
#include "storage/object_key.h"

namespace swapline::storage {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kReservedPrefix = ".swapline-";
constexpr std::string_view kMetaDir = ".swapline-meta";
constexpr std::size_t kChunkSize = 1 << 20;

Status ValidateFileKey(const std::string& key) {
  SWAPLINE_RETURN_IF_ERROR(ValidateObjectKey(key));
  if (key.starts_with(kReservedPrefix) || key.find("/" + std::string(kReservedPrefix)) != std::string::npos) {
    return InvalidArgument("object key '" + key + "' uses the reserved prefix '.swapline-'");
  }
  return Status::Ok();
}

class FileStore final : public ObjectStore {
 public:
  explicit FileStore(fs::path root) : root_(std::move(root)) {}

  std::string Describe() const override { return "file://" + root_.string(); }

  Result<ObjectInfo> Stat(const std::string& key) override {
    SWAPLINE_RETURN_IF_ERROR(ValidateFileKey(key));
    struct stat st {};
    if (::stat(ObjectPath(key).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
      return NotFound("no object '" + key + "' in " + Describe());
    }
    ObjectInfo info;
    info.key = key;
    info.size = static_cast<std::uint64_t>(st.st_size);
    info.last_modified = std::chrono::system_clock::from_time_t(st.st_mtim.tv_sec);
    info.content_type = ContentTypeForKey(key);
    std::ifstream meta_file(MetaPath(key));
    if (meta_file) {
      const nlohmann::json meta = nlohmann::json::parse(meta_file, nullptr, false);
      if (meta.is_object()) {
        info.content_type = meta.value("content_type", info.content_type);
        info.etag = meta.value("etag", "");
        info.metadata = meta.value("metadata", std::map<std::string, std::string>{});
      }
    }
    return info;
  }

  Status Get(const std::string& key, const GetOptions& options, const ByteSink& sink) override {
    SWAPLINE_ASSIGN_OR_RETURN(ObjectInfo info, Stat(key));
    const int fd = ::open(ObjectPath(key).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus(errno, "cannot open object", ObjectPath(key));
    std::uint64_t offset = options.range ? options.range->offset : 0;
    std::uint64_t end = info.size;
    if (options.range && options.range->length) end = std::min(end, offset + *options.range->length);
    if (options.range && offset >= info.size && info.size > 0) {
      ::close(fd);
      return InvalidArgument("range starts past the end of '" + key + "'");
    }
    std::vector<std::uint8_t> buffer(kChunkSize);
    Status status;
    const std::uint64_t total = end > offset ? end - offset : 0;
    std::uint64_t done = 0;
    while (status.ok() && offset < end) {
      const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(kChunkSize, end - offset));
      const ssize_t got = ::pread(fd, buffer.data(), want, static_cast<off_t>(offset));
      if (got <= 0) {
        status = got < 0 ? ErrnoStatus(errno, "cannot read object", ObjectPath(key))
                         : IOError("object '" + key + "' shrank while being read");
        break;
      }
      status = sink(std::span(buffer.data(), static_cast<std::size_t>(got)));
      offset += static_cast<std::uint64_t>(got);
      done += static_cast<std::uint64_t>(got);
      if (options.progress) options.progress(done, total);
    }
    ::close(fd);
    return status;
  }

  Result<ObjectInfo> GetToFile(const std::string& key, const fs::path& dest,
                               const GetOptions& options) override {
    SWAPLINE_ASSIGN_OR_RETURN(ObjectInfo info, Stat(key));
    SWAPLINE_ASSIGN_OR_RETURN(AtomicFile out, AtomicFile::Create(dest));
    SWAPLINE_RETURN_IF_ERROR(Get(key, options, [&out](std::span<const std::uint8_t> bytes) {
      return out.Append(bytes);
    }));
    SWAPLINE_RETURN_IF_ERROR(out.Commit());
    return info;
  }

  Result<ObjectInfo> Put(const std::string& key, std::istream& body,
                         const PutOptions& options) override {
    SWAPLINE_RETURN_IF_ERROR(ValidateFileKey(key));
    const fs::path path = ObjectPath(key);
    SWAPLINE_RETURN_IF_ERROR(MakeParent(path, key));
    SWAPLINE_ASSIGN_OR_RETURN(AtomicFile out, AtomicFile::Create(path));
    std::vector<std::uint8_t> buffer(kChunkSize);
    Md5 md5;
    std::uint64_t size = 0;
    while (body) {
      body.read(reinterpret_cast<char*>(buffer.data()), static_cast<std::streamsize>(buffer.size()));
      const auto got = static_cast<std::size_t>(body.gcount());
      if (got == 0) break;
      const std::span bytes(buffer.data(), got);
      md5.Update(bytes);
      SWAPLINE_RETURN_IF_ERROR(out.Append(bytes));
      size += got;
      if (options.progress) options.progress(size, 0);
    }
    if (body.bad()) return IOError("reading the data for '" + key + "' failed");
    ObjectInfo info;
    info.key = key;
    info.size = size;
    info.etag = HexEncode(md5.Finish());
    info.content_type = options.content_type.empty() ? ContentTypeForKey(key) : options.content_type;
    info.metadata = options.metadata;
    info.last_modified = std::chrono::system_clock::now();
    // Metadata first: a crash between the two leaves new metadata beside the old
    // bytes, never bytes without their metadata.
    const nlohmann::json meta = {
        {"content_type", info.content_type}, {"etag", info.etag}, {"metadata", info.metadata}};
    const fs::path meta_path = MetaPath(key);
    SWAPLINE_RETURN_IF_ERROR(MakeParent(meta_path, key));
    SWAPLINE_RETURN_IF_ERROR(WriteFileAtomically(meta_path, AsBytes(meta.dump())));
    SWAPLINE_RETURN_IF_ERROR(out.Commit());
    return info;
  }

  Result<ObjectInfo> PutFile(const std::string& key, const fs::path& source,
                             const PutOptions& options) override {
    std::ifstream in(source, std::ios::binary);
    if (!in) return ErrnoStatus(errno, "cannot open", source.string());
    return Put(key, in, options);
  }

  Result<ListPage> List(const ListOptions& options) override {
    // Walk only the folder the prefix points into.
    const std::size_t last_slash = options.prefix.rfind('/');
    const std::string folder_key = last_slash == std::string::npos ? "" : options.prefix.substr(0, last_slash);
    // The folder part is joined onto the root, so it is checked as a key is ("..",
    // absolute, empty segments): a prefix never lists outside the store.
    if (last_slash != std::string::npos) {
      const Status valid = ValidateFileKey(folder_key);
      if (!valid.ok()) return InvalidArgument("list prefix '" + options.prefix + "': " + valid.message());
    }
    std::vector<std::string> keys;
    std::error_code ec;
    const fs::path start = folder_key.empty() ? root_ : root_ / folder_key;
    const bool listable = fs::is_directory(start, ec);
    ec.clear();  // a missing folder lists as empty, as a missing S3 prefix does
    if (listable) {
      for (auto it = fs::recursive_directory_iterator(start, ec); !ec && it != fs::recursive_directory_iterator();
           it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (name.starts_with(kReservedPrefix)) {
          if (it->is_directory()) it.disable_recursion_pending();
          continue;
        }
        if (!it->is_regular_file()) continue;
        std::string key = it->path().lexically_relative(root_).generic_string();
        if (key.starts_with(options.prefix)) keys.push_back(std::move(key));
      }
    }
    if (ec) return ErrnoStatus(ec.value(), "cannot list", start.string());
    std::sort(keys.begin(), keys.end());

    ListPage page;
    const int max_keys = options.max_keys > 0 ? options.max_keys : 1000;
    auto it = keys.begin();
    if (!options.continuation_token.empty()) {
      it = std::upper_bound(keys.begin(), keys.end(), options.continuation_token);
    }
    std::string last_returned;
    for (; it != keys.end(); ++it) {
      if (static_cast<int>(page.objects.size() + page.common_prefixes.size()) == max_keys) {
        page.next_continuation_token = last_returned;
        break;
      }
      if (!options.delimiter.empty()) {
        const std::size_t cut = it->find(options.delimiter, options.prefix.size());
        if (cut != std::string::npos) {
          std::string common = it->substr(0, cut + options.delimiter.size());
          page.common_prefixes.push_back(common);
          // Skip every key under this common prefix; the token resumes after them.
          last_returned = common + "\xff";
          while (std::next(it) != keys.end() && std::next(it)->starts_with(common)) ++it;
          continue;
        }
      }
      SWAPLINE_ASSIGN_OR_RETURN(ObjectInfo info, Stat(*it));
      info.content_type.clear();
      info.metadata.clear();
      page.objects.push_back(std::move(info));
      last_returned = *it;
    }
    return page;
  }

  Status Delete(const std::string& key) override {
    SWAPLINE_RETURN_IF_ERROR(ValidateFileKey(key));
    for (const fs::path& path : {ObjectPath(key), MetaPath(key)}) {
      if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
        return ErrnoStatus(errno, "cannot delete", path.string());
      }
      // Drop folders the delete emptied, as S3 has no folders to leave behind.
      std::error_code ec;
      for (fs::path dir = path.parent_path(); dir != root_ && dir != root_ / kMetaDir;
           dir = dir.parent_path()) {
        if (!fs::remove(dir, ec)) break;
      }
    }
    return Status::Ok();
  }

  Status Copy(const std::string& source_key, const std::string& dest_key) override {
    SWAPLINE_ASSIGN_OR_RETURN(ObjectInfo info, Stat(source_key));
    std::ifstream in(ObjectPath(source_key), std::ios::binary);
    if (!in) return NotFound("no object '" + source_key + "' in " + Describe());
    PutOptions options;
    options.content_type = info.content_type;
    options.metadata = info.metadata;
    return Put(dest_key, in, options).status();
  }

  Result<std::string> Presign(const std::string&, PresignMethod, std::chrono::seconds) override {
    return FailedPrecondition("file:// stores cannot presign URLs; use an s3:// store");
  }

 private:
  fs::path ObjectPath(const std::string& key) const { return root_ / key; }
  fs::path MetaPath(const std::string& key) const { return root_ / kMetaDir / (key + ".json"); }

  Status MakeParent(const fs::path& path, const std::string& key) const {
    std::error_code ec;
    fs::create_directories(path.parent_path(), ec);
    if (ec) {
      if (ec == std::errc::not_a_directory || ec == std::errc::file_exists) {
        return InvalidArgument("object key '" + key +
                               "' lies under an existing object's name in " + Describe());
      }
      return ErrnoStatus(ec.value(), "cannot create folder", path.parent_path().string());
    }
    if (fs::is_directory(path, ec)) {
      return InvalidArgument("object key '" + key + "' is a prefix of other objects in " + Describe());
    }
    return Status::Ok();
  }

  const fs::path root_;
};

}  // namespace

fs::path FileStoreStagingDir(const fs::path& root) { return root / (std::string(kReservedPrefix) + "staging"); }

Result<std::unique_ptr<ObjectStore>> OpenFileStore(const fs::path& root) {
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec || !fs::is_directory(root)) {
    return OutputNotWritable("cannot use '" + root.string() + "' as an object store folder: " +
                             (ec ? ec.message() : "not a folder"));
  }
  fs::path normal = fs::absolute(root).lexically_normal();
  if (!normal.has_filename()) normal = normal.parent_path();  // "dir/" → "dir"
  return std::unique_ptr<ObjectStore>(std::make_unique<FileStore>(normal));
}

}  // namespace swapline::storage
