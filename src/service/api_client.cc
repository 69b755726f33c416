#include "service/api_client.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/atomic_file.h"

namespace swapline::service {

namespace {
storage::HttpOptions ClientHttpOptions() {
  storage::HttpOptions options;
  options.connect_timeout = std::chrono::milliseconds(5'000);
  options.read_timeout = std::chrono::seconds(60);
  return options;
}
}  // namespace

Code CodeFromName(std::string_view name) {
  for (int c = 0; c <= static_cast<int>(Code::kInternal); ++c) {
    if (name == CodeName(static_cast<Code>(c))) return static_cast<Code>(c);
  }
  if (name == "unauthenticated") return Code::kPermissionDenied;
  if (name == "method_not_allowed" || name == "length_required") return Code::kInvalidArgument;
  return Code::kInternal;
}

Status StatusFromResponse(long http_status, const std::string& body) {
  const nlohmann::json parsed = nlohmann::json::parse(body, nullptr, false);
  std::string code_name;
  std::string message = body.substr(0, 200);
  if (!parsed.is_discarded() && parsed.is_object() && parsed.contains("error") && parsed["error"].is_object()) {
    code_name = parsed["error"].value("code", "");
    message = parsed["error"].value("message", "");
  }
  Code code = CodeFromName(code_name);
  if (code_name.empty()) {
    code = http_status == 401 || http_status == 403 ? Code::kPermissionDenied
           : http_status == 404                     ? Code::kNotFound
           : http_status == 400                     ? Code::kInvalidArgument
           : http_status >= 500                     ? Code::kUnavailable
                                                    : Code::kInternal;
  }
  return Status(code, "HTTP " + std::to_string(http_status) + ": " + message);
}

ApiClient::ApiClient(std::string server, std::string token)
    : server_(std::move(server)), token_(std::move(token)), http_(ClientHttpOptions()) {
  while (!server_.empty() && server_.back() == '/') server_.pop_back();
}

Result<storage::HttpResponse> ApiClient::Send(const std::string& method, const std::string& url,
                                              const std::string& body, bool auth) {
  storage::HttpRequest request;
  request.method = method;
  request.url = url;
  if (auth && !token_.empty()) request.headers.emplace_back("Authorization", "Bearer " + token_);
  request.headers.emplace_back("Accept", "application/json");
  if (!body.empty() || method == "POST") {
    request.headers.emplace_back("Content-Type", "application/json");
    request.body = std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(body.data()), body.size());
  }
  auto response = http_.Send(request);
  if (!response.ok()) return response.status().WithContext(method + " " + url);
  return response;
}

Result<nlohmann::json> ApiClient::Call(const std::string& method, const std::string& path,
                                       const std::optional<nlohmann::json>& body) {
  const std::string text = body ? body->dump() : std::string();
  SWAPLINE_ASSIGN_OR_RETURN(storage::HttpResponse response, Send(method, server_ + path, text, true));
  if (response.status < 200 || response.status >= 300) return StatusFromResponse(response.status, response.body);
  if (response.body.empty()) return nlohmann::json();
  nlohmann::json parsed = nlohmann::json::parse(response.body, nullptr, false);
  if (parsed.is_discarded()) return Internal("the server answered " + path + " with malformed JSON");
  return parsed;
}

Result<std::string> ApiClient::UploadFile(const std::filesystem::path& file) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "cannot open", file.string());
  struct stat st{};
  ::fstat(fd, &st);
  auto upload = Call("POST", "/v1/uploads", nlohmann::json{{"filename", file.filename().string()}});
  if (!upload.ok()) {
    ::close(fd);
    return upload.status();
  }
  storage::HttpRequest put;
  put.method = "PUT";
  put.url = upload->value("url", "");
  put.body_fd = fd;
  put.body_offset = 0;
  put.body_length = static_cast<std::uint64_t>(st.st_size);
  auto response = http_.Send(put);
  ::close(fd);
  if (!response.ok()) return response.status().WithContext("uploading " + file.string());
  if (response->status < 200 || response->status >= 300) {
    return StatusFromResponse(response->status, response->body).WithContext("uploading " + file.string());
  }
  return upload->value("key", "");
}

Result<std::string> ApiClient::ResultUrl(const std::string& id) {
  SWAPLINE_ASSIGN_OR_RETURN(storage::HttpResponse response,
                            Send("GET", server_ + "/v1/jobs/" + id + "/result", "", true));
  if (response.status == 302 || response.status == 303 || response.status == 307) {
    std::string location = response.Header("location");
    if (location.empty()) return Internal("result redirect without a Location");
    if (location[0] == '/') location = server_ + location;
    return location;
  }
  if (response.status >= 200 && response.status < 300) return Internal("the result route did not redirect");
  return StatusFromResponse(response.status, response.body);
}

Status ApiClient::Download(const std::string& url, const std::filesystem::path& dest) {
  SWAPLINE_ASSIGN_OR_RETURN(AtomicFile file, AtomicFile::Create(dest));
  storage::HttpRequest get;
  get.method = "GET";
  get.url = url;
  const storage::ByteSink sink = [&file](std::span<const std::uint8_t> bytes) { return file.Append(bytes); };
  SWAPLINE_ASSIGN_OR_RETURN(storage::HttpResponse response, http_.Send(get, &sink));
  if (response.status < 200 || response.status >= 300) {
    return StatusFromResponse(response.status, response.body).WithContext("downloading the result");
  }
  return file.Commit();
}

}  // namespace swapline::service
