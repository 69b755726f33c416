#include "storage/s3_transfer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/atomic_file.h"

namespace swapline::storage {
namespace {

namespace fs = std::filesystem;

constexpr std::uint64_t kMinPartSize = 5ull << 20;
constexpr std::uint64_t kMaxParts = 10'000;

// Closes a file descriptor on scope exit.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Serialises progress reports from worker threads.
class Progress {
 public:
  Progress(const ProgressCallback& callback, std::uint64_t total) : callback_(callback), total_(total) {}
  void Add(std::uint64_t bytes) {
    if (!callback_) return;
    std::lock_guard lock(mutex_);
    done_ += bytes;
    callback_(done_, total_);
  }

 private:
  const ProgressCallback& callback_;
  const std::uint64_t total_;
  std::mutex mutex_;
  std::uint64_t done_ = 0;
};

// Runs task(worker, index) for every index in [0, count) on up to `concurrency`
// threads. After the first failure no new index starts; that failure is returned.
Status RunParallel(std::size_t count, int concurrency,
                   const std::function<Status(int worker, std::size_t index)>& task) {
  std::atomic<std::size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex mutex;
  Status first_error;
  auto work = [&](int worker) {
    for (std::size_t i = next++; i < count && !failed; i = next++) {
      Status status = task(worker, i);
      if (!status.ok()) {
        std::lock_guard lock(mutex);
        if (first_error.ok()) first_error = std::move(status);
        failed = true;
      }
    }
  };
  const int workers = static_cast<int>(std::min<std::size_t>(count, static_cast<std::size_t>(std::max(1, concurrency))));
  std::vector<std::jthread> threads;
  for (int w = 1; w < workers; ++w) threads.emplace_back(work, w);
  work(0);
  threads.clear();  // joins
  return first_error;
}

Status ReadFully(int fd, std::uint64_t offset, std::span<std::uint8_t> buffer, const fs::path& path) {
  std::size_t done = 0;
  while (done < buffer.size()) {
    const ssize_t got = ::pread(fd, buffer.data() + done, buffer.size() - done,
                                static_cast<off_t>(offset + done));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return ErrnoStatus(errno, "cannot read", path.string());
    if (got == 0) return IOError("'" + path.string() + "' shrank while being uploaded");
    done += static_cast<std::size_t>(got);
  }
  return Status::Ok();
}

bool IsTransient(const Status& status) {
  return status.code() == Code::kUnavailable || status.code() == Code::kThrottled ||
         status.code() == Code::kIOError || status.code() == Code::kCancelled;
}

// An ETag of a part or single-PUT object is the MD5 of its bytes, except under
// SSE-KMS/SSE-C on AWS; we only compare when it looks like one.
Status CheckEtag(const std::string& what, const std::string& got, const std::string& expected) {
  if (got.empty() || got == expected) return Status::Ok();
  if (got.size() != expected.size()) return Status::Ok();  // not an MD5 ETag (SSE-KMS)
  return Unavailable(what + ": the server stored bytes whose MD5 (" + got +
                     ") differs from the bytes sent (" + expected + ")");
}

struct PartPlan {
  std::uint64_t part_size = 0;
  std::size_t count = 0;
  std::uint64_t OffsetOf(std::size_t index) const { return index * part_size; }
  std::uint64_t SizeOf(std::size_t index, std::uint64_t total) const {
    return std::min(part_size, total - OffsetOf(index));
  }
};

PartPlan PlanParts(std::uint64_t size, std::uint64_t part_size) {
  PartPlan plan;
  plan.part_size = part_size;
  plan.count = static_cast<std::size_t>((size + part_size - 1) / part_size);
  return plan;
}

// Finds a pending upload of `key` whose parts fit `plan` and whose bytes match the
// local file. Returns its id and the parts to keep, or nothing.
struct ResumePoint {
  std::string upload_id;
  std::map<int, UploadedPart> kept;  // by part number
};

Result<std::optional<ResumePoint>> FindResumePoint(S3Api& api, const std::string& bucket,
                                                   const std::string& key, int fd,
                                                   const fs::path& source, std::uint64_t size,
                                                   const PartPlan& plan) {
  SWAPLINE_ASSIGN_OR_RETURN(std::vector<MultipartUpload> uploads, api.ListUploads(bucket, key));
  std::sort(uploads.begin(), uploads.end(),
            [](const auto& a, const auto& b) { return a.initiated > b.initiated; });
  for (const MultipartUpload& upload : uploads) {
    if (upload.key != key) continue;
    SWAPLINE_ASSIGN_OR_RETURN(std::vector<UploadedPart> parts,
                              api.ListParts(bucket, key, upload.upload_id));
    const bool fits = std::all_of(parts.begin(), parts.end(), [&](const UploadedPart& part) {
      return part.number >= 1 && static_cast<std::size_t>(part.number) <= plan.count &&
             part.size == plan.SizeOf(static_cast<std::size_t>(part.number - 1), size);
    });
    if (!fits || parts.empty()) continue;
    // Keep only parts whose ETag matches our bytes (the file may have changed).
    ResumePoint point{upload.upload_id, {}};
    std::mutex mutex;
    std::vector<std::vector<std::uint8_t>> buffers(static_cast<std::size_t>(api.options().concurrency));
    SWAPLINE_RETURN_IF_ERROR(RunParallel(parts.size(), api.options().concurrency, [&](int worker, std::size_t i) {
      const UploadedPart& part = parts[i];
      std::vector<std::uint8_t>& buffer = buffers[static_cast<std::size_t>(worker)];
      buffer.resize(part.size);
      SWAPLINE_RETURN_IF_ERROR(ReadFully(fd, plan.OffsetOf(static_cast<std::size_t>(part.number - 1)), buffer, source));
      if (DigestOf(buffer).md5_hex == part.etag) {
        std::lock_guard lock(mutex);
        point.kept[part.number] = part;
      }
      return Status::Ok();
    }));
    return std::optional<ResumePoint>(std::move(point));
  }
  return std::optional<ResumePoint>();
}

Result<ObjectInfo> UploadMultipart(S3Api& api, const std::string& bucket, const std::string& key,
                                   const fs::path& source, int fd, std::uint64_t size,
                                   const PutOptions& options) {
  const std::string what = api.Describe(bucket, key);
  const PartPlan plan = PlanParts(size, PartSizeFor(size, api.options().part_size));
  SWAPLINE_ASSIGN_OR_RETURN(std::optional<ResumePoint> resume,
                            FindResumePoint(api, bucket, key, fd, source, size, plan));
  std::string upload_id;
  std::map<int, UploadedPart> done;
  if (resume) {
    upload_id = resume->upload_id;
    done = std::move(resume->kept);
    spdlog::info("resuming upload of {}: {} of {} parts already there", what, done.size(), plan.count);
  } else {
    SWAPLINE_ASSIGN_OR_RETURN(upload_id, api.InitiateUpload(bucket, key, PutHeaders(key, options)));
  }

  std::vector<std::size_t> todo;
  Progress progress(options.progress, size);
  for (std::size_t i = 0; i < plan.count; ++i) {
    if (done.count(static_cast<int>(i + 1))) {
      progress.Add(plan.SizeOf(i, size));
    } else {
      todo.push_back(i);
    }
  }
  std::mutex mutex;
  std::vector<std::vector<std::uint8_t>> buffers(static_cast<std::size_t>(api.options().concurrency));
  Status status = RunParallel(todo.size(), api.options().concurrency, [&](int worker, std::size_t t) {
    const std::size_t index = todo[t];
    std::vector<std::uint8_t>& buffer = buffers[static_cast<std::size_t>(worker)];
    buffer.resize(plan.SizeOf(index, size));
    SWAPLINE_RETURN_IF_ERROR(ReadFully(fd, plan.OffsetOf(index), buffer, source));
    const BodyDigest digest = DigestOf(buffer);
    const int number = static_cast<int>(index + 1);
    SWAPLINE_ASSIGN_OR_RETURN(std::string etag,
                              api.UploadPart(bucket, key, upload_id, number, buffer, digest.md5_base64));
    SWAPLINE_RETURN_IF_ERROR(CheckEtag(what + " part " + std::to_string(number), etag, digest.md5_hex));
    progress.Add(buffer.size());
    std::lock_guard lock(mutex);
    done[number] = UploadedPart{number, buffer.size(), etag.empty() ? digest.md5_hex : etag};
    return Status::Ok();
  });
  buffers.clear();

  std::vector<UploadedPart> parts;
  std::vector<std::string> md5s;
  if (status.ok()) {
    for (const auto& [number, part] : done) {
      parts.push_back(part);
      md5s.push_back(part.etag);
    }
    Result<std::string> etag = api.CompleteUpload(bucket, key, upload_id, parts);
    if (etag.ok()) {
      ObjectInfo info;
      info.key = key;
      info.size = size;
      info.etag = *etag;
      status = CheckEtag(what, Unquote(*etag), MultipartEtag(md5s));
      if (status.ok()) return info;
    } else {
      status = etag.status();
    }
  }
  if (!IsTransient(status)) {
    // Nothing to resume from: a rerun would fail the same way.
    (void)api.AbortUpload(bucket, key, upload_id);
  }
  return status;
}

// State of a resumable download, kept in "<dest>.part.state".
struct DownloadState {
  std::string etag;
  std::uint64_t size = 0;
  std::uint64_t part_size = 0;
  std::map<std::size_t, std::string> done;  // part index → MD5 hex

  nlohmann::json ToJson() const {
    nlohmann::json parts = nlohmann::json::object();
    for (const auto& [index, md5] : done) parts[std::to_string(index)] = md5;
    return {{"etag", etag}, {"size", size}, {"part_size", part_size}, {"done", parts}};
  }
  static std::optional<DownloadState> Load(const fs::path& path) {
    std::ifstream in(path);
    if (!in) return std::nullopt;
    const nlohmann::json json = nlohmann::json::parse(in, nullptr, false);
    if (!json.is_object()) return std::nullopt;
    DownloadState state;
    state.etag = json.value("etag", "");
    state.size = json.value("size", std::uint64_t{0});
    state.part_size = json.value("part_size", std::uint64_t{0});
    const nlohmann::json done = json.value("done", nlohmann::json::object());
    for (const auto& [index, md5] : done.items()) {
      if (!md5.is_string()) return std::nullopt;
      state.done[std::stoul(index)] = md5.get<std::string>();
    }
    return state;
  }
};

Status SyncFolder(const fs::path& file) {
  const fs::path folder = file.has_parent_path() ? file.parent_path() : fs::path(".");
  const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "cannot open folder", folder.string());
  ::fsync(fd);
  ::close(fd);
  return Status::Ok();
}

Result<std::string> Md5OfFile(int fd, std::uint64_t size, const fs::path& path) {
  Md5 md5;
  std::vector<std::uint8_t> buffer(1 << 20);
  for (std::uint64_t offset = 0; offset < size; offset += buffer.size()) {
    std::span<std::uint8_t> chunk(buffer.data(), static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), size - offset)));
    SWAPLINE_RETURN_IF_ERROR(ReadFully(fd, offset, chunk, path));
    md5.Update(chunk);
  }
  return HexEncode(md5.Finish());
}

// Compares the downloaded bytes with the object's ETag where the ETag is an MD5
// (single PUT) or an MD5 of part MD5s with the same part layout as ours.
Status VerifyDownload(const std::string& what, const ObjectInfo& info, const DownloadState& state,
                      int fd, const fs::path& part_path) {
  struct stat st {};
  if (::fstat(fd, &st) != 0 || static_cast<std::uint64_t>(st.st_size) != info.size) {
    return IOError(what + ": downloaded size differs from the object's " + std::to_string(info.size));
  }
  const std::size_t dash = info.etag.find('-');
  std::string expected, got;
  if (dash == std::string::npos && info.etag.size() == 32) {
    expected = info.etag;
    if (state.done.size() == 1) {
      got = state.done.begin()->second;
    } else {
      SWAPLINE_ASSIGN_OR_RETURN(got, Md5OfFile(fd, info.size, part_path));
    }
  } else if (dash != std::string::npos && info.etag.substr(dash + 1) == std::to_string(state.done.size())) {
    expected = info.etag;
    std::vector<std::string> md5s;
    for (const auto& [index, md5] : state.done) md5s.push_back(md5);
    got = MultipartEtag(md5s);
  }
  if (expected != got) {
    return IOError(what + ": downloaded bytes do not match the object's ETag " + info.etag);
  }
  return Status::Ok();
}

}  // namespace

std::uint64_t PartSizeFor(std::uint64_t size, std::uint64_t preferred) {
  std::uint64_t part_size = std::max(preferred, kMinPartSize);
  while ((size + part_size - 1) / part_size > kMaxParts) part_size *= 2;
  return part_size;
}

Result<ObjectInfo> UploadFile(S3Api& api, const std::string& bucket, const std::string& key,
                              const fs::path& source, const PutOptions& options) {
  FileDescriptor fd(::open(source.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoStatus(errno, "cannot open", source.string());
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return InvalidArgument("'" + source.string() + "' is not a regular file");
  }
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (size > api.options().multipart_threshold) {
    return UploadMultipart(api, bucket, key, source, fd.get(), size, options);
  }
  std::vector<std::uint8_t> buffer(size);
  SWAPLINE_RETURN_IF_ERROR(ReadFully(fd.get(), 0, buffer, source));
  const BodyDigest digest = DigestOf(buffer);
  SWAPLINE_ASSIGN_OR_RETURN(std::string etag,
                            api.PutObject(bucket, key, PutHeaders(key, options), buffer, -1, 0,
                                          digest.md5_base64));
  SWAPLINE_RETURN_IF_ERROR(CheckEtag(api.Describe(bucket, key), etag, digest.md5_hex));
  if (options.progress) options.progress(size, size);
  ObjectInfo info;
  info.key = key;
  info.size = size;
  info.etag = etag;
  return info;
}

Result<ObjectInfo> UploadStream(S3Api& api, const std::string& bucket, const std::string& key,
                                std::istream& body, const PutOptions& options) {
  const std::string what = api.Describe(bucket, key);
  const std::uint64_t part_size = PartSizeFor(0, api.options().part_size);
  // Appends up to `limit` bytes of the stream to `out`.
  auto read_more = [&body](std::vector<std::uint8_t>& out, std::uint64_t limit) -> Status {
    const std::size_t before = out.size();
    out.resize(before + static_cast<std::size_t>(limit));
    body.read(reinterpret_cast<char*>(out.data() + before), static_cast<std::streamsize>(limit));
    if (body.bad()) return IOError("reading the data to upload failed");
    out.resize(before + static_cast<std::size_t>(body.gcount()));
    return Status::Ok();
  };
  // Up to the threshold (read one byte more to tell "exactly the threshold" from
  // "more") the stream goes up in one PUT; past it in sequential parts.
  std::vector<std::uint8_t> head;
  SWAPLINE_RETURN_IF_ERROR(read_more(head, api.options().multipart_threshold + 1));
  ObjectInfo info;
  info.key = key;
  if (head.size() <= api.options().multipart_threshold) {
    const BodyDigest digest = DigestOf(head);
    SWAPLINE_ASSIGN_OR_RETURN(info.etag, api.PutObject(bucket, key, PutHeaders(key, options), head,
                                                       -1, 0, digest.md5_base64));
    SWAPLINE_RETURN_IF_ERROR(CheckEtag(what, info.etag, digest.md5_hex));
    info.size = head.size();
    if (options.progress) options.progress(info.size, info.size);
    return info;
  }
  SWAPLINE_ASSIGN_OR_RETURN(const std::string upload_id,
                            api.InitiateUpload(bucket, key, PutHeaders(key, options)));
  std::vector<UploadedPart> parts;
  std::vector<std::string> md5s;
  std::size_t head_used = 0;
  std::vector<std::uint8_t> part;
  Status status;
  while (status.ok()) {
    // Parts come from what the first read took, then from the stream.
    const std::size_t from_head = static_cast<std::size_t>(std::min<std::uint64_t>(part_size, head.size() - head_used));
    part.assign(head.begin() + static_cast<std::ptrdiff_t>(head_used),
                head.begin() + static_cast<std::ptrdiff_t>(head_used + from_head));
    head_used += from_head;
    if (part.size() < part_size && body) {
      status = read_more(part, part_size - part.size());
      if (!status.ok()) break;
    }
    if (part.empty()) break;
    const BodyDigest digest = DigestOf(part);
    const int number = static_cast<int>(parts.size() + 1);
    Result<std::string> etag = api.UploadPart(bucket, key, upload_id, number, part, digest.md5_base64);
    status = etag.ok() ? CheckEtag(what, *etag, digest.md5_hex) : etag.status();
    parts.push_back({number, part.size(), digest.md5_hex});
    md5s.push_back(digest.md5_hex);
    info.size += part.size();
    if (options.progress) options.progress(info.size, 0);
  }
  if (status.ok()) {
    Result<std::string> etag = api.CompleteUpload(bucket, key, upload_id, parts);
    status = etag.ok() ? CheckEtag(what, *etag, MultipartEtag(md5s)) : etag.status();
    if (status.ok()) {
      info.etag = *etag;
      return info;
    }
  }
  // A stream cannot be resumed: always abort.
  (void)api.AbortUpload(bucket, key, upload_id);
  return status;
}

Status StreamObject(S3Api& api, const std::string& bucket, const std::string& key,
                    const GetOptions& options, const ByteSink& sink) {
  const std::uint64_t offset = options.range ? options.range->offset : 0;
  std::optional<std::uint64_t> length = options.range ? options.range->length : std::nullopt;
  if (length && *length == 0) return Status::Ok();
  std::uint64_t delivered = 0;
  std::string etag;
  std::uint64_t total = 0;
  // A retried attempt continues after the bytes already delivered, on the same
  // version of the object (If-Match).
  ByteSink counting = [&](std::span<const std::uint8_t> bytes) {
    delivered += bytes.size();
    SWAPLINE_RETURN_IF_ERROR(sink(bytes));
    if (options.progress) options.progress(delivered, total);
    return Status::Ok();
  };
  S3Request request{.method = "GET", .bucket = bucket, .key = key};
  request.sink = &counting;
  request.before_attempt = [&](S3Request& r) {
    r.headers.clear();
    if (options.range || delivered > 0) {
      std::string range = "bytes=" + std::to_string(offset + delivered) + "-";
      if (length) range += std::to_string(offset + *length - 1);
      r.headers.emplace_back("Range", range);
    }
    if (!etag.empty()) r.headers.emplace_back("If-Match", "\"" + etag + "\"");
  };
  if (options.progress) {
    SWAPLINE_ASSIGN_OR_RETURN(ObjectInfo info, api.HeadObject(bucket, key));
    etag = info.etag;
    total = length ? *length : info.size - std::min(info.size, offset);
  }
  return api.Execute(std::move(request)).status();
}

Result<ObjectInfo> DownloadFile(S3Api& api, const std::string& bucket, const std::string& key,
                                const fs::path& dest, const GetOptions& options) {
  const std::string what = api.Describe(bucket, key);
  ObjectInfo info;
  if (options.known && !options.range && !options.known->etag.empty() &&
      options.known->etag.find('-') == std::string::npos &&
      options.known->size <= api.options().multipart_threshold) {
    info = *options.known;  // one part, plain MD5 ETag: no HEAD needed
    info.key = key;
  } else {
    SWAPLINE_ASSIGN_OR_RETURN(info, api.HeadObject(bucket, key));
  }
  if (options.range) {
    // A slice is small and not worth resuming.
    SWAPLINE_ASSIGN_OR_RETURN(AtomicFile out, AtomicFile::Create(dest));
    SWAPLINE_RETURN_IF_ERROR(StreamObject(api, bucket, key, options, [&out](auto bytes) {
      return out.Append(bytes);
    }));
    SWAPLINE_RETURN_IF_ERROR(out.Commit());
    return info;
  }

  const fs::path part_path = dest.string() + ".part";
  const fs::path state_path = dest.string() + ".part.state";
  const std::uint64_t part_size = info.size > api.options().multipart_threshold
                                      ? PartSizeFor(info.size, api.options().part_size)
                                      : std::max<std::uint64_t>(info.size, 1);
  const PartPlan plan = PlanParts(info.size, part_size);

  DownloadState state;
  std::optional<DownloadState> saved = DownloadState::Load(state_path);
  std::error_code ec;
  const bool resumable = saved && saved->etag == info.etag && saved->size == info.size &&
                         saved->part_size == part_size && fs::file_size(part_path, ec) == info.size && !ec;
  if (resumable) {
    state = std::move(*saved);
    spdlog::info("resuming download of {}: {} of {} parts already there", what, state.done.size(), plan.count);
  } else {
    state = DownloadState{info.etag, info.size, part_size, {}};
  }
  FileDescriptor fd(::open(part_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | (resumable ? 0 : O_TRUNC), 0666));
  if (fd.get() < 0) return ErrnoStatus(errno, "cannot create", part_path.string());
  if (!resumable && ::ftruncate(fd.get(), static_cast<off_t>(info.size)) != 0) {
    return ErrnoStatus(errno, "cannot size", part_path.string());
  }

  std::vector<std::size_t> todo;
  Progress progress(options.progress, info.size);
  for (std::size_t i = 0; i < plan.count; ++i) {
    if (state.done.count(i)) {
      progress.Add(plan.SizeOf(i, info.size));
    } else {
      todo.push_back(i);
    }
  }
  std::mutex state_mutex;
  Status status = RunParallel(todo.size(), api.options().concurrency, [&](int, std::size_t t) {
    const std::size_t index = todo[t];
    const std::uint64_t first = plan.OffsetOf(index);
    const std::uint64_t length = plan.SizeOf(index, info.size);
    std::uint64_t written = 0;
    Md5 md5;
    ByteSink write_part = [&](std::span<const std::uint8_t> bytes) -> Status {
      if (written + bytes.size() > length) return Unavailable(what + ": the server sent more bytes than asked for");
      for (std::size_t done = 0; done < bytes.size();) {
        const ssize_t n = ::pwrite(fd.get(), bytes.data() + done, bytes.size() - done,
                                   static_cast<off_t>(first + written + done));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return ErrnoStatus(errno, "cannot write", part_path.string());
        done += static_cast<std::size_t>(n);
      }
      md5.Update(bytes);
      written += bytes.size();
      progress.Add(bytes.size());
      return Status::Ok();
    };
    S3Request request{.method = "GET", .bucket = bucket, .key = key};
    request.sink = &write_part;
    request.before_attempt = [&](S3Request& r) {
      written = 0;
      md5.Finish();  // starts over
      r.headers = {{"Range", "bytes=" + std::to_string(first) + "-" + std::to_string(first + length - 1)},
                   {"If-Match", "\"" + info.etag + "\""}};
    };
    SWAPLINE_RETURN_IF_ERROR(api.Execute(std::move(request)).status());
    if (written != length) return Unavailable(what + ": the server sent fewer bytes than asked for");
    std::lock_guard lock(state_mutex);
    state.done[index] = HexEncode(md5.Finish());
    // A one-part download has nothing to resume from (a rerun fetches the part
    // again): no state file, which saves small objects two fsyncs each.
    if (plan.count == 1) return Status::Ok();
    return WriteFileAtomically(state_path, AsBytes(state.ToJson().dump()));
  });

  if (status.ok()) status = VerifyDownload(what, info, state, fd.get(), part_path);
  if (status.ok() && ::fdatasync(fd.get()) != 0) status = ErrnoStatus(errno, "cannot sync", part_path.string());
  if (status.ok() && ::rename(part_path.c_str(), dest.c_str()) != 0) {
    status = ErrnoStatus(errno, "cannot rename into place", dest.string());
  }
  if (status.ok()) {
    fs::remove(state_path, ec);
    SWAPLINE_RETURN_IF_ERROR(SyncFolder(dest));
    return info;
  }
  if (!IsTransient(status) || status.code() == Code::kIOError) {
    // The object changed, vanished or the bytes are wrong: nothing worth resuming.
    fs::remove(part_path, ec);
    fs::remove(state_path, ec);
  }
  return status;
}

Status CopyObjectAnySize(S3Api& api, const std::string& source_bucket,
                         const std::string& source_key, const std::string& bucket,
                         const std::string& key) {
  SWAPLINE_ASSIGN_OR_RETURN(ObjectInfo info, api.HeadObject(source_bucket, source_key));
  if (info.size <= api.options().multipart_threshold) {
    return api.CopyObject(source_bucket, source_key, bucket, key);
  }
  // UploadPartCopy does not carry metadata over: give it to the new upload.
  PutOptions put;
  put.content_type = info.content_type;
  put.metadata = info.metadata;
  SWAPLINE_ASSIGN_OR_RETURN(const std::string upload_id,
                            api.InitiateUpload(bucket, key, PutHeaders(key, put)));
  const PartPlan plan = PlanParts(info.size, PartSizeFor(info.size, api.options().part_size));
  std::vector<UploadedPart> parts(plan.count);
  Status status = RunParallel(plan.count, api.options().concurrency, [&](int, std::size_t index) {
    const std::uint64_t first = plan.OffsetOf(index);
    const std::uint64_t size = plan.SizeOf(index, info.size);
    const int number = static_cast<int>(index + 1);
    SWAPLINE_ASSIGN_OR_RETURN(std::string etag,
                              api.UploadPartCopy(source_bucket, source_key, first, first + size - 1,
                                                 bucket, key, upload_id, number));
    parts[index] = {number, size, etag};
    return Status::Ok();
  });
  if (status.ok()) status = api.CompleteUpload(bucket, key, upload_id, parts).status();
  if (!status.ok()) (void)api.AbortUpload(bucket, key, upload_id);
  return status;
}

}  // namespace swapline::storage
