// FaultProxy: a loopback TCP proxy in front of a real server, written for the
// storage tests. It forwards bytes unchanged (so SigV4 signatures made for the
// proxy's address stay valid) and counts them, and can spoil the next N
// connections: reset them, answer "503 SlowDown", or stall (accept, then never
// answer). The client's connection reuse means one spoiled connection is one
// failed request.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace swapline::storage::testing {

enum class Fault { kReset, kSlowDown, kStall };

class FaultProxy {
 public:
  explicit FaultProxy(int upstream_port);
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  int port() const { return port_; }
  // The next `connections` new connections get `fault`; later ones are forwarded.
  void Inject(Fault fault, int connections);

  std::uint64_t bytes_to_server() const { return bytes_up_; }
  std::uint64_t bytes_to_client() const { return bytes_down_; }
  int faults_done() const { return faults_done_; }

 private:
  void AcceptLoop();
  void Serve(int client);
  void Forward(int client);
  void Spoil(int client, Fault fault);

  const int upstream_port_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> bytes_up_{0};
  std::atomic<std::uint64_t> bytes_down_{0};
  std::atomic<int> faults_left_{0};
  std::atomic<int> faults_done_{0};
  std::atomic<Fault> fault_{Fault::kReset};
  std::mutex mutex_;
  std::vector<std::thread> threads_;  // guarded by mutex_
  std::thread acceptor_;
};

}  // namespace swapline::storage::testing
