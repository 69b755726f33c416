// Job callbacks: a worker POSTs an ended job's record to the spec's callback_url.
//
// callback_url is a tenant's, so it is hostile until checked:
//  * only http and https, no redirects, no proxies from the environment;
//  * the address actually connected to (every address the name resolves to is
//    checked as curl opens the socket) must be public: loopback, private (RFC 1918,
//    CGNAT, ULA), link-local (169.254/16: cloud metadata; fe80::/10), multicast,
//    unspecified and reserved ranges are refused unless the operator's allow-list
//    (Limits::allowed_callback_hosts) names the URL's host or a CIDR block holding
//    the address;
//  * one POST lasts at most `total_timeout`, and at most `max_response_bytes` of the
//    answer are read;
//  * posts run on the sender's own thread from a bounded queue, never on a job slot
//    (a full queue drops the callback with a warning: the outcome is in the queue);
//  * logs show RedactUrl(url): scheme, host and port only (paths and queries carry
//    tenants' tokens).
//
// Thread safety: CallbackSender::Post and Send may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/status.h"

namespace swapline::service {

// An allow-list entry: a host name or a CIDR block ("10.0.0.0/8", "fd00::/8").
Status CheckAllowedHostEntry(std::string_view entry);

// Shape of a callback URL: http(s), a host, no user info; a literal address must
// be public or allowed. Names are checked again, resolved, when posting.
// InvalidArgument / PermissionDenied, message starting with "callback_url:".
Status CheckCallbackUrl(std::string_view url, const std::vector<std::string>& allowed_hosts);

// "https://hooks.example.com:8443/…" for any URL; "(invalid URL)" when unparsable.
std::string RedactUrl(std::string_view url);

struct CallbackOptions {
  std::vector<std::string> allowed_hosts;  // Limits::allowed_callback_hosts
  std::chrono::milliseconds connect_timeout{5'000};
  std::chrono::milliseconds total_timeout{10'000};
  std::size_t max_response_bytes = 64 * 1024;
  std::size_t max_pending = 1000;  // queued posts; more are dropped
};

class CallbackSender {
 public:
  explicit CallbackSender(CallbackOptions options);
  // Posts what is pending (each bounded by total_timeout), then stops.
  ~CallbackSender();
  CallbackSender(const CallbackSender&) = delete;
  CallbackSender& operator=(const CallbackSender&) = delete;

  // Queues a POST of `json_body` to `url`; returns at once. `job_id` names it in logs.
  void Post(std::string url, std::string json_body, std::string job_id);

  // Posts now, on the calling thread. OK on a 2xx answer; PermissionDenied when the
  // address is refused; Unavailable on network errors, timeouts and other statuses.
  Status Send(const std::string& url, const std::string& json_body) const;

  // Posts finished or dropped so far (tests wait on it).
  std::size_t done() const;

 private:
  struct Pending {
    std::string url;
    std::string body;
    std::string job_id;
  };
  void Run();

  const CallbackOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Pending> pending_;  // guarded by mutex_
  bool stopping_ = false;        // guarded by mutex_
  std::size_t done_ = 0;         // guarded by mutex_
  std::thread thread_;
};

}  // namespace swapline::service
