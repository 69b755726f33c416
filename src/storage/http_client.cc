#include "storage/http_client.h"

#include <curl/curl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace swapline::storage {
namespace {

// Everything one transfer's callbacks need.
struct Transfer {
  const HttpRequest* request = nullptr;
  const ByteSink* sink = nullptr;
  CURL* curl = nullptr;
  HttpResponse response;
  std::uint64_t body_sent = 0;
  Status sink_status;
  Status read_status;
};

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  std::string_view line(data, size * count);
  if (line.starts_with("HTTP/")) {
    transfer->response.headers.clear();  // a new response (after 100 Continue)
    return size * count;
  }
  const std::size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    std::string name(line.substr(0, colon));
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
      value.remove_suffix(1);
    }
    transfer->response.headers[name] = std::string(value);
  }
  return size * count;
}

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const size_t n = size * count;
  long status = 0;
  curl_easy_getinfo(transfer->curl, CURLINFO_RESPONSE_CODE, &status);
  if (transfer->sink != nullptr && status >= 200 && status < 300) {
    transfer->sink_status =
        (*transfer->sink)(std::span(reinterpret_cast<const std::uint8_t*>(data), n));
    return transfer->sink_status.ok() ? n : 0;  // 0 makes curl stop with a write error
  }
  transfer->response.body.append(data, n);
  return n;
}

size_t OnReadBody(char* buffer, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const HttpRequest& request = *transfer->request;
  const std::uint64_t total = request.body_fd >= 0 ? request.body_length : request.body.size();
  const size_t n = static_cast<size_t>(std::min<std::uint64_t>(size * count, total - transfer->body_sent));
  if (n == 0) return 0;
  if (request.body_fd >= 0) {
    const ssize_t got = ::pread(request.body_fd, buffer, n,
                                static_cast<off_t>(request.body_offset + transfer->body_sent));
    if (got <= 0) {
      transfer->read_status = IOError(got < 0 ? std::string("reading the upload source failed: ") +
                                                    std::strerror(errno)
                                              : "the upload source shrank while being sent");
      return CURL_READFUNC_ABORT;
    }
    transfer->body_sent += static_cast<std::uint64_t>(got);
    return static_cast<size_t>(got);
  }
  std::memcpy(buffer, request.body.data() + transfer->body_sent, n);
  transfer->body_sent += n;
  return n;
}

// Lets curl rewind the body when it must resend it (redirect, auth retry).
int OnSeekBody(void* user, curl_off_t offset, int origin) {
  auto* transfer = static_cast<Transfer*>(user);
  if (origin != SEEK_SET || offset < 0) return CURL_SEEKFUNC_CANTSEEK;
  transfer->body_sent = static_cast<std::uint64_t>(offset);
  return CURL_SEEKFUNC_OK;
}

Status TransportError(CURLcode code, const char* detail, const std::string& method) {
  std::string message = method + " failed: " + (detail[0] ? detail : curl_easy_strerror(code));
  switch (code) {
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
      return PermissionDenied(message + " (TLS verification; check --ca-bundle)");
    case CURLE_OPERATION_TIMEDOUT:
      return Unavailable(message + " (timed out)");
    default:
      return Unavailable(message);
  }
}

void InitCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

std::string HttpResponse::Header(const std::string& lowercase_name) const {
  const auto it = headers.find(lowercase_name);
  return it == headers.end() ? std::string() : it->second;
}

HttpClient::HttpClient(HttpOptions options) : options_(std::move(options)) { InitCurlOnce(); }

HttpClient::~HttpClient() {
  for (void* handle : idle_handles_) curl_easy_cleanup(static_cast<CURL*>(handle));
}

void* HttpClient::AcquireHandle() {
  {
    std::lock_guard lock(mutex_);
    if (!idle_handles_.empty()) {
      void* handle = idle_handles_.back();
      idle_handles_.pop_back();
      return handle;
    }
  }
  return curl_easy_init();
}

void HttpClient::ReleaseHandle(void* handle) {
  // reset keeps the handle's live connections, which is the point of the pool.
  curl_easy_reset(static_cast<CURL*>(handle));
  std::lock_guard lock(mutex_);
  idle_handles_.push_back(handle);
}

Result<HttpResponse> HttpClient::Send(const HttpRequest& request, const ByteSink* sink) {
  CURL* curl = static_cast<CURL*>(AcquireHandle());
  if (curl == nullptr) return Internal("curl_easy_init failed");
  Transfer transfer;
  transfer.request = &request;
  transfer.sink = sink;
  transfer.curl = curl;

  curl_slist* headers = nullptr;
  for (const auto& [name, value] : request.headers) {
    headers = curl_slist_append(headers, (name + ": " + value).c_str());
  }
  // Without this curl waits for "100 Continue" before every body over 1 MiB.
  headers = curl_slist_append(headers, "Expect:");
  curl_slist* resolve = nullptr;
  for (const std::string& entry : options_.resolve) resolve = curl_slist_append(resolve, entry.c_str());

  char error_buffer[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  if (request.fresh_connection) curl_easy_setopt(curl, CURLOPT_FRESH_CONNECT, 1L);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, static_cast<long>(options_.read_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(curl, CURLOPT_BUFFERSIZE, 256L * 1024);
  curl_easy_setopt(curl, CURLOPT_UPLOAD_BUFFERSIZE, 1024L * 1024);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, options_.verify_tls ? 1L : 0L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, options_.verify_tls ? 2L : 0L);
  if (!options_.ca_bundle.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, options_.ca_bundle.c_str());
  if (resolve != nullptr) curl_easy_setopt(curl, CURLOPT_RESOLVE, resolve);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &transfer);

  if (request.method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (request.method != "GET") {
    // Every other method goes out as an upload of a known length (0 for none), so
    // Content-Length is always sent, as AWS requires.
    const std::uint64_t length = request.body_fd >= 0 ? request.body_length : request.body.size();
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(length));
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, OnReadBody);
    curl_easy_setopt(curl, CURLOPT_READDATA, &transfer);
    curl_easy_setopt(curl, CURLOPT_SEEKFUNCTION, OnSeekBody);
    curl_easy_setopt(curl, CURLOPT_SEEKDATA, &transfer);
  }

  const CURLcode code = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &transfer.response.status);
  curl_slist_free_all(headers);
  curl_slist_free_all(resolve);
  ReleaseHandle(curl);

  if (!transfer.sink_status.ok()) return transfer.sink_status;
  if (!transfer.read_status.ok()) return transfer.read_status;
  if (code != CURLE_OK) return TransportError(code, error_buffer, request.method);
  return std::move(transfer.response);
}

}  // namespace swapline::storage
