// Job callbacks (service/callback.h) against a real receiver on a loopback port:
// internal addresses refused by literal and by resolved name, the operator's
// allow-list, bounded time and body, posts off the caller's thread, redacted URLs.
#include <gtest/gtest.h>
#include <httplib.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "service/callback.h"

namespace swapline::service {
namespace {

// A receiver whose /slow handler holds its answer until Release().
class Receiver {
 public:
  Receiver() {
    server_.Post("/done", [this](const httplib::Request& request, httplib::Response& response) {
      std::lock_guard lock(mutex_);
      bodies_.push_back(request.body);
      response.status = 204;
    });
    server_.Post("/big", [](const httplib::Request&, httplib::Response& response) {
      response.set_content(std::string(8 << 20, 'x'), "text/plain");
    });
    server_.Post("/slow", [this](const httplib::Request&, httplib::Response& response) {
      std::unique_lock lock(mutex_);
      ++slow_waiting_;
      changed_.notify_all();
      changed_.wait(lock, [this] { return released_; });
      response.status = 204;
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::yield();
  }
  ~Receiver() {
    Release();
    server_.stop();
    thread_.join();
  }
  std::string Url(const std::string& host, const std::string& path) const {
    return "http://" + host + ":" + std::to_string(port_) + path + "?token=secret-query-token";
  }
  std::size_t received() {
    std::lock_guard lock(mutex_);
    return bodies_.size();
  }
  bool WaitForSlowRequest() {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, std::chrono::seconds(30), [this] { return slow_waiting_ > 0; });
  }
  void Release() {
    std::lock_guard lock(mutex_);
    released_ = true;
    changed_.notify_all();
  }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::string> bodies_;
  int slow_waiting_ = 0;
  bool released_ = false;
};

TEST(CallbackUrl, LiteralInternalAddressesAreRefused) {
  for (const char* url : {"http://127.0.0.1/x", "http://169.254.169.254/latest/meta-data/", "http://10.1.2.3/",
                          "http://172.20.0.1/", "http://192.168.1.1/", "http://100.64.0.1/", "http://0.0.0.0/",
                          "http://224.0.0.1/", "http://[::1]/", "http://[fe80::1]/", "http://[fd00::1]/",
                          "http://[::ffff:127.0.0.1]/", "http://[64:ff9b::a9fe:a9fe]/"}) {
    EXPECT_EQ(CheckCallbackUrl(url, {}).code(), Code::kPermissionDenied) << url;
  }
  EXPECT_TRUE(CheckCallbackUrl("https://93.184.216.34/hook", {}).ok());
  EXPECT_TRUE(CheckCallbackUrl("https://hooks.example.com/hook", {}).ok());  // names are checked when posting
  EXPECT_TRUE(CheckCallbackUrl("http://10.1.2.3/", {"10.0.0.0/8"}).ok());
  EXPECT_TRUE(CheckCallbackUrl("http://[::1]:8080/", {"::1"}).ok());
  EXPECT_EQ(CheckCallbackUrl("ftp://hooks.example.com/", {}).code(), Code::kInvalidArgument);
  EXPECT_EQ(CheckCallbackUrl("http://user:pw@hooks.example.com/", {}).code(), Code::kInvalidArgument);
  EXPECT_EQ(CheckCallbackUrl("http://", {}).code(), Code::kInvalidArgument);
  EXPECT_EQ(CheckCallbackUrl("hooks.example.com/hook", {}).code(), Code::kInvalidArgument);
  EXPECT_EQ(CheckCallbackUrl("https://hooks.example.com:99999/", {}).code(), Code::kInvalidArgument);
  // Percent-encoded paths and queries are the receiver's business.
  EXPECT_TRUE(CheckCallbackUrl("https://hooks.example.com/a%2Fb?t=x%3Fy", {}).ok());
}

TEST(CallbackUrl, RedactedForLogs) {
  EXPECT_EQ(RedactUrl("https://hooks.example.com:8443/t/abc?token=secret"), "https://hooks.example.com:8443/…");
  EXPECT_EQ(RedactUrl("http://[::1]/x"), "http://[::1]/…");
  EXPECT_EQ(RedactUrl("not a url"), "(invalid URL)");
}

TEST(CallbackSender, RefusesANameThatResolvesToLoopback) {
  Receiver receiver;
  CallbackSender sender({});
  // The name passes the literal check; the connect-time check refuses its address.
  const Status sent = sender.Send(receiver.Url("localhost", "/done"), "{}");
  EXPECT_EQ(sent.code(), Code::kPermissionDenied) << sent.ToString();
  EXPECT_EQ(receiver.received(), 0u);
}

TEST(CallbackSender, PostsWhereTheOperatorAllows) {
  Receiver receiver;
  CallbackSender by_cidr({.allowed_hosts = {"127.0.0.0/8", "::1"}});
  EXPECT_TRUE(by_cidr.Send(receiver.Url("localhost", "/done"), R"({"id":"x"})").ok());
  CallbackSender by_name({.allowed_hosts = {"localhost"}});
  EXPECT_TRUE(by_name.Send(receiver.Url("localhost", "/done"), "{}").ok());
  EXPECT_EQ(receiver.received(), 2u);
}

TEST(CallbackSender, BoundsTheAnswerAndTheTime) {
  Receiver receiver;
  CallbackSender sender({.allowed_hosts = {"127.0.0.1/32"},
                         .connect_timeout = std::chrono::milliseconds(1000),
                         .total_timeout = std::chrono::milliseconds(300),
                         .max_response_bytes = 1024});
  EXPECT_TRUE(sender.Send(receiver.Url("127.0.0.1", "/big"), "{}").ok());
  // A receiver that never answers: the post gives up, the receiver is still waiting.
  const Status slow = sender.Send(receiver.Url("127.0.0.1", "/slow"), "{}");
  EXPECT_EQ(slow.code(), Code::kUnavailable) << slow.ToString();
}

TEST(CallbackSender, PostsOffTheCallersThread) {
  Receiver receiver;
  CallbackSender sender({.allowed_hosts = {"127.0.0.1/32"}});
  sender.Post(receiver.Url("127.0.0.1", "/slow"), "{}", "job-1");
  // Post returned while the receiver holds its answer.
  ASSERT_TRUE(receiver.WaitForSlowRequest());
  EXPECT_EQ(sender.done(), 0u);
  receiver.Release();
  sender.Post(receiver.Url("127.0.0.1", "/done"), "{}", "job-2");
  for (int i = 0; i < 3000 && sender.done() < 2; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(sender.done(), 2u);
  EXPECT_EQ(receiver.received(), 1u);
}

}  // namespace
}  // namespace swapline::service
