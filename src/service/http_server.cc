#include "service/http_server.h"

#include <boost/asio.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <array>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include <spdlog/spdlog.h>

#include "service/api_error.h"
#include "storage/url.h"

namespace swapline::service {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kPartBytes = 64 * 1024;  // one read or write of a body
constexpr std::size_t kSourceBytes = 1 << 20;  // one part asked of a BodySource
// After a refusal that leaves a body unread: how long, and how much, is read and
// dropped before closing, so the peer gets the answer rather than a reset.
constexpr std::chrono::milliseconds kLingerTime{1000};
constexpr std::size_t kLingerBytes = 1 << 20;

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

const std::string* FindValue(const std::vector<std::pair<std::string, std::string>>& pairs, std::string_view name,
                             bool ignore_case) {
  for (const auto& [key, value] : pairs) {
    if (ignore_case ? EqualsIgnoringCase(key, name) : key == name) return &value;
  }
  return nullptr;
}

// Query text decoded the way HTML forms encode it ('+' is a space).
std::vector<std::pair<std::string, std::string>> ParseQuery(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> params;
  auto decode = [](std::string_view text) {
    std::string spaced(text);
    std::replace(spaced.begin(), spaced.end(), '+', ' ');
    return storage::PercentDecode(spaced);
  };
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    const std::size_t eq = pair.find('=');
    params.emplace_back(decode(pair.substr(0, eq)),
                        eq == std::string_view::npos ? std::string() : decode(pair.substr(eq + 1)));
  }
  return params;
}

// Does `path` fit `pattern` ("/v1/jobs/{id}/cancel": "{name}" is one non-empty
// segment, a last "{name+}" the non-empty rest, slashes included)? Fills `groups`.
bool MatchPath(std::string_view pattern, std::string_view path, std::vector<std::string>& groups) {
  groups.clear();
  std::size_t p = 0;
  std::size_t q = 0;
  while (p < pattern.size()) {
    if (pattern[p] != '{') {
      if (q >= path.size() || path[q] != pattern[p]) return false;
      ++p;
      ++q;
      continue;
    }
    const std::size_t close = pattern.find('}', p);
    const bool rest = pattern[close - 1] == '+';
    const std::size_t end = rest ? path.size() : std::min(path.find('/', q), path.size());
    if (end == q) return false;
    groups.emplace_back(path.substr(q, end - q));
    q = end;
    p = close + 1;
  }
  return q == path.size();
}

// The head and, unless it is streamed, the body of `res`.
// `version` is the request's (10 or 11): an HTTP/1.0 client keeps the connection
// only when the answer says "Connection: keep-alive".
http::response<http::string_body> ToMessage(HttpResponse& res, unsigned version, bool keep_alive) {
  http::response<http::string_body> message;
  message.version(version);
  message.result(static_cast<unsigned>(res.status));
  for (const auto& [name, value] : res.headers) message.set(name, value);
  message.keep_alive(keep_alive);
  if (res.source) {
    message.content_length(res.source_size);
  } else {
    message.body() = std::move(res.body);
    message.prepare_payload();
  }
  return message;
}

// A deadline on a client socket's operations. When it passes, the pending operation
// is cancelled (it ends with operation_aborted and expired() is true) but the socket
// stays open, so an answer (408) can still go out. Lives on the connection's strand,
// as does its timer's handler. A fire already queued when the deadline is re-armed
// or destroyed finds a newer generation or no socket in the shared state.
//
// A passed deadline cancels again every kRecancelInterval until it is re-armed: a
// composed operation (a head read as many reads) has moments where one read has
// completed and the next is not started, and a cancel landing there finds nothing to
// cancel; the next read would then wait on the client with no deadline at all.
class Deadline {
 public:
  explicit Deadline(tcp::socket& socket)
      : state_(std::make_shared<State>(State{&socket})), timer_(socket.get_executor()) {}
  ~Deadline() { state_->socket = nullptr; }
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;

  void Arm(std::chrono::milliseconds limit) {
    const std::uint64_t armed = ++state_->generation;
    state_->expired = false;
    timer_.expires_after(limit);
    AwaitFire(armed);
  }
  bool expired() const { return state_->expired; }

 private:
  static constexpr std::chrono::milliseconds kRecancelInterval{20};

  // The handler touches `this` only while the state holds the socket: the destructor
  // clears it first, and destroying the timer ends the wait with an error.
  void AwaitFire(std::uint64_t armed) {
    timer_.async_wait([this, state = state_, armed](boost::system::error_code ec) {
      if (ec || armed != state->generation || state->socket == nullptr) return;
      state->expired = true;
      boost::system::error_code ignored;
      state->socket->cancel(ignored);
      timer_.expires_after(kRecancelInterval);
      AwaitFire(armed);
    });
  }

  struct State {
    tcp::socket* socket;
    std::uint64_t generation = 0;
    bool expired = false;
  };
  std::shared_ptr<State> state_;
  asio::steady_timer timer_;
};

}  // namespace

std::string HttpRequest::header(std::string_view name) const {
  const std::string* value = FindValue(headers, name, true);
  return value ? *value : std::string();
}
bool HttpRequest::has_header(std::string_view name) const { return FindValue(headers, name, true) != nullptr; }
std::string HttpRequest::param(std::string_view name) const {
  const std::string* value = FindValue(params, name, false);
  return value ? *value : std::string();
}
bool HttpRequest::has_param(std::string_view name) const { return FindValue(params, name, false) != nullptr; }

void HttpResponse::set_header(std::string name, std::string value) {
  for (auto& [key, existing] : headers) {
    if (EqualsIgnoringCase(key, name)) {
      existing = std::move(value);
      return;
    }
  }
  headers.emplace_back(std::move(name), std::move(value));
}

void HttpResponse::set_content(std::string content, std::string content_type) {
  body = std::move(content);
  source = nullptr;
  set_header("Content-Type", std::move(content_type));
}

void HttpResponse::set_source(std::uint64_t size, std::string content_type, BodySource body_source) {
  body.clear();
  source_size = size;
  source = std::move(body_source);
  set_header("Content-Type", std::move(content_type));
}

class HttpServer::Impl {
 public:
  explicit Impl(HttpServerOptions options) : options_(std::move(options)) {}

  struct Route {
    std::string method;
    std::string pattern;
    std::uint64_t body_limit = 0;
    Handler handler;
    StreamHandler stream_handler;
  };

  void AddRoute(Route route) { routes_.push_back(std::move(route)); }
  Result<int> Start();
  void Stop();

 private:
  // One connection's per-peer count, released when the connection ends.
  class ConnectionSlot {
   public:
    ConnectionSlot(Impl& impl, std::string peer) : impl_(impl), peer_(std::move(peer)) {}
    ~ConnectionSlot() { impl_.Release(peer_); }
    ConnectionSlot(const ConnectionSlot&) = delete;
    ConnectionSlot& operator=(const ConnectionSlot&) = delete;

   private:
    Impl& impl_;
    std::string peer_;
  };

  asio::awaitable<void> Accept();
  asio::awaitable<void> Serve(tcp::socket socket, std::string peer);
  // Answers one request whose head is in `head`; false when the connection ends.
  asio::awaitable<bool> Exchange(tcp::socket& stream, Deadline& deadline, beast::flat_buffer& buffer,
                                 http::request_parser<http::empty_body>& head, const std::string& peer);
  asio::awaitable<void> Send(tcp::socket& stream, Deadline& deadline, HttpResponse& res, bool keep_alive,
                             unsigned version = 11);
  asio::awaitable<void> Linger(tcp::socket& stream, Deadline& deadline);
  // Tells on_exchange of one exchange when it ends, whichever way it ends (a
  // coroutine may stop at any co_await: the client went away, the server stopped).
  class ExchangeReport {
   public:
    explicit ExchangeReport(const HttpServerOptions& options) : options_(options) {}
    ~ExchangeReport() {
      if (!options_.on_exchange) return;
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
      options_.on_exchange({method, pattern, status, seconds});
    }
    ExchangeReport(const ExchangeReport&) = delete;
    ExchangeReport& operator=(const ExchangeReport&) = delete;

    std::string method;
    std::string pattern;
    int status = 0;

   private:
    const HttpServerOptions& options_;
    const std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  };

  // 0 when admitted, otherwise the status that refuses a connection from `peer`.
  int Admit(const std::string& peer);
  void Release(const std::string& peer);
  static HttpResponse Refusal(int status, std::string message);

  const HttpServerOptions options_;
  std::vector<Route> routes_;
  std::unique_ptr<asio::io_context> io_;
  std::unique_ptr<tcp::acceptor> acceptor_;
  std::vector<std::thread> threads_;

  std::mutex connections_mutex_;
  std::map<std::string, int> connections_per_peer_;  // guarded by connections_mutex_
  int connections_ = 0;                              // guarded by connections_mutex_
};

int HttpServer::Impl::Admit(const std::string& peer) {
  std::lock_guard lock(connections_mutex_);
  if (connections_ >= options_.limits.max_connections) return 503;
  int& mine = connections_per_peer_[peer];
  if (mine >= options_.limits.max_connections_per_client) return 429;
  ++mine;
  ++connections_;
  return 0;
}

void HttpServer::Impl::Release(const std::string& peer) {
  std::lock_guard lock(connections_mutex_);
  --connections_;
  if (--connections_per_peer_[peer] <= 0) connections_per_peer_.erase(peer);
}

HttpResponse HttpServer::Impl::Refusal(int status, std::string message) {
  HttpResponse res;
  res.status = status;
  res.set_content(ErrorBody(CodeNameForHttpStatus(status), message), "application/json");
  return res;
}

Result<int> HttpServer::Impl::Start() {
  io_ = std::make_unique<asio::io_context>(options_.threads);
  const std::string where = options_.host + ":" + std::to_string(options_.port);
  boost::system::error_code ec;
  tcp::resolver resolver(*io_);
  const auto endpoints = resolver.resolve(options_.host, std::to_string(options_.port),
                                          tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || endpoints.empty()) return Unavailable("cannot listen on " + where + ": " + ec.message());
  const tcp::endpoint endpoint = endpoints.begin()->endpoint();
  acceptor_ = std::make_unique<tcp::acceptor>(*io_);
  // Address reuse only: SO_REUSEPORT would let a second server bind the same port
  // and silently share its connections.
  if (acceptor_->open(endpoint.protocol(), ec) || acceptor_->set_option(tcp::acceptor::reuse_address(true), ec) ||
      acceptor_->bind(endpoint, ec) || acceptor_->listen(asio::socket_base::max_listen_connections, ec)) {
    acceptor_.reset();
    return Unavailable("cannot listen on " + where + " (" + ec.message() +
                       "; port in use, or not an address of this machine)");
  }
  const int port = acceptor_->local_endpoint().port();
  if (options_.on_listening) options_.on_listening(port);
  asio::co_spawn(*io_, Accept(), asio::detached);
  for (int i = 0; i < std::max(1, options_.threads); ++i) threads_.emplace_back([this] { io_->run(); });
  return port;
}

void HttpServer::Impl::Stop() {
  if (!io_) return;
  io_->stop();
  for (std::thread& thread : threads_) thread.join();
  threads_.clear();
  acceptor_.reset();
  io_.reset();  // destroys the suspended connections, closing their sockets
}

asio::awaitable<void> HttpServer::Impl::Accept() {
  for (;;) {
    // Each connection on its own strand: its reads, writes and timer never run at
    // the same time on the pool's threads.
    auto [ec, socket] = co_await acceptor_->async_accept(asio::make_strand(*io_), kUseTuple);
    if (ec) {
      if (!acceptor_->is_open() || ec == asio::error::operation_aborted) co_return;
      // Out of descriptors or the like: wait instead of spinning on the error.
      asio::steady_timer pause(*io_, std::chrono::milliseconds(50));
      co_await pause.async_wait(kUseTuple);
      continue;
    }
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);  // else keep-alive answers wait on delayed ACKs
    const tcp::endpoint remote = socket.remote_endpoint(ignored);
    std::string peer = remote.address().to_string();
    if (const int refused = Admit(peer); refused != 0) {
      ExchangeReport report(options_);
      report.status = refused;
      HttpResponse res = Refusal(refused, refused == 429 ? "too many connections from " + peer : "too many connections");
      res.set_header("Retry-After", "1");
      // A short answer into a fresh socket's send buffer: never blocks.
      std::ostringstream text;
      text << ToMessage(res, 11, false);
      socket.non_blocking(true, ignored);
      socket.write_some(asio::buffer(text.str()), ignored);
      socket.close(ignored);
      continue;
    }
    const auto executor = socket.get_executor();
    asio::co_spawn(executor, Serve(std::move(socket), std::move(peer)), asio::detached);
  }
}

asio::awaitable<void> HttpServer::Impl::Serve(tcp::socket socket, std::string peer) {
  const ConnectionSlot slot(*this, peer);
  tcp::socket& stream = socket;
  Deadline deadline(stream);
  beast::flat_buffer buffer(options_.limits.max_header_bytes + kPartBytes);
  for (;;) {
    http::request_parser<http::empty_body> head;
    head.header_limit(static_cast<std::uint32_t>(options_.limits.max_header_bytes));
    head.body_limit(boost::none);  // each route's limit is applied once the head is routed
    deadline.Arm(options_.limits.header_timeout);
    auto [ec, bytes] = co_await http::async_read_header(stream, buffer, head, kUseTuple);
    if (ec) {
      const bool started = head.got_some() || buffer.size() > 0;
      if (!started || (!deadline.expired() && (ec == http::error::end_of_stream || ec == asio::error::eof ||
                                              ec == asio::error::connection_reset ||
                                              ec == asio::error::operation_aborted))) {
        co_return;  // closed or idle between requests
      }
      HttpResponse res = deadline.expired()
                             ? Refusal(408, "the request head did not arrive within " +
                                                std::to_string(options_.limits.header_timeout.count()) + " ms")
                         : ec == http::error::header_limit || ec == http::error::buffer_overflow
                             ? Refusal(431, "the request line and headers are over " +
                                                std::to_string(options_.limits.max_header_bytes) + " bytes")
                             : Refusal(400, "malformed request: " + ec.message());
      ExchangeReport report(options_);
      report.status = res.status;
      co_await Send(stream, deadline, res, false);
      co_await Linger(stream, deadline);
      co_return;
    }
    // An exception escaping here would end the server's thread: it ends only this
    // connection (handlers' own exceptions are answered 500 inside).
    bool keep_alive = false;
    try {
      keep_alive = co_await Exchange(stream, deadline, buffer, head, peer);
    } catch (const std::exception& e) {
      spdlog::error("HTTP connection from {}: unexpected exception: {}", peer, e.what());
    }
    if (!keep_alive) co_return;
  }
}

asio::awaitable<bool> HttpServer::Impl::Exchange(tcp::socket& stream, Deadline& deadline, beast::flat_buffer& buffer,
                                                 http::request_parser<http::empty_body>& head,
                                                 const std::string& peer) {
  const auto& message = head.get();
  ExchangeReport report(options_);
  HttpRequest req;
  req.method = std::string(message.method_string());
  report.method = req.method;
  req.target = std::string(message.target());
  req.remote_addr = peer;
  const std::string_view target = message.target();
  if (!target.starts_with('/')) {
    HttpResponse res = Refusal(400, "the request target must be a path starting with '/'");
    report.status = res.status;
    co_await Send(stream, deadline, res, false);
    co_await Linger(stream, deadline);
    co_return false;
  }
  const std::size_t question = target.find('?');
  req.path = storage::PercentDecode(target.substr(0, question));
  if (question != std::string_view::npos) req.params = ParseQuery(target.substr(question + 1));
  for (const auto& field : message) req.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));

  const bool client_keep_alive = head.keep_alive();
  const unsigned version = message.version() == 10 ? 10 : 11;
  const std::uint64_t declared = head.content_length().value_or(0);
  const bool has_body = declared > 0 || head.chunked();
  // A refusal keeps the connection only when nothing of the request is left unread.
  auto refuse = [&](HttpResponse res) -> asio::awaitable<bool> {
    const bool keep_alive = client_keep_alive && !has_body && res.status != 411;
    report.status = res.status;
    co_await Send(stream, deadline, res, keep_alive, version);
    if (!keep_alive) co_await Linger(stream, deadline);
    co_return keep_alive;
  };

  const bool sends_body = req.method == "POST" || req.method == "PUT" || req.method == "PATCH";
  if (head.chunked() || message.count(http::field::transfer_encoding) > 0 ||
      (sends_body && !head.content_length())) {
    co_return co_await refuse(
        Refusal(411, "send request bodies with a Content-Length, not chunked or unframed"));
  }
  const Route* route = nullptr;
  std::vector<std::string> groups;
  std::string allowed;
  for (const Route& candidate : routes_) {
    if (!MatchPath(candidate.pattern, req.path, groups)) continue;
    if (candidate.method == req.method) {
      route = &candidate;
      break;
    }
    if (allowed.find(candidate.method) == std::string::npos) allowed += (allowed.empty() ? "" : ", ") + candidate.method;
  }
  if (route == nullptr) {
    if (allowed.empty()) co_return co_await refuse(Refusal(404, "no route for " + req.method + " " + req.path));
    HttpResponse res = Refusal(405, req.method + " is not allowed on " + req.path + " (" + allowed + ")");
    res.set_header("Allow", allowed);
    co_return co_await refuse(std::move(res));
  }
  report.pattern = route->pattern;
  req.matches.push_back(req.path);
  req.matches.insert(req.matches.end(), groups.begin(), groups.end());
  if (declared > route->body_limit) {
    co_return co_await refuse(Refusal(413, "request body of " + std::to_string(declared) + " bytes is over the limit of " +
                                               std::to_string(route->body_limit) + " bytes"));
  }

  HttpResponse res;
  std::unique_ptr<BodyConsumer> consumer;
  if (route->stream_handler) {
    consumer = route->stream_handler(req, res);
    if (!consumer) co_return co_await refuse(std::move(res));
  }
  if (has_body) {
    if (EqualsIgnoringCase(req.header("Expect"), "100-continue")) {
      http::response<http::empty_body> go_on{http::status::continue_, 11};
      deadline.Arm(options_.limits.io_timeout);
      if (auto [ec, n] = co_await http::async_write(stream, go_on, kUseTuple); ec) co_return false;
    }
    http::request_parser<http::buffer_body> body{std::move(head)};
    body.body_limit(route->body_limit);
    std::array<char, kPartBytes> part;
    while (!body.is_done()) {
      body.get().body().data = part.data();
      body.get().body().size = part.size();
      deadline.Arm(options_.limits.io_timeout);
      auto [ec, n] = co_await http::async_read_some(stream, buffer, body, kUseTuple);
      if (ec == http::error::need_buffer) ec = {};
      if (ec) co_return false;  // late, cut or malformed: nobody to answer
      const std::size_t got = part.size() - body.get().body().size;
      if (got == 0) continue;
      if (consumer) {
        if (const Status written = consumer->Write({part.data(), got}); !written.ok()) {
          consumer.reset();
          HttpResponse failed;
          failed.status = HttpStatusFor(written.code());
          failed.set_content(ErrorBody(written), "application/json");
          report.status = failed.status;
          co_await Send(stream, deadline, failed, false, version);
          if (!body.is_done()) co_await Linger(stream, deadline);
          co_return false;
        }
      } else {
        req.body.append(part.data(), got);
      }
    }
  }
  try {
    if (consumer) {
      consumer->Finish(res);
    } else {
      route->handler(req, res);
    }
  } catch (const std::exception& e) {
    spdlog::error("{} {}: unexpected exception: {}", req.method, req.path, e.what());
    res = HttpResponse();
    res.status = 500;
    res.set_content(ErrorBody("internal", "internal error"), "application/json");
  }
  const bool keep_alive = client_keep_alive && !res.close;
  report.status = res.status;
  co_await Send(stream, deadline, res, keep_alive, version);
  if (!keep_alive) {
    co_await Linger(stream, deadline);
    co_return false;
  }
  co_return true;
}

asio::awaitable<void> HttpServer::Impl::Send(tcp::socket& stream, Deadline& deadline, HttpResponse& res,
                                             bool keep_alive, unsigned version) {
  http::response<http::string_body> message = ToMessage(res, version, keep_alive);
  deadline.Arm(options_.limits.io_timeout);
  if (!res.source) {
    co_await http::async_write(stream, message, kUseTuple);
    co_return;
  }
  // A streamed body: the head with its length, then the parts as they are read.
  http::response_serializer<http::string_body> head(message);
  if (auto [ec, n] = co_await http::async_write_header(stream, head, kUseTuple); ec) co_return;
  std::string part;
  for (std::uint64_t offset = 0; offset < res.source_size;) {
    part.clear();
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(kSourceBytes, res.source_size - offset));
    const Status read = res.source(offset, want, part);
    if (!read.ok() || part.empty() || part.size() > want) {
      spdlog::warn("answer body cut at byte {} of {}: {}", offset, res.source_size,
                   read.ok() ? "the source gave no bytes" : read.ToString());
      boost::system::error_code ignored;
      stream.close(ignored);  // the client sees a short body, never a wrong one
      co_return;
    }
    deadline.Arm(options_.limits.io_timeout);
    if (auto [ec, n] = co_await asio::async_write(stream, asio::buffer(part), kUseTuple); ec) co_return;
    offset += part.size();
  }
}

asio::awaitable<void> HttpServer::Impl::Linger(tcp::socket& stream, Deadline& deadline) {
  boost::system::error_code ignored;
  stream.shutdown(tcp::socket::shutdown_send, ignored);
  std::array<char, kPartBytes> sink;
  deadline.Arm(kLingerTime);
  for (std::size_t dropped = 0; dropped < kLingerBytes;) {
    auto [ec, n] = co_await stream.async_read_some(asio::buffer(sink), kUseTuple);
    if (ec) break;
    dropped += n;
  }
  stream.close(ignored);
}

HttpServer::HttpServer(HttpServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Handle(const std::string& method, const std::string& pattern, std::uint64_t body_limit,
                        Handler handler) {
  impl_->AddRoute({method, pattern, body_limit, std::move(handler), nullptr});
}

void HttpServer::HandleStream(const std::string& method, const std::string& pattern, std::uint64_t body_limit,
                              StreamHandler handler) {
  impl_->AddRoute({method, pattern, body_limit, nullptr, std::move(handler)});
}

Status HttpServer::Start() {
  SWAPLINE_ASSIGN_OR_RETURN(port_, impl_->Start());
  return Status::Ok();
}

void HttpServer::Stop() { impl_->Stop(); }

}  // namespace swapline::service
