// Internal: a small RAII layer over hiredis 0.14 (blocking API, RESP2, no TLS).
//
// RedisConnection owns one redisContext (not thread-safe: one thread at a time).
// RedisPool hands connections to threads and drops broken ones; a later call
// reconnects, so a restarted Redis is picked up without outside help.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "job/queue_backends.h"

struct redisContext;
struct redisReply;

namespace swapline::job::internal {

// A read-only view of one reply element (valid while its Reply lives).
class ReplyView {
 public:
  explicit ReplyView(const redisReply* r) : r_(r) {}
  bool is_nil() const;
  bool is_error() const;
  bool is_string() const;  // bulk string or status
  bool is_integer() const;
  bool is_array() const;
  std::string_view str() const;  // string, status or error text; "" otherwise
  std::int64_t integer() const;  // integer, or a string parsed as one; 0 otherwise
  std::size_t size() const;      // array length; 0 otherwise
  ReplyView operator[](std::size_t i) const;

 private:
  const redisReply* r_;
};

// An owned reply.
class Reply {
 public:
  Reply() = default;
  explicit Reply(redisReply* r);
  ReplyView view() const { return ReplyView(r_.get()); }
  bool is_error() const { return view().is_error(); }
  // True when the reply is an error whose text starts with `prefix` ("NOGROUP").
  bool ErrorStartsWith(std::string_view prefix) const;

 private:
  struct Free {
    void operator()(redisReply* r) const;
  };
  std::unique_ptr<redisReply, Free> r_;
};

class RedisConnection {
 public:
  // Connects, authenticates and selects the database.
  static Result<std::unique_ptr<RedisConnection>> Connect(const RedisEndpoint& endpoint,
                                                          std::chrono::milliseconds timeout);
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // One command. A Redis error reply is a Reply (is_error()); only transport
  // failures are errors (kUnavailable), after which the connection is broken().
  Result<Reply> Command(const std::vector<std::string>& args);
  // Several commands in one round trip; replies in order.
  Result<std::vector<Reply>> Pipeline(const std::vector<std::vector<std::string>>& commands);

  bool broken() const { return broken_; }
  std::chrono::steady_clock::time_point last_used() const { return last_used_; }

 private:
  explicit RedisConnection(redisContext* ctx, std::string describe)
      : ctx_(ctx), describe_(std::move(describe)) {}
  Status TransportError(const char* what);

  redisContext* ctx_;
  std::string describe_;
  bool broken_ = false;
  std::chrono::steady_clock::time_point last_used_ = std::chrono::steady_clock::now();
};

class RedisPool {
 public:
  RedisPool(RedisEndpoint endpoint, std::chrono::milliseconds timeout, std::size_t max_idle = 16)
      : endpoint_(std::move(endpoint)), timeout_(timeout), max_idle_(max_idle) {}

  // A connection borrowed from the pool; returned on destruction unless broken.
  class Handle {
   public:
    Handle(RedisPool* pool, std::unique_ptr<RedisConnection> conn, bool reused)
        : pool_(pool), conn_(std::move(conn)), reused_(reused) {}
    Handle(Handle&&) = default;
    ~Handle();
    RedisConnection* operator->() { return conn_.get(); }
    RedisConnection& operator*() { return *conn_; }
    // True when this connection served earlier calls (it may have gone stale).
    bool reused() const { return reused_; }

   private:
    RedisPool* pool_;
    std::unique_ptr<RedisConnection> conn_;
    bool reused_;
  };

  Result<Handle> Acquire();
  const RedisEndpoint& endpoint() const { return endpoint_; }

 private:
  void Return(std::unique_ptr<RedisConnection> conn);

  const RedisEndpoint endpoint_;
  const std::chrono::milliseconds timeout_;
  const std::size_t max_idle_;
  std::mutex mu_;
  std::vector<std::unique_ptr<RedisConnection>> idle_;  // GUARDED_BY(mu_)
};

}  // namespace swapline::job::internal
