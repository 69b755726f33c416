// HttpServer: the HTTP/1.1 front of `swapline serve` and of a worker's metrics port,
// event-driven on Boost.Beast/Asio. A connection holds a thread only while its
// handler runs: slow or idle clients cost a socket and a few KiB, never a thread, so
// a few of them cannot starve everyone else (as a thread-per-connection server lets
// them).
//
// What a client can make the server hold, and for how long (HttpLimits):
// - the request line and headers: at most max_header_bytes (431 beyond), all within
//   header_timeout of the server starting to wait for them (408, or a silent close
//   when nothing came: an idle keep-alive connection);
// - a body: only with Content-Length (chunked or unframed: 411), at most the route's
//   body limit, judged from the head before any body byte is read and before the
//   handler (so before auth: 413); each part must arrive within io_timeout;
// - connections: at most max_connections_per_client per peer address (429) and
//   max_connections in all (503), answered and closed at accept.
// An answer that leaves a body unread ends the connection for real (shut down, the
// rest read and dropped for a moment so the answer is not lost to a reset, never
// parsed as a next request). The server's own answers are API errors (api_error.h).
// Every exchange, answered by a route or by the server, is reported to
// `on_exchange` once it ends (metrics count and time all routes in one place).
//
// Requests: the path and query parameters are percent-decoded; header values are
// given as sent (no decoding, so a token compares on its raw bytes; the parser
// refuses control characters in them). Routes are a method and a path pattern
// ("/v1/jobs/{id}": "{name}" one non-empty segment, a last "{name+}" the non-empty
// rest), tried in registration order; the parts they match are in
// HttpRequest::matches. A path no route matches answers 404; one that matches only
// routes of other methods 405 with Allow.
//
// Thread safety: register routes, then Start; Stop (or the destructor) from the
// thread that started it. Handlers run on the server's threads, several at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace swapline::service {

struct HttpLimits {
  std::size_t max_header_bytes = 16 * 1024;    // request line + headers
  std::chrono::milliseconds header_timeout{10'000};
  std::chrono::milliseconds io_timeout{30'000};  // each part of a body or an answer
  int max_connections = 1024;
  int max_connections_per_client = 64;
};

// One request and its answer, as told to HttpServerOptions::on_exchange.
struct HttpExchange {
  std::string_view method;   // "" when the head never parsed
  std::string_view pattern;  // the route's pattern; "" when no route took the request
  int status = 0;            // the answer's; 0 when none was started (client gone, a body part late)
  double seconds = 0;        // from the head's arrival to the answer's last byte
};

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  int port = 0;      // 0: a free port
  int threads = 4;   // handlers running at once
  HttpLimits limits;
  // Told of every exchange once it ends, on the connection's thread.
  std::function<void(const HttpExchange&)> on_exchange;
  // Told the bound port once the socket listens, on Start()'s thread, before any
  // request is served: what it sets is visible to every handler.
  std::function<void(int port)> on_listening;
};

struct HttpRequest {
  std::string method;
  std::string target;  // as sent
  std::string path;    // decoded
  std::vector<std::string> matches;  // [0] the path, then what the pattern's {…} matched
  std::vector<std::pair<std::string, std::string>> params;   // decoded query
  std::vector<std::pair<std::string, std::string>> headers;  // as sent
  std::string body;         // routes registered with Handle()
  std::string remote_addr;  // the peer's address

  // The first value of a header (names case-insensitive) or of a query parameter;
  // "" when absent.
  std::string header(std::string_view name) const;
  bool has_header(std::string_view name) const;
  std::string param(std::string_view name) const;
  bool has_param(std::string_view name) const;
};

// Gives the body of an answer part by part: appends to `out` up to `max` bytes
// starting at `offset`. An error (or no progress) ends the connection mid-body.
using BodySource = std::function<Status(std::uint64_t offset, std::size_t max, std::string& out)>;

struct HttpResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::uint64_t source_size = 0;
  BodySource source;  // set: the body is `source_size` bytes from it, not `body`
  bool close = false; // end the connection after this answer

  void set_header(std::string name, std::string value);
  void set_content(std::string content, std::string content_type);
  void set_source(std::uint64_t size, std::string content_type, BodySource body_source);
};

// A request body consumed as it arrives (uploads), for routes registered with
// HandleStream. Write gets each part in order; Finish, once all arrived, fills the
// answer. Destroyed without Finish when the client goes away, a part is late or a
// Write fails: it then undoes what it started.
class BodyConsumer {
 public:
  virtual ~BodyConsumer() = default;
  virtual Status Write(std::span<const char> bytes) = 0;
  virtual void Finish(HttpResponse& res) = 0;
};

class HttpServer {
 public:
  using Handler = std::function<void(const HttpRequest&, HttpResponse&)>;
  // Sees the head (no body yet). Returns the consumer of the body, or null after
  // filling `res` with a refusal (sent at once; the body is never read).
  using StreamHandler = std::function<std::unique_ptr<BodyConsumer>(const HttpRequest&, HttpResponse&)>;

  explicit HttpServer(HttpServerOptions options);
  ~HttpServer();  // Stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // `pattern` ("/v1/jobs/{id}") matches the whole decoded path. The handler gets
  // the body whole (at most `body_limit` bytes).
  void Handle(const std::string& method, const std::string& pattern, std::uint64_t body_limit, Handler handler);
  void HandleStream(const std::string& method, const std::string& pattern, std::uint64_t body_limit,
                    StreamHandler handler);

  // Binds (kUnavailable naming the address when it cannot: in use, not local) and
  // serves on background threads until Stop.
  Status Start();
  // Stops accepting, ends every connection, waits for running handlers.
  void Stop();
  int port() const { return port_; }

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

}  // namespace swapline::service
