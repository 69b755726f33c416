#include "bench/http_front_bench.h"

#include <httplib.h>
#include <microhttpd.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bench/load.h"
#include "bench/stats.h"
#include "service/http_server.h"
#include "support/process.h"

namespace swapline::bench {
namespace {

constexpr char kHealth[] = R"({"status":"ok"})";
constexpr int kThreads = 16;

// One of the servers compared, serving GET /healthz until destroyed.
class Front {
 public:
  virtual ~Front() = default;
  virtual int port() const = 0;
};

class HttplibFront : public Front {
 public:
  HttplibFront() {
    server_.set_tcp_nodelay(true);
    server_.set_keep_alive_max_count(100000);
    server_.set_keep_alive_timeout(5);
    server_.set_read_timeout(30, 0);
    server_.set_write_timeout(30, 0);
    server_.new_task_queue = [] { return new httplib::ThreadPool(kThreads); };
    server_.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(kHealth, "application/json");
    });
    // As the API refused bodies on it: before reading them, by the declared length.
    server_.set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
      if (req.get_header_value("Content-Length").empty() || req.get_header_value("Content-Length") == "0") {
        return httplib::Server::HandlerResponse::Unhandled;
      }
      res.status = 413;
      res.set_header("Connection", "close");
      return httplib::Server::HandlerResponse::Handled;
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    listener_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~HttplibFront() override {
    server_.stop();
    listener_.join();
  }
  int port() const override { return port_; }

 private:
  httplib::Server server_;
  std::thread listener_;
  int port_ = 0;
};

class MicrohttpdFront : public Front {
 public:
  MicrohttpdFront() {
    daemon_ = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, 0, nullptr, nullptr, &Answer, nullptr,
                               MHD_OPTION_THREAD_POOL_SIZE, static_cast<unsigned>(kThreads),
                               MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_PER_IP_CONNECTION_LIMIT, 64u,
                               MHD_OPTION_CONNECTION_LIMIT, 1024u, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                               static_cast<std::size_t>(16 * 1024), MHD_OPTION_END);
    if (daemon_ != nullptr) port_ = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT)->port;
  }
  ~MicrohttpdFront() override {
    if (daemon_ != nullptr) MHD_stop_daemon(daemon_);
  }
  int port() const override { return port_; }

 private:
  static MHD_Result Answer(void*, MHD_Connection* connection, const char* url, const char*, const char*, const char*,
                           std::size_t*, void** state) {
    const char* length = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "Content-Length");
    const bool has_body = length != nullptr && std::strcmp(length, "0") != 0;
    if (*state == nullptr && !has_body) {  // the head: answer with the (empty) body
      *state = connection;
      return MHD_YES;
    }
    MHD_Response* response = MHD_create_response_from_buffer(sizeof(kHealth) - 1, const_cast<char*>(kHealth),
                                                              MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(response, "Content-Type", "application/json");
    // A body is refused from the head, as the API refuses bodies on GET routes.
    const unsigned status = has_body ? MHD_HTTP_CONTENT_TOO_LARGE
                            : std::strcmp(url, "/healthz") == 0 ? MHD_HTTP_OK
                                                                : MHD_HTTP_NOT_FOUND;
    const MHD_Result queued = MHD_queue_response(connection, status, response);
    MHD_destroy_response(response);
    return queued;
  }

  MHD_Daemon* daemon_ = nullptr;
  int port_ = 0;
};

class SwaplineFront : public Front {
 public:
  SwaplineFront() : server_(Options()) {
    server_.Handle("GET", "/healthz", 0, [](const service::HttpRequest&, service::HttpResponse& res) {
      res.set_content(kHealth, "application/json");
    });
    if (!server_.Start().ok()) std::fprintf(stderr, "bench http-front: swapline's front did not start\n");
  }
  int port() const override { return server_.port(); }

 private:
  static service::HttpServerOptions Options() {
    service::HttpServerOptions options;
    options.threads = kThreads;
    return options;
  }
  service::HttpServer server_;
};

struct FrontKind {
  const char* name;
  std::function<std::unique_ptr<Front>()> start;
};

// Sends all of `bytes` (until the server stops taking them); how many it took.
std::size_t SendAll(int fd, std::string_view bytes) {
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<std::size_t>(n);
  }
  return sent;
}

// Reads until the server closes or nothing comes for `quiet`.
std::string ReadAll(int fd, std::chrono::milliseconds quiet) {
  std::string text;
  for (;;) {
    pollfd readable{fd, POLLIN, 0};
    if (::poll(&readable, 1, static_cast<int>(quiet.count())) <= 0) return text;
    char buffer[16384];
    const ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) return text;
    text.append(buffer, static_cast<std::size_t>(n));
  }
}

// A GET /healthz on a new connection; its time in ms, or -1 when no complete
// status line came within 5 s.
double TimedHealthCheck(int port) {
  const auto start = Clock::now();
  const int fd = testing::ConnectLoopback(port);
  if (fd < 0) return -1;
  SendAll(fd, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  std::string text;
  while (text.find("\r\n") == std::string::npos && Clock::now() - start < std::chrono::seconds(5)) {
    pollfd readable{fd, POLLIN, 0};
    if (::poll(&readable, 1, 100) <= 0) continue;
    char buffer[4096];
    const ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  if (text.rfind("HTTP/1.1 200", 0) != 0) return -1;
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

struct SlowlorisResult {
  int answered = 0;  // of 20
  double median_ms = 0;
};

SlowlorisResult Slowloris(int port, int slow_clients) {
  std::vector<int> slow;
  for (int i = 0; i < slow_clients; ++i) {
    const int fd = testing::ConnectLoopback(port);
    if (fd < 0) continue;
    SendAll(fd, "GET /healthz HTTP/1.1\r\nHost: x\r\n");
    slow.push_back(fd);
  }
  std::atomic<bool> done{false};
  std::thread trickle([&] {
    while (!done) {
      for (const int fd : slow) SendAll(fd, "X-Slow: 1\r\n");
      for (int i = 0; i < 10 && !done; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // let the server take them all in
  SlowlorisResult result;
  std::vector<double> times;
  for (int i = 0; i < 20; ++i) {
    const double ms = TimedHealthCheck(port);
    if (ms >= 0) times.push_back(ms);
  }
  done = true;
  trickle.join();
  for (const int fd : slow) ::close(fd);
  result.answered = static_cast<int>(times.size());
  result.median_ms = Percentile(times, 0.5);
  return result;
}

// The status line a 100,000-line head gets ("" when the server closes without one).
std::string HugeHead(int port) {
  std::string head = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 100'000; ++i) head += "X-" + std::to_string(i) + ": 1\r\n";
  head += "\r\n";
  const int fd = testing::ConnectLoopback(port);
  if (fd < 0) return "";
  std::thread sender([&] { SendAll(fd, head); });
  const std::string text = ReadAll(fd, std::chrono::milliseconds(5000));
  ::shutdown(fd, SHUT_RDWR);
  sender.join();
  ::close(fd);
  return text.substr(0, std::min(text.find("\r\n"), std::size_t{12}));
}

// Seconds until the server ends a connection whose head never completes (one header
// line every 500 ms), up to 15: how long a slow client may hold a connection.
double SlowHeadHeld(int port) {
  const auto start = Clock::now();
  const int fd = testing::ConnectLoopback(port);
  if (fd < 0) return 0;
  SendAll(fd, "GET /healthz HTTP/1.1\r\nHost: x\r\n");
  while (Clock::now() - start < std::chrono::seconds(15)) {
    pollfd readable{fd, POLLIN, 0};
    if (::poll(&readable, 1, 500) > 0) break;  // an answer (408) or the close
    if (SendAll(fd, "X-Slow: 1\r\n") == 0) break;
  }
  ::close(fd);
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Answers on a connection whose refused POST body is a second request.
int SmuggledAnswers(int port) {
  const std::string inner = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  const int fd = testing::ConnectLoopback(port);
  if (fd < 0) return -1;
  SendAll(fd, "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(inner.size()) + "\r\n\r\n" +
                  inner);
  const std::string text = ReadAll(fd, std::chrono::milliseconds(2000));
  ::close(fd);
  int answers = 0;
  for (std::size_t at = text.find("HTTP/1.1 "); at != std::string::npos; at = text.find("HTTP/1.1 ", at + 1)) ++answers;
  return answers;
}

}  // namespace

int RunHttpFrontBench(const HttpFrontBenchOptions& options) {
  std::string ab = options.ab.empty() ? testing::FindExecutable("ab") : options.ab;
  if (ab.empty()) {
    std::fprintf(stderr, "bench http-front: ab not found (Debian apache2-utils; `make deps` installs it)\n");
    return 1;
  }
  const std::vector<FrontKind> kinds = {
      {"cpp-httplib", [] { return std::unique_ptr<Front>(std::make_unique<HttplibFront>()); }},
      {"libmicrohttpd", [] { return std::unique_ptr<Front>(std::make_unique<MicrohttpdFront>()); }},
      {"swapline (Beast)", [] { return std::unique_ptr<Front>(std::make_unique<SwaplineFront>()); }},
  };
  std::printf("GET /healthz, %d threads per server; normal load: ab -k -c %d -n %d; slowloris: %d slow "
              "connections, 20 checks of 5 s each\n\n",
              kThreads, options.concurrency, options.requests, options.slow_clients);
  std::printf("| server | req/s | vs httplib | p99 ms | failed | slowloris: answered | median ms | "
              "100k-line head | endless head ended after | answers to a smuggled request |\n|---|---|---|---|---|---|---|---|---|---|\n");
  double baseline = 0;
  int exit_code = 0;
  for (const FrontKind& kind : kinds) {
    LoadResult load;
    {
      const std::unique_ptr<Front> front = kind.start();
      if (front->port() <= 0) {
        std::fprintf(stderr, "bench http-front: %s did not start\n", kind.name);
        return 1;
      }
      load = RunAb(ab, "http://127.0.0.1:" + std::to_string(front->port()) + "/healthz", options.concurrency,
                   options.requests);
    }
    if (!load.ok) {
      std::fprintf(stderr, "bench http-front: %s: %s\n", kind.name, load.error.c_str());
      exit_code = 1;
    }
    if (baseline == 0) baseline = load.rps;
    SlowlorisResult slow;
    {
      const std::unique_ptr<Front> front = kind.start();
      slow = Slowloris(front->port(), options.slow_clients);
    }
    std::string huge_head;
    double slow_head = 0;
    {
      const std::unique_ptr<Front> front = kind.start();
      huge_head = HugeHead(front->port());
      slow_head = SlowHeadHeld(front->port());
    }
    int smuggled = 0;
    {
      const std::unique_ptr<Front> front = kind.start();
      smuggled = SmuggledAnswers(front->port());
    }
    std::printf("| %s | %.0f | %.2f× | %.0f | %ld | %d/20 | %.1f | %s | %s | %d |\n", kind.name, load.rps,
                baseline > 0 ? load.rps / baseline : 0, load.p99_ms, load.failed, slow.answered, slow.median_ms,
                huge_head.empty() ? "closed, no answer" : huge_head.c_str(),
                slow_head >= 15 ? "held ≥ 15 s" : (std::to_string(static_cast<int>(slow_head + 0.5)) + " s").c_str(),
                smuggled);
    std::fflush(stdout);
  }
  return exit_code;
}

}  // namespace swapline::bench
