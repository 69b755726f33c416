#include "service/api_server_impl.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "storage/file_store.h"
#include "storage/object_key.h"

namespace swapline::service {

namespace fs = std::filesystem;

Status ApiServer::Impl::CheckObjectUrl(const Request& req, const std::string& method, std::string& key) {
  if (options_.store_uri.is_s3()) return NotFound("object URLs are served by S3 for this store");
  key = req.matches[1];
  const Status valid = storage::ValidateObjectKey(key);
  if (!valid.ok()) return InvalidArgument(valid.message());
  return signer_.Verify(method, key, req.param("expires"), req.param("signature"),
                        std::chrono::system_clock::now());
}

namespace {

// A signed upload's body, staged in a file inside the store (its filesystem, its
// quota; never a system temp folder) and put under its key once complete. Removed
// when the upload does not complete.
class ObjectUpload : public BodyConsumer {
 public:
  ObjectUpload(storage::ObjectStore& store, MetricsRegistry& metrics, std::string key, storage::PutOptions put,
               int fd, fs::path staged)
      : store_(store), metrics_(metrics), key_(std::move(key)), put_(std::move(put)), fd_(fd),
        staged_(std::move(staged)) {}
  ~ObjectUpload() override {
    if (fd_ >= 0) ::close(fd_);
    std::error_code ignored;
    fs::remove(staged_, ignored);
  }
  ObjectUpload(const ObjectUpload&) = delete;
  ObjectUpload& operator=(const ObjectUpload&) = delete;

  Status Write(std::span<const char> bytes) override {
    for (std::size_t done = 0; done < bytes.size();) {
      const ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
      if (n <= 0) return IOError("cannot buffer the upload");
      done += static_cast<std::size_t>(n);
    }
    written_ += bytes.size();
    return Status::Ok();
  }

  void Finish(Response& res) override {
    const bool closed = ::close(fd_) == 0;
    fd_ = -1;
    if (!closed) return SendStatus(res, IOError("cannot buffer the upload"));
    auto info = store_.PutFile(key_, staged_, put_);
    if (!info.ok()) return SendStatus(res, info.status());
    metrics_.Add("swapline_api_bytes_total", {{"direction", "in"}}, static_cast<double>(written_));
    res.set_header("ETag", "\"" + info->etag + "\"");
    SendJson(res, 200, {{"key", key_}, {"size", info->size}, {"etag", info->etag}});
  }

 private:
  storage::ObjectStore& store_;
  MetricsRegistry& metrics_;
  const std::string key_;
  const storage::PutOptions put_;
  int fd_;
  const fs::path staged_;
  std::uint64_t written_ = 0;
};

}  // namespace

std::unique_ptr<BodyConsumer> ApiServer::Impl::PutObject(const Request& req, Response& res) {
  std::string key;
  if (const Status allowed = CheckObjectUrl(req, "PUT", key); !allowed.ok()) {
    SendStatus(res, allowed);
    return nullptr;
  }
  const fs::path staging = storage::FileStoreStagingDir(options_.store_uri.local_path);
  std::error_code mkdir_error;
  fs::create_directories(staging, mkdir_error);
  std::string pattern = (staging / "upload-XXXXXX").string();
  const int fd = ::mkstemp(pattern.data());
  if (fd < 0) {
    SendStatus(res, IOError("cannot create a temporary upload file"));
    return nullptr;
  }
  storage::PutOptions put;
  put.content_type = req.header("Content-Type");
  if (put.content_type == "application/octet-stream" || put.content_type == "application/x-www-form-urlencoded") {
    put.content_type.clear();  // from the key's extension
  }
  return std::make_unique<ObjectUpload>(store_, metrics_, std::move(key), std::move(put), fd, pattern);
}

void ApiServer::Impl::GetObject(const Request& req, Response& res) {
  std::string key;
  const Status allowed = CheckObjectUrl(req, "GET", key);
  if (!allowed.ok()) return SendStatus(res, allowed);
  auto info = store_.Stat(key);
  if (!info.ok()) return SendStatus(res, info.status());
  const std::string content_type = info->content_type.empty() ? "application/octet-stream" : info->content_type;
  metrics_.Add("swapline_api_bytes_total", {{"direction", "out"}}, static_cast<double>(info->size));
  res.set_header("ETag", "\"" + info->etag + "\"");
  res.set_source(info->size, content_type, [this, key](std::uint64_t offset, std::size_t max, std::string& out) {
    storage::GetOptions get;
    get.range = storage::ByteRange{offset, max};
    return store_.Get(key, get, [&](std::span<const std::uint8_t> bytes) {
      out.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
      return Status::Ok();
    });
  });
}

}  // namespace swapline::service
