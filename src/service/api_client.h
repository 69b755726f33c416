// ApiClient: the client side of the HTTP API, used by `swapline jobs` (libcurl via
// storage/http_client.h, connections kept alive between calls).
//
// Errors: an API error answer becomes a Status with the Code its "code" names and a
// message "HTTP <status>: <message>"; 401 → kPermissionDenied; transport failures are
// kUnavailable.
//
// Thread safety: one client may be used from many threads.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "storage/http_client.h"

namespace swapline::service {

class ApiClient {
 public:
  // `server`: "http://host:port" (a trailing '/' is dropped); `token` may be empty.
  ApiClient(std::string server, std::string token);

  // A JSON request; 2xx answers return their JSON body (null when empty).
  Result<nlohmann::json> Call(const std::string& method, const std::string& path,
                              const std::optional<nlohmann::json>& body = std::nullopt);

  // Uploads a local file through POST /v1/uploads and a PUT to the URL it returns;
  // returns the object key to use in a job.
  Result<std::string> UploadFile(const std::filesystem::path& file);

  // GET /v1/jobs/{id}/result without following: the download URL.
  Result<std::string> ResultUrl(const std::string& id);

  // Downloads `url` (no auth header) into `dest` atomically.
  Status Download(const std::string& url, const std::filesystem::path& dest);

  const std::string& server() const { return server_; }

 private:
  Result<storage::HttpResponse> Send(const std::string& method, const std::string& url,
                                     const std::string& body, bool auth);
  std::string server_;
  std::string token_;
  storage::HttpClient http_;
};

// Code for an API error code name ("not_found" → kNotFound); kInternal if unknown.
Code CodeFromName(std::string_view name);

// Status of an API error response (status + body).
Status StatusFromResponse(long http_status, const std::string& body);

}  // namespace swapline::service
