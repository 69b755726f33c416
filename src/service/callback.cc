#include "service/callback.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <array>
#include <cstring>
#include <memory>
#include <optional>

#include "storage/url.h"

namespace swapline::service {
namespace {

// An address as 16 bytes (IPv4 as ::ffff:a.b.c.d) for one set of range checks.
using Address = std::array<std::uint8_t, 16>;

Address FromV4(const std::uint8_t* v4) {
  Address a{};
  a[10] = a[11] = 0xff;
  std::memcpy(a.data() + 12, v4, 4);
  return a;
}

bool IsV4(const Address& a) {
  static const std::uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(a.data(), kPrefix, 12) == 0;
}

bool InPrefix(const Address& a, const Address& base, int bits) {
  for (int i = 0; i < 16 && bits > 0; ++i, bits -= 8) {
    const std::uint8_t mask = bits >= 8 ? 0xff : static_cast<std::uint8_t>(0xff << (8 - bits));
    if ((a[static_cast<std::size_t>(i)] & mask) != (base[static_cast<std::size_t>(i)] & mask)) return false;
  }
  return true;
}

std::optional<Address> ParseAddress(const std::string& text) {
  std::uint8_t v4[4];
  if (::inet_pton(AF_INET, text.c_str(), v4) == 1) return FromV4(v4);
  Address v6{};
  if (::inet_pton(AF_INET6, text.c_str(), v6.data()) == 1) return v6;
  return std::nullopt;
}

struct Cidr {
  Address base{};
  int bits = 128;
};

std::optional<Cidr> ParseCidr(std::string_view entry) {
  const std::size_t slash = entry.find('/');
  auto address = ParseAddress(std::string(entry.substr(0, slash)));
  if (!address) return std::nullopt;
  Cidr cidr{*address, 128};
  const int max_bits = IsV4(*address) ? 32 : 128;
  if (slash != std::string_view::npos) {
    const std::string bits(entry.substr(slash + 1));
    char* end = nullptr;
    const long n = std::strtol(bits.c_str(), &end, 10);
    if (bits.empty() || *end != '\0' || n < 0 || n > max_bits) return std::nullopt;
    cidr.bits = static_cast<int>(n) + (IsV4(*address) ? 96 : 0);
  }
  return cidr;
}

// Public unicast: not loopback, private, link-local, multicast, unspecified,
// documentation, benchmarking or reserved. IPv6 forms that embed an IPv4 address
// (mapped, NAT64) are judged by that address.
bool IsPublic(Address a) {
  static const std::uint8_t kNat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
  if (std::memcmp(a.data(), kNat64, 12) == 0) a = FromV4(a.data() + 12);
  static const struct {
    const char* base;
    int bits;
  } kRefused[] = {
      {"0.0.0.0", 8},      {"10.0.0.0", 8},     {"100.64.0.0", 10},   {"127.0.0.0", 8},   {"169.254.0.0", 16},
      {"172.16.0.0", 12},  {"192.0.0.0", 24},   {"192.0.2.0", 24},    {"192.168.0.0", 16}, {"198.18.0.0", 15},
      {"198.51.100.0", 24}, {"203.0.113.0", 24}, {"224.0.0.0", 4},     {"240.0.0.0", 4},   {"::", 128},
      {"::1", 128},        {"fe80::", 10},      {"fc00::", 7},        {"ff00::", 8},      {"2001:db8::", 32},
      {"::", 96},  // IPv4-compatible (deprecated)
  };
  for (const auto& range : kRefused) {
    const Address base = *ParseAddress(range.base);
    const int bits = range.bits + (IsV4(base) ? 96 : 0);
    if (InPrefix(a, base, bits)) return false;
  }
  return true;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool HostAllowedByName(const std::string& host, const std::vector<std::string>& allowed) {
  for (const std::string& entry : allowed) {
    if (!ParseCidr(entry) && Lower(entry) == host) return true;
  }
  return false;
}

bool AddressAllowed(const Address& a, const std::vector<std::string>& allowed) {
  if (IsPublic(a)) return true;
  for (const std::string& entry : allowed) {
    const auto cidr = ParseCidr(entry);
    if (cidr && InPrefix(a, cidr->base, cidr->bits)) return true;
  }
  return false;
}

// A callback URL: http(s) with a host and without userinfo.
Result<storage::Url> ParseCallbackUrl(std::string_view text) {
  Result<storage::Url> url = storage::ParseUrl(text);
  if (!url.ok()) return InvalidArgument("callback_url: " + url.status().message());
  if (url->scheme != "http" && url->scheme != "https") return InvalidArgument("callback_url: must be http or https");
  if (url->host.empty()) return InvalidArgument("callback_url: names no host");
  if (url->user || url->password) {
    return InvalidArgument("callback_url: must not carry user:password@ (put a token in the path or query)");
  }
  return url;
}

// State of one POST: the allow-list and whether a refused address was met.
struct Connection {
  const std::vector<std::string>* allowed = nullptr;
  bool host_allowed = false;
  bool refused = false;
  std::string refused_address;
  std::size_t max_bytes = 0;
  std::size_t received = 0;
};

curl_socket_t OpenSocket(void* clientp, curlsocktype /*purpose*/, curl_sockaddr* address) {
  auto* connection = static_cast<Connection*>(clientp);
  std::optional<Address> a;
  char text[INET6_ADDRSTRLEN] = "?";
  if (address->family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&address->addr);
    a = FromV4(reinterpret_cast<const std::uint8_t*>(&in->sin_addr));
    ::inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text));
  } else if (address->family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&address->addr);
    Address v6;
    std::memcpy(v6.data(), &in6->sin6_addr, 16);
    a = v6;
    ::inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
  }
  if (!connection->host_allowed && (!a || !AddressAllowed(*a, *connection->allowed))) {
    connection->refused = true;
    connection->refused_address = text;
    return CURL_SOCKET_BAD;
  }
  return ::socket(address->family, address->socktype, address->protocol);
}

std::size_t DiscardBody(char*, std::size_t size, std::size_t count, void* clientp) {
  auto* connection = static_cast<Connection*>(clientp);
  connection->received += size * count;
  // Returning less than given aborts the transfer: the answer is not worth more.
  return connection->received > connection->max_bytes ? 0 : size * count;
}

}  // namespace

Status CheckAllowedHostEntry(std::string_view entry) {
  if (entry.find('/') != std::string_view::npos || ParseAddress(std::string(entry))) {
    if (!ParseCidr(entry)) return InvalidArgument("'" + std::string(entry) + "' is not a valid CIDR block");
    return Status::Ok();
  }
  for (unsigned char c : entry) {
    if (!(std::isalnum(c) || c == '-' || c == '.')) {
      return InvalidArgument("'" + std::string(entry) + "' is neither a host name nor a CIDR block");
    }
  }
  return Status::Ok();
}

Status CheckCallbackUrl(std::string_view url, const std::vector<std::string>& allowed_hosts) {
  SWAPLINE_ASSIGN_OR_RETURN(const storage::Url parts, ParseCallbackUrl(url));
  if (HostAllowedByName(parts.host, allowed_hosts)) return Status::Ok();
  if (const auto address = ParseAddress(parts.host); address && !AddressAllowed(*address, allowed_hosts)) {
    return PermissionDenied("callback_url: " + parts.host +
                            " is a loopback, private, link-local or multicast address this service does not call");
  }
  return Status::Ok();
}

std::string RedactUrl(std::string_view url) {
  auto parts = ParseCallbackUrl(url);
  if (!parts.ok()) return "(invalid URL)";
  return parts->scheme + "://" + parts->HostPort() + "/…";
}

CallbackSender::CallbackSender(CallbackOptions options) : options_(std::move(options)) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  thread_ = std::thread([this] { Run(); });
}

CallbackSender::~CallbackSender() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void CallbackSender::Post(std::string url, std::string json_body, std::string job_id) {
  {
    std::lock_guard lock(mutex_);
    if (pending_.size() >= options_.max_pending) {
      ++done_;
      spdlog::warn("job {}: callback to {} dropped: {} callbacks already pending", job_id, RedactUrl(url),
                   pending_.size());
      return;
    }
    pending_.push_back({std::move(url), std::move(json_body), std::move(job_id)});
  }
  wake_.notify_all();
}

std::size_t CallbackSender::done() const {
  std::lock_guard lock(mutex_);
  return done_;
}

void CallbackSender::Run() {
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait(lock, [this] { return stopping_ || !pending_.empty(); });
    if (pending_.empty()) return;  // stopping and nothing left
    Pending next = std::move(pending_.front());
    pending_.pop_front();
    lock.unlock();
    const Status sent = Send(next.url, next.body);
    if (!sent.ok()) {
      spdlog::warn("job {}: callback to {} failed: {}", next.job_id, RedactUrl(next.url), sent.ToString());
    }
    lock.lock();
    ++done_;
  }
}

Status CallbackSender::Send(const std::string& url, const std::string& json_body) const {
  SWAPLINE_ASSIGN_OR_RETURN(const storage::Url parts, ParseCallbackUrl(url));
  Connection connection;
  connection.allowed = &options_.allowed_hosts;
  connection.host_allowed = HostAllowedByName(parts.host, options_.allowed_hosts);
  connection.max_bytes = options_.max_response_bytes;
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) return Internal("cannot create a curl handle");
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> header_list(headers, curl_slist_free_all);
  CURL* h = curl.get();
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(h, CURLOPT_PROXY, "");  // never a proxy from the environment
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, json_body.data());
  curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(json_body.size()));
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout.count()));
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.total_timeout.count()));
  curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, OpenSocket);
  curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, &connection);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, DiscardBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &connection);
  const CURLcode code = curl_easy_perform(h);
  if (connection.refused) {
    return PermissionDenied("callback_url: " + parts.host + " resolves to " + connection.refused_address +
                            ", an address this service does not call");
  }
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  if (code == CURLE_WRITE_ERROR && status / 100 == 2) return Status::Ok();  // long answer, cut short
  if (code != CURLE_OK) return Unavailable(std::string("callback: ") + curl_easy_strerror(code));
  if (status / 100 != 2) return Unavailable("callback: HTTP " + std::to_string(status));
  return Status::Ok();
}

}  // namespace swapline::service
