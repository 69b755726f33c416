// The OpenAPI 3 document of the HTTP API, served at /openapi.json. Written by hand
// (not generated from the routes), so tests/service checks that it and the routes
// the server registers list the same operations.
#pragma once

#include <nlohmann/json.hpp>

namespace swapline::service {

// `server_url`: the "servers" entry, e.g. "http://127.0.0.1:8080".
nlohmann::json OpenApiDocument(const std::string& server_url);

}  // namespace swapline::service
