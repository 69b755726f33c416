// FaultProxy: a loopback TCP proxy in front of a real server, for tests that
// check how clients live through a bad network. It forwards bytes unchanged (so
// SigV4 signatures made for the proxy's address stay valid) and counts them, and
// spoils requests in one of two ways:
//  * Inject(fault, n): the first request of each of the next n new connections
//    gets `fault` (a stall lasts until the client gives up, a mid-transfer reset
//    comes as the server's answer starts: the request was carried out, its answer
//    is lost); InjectNthRequest(fault, n): the n-th request from now, on any
//    connection, gets it;
//  * SetSchedule(schedule): every request, on new and kept-alive connections alike,
//    draws its treatment from a seeded random sequence (a seed gives the same
//    sequence of treatments, in the order requests arrive).
// A request starts with the client's first bytes after the server's last (HTTP/1.1
// without pipelining or "Expect: 100-continue", as storage::HttpClient sends).
// Treatments: forward; reset (RST once the request starts arriving); reset mid-
// transfer (forward a random number of bytes, then RST both sides); "503 SlowDown"
// with S3's XML error body, then close; stall (say nothing for a while, then go on,
// or drop the request if the client gave up meanwhile).
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <random>
#include <thread>

namespace swapline::testing {

enum class Fault { kReset, kSlowDown, kStall, kResetMidTransfer };
inline constexpr int kFaultKinds = 4;
const char* FaultName(Fault fault);

// Per-request odds of each fault; the rest of the requests are forwarded.
struct FaultSchedule {
  std::uint64_t seed = 1;
  double reset = 0;
  double reset_mid_transfer = 0;
  double slow_down = 0;
  double stall = 0;
  // A stall lasts a uniform random time up to this, then the request goes on
  // (unless its client gave up).
  std::chrono::milliseconds max_stall{3'000};
  // A mid-transfer reset comes after a uniform random number of bytes up to this
  // (either direction).
  std::uint64_t max_bytes_before_reset = 256 * 1024;
  // At most this many spoiled requests in a row: the next one is forwarded, so a
  // client that sends one request at a time and retries each more often than
  // this always gets through.
  int max_in_a_row = 2;
};

class FaultProxy {
 public:
  explicit FaultProxy(int upstream_port);
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  int port() const { return port_; }
  // The first request of each of the next `connections` new connections gets
  // `fault`; later ones are forwarded.
  void Inject(Fault fault, int connections);
  // The n-th request from now (1: the next) gets `fault`; the others are forwarded.
  void InjectNthRequest(Fault fault, int n);
  // From now on every request draws its treatment from `schedule`.
  void SetSchedule(const FaultSchedule& schedule);

  std::uint64_t bytes_to_server() const { return bytes_up_; }
  std::uint64_t bytes_to_client() const { return bytes_down_; }
  int faults_done() const;
  int faults_done(Fault fault) const { return faults_by_kind_[static_cast<int>(fault)]; }
  int connections() const { return connections_; }
  int requests() const { return requests_; }

 private:
  struct Treatment {
    bool spoil = false;
    Fault fault = Fault::kReset;
    std::chrono::milliseconds stall{0};   // kStall; 0: until the client gives up
    std::uint64_t reset_after_bytes = 0;  // kResetMidTransfer; 0: as the answer starts
  };
  // The treatment of the next request; in Inject mode only a connection's first
  // request can be spoiled, in InjectNthRequest mode only the n-th.
  Treatment Draw(bool first_request);
  void AcceptLoop();
  // Forwards one connection's requests, spoiling those Draw says; closes `client`.
  void Serve(int client);
  // Applies a reset, 503 or stall to the request that starts arriving on
  // `client`; true when the connection goes on afterwards.
  bool Spoil(int client, const Treatment& treatment);

  const int upstream_port_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> bytes_up_{0};
  std::atomic<std::uint64_t> bytes_down_{0};
  std::array<std::atomic<int>, kFaultKinds> faults_by_kind_{};
  std::atomic<int> connections_{0};
  std::atomic<int> requests_{0};
  std::mutex mutex_;
  int faults_left_ = 0;          // guarded by mutex_
  int requests_to_skip_ = -1;    // InjectNthRequest: forwarded before the fault; guarded by mutex_
  Fault fault_ = Fault::kReset;  // guarded by mutex_
  bool scheduled_ = false;       // guarded by mutex_
  FaultSchedule schedule_;       // guarded by mutex_
  std::mt19937_64 random_;       // guarded by mutex_
  int in_a_row_ = 0;             // guarded by mutex_
  int active_ = 0;               // connections being served; guarded by mutex_
  std::condition_variable idle_;  // active_ reached 0
  std::thread acceptor_;
};

}  // namespace swapline::testing
