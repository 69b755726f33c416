// API request handling: raw HTTP request bytes (request line, headers, body) sent to
// an in-process `ApiServer` with tokens, an SQLite queue and a file store in a
// temporary folder. The server runs on a loopback port of this process, so its
// threads are instrumented and covered like the target's own.
//
// Invariants: every request gets a well-formed status line before the server closes
// or answers (no hang), never a 500 (an unexpected exception in a handler), and no
// answer reveals the server's folders.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "fuzz/fuzz_target.h"
#include "job/job_queue.h"
#include "service/api_server.h"
#include "service/auth.h"
#include "storage/file_store.h"

namespace {

namespace fs = std::filesystem;
namespace svc = swapline::service;

// One server for the whole run: starting one per input would fuzz the start-up.
struct Service {
  Service() {
    char pattern[] = "/tmp/swapline_api_fuzz_XXXXXX";
    FUZZ_CHECK(::mkdtemp(pattern) != nullptr);
    root = pattern;
    auto opened_store = swapline::storage::OpenFileStore(root / "objects");
    FUZZ_CHECK(opened_store.ok());
    store = std::move(opened_store).value();
    auto opened_queue = swapline::job::OpenJobQueue("sqlite://" + (root / "queue.db").string());
    FUZZ_CHECK(opened_queue.ok());
    queue = std::move(opened_queue).value();
    svc::ApiOptions options;
    options.port = 0;
    auto tokens = svc::TokenTable::Parse(
        "acme-token-0123456789 acme\nglobex-token-0123456789 globex\nevents-token-0123456789 *\n", "fuzz");
    FUZZ_CHECK(tokens.ok());
    options.tokens = std::move(tokens).value();
    options.store_uri = *swapline::storage::ParseStorageUri("file://" + (root / "objects").string());
    options.url_secret = "fuzz-secret";
    options.max_body_bytes = 64 * 1024;
    options.limits.max_upload_bytes = 64 * 1024;
    options.watch = {{"images/input/", "images/input/{tenant}/faces/face.jpg"}};
    options.threads = 4;
    server = std::make_unique<svc::ApiServer>(*queue, *store, metrics, options);
    FUZZ_CHECK(server->Start().ok());
  }
  ~Service() {
    server.reset();
    std::error_code ignored;
    fs::remove_all(root, ignored);
  }

  fs::path root;
  std::unique_ptr<swapline::storage::ObjectStore> store;
  std::unique_ptr<swapline::job::JobQueue> queue;
  svc::MetricsRegistry metrics;
  std::unique_ptr<svc::ApiServer> server;
};

// Sends `request`, half-closes, and reads the answer until the server closes
// (keep-alive ends at the half-close) or `deadline` passes.
std::string Exchange(int port, std::string_view request, std::chrono::milliseconds deadline) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  FUZZ_CHECK(fd >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    std::fprintf(stderr, "connect: %s\n", std::strerror(errno));
    FUZZ_CHECK(false);
  }
  // The server may answer and close before reading everything (411, 413): a failed
  // send is not a finding.
  for (std::size_t sent = 0; sent < request.size();) {
    const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<std::size_t>(n);
  }
  ::shutdown(fd, SHUT_WR);
  std::string answer;
  const auto end = std::chrono::steady_clock::now() + deadline;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
    pollfd readable{fd, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&readable, 1, static_cast<int>(left.count())) <= 0) break;
    char buffer[16384];
    const ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) break;
    answer.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return answer;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Service service;
  const std::string_view request = swapline::fuzz::AsText(data, size);
  // The server's keep-alive and read timeouts end every exchange well inside this.
  const std::string answer = Exchange(service.server->port(), request, std::chrono::seconds(40));
  if (answer.empty()) return 0;  // nothing the front answers (an idle or cut connection)
  // An HTTP/1.0 request is answered in HTTP/1.0.
  FUZZ_CHECK(answer.rfind("HTTP/1.1 ", 0) == 0 || answer.rfind("HTTP/1.0 ", 0) == 0);
  FUZZ_CHECK(answer.compare(9, 4, "500 ") != 0);  // the first answer's status
  // The server's folders appear only where the request itself named them (a 404
  // echoes the path it was asked for).
  FUZZ_CHECK(request.find(service.root.string()) != std::string_view::npos ||
             answer.find(service.root.string()) == std::string::npos);
  return 0;
}
