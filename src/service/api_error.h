// API errors: every error the HTTP API answers is JSON
//   {"error": {"code": "<stable name>", "message": "<what a user can act on>"}}
// with the HTTP status that fits its Code. The code names are core/status.h's
// CodeName() plus HTTP-only ones (unauthenticated, method_not_allowed,
// length_required, request_timeout); clients test the code, never the message.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"

namespace swapline::service {

// 400 invalid_argument, 404 not_found, 413 too_large, 422 unsupported_input/no_face,
// 403 permission_denied, 409 failed_precondition/cancelled, 429 throttled,
// 503 unavailable, 500 everything else.
int HttpStatusFor(Code code);

// The JSON body of an error.
std::string ErrorBody(std::string_view code, std::string_view message);
std::string ErrorBody(const Status& status);

// Code name for a bare HTTP status the server produced itself (401, 404, 405,
// 413, 500, ...).
std::string_view CodeNameForHttpStatus(int status);

}  // namespace swapline::service
