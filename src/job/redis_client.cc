#include "job/redis_client.h"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <cstdlib>

namespace swapline::job::internal {
namespace {

timeval ToTimeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

}  // namespace

bool ReplyView::is_nil() const { return r_ == nullptr || r_->type == REDIS_REPLY_NIL; }
bool ReplyView::is_error() const { return r_ != nullptr && r_->type == REDIS_REPLY_ERROR; }
bool ReplyView::is_string() const {
  return r_ != nullptr && (r_->type == REDIS_REPLY_STRING || r_->type == REDIS_REPLY_STATUS);
}
bool ReplyView::is_integer() const { return r_ != nullptr && r_->type == REDIS_REPLY_INTEGER; }
bool ReplyView::is_array() const { return r_ != nullptr && r_->type == REDIS_REPLY_ARRAY; }

std::string_view ReplyView::str() const {
  if (r_ == nullptr) return {};
  if (r_->type == REDIS_REPLY_STRING || r_->type == REDIS_REPLY_STATUS ||
      r_->type == REDIS_REPLY_ERROR) {
    return std::string_view(r_->str, r_->len);
  }
  return {};
}

std::int64_t ReplyView::integer() const {
  if (r_ == nullptr) return 0;
  if (r_->type == REDIS_REPLY_INTEGER) return r_->integer;
  if (r_->type == REDIS_REPLY_STRING || r_->type == REDIS_REPLY_STATUS) {
    return std::strtoll(std::string(r_->str, r_->len).c_str(), nullptr, 10);
  }
  return 0;
}

std::size_t ReplyView::size() const {
  return r_ != nullptr && r_->type == REDIS_REPLY_ARRAY ? r_->elements : 0;
}

ReplyView ReplyView::operator[](std::size_t i) const {
  if (i >= size()) return ReplyView(nullptr);
  return ReplyView(r_->element[i]);
}

Reply::Reply(redisReply* r) : r_(r) {}

void Reply::Free::operator()(redisReply* r) const { freeReplyObject(r); }

bool Reply::ErrorStartsWith(std::string_view prefix) const {
  return is_error() && view().str().starts_with(prefix);
}

Result<std::unique_ptr<RedisConnection>> RedisConnection::Connect(
    const RedisEndpoint& endpoint, std::chrono::milliseconds timeout) {
  redisContext* ctx = redisConnectWithTimeout(endpoint.host.c_str(), endpoint.port, ToTimeval(timeout));
  const std::string where = endpoint.host + ":" + std::to_string(endpoint.port);
  if (ctx == nullptr) return Unavailable("cannot connect to Redis at " + where + ": out of memory");
  if (ctx->err != 0) {
    std::string msg = "cannot connect to Redis at " + where + ": " + ctx->errstr;
    redisFree(ctx);
    return Unavailable(msg);
  }
  redisSetTimeout(ctx, ToTimeval(timeout));
  redisEnableKeepAlive(ctx);
  std::unique_ptr<RedisConnection> conn(new RedisConnection(ctx, where));
  if (!endpoint.password.empty()) {
    std::vector<std::string> auth = {"AUTH"};
    if (!endpoint.user.empty()) auth.push_back(endpoint.user);
    auth.push_back(endpoint.password);
    SWAPLINE_ASSIGN_OR_RETURN(Reply r, conn->Command(auth));
    if (r.is_error()) {
      return PermissionDenied("Redis at " + where + " refused the password: " +
                              std::string(r.view().str()));
    }
  }
  if (endpoint.db != 0) {
    SWAPLINE_ASSIGN_OR_RETURN(Reply r, conn->Command({"SELECT", std::to_string(endpoint.db)}));
    if (r.is_error()) {
      return InvalidArgument("Redis at " + where + ": cannot select database " +
                             std::to_string(endpoint.db) + ": " + std::string(r.view().str()));
    }
  }
  return conn;
}

RedisConnection::~RedisConnection() {
  if (ctx_ != nullptr) redisFree(ctx_);
}

Status RedisConnection::TransportError(const char* what) {
  broken_ = true;
  std::string detail = ctx_->err != 0 ? std::string(ctx_->errstr) : std::string("no reply");
  return Unavailable(std::string("Redis at ") + describe_ + ": " + what + " failed: " + detail);
}

Result<Reply> RedisConnection::Command(const std::vector<std::string>& args) {
  if (broken_) return Unavailable("Redis at " + describe_ + ": connection is broken");
  std::vector<const char*> argv;
  std::vector<std::size_t> lens;
  argv.reserve(args.size());
  lens.reserve(args.size());
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  last_used_ = std::chrono::steady_clock::now();
  void* raw = redisCommandArgv(ctx_, static_cast<int>(args.size()), argv.data(), lens.data());
  if (raw == nullptr) return TransportError(args.empty() ? "command" : args[0].c_str());
  return Reply(static_cast<redisReply*>(raw));
}

Result<std::vector<Reply>> RedisConnection::Pipeline(
    const std::vector<std::vector<std::string>>& commands) {
  if (broken_) return Unavailable("Redis at " + describe_ + ": connection is broken");
  last_used_ = std::chrono::steady_clock::now();
  for (const auto& args : commands) {
    std::vector<const char*> argv;
    std::vector<std::size_t> lens;
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    if (redisAppendCommandArgv(ctx_, static_cast<int>(args.size()), argv.data(), lens.data()) !=
        REDIS_OK) {
      return TransportError("pipeline");
    }
  }
  std::vector<Reply> replies;
  replies.reserve(commands.size());
  for (std::size_t i = 0; i < commands.size(); ++i) {
    void* raw = nullptr;
    if (redisGetReply(ctx_, &raw) != REDIS_OK || raw == nullptr) return TransportError("pipeline");
    replies.emplace_back(static_cast<redisReply*>(raw));
  }
  return replies;
}

RedisPool::Handle::~Handle() {
  if (pool_ != nullptr && conn_ != nullptr) pool_->Return(std::move(conn_));
}

Result<RedisPool::Handle> RedisPool::Acquire() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_.empty()) {
      std::unique_ptr<RedisConnection> conn = std::move(idle_.back());
      idle_.pop_back();
      return Handle(this, std::move(conn), /*reused=*/true);
    }
  }
  SWAPLINE_ASSIGN_OR_RETURN(std::unique_ptr<RedisConnection> conn,
                            RedisConnection::Connect(endpoint_, timeout_));
  return Handle(this, std::move(conn), /*reused=*/false);
}

void RedisPool::Return(std::unique_ptr<RedisConnection> conn) {
  if (conn->broken()) {
    // A broken connection usually means the server went away: drop the idle ones
    // too, so the next calls reconnect instead of failing one by one.
    std::lock_guard<std::mutex> lock(mu_);
    idle_.clear();
    return;
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (idle_.size() < max_idle_) idle_.push_back(std::move(conn));
}

}  // namespace swapline::job::internal
