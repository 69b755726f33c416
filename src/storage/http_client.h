// HttpClient: one HTTP request at a time per call, over libcurl, with connections
// kept alive between calls (a pool of curl easy handles, each keeping its own
// connection cache).
//
// Send() succeeds for any HTTP status; its error is reserved for transport failures
// (kUnavailable: connect, reset, timeout; kPermissionDenied: TLS verification) and
// for a sink that refused bytes (that sink's status). Retrying is the caller's job.
//
// Timeouts: connect_timeout bounds connection setup; read_timeout ends a request
// whose bytes stop moving for that long (libcurl's low-speed limit), so big bodies
// have no total deadline but a stalled server never hangs us.
//
// Thread safety: Send() may be called from many threads at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "storage/object_store.h"
#include "storage/sigv4.h"

namespace swapline::storage {

struct HttpOptions {
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::seconds read_timeout{60};
  bool verify_tls = true;      // off only with an explicit --no-verify-ssl
  std::string ca_bundle;       // PEM file; empty: the system store
  // "host:port:address" entries pinning names to addresses, as curl --resolve
  // (virtual-hosted buckets on a test server without DNS).
  std::vector<std::string> resolve;
};

struct HttpRequest {
  std::string method;  // GET HEAD PUT POST DELETE
  std::string url;
  HeaderList headers;
  // The body: bytes in memory, or `body_length` bytes of file `body_fd` from
  // `body_offset` (read with pread, so one fd serves many parallel requests).
  std::span<const std::uint8_t> body;
  int body_fd = -1;
  std::uint64_t body_offset = 0;
  std::uint64_t body_length = 0;
  // On a new connection: a request sent on a kept-alive connection that closes
  // before answering is sent again by libcurl itself, unseen by the caller, which
  // is wrong for a request that must not run twice.
  bool fresh_connection = false;
};

struct HttpResponse {
  long status = 0;
  std::map<std::string, std::string> headers;  // lowercase names
  std::string body;  // the body, unless a sink took it (2xx with a sink)

  std::string Header(const std::string& lowercase_name) const;
};

class HttpClient {
 public:
  explicit HttpClient(HttpOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // 2xx response bodies go to `sink` when one is given.
  Result<HttpResponse> Send(const HttpRequest& request, const ByteSink* sink = nullptr);

 private:
  void* AcquireHandle();
  void ReleaseHandle(void* handle);

  const HttpOptions options_;
  std::mutex mutex_;
  std::vector<void*> idle_handles_;  // CURL*, guarded by mutex_
};

}  // namespace swapline::storage
