// The HTTP front against hostile clients on real loopback sockets: slow heads,
// oversized heads, bodies left unread (request smuggling), connection floods, header
// values given as sent, streamed bodies both ways.
#include "service/http_server.h"

#include <gtest/gtest.h>

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "support/process.h"

namespace swapline::service {
namespace {

using swapline::testing::ConnectLoopback;
using swapline::testing::WaitUntil;

// One raw client connection.
class RawClient {
 public:
  explicit RawClient(int port) : fd_(ConnectLoopback(port)) {}
  ~RawClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  int fd() const { return fd_; }
  // False once the server stopped taking bytes (it closed).
  bool Send(std::string_view bytes) {
    for (std::size_t sent = 0; sent < bytes.size();) {
      const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<std::size_t>(n);
    }
    return true;
  }
  // Everything until the server closes, or until nothing came for `quiet`.
  std::string ReadAll(std::chrono::milliseconds quiet = std::chrono::milliseconds(5000)) {
    std::string text;
    for (;;) {
      pollfd readable{fd_, POLLIN, 0};
      if (::poll(&readable, 1, static_cast<int>(quiet.count())) <= 0) {
        closed_ = false;
        return text;
      }
      char buffer[65536];
      const ssize_t n = ::recv(fd_, buffer, sizeof(buffer), 0);
      if (n <= 0) {
        closed_ = true;
        return text;
      }
      text.append(buffer, static_cast<std::size_t>(n));
    }
  }
  // Reads until `text` so far contains `marker`; false when the server closed first.
  bool ReadUntil(std::string& text, std::string_view marker) {
    while (text.find(marker) == std::string::npos) {
      pollfd readable{fd_, POLLIN, 0};
      if (::poll(&readable, 1, 5000) <= 0) return false;
      char buffer[65536];
      const ssize_t n = ::recv(fd_, buffer, sizeof(buffer), 0);
      if (n <= 0) return false;
      text.append(buffer, static_cast<std::size_t>(n));
    }
    return true;
  }
  bool closed_by_server() const { return closed_; }

 private:
  int fd_;
  bool closed_ = false;
};

std::size_t Count(const std::string& text, std::string_view what) {
  std::size_t count = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++count;
  return count;
}

// Collects a body and remembers whether it was finished or abandoned.
struct UploadLog {
  std::atomic<int> finished{0};
  std::atomic<int> abandoned{0};
  std::string last;
};

class LoggingConsumer : public BodyConsumer {
 public:
  explicit LoggingConsumer(UploadLog& log) : log_(log) {}
  ~LoggingConsumer() override {
    if (!finished_) ++log_.abandoned;
  }
  Status Write(std::span<const char> bytes) override {
    if (std::string_view(bytes.data(), bytes.size()).find("FAIL") != std::string_view::npos) {
      return IOError("disk full");
    }
    body_.append(bytes.data(), bytes.size());
    return Status::Ok();
  }
  void Finish(HttpResponse& res) override {
    finished_ = true;
    log_.last = body_;
    ++log_.finished;
    res.set_content(std::to_string(body_.size()), "text/plain");
  }

 private:
  UploadLog& log_;
  std::string body_;
  bool finished_ = false;
};

class HttpServerTest : public ::testing::Test {
 protected:
  void Start(HttpLimits limits = {}, int threads = 2) {
    HttpServerOptions options;
    options.threads = threads;
    options.limits = limits;
    options.on_exchange = [this](const HttpExchange& exchange) {
      std::lock_guard lock(exchanges_mutex_);
      exchanges_.push_back({std::string(exchange.pattern), exchange.status});
    };
    server_ = std::make_unique<HttpServer>(options);
    server_->Handle("GET", "/healthz", 0, [](const HttpRequest&, HttpResponse& res) { res.set_content("ok", "text/plain"); });
    server_->Handle("POST", "/echo", 64, [](const HttpRequest& req, HttpResponse& res) {
      res.set_content(req.body, "text/plain");
    });
    server_->Handle("GET", "/header/{name}", 0, [](const HttpRequest& req, HttpResponse& res) {
      res.set_content("[" + req.header(req.matches[1]) + "]", "text/plain");
    });
    server_->Handle("GET", "/files/{key+}", 0, [](const HttpRequest& req, HttpResponse& res) {
      res.set_content(req.matches[1] + "|" + req.param("q"), "text/plain");
    });
    server_->Handle("GET", "/big", 0, [](const HttpRequest&, HttpResponse& res) {
      res.set_source(3'000'000, "application/octet-stream", [](std::uint64_t offset, std::size_t max, std::string& out) {
        for (std::size_t i = 0; i < max; ++i) out.push_back(static_cast<char>('a' + (offset + i) % 26));
        return Status::Ok();
      });
    });
    server_->HandleStream("PUT", "/upload", 1 << 20, [this](const HttpRequest& req, HttpResponse& res) {
      if (req.param("refuse") == "1") {
        res.status = 403;
        res.set_content("no", "text/plain");
        return std::unique_ptr<BodyConsumer>();
      }
      return std::unique_ptr<BodyConsumer>(std::make_unique<LoggingConsumer>(uploads_));
    });
    ASSERT_TRUE(server_->Start().ok());
  }

  // How many exchanges on `pattern` ("": none matched) ended with `status`.
  int Told(const std::string& pattern, int status) {
    std::lock_guard lock(exchanges_mutex_);
    return static_cast<int>(std::count(exchanges_.begin(), exchanges_.end(), std::pair(pattern, status)));
  }

  std::mutex exchanges_mutex_;
  std::vector<std::pair<std::string, int>> exchanges_;  // guarded by exchanges_mutex_
  UploadLog uploads_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpServerTest, SlowClientsDoNotHoldTheThreads) {
  HttpLimits limits;
  limits.header_timeout = std::chrono::milliseconds(60'000);
  Start(limits, 2);
  // 16 clients trickling a head (slowloris) against 2 handler threads: a server
  // that gives each connection a thread would answer nobody else until they end.
  std::vector<std::unique_ptr<RawClient>> slow;
  for (int i = 0; i < 16; ++i) {
    slow.push_back(std::make_unique<RawClient>(server_->port()));
    ASSERT_TRUE(slow.back()->Send("GET /healthz HTTP/1.1\r\nHost: x\r\n"));
  }
  for (int round = 0; round < 3; ++round) {
    for (auto& client : slow) ASSERT_TRUE(client->Send("X-Slow: 1\r\n"));
    RawClient fast(server_->port());
    ASSERT_TRUE(fast.Send("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    const std::string answer = fast.ReadAll();
    EXPECT_EQ(answer.rfind("HTTP/1.1 200", 0), 0u) << answer;
  }
  // The slow ones are still waiting, unanswered, and finish normally.
  for (auto& client : slow) {
    ASSERT_TRUE(client->Send("Connection: close\r\n\r\n"));
    EXPECT_EQ(client->ReadAll().rfind("HTTP/1.1 200", 0), 0u);
  }
}

TEST_F(HttpServerTest, AHeadMustArriveInTime) {
  HttpLimits limits;
  limits.header_timeout = std::chrono::milliseconds(300);
  Start(limits);
  RawClient client(server_->port());
  ASSERT_TRUE(client.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n"));
  // One header line every 100 ms keeps the connection busy but the head never
  // completes: the deadline is for the whole head, not between bytes.
  for (int i = 0; i < 50 && client.Send("X-Slow: 1\r\n"); ++i) {
    pollfd readable{client.fd(), POLLIN, 0};
    if (::poll(&readable, 1, 100) > 0) break;  // the answer came
  }
  const std::string answer = client.ReadAll();
  EXPECT_EQ(answer.rfind("HTTP/1.1 408", 0), 0u) << answer;
  EXPECT_TRUE(client.closed_by_server());
  // An idle connection that never sent a byte is closed without an answer.
  RawClient idle(server_->port());
  EXPECT_EQ(idle.ReadAll(), "");
  EXPECT_TRUE(idle.closed_by_server());
}

TEST_F(HttpServerTest, OversizedHeadsAreRefusedWithoutReadingThem) {
  Start();
  RawClient long_line(server_->port());
  // A 64 MiB request line: refused after the first 16 KiB, the connection closed
  // while the client is still sending.
  long_line.Send("GET /" + std::string(64 << 20, 'a'));
  std::string answer = long_line.ReadAll();
  EXPECT_EQ(answer.rfind("HTTP/1.1 431", 0), 0u) << answer.substr(0, 200);

  RawClient many_headers(server_->port());
  std::string head = "GET /healthz HTTP/1.1\r\n";
  for (int i = 0; i < 100'000; ++i) head += "X-" + std::to_string(i) + ": 1\r\n";
  many_headers.Send(head + "\r\n");
  answer = many_headers.ReadAll();
  EXPECT_EQ(answer.rfind("HTTP/1.1 431", 0), 0u) << answer.substr(0, 200);
  // Told once each, after the connection ended.
  EXPECT_TRUE(WaitUntil([&] { return Told("", 431) == 2; }, std::chrono::seconds(5)));
}

TEST_F(HttpServerTest, AnUnreadBodyIsNeverTakenForTheNextRequest) {
  Start();
  const std::string smuggled = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  // Over the route's limit: 413 from the head, then the connection ends; the bytes
  // that follow are dropped, not answered as a request.
  {
    RawClient client(server_->port());
    const std::string body = smuggled + std::string(100 - smuggled.size(), ' ');
    ASSERT_TRUE(client.Send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" + body));
    const std::string answer = client.ReadAll();
    EXPECT_EQ(answer.rfind("HTTP/1.1 413", 0), 0u) << answer;
    EXPECT_EQ(Count(answer, "HTTP/1.1 "), 1u) << answer;
    EXPECT_TRUE(client.closed_by_server());
  }
  // No route, chunked, no length: the same.
  for (const std::string& request : {"POST /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                                        std::to_string(smuggled.size()) + "\r\n\r\n" + smuggled,
                                    "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + smuggled,
                                    "POST /echo HTTP/1.1\r\nHost: x\r\n\r\n" + smuggled}) {
    RawClient client(server_->port());
    ASSERT_TRUE(client.Send(request));
    const std::string answer = client.ReadAll();
    EXPECT_EQ(Count(answer, "HTTP/1.1 "), 1u) << answer;
    EXPECT_EQ(answer.find("HTTP/1.1 200"), std::string::npos) << answer;
    EXPECT_TRUE(client.closed_by_server());
  }
  // A refused upload (the handler's answer from the head) leaves its body unread too.
  RawClient client(server_->port());
  ASSERT_TRUE(client.Send("PUT /upload?refuse=1 HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                          std::to_string(smuggled.size()) + "\r\n\r\n" + smuggled));
  const std::string answer = client.ReadAll();
  EXPECT_EQ(answer.rfind("HTTP/1.1 403", 0), 0u) << answer;
  EXPECT_EQ(Count(answer, "HTTP/1.1 "), 1u) << answer;
}

TEST_F(HttpServerTest, KeepAliveAndPipeliningStillWork) {
  Start();
  RawClient client(server_->port());
  ASSERT_TRUE(client.Send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
                          "GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n"
                          "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  const std::string answer = client.ReadAll();
  const std::size_t echo = answer.find("HTTP/1.1 200");
  const std::size_t missing = answer.find("HTTP/1.1 404");
  const std::size_t health = answer.find("HTTP/1.1 200", echo + 1);
  ASSERT_NE(echo, std::string::npos) << answer;
  EXPECT_NE(answer.find("hello"), std::string::npos);
  EXPECT_LT(echo, missing);
  EXPECT_LT(missing, health);
  EXPECT_NE(answer.find("\"not_found\""), std::string::npos) << answer;
  EXPECT_TRUE(client.closed_by_server());
}

TEST_F(HttpServerTest, ConnectionsPerClientAreCapped) {
  HttpLimits limits;
  limits.max_connections_per_client = 4;
  Start(limits);
  std::vector<std::unique_ptr<RawClient>> held;
  for (int i = 0; i < 4; ++i) {
    held.push_back(std::make_unique<RawClient>(server_->port()));
    // Answered, so the server has counted it before the next one connects.
    ASSERT_TRUE(held.back()->Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
    std::string text;
    ASSERT_TRUE(held.back()->ReadUntil(text, "ok"));
  }
  RawClient fifth(server_->port());
  const std::string answer = fifth.ReadAll();
  EXPECT_EQ(answer.rfind("HTTP/1.1 429", 0), 0u) << answer;
  EXPECT_NE(answer.find("Retry-After: 1"), std::string::npos) << answer;
  held.pop_back();
  // Once one ends, a new one is served.
  EXPECT_TRUE(WaitUntil(
      [&] {
        RawClient again(server_->port());
        again.Send("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        return again.ReadAll().rfind("HTTP/1.1 200", 0) == 0;
      },
      std::chrono::seconds(5)));
}

TEST_F(HttpServerTest, HeaderValuesAreGivenAsSentAndPathsDecoded) {
  Start();
  RawClient client(server_->port());
  ASSERT_TRUE(client.Send("GET /header/Authorization HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ab%63d+e\r\n\r\n"
                          "GET /files/a%20b/c%2Fd.jpg?q=x%26y+z HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  const std::string answer = client.ReadAll();
  EXPECT_NE(answer.find("[Bearer ab%63d+e]"), std::string::npos) << answer;
  EXPECT_NE(answer.find("a b/c/d.jpg|x&y z"), std::string::npos) << answer;
  // A target that is not a path is refused.
  RawClient query_only(server_->port());
  ASSERT_TRUE(query_only.Send("GET ?healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_EQ(query_only.ReadAll().rfind("HTTP/1.1 400", 0), 0u);
  // A control character in a header value is a malformed request, not truncated.
  RawClient nul(server_->port());
  ASSERT_TRUE(nul.Send(std::string("GET /healthz HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer abc") + '\0' +
                       "def\r\n\r\n"));
  const std::string refused = nul.ReadAll();
  EXPECT_EQ(refused.rfind("HTTP/1.1 400", 0), 0u) << refused;
  EXPECT_TRUE(nul.closed_by_server());
}

TEST_F(HttpServerTest, UploadsStreamToTheirConsumer) {
  Start();
  const std::string body(300'000, 'u');
  {
    RawClient client(server_->port());
    ASSERT_TRUE(client.Send("PUT /upload HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: " +
                            std::to_string(body.size()) + "\r\n\r\n"));
    std::string text;
    ASSERT_TRUE(client.ReadUntil(text, "HTTP/1.1 100 Continue\r\n\r\n")) << text;
    ASSERT_TRUE(client.Send(body));
    ASSERT_TRUE(client.ReadUntil(text, "300000")) << text;
    EXPECT_EQ(uploads_.last, body);
  }
  // Cut off mid-body: the consumer is dropped without Finish.
  {
    RawClient client(server_->port());
    ASSERT_TRUE(client.Send("PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nonly a part"));
  }
  EXPECT_TRUE(WaitUntil([&] { return uploads_.abandoned.load() == 1; }, std::chrono::seconds(5)));
  // A failed write answers its error and drops the rest.
  RawClient failing(server_->port());
  ASSERT_TRUE(failing.Send("PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\n\r\nFAIL"));
  const std::string answer = failing.ReadAll();
  EXPECT_EQ(answer.rfind("HTTP/1.1 500", 0), 0u) << answer;
  EXPECT_NE(answer.find("disk full"), std::string::npos) << answer;
  EXPECT_EQ(uploads_.finished.load(), 1);
  EXPECT_EQ(uploads_.abandoned.load(), 2);
  // Each streamed exchange is told once, with the answer it got (0: none).
  EXPECT_TRUE(WaitUntil([&] { return Told("/upload", 500) == 1; }, std::chrono::seconds(5)));
  EXPECT_EQ(Told("/upload", 200), 1);
  EXPECT_EQ(Told("/upload", 0), 1);
}

TEST_F(HttpServerTest, StreamedAnswersCarryEveryByte) {
  Start();
  RawClient client(server_->port());
  ASSERT_TRUE(client.Send("GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  const std::string answer = client.ReadAll();
  const std::size_t body = answer.find("\r\n\r\n");
  ASSERT_NE(body, std::string::npos);
  EXPECT_NE(answer.find("Content-Length: 3000000"), std::string::npos);
  ASSERT_EQ(answer.size() - body - 4, 3'000'000u);
  for (std::size_t i = 0; i < 3'000'000; i += 99'991) {
    ASSERT_EQ(answer[body + 4 + i], static_cast<char>('a' + i % 26)) << i;
  }
  EXPECT_TRUE(WaitUntil([&] { return Told("/big", 200) == 1; }, std::chrono::seconds(5)));
}

TEST_F(HttpServerTest, ASecondServerCannotTakeTheSamePort) {
  Start();
  HttpServerOptions options;
  options.port = server_->port();
  HttpServer second(options);
  const Status started = second.Start();
  EXPECT_EQ(started.code(), Code::kUnavailable) << started.ToString();
}

}  // namespace
}  // namespace swapline::service
