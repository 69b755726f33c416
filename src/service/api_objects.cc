#include "service/api_server_impl.h"

#include <cstdio>
#include <filesystem>
#include <fstream>

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
  return signer_.Verify(method, key, req.get_param_value("expires"), req.get_param_value("signature"),
                        std::chrono::system_clock::now());
}

void ApiServer::Impl::PutObject(const Request& req, Response& res, const httplib::ContentReader& reader) {
  std::string key;
  const Status allowed = CheckObjectUrl(req, "PUT", key);
  if (!allowed.ok()) {
    res.set_header("Connection", "close");  // the body is not read
    return SendStatus(res, allowed);
  }
  // Staged inside the store (its filesystem, its quota), never in a system temp folder.
  const fs::path staging = storage::FileStoreStagingDir(options_.store_uri.local_path);
  std::error_code mkdir_error;
  fs::create_directories(staging, mkdir_error);
  std::string pattern = (staging / "upload-XXXXXX").string();
  const int fd = ::mkstemp(pattern.data());
  if (fd < 0) return SendStatus(res, IOError("cannot create a temporary upload file"));
  const fs::path temp = pattern;
  std::uint64_t total = 0;
  bool write_failed = false;
  bool too_large = false;
  const bool read = reader([&](const char* data, std::size_t length) {
    total += length;
    if (total > options_.limits.max_upload_bytes) {
      too_large = true;
      return false;
    }
    std::size_t done = 0;
    while (done < length) {
      const ssize_t n = ::write(fd, data + done, length - done);
      if (n <= 0) {
        write_failed = true;
        return false;
      }
      done += static_cast<std::size_t>(n);
    }
    return true;
  });
  ::close(fd);
  if (!read || write_failed) {
    std::error_code ec;
    fs::remove(temp, ec);
    if (too_large) {
      res.set_header("Connection", "close");  // the rest of the body is not read
      return SendStatus(res, TooLarge("limit max_upload_bytes: the body is larger than " +
                                      std::to_string(options_.limits.max_upload_bytes) + " bytes"));
    }
    return SendStatus(res, write_failed ? IOError("cannot buffer the upload") : InvalidArgument("body: upload interrupted"));
  }
  storage::PutOptions put;
  put.content_type = req.get_header_value("Content-Type");
  if (put.content_type == "application/octet-stream" || put.content_type == "application/x-www-form-urlencoded") {
    put.content_type.clear();  // from the key's extension
  }
  auto info = store_.PutFile(key, temp, put);
  std::error_code ec;
  fs::remove(temp, ec);
  if (!info.ok()) return SendStatus(res, info.status());
  metrics_.Add("swapline_api_bytes_total", {{"direction", "in"}}, static_cast<double>(total));
  res.set_header("ETag", "\"" + info->etag + "\"");
  SendJson(res, 200, {{"key", key}, {"size", info->size}, {"etag", info->etag}});
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
  res.set_content_provider(
      static_cast<std::size_t>(info->size), content_type,
      [this, key](std::size_t offset, std::size_t length, httplib::DataSink& sink) {
        storage::GetOptions get;
        get.range = storage::ByteRange{offset, std::min<std::uint64_t>(length, 1 << 20)};
        const Status status = store_.Get(key, get, [&](std::span<const std::uint8_t> bytes) {
          if (!sink.write(reinterpret_cast<const char*>(bytes.data()), bytes.size())) {
            return Unavailable("client went away");
          }
          return Status::Ok();
        });
        return status.ok();
      });
}

}  // namespace swapline::service
