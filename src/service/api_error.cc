#include "service/api_error.h"

#include <nlohmann/json.hpp>

namespace swapline::service {

int HttpStatusFor(Code code) {
  switch (code) {
    case Code::kOk: return 200;
    case Code::kInvalidArgument: return 400;
    case Code::kNotFound: return 404;
    case Code::kTooLarge: return 413;
    case Code::kUnsupportedInput:
    case Code::kNoFace: return 422;
    case Code::kPermissionDenied: return 403;
    case Code::kFailedPrecondition:
    case Code::kCancelled: return 409;
    case Code::kThrottled: return 429;
    case Code::kUnavailable: return 503;
    case Code::kOutputNotWritable:
    case Code::kIOError:
    case Code::kInternal: return 500;
  }
  return 500;
}

std::string ErrorBody(std::string_view code, std::string_view message) {
  nlohmann::json body = {{"error", {{"code", code}, {"message", message}}}};
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string ErrorBody(const Status& status) { return ErrorBody(CodeName(status.code()), status.message()); }

std::string_view CodeNameForHttpStatus(int status) {
  switch (status) {
    case 400: return "invalid_argument";
    case 401: return "unauthenticated";
    case 403: return "permission_denied";
    case 404: return "not_found";
    case 405: return "method_not_allowed";
    case 408: return "request_timeout";
    case 409: return "failed_precondition";
    case 411: return "length_required";
    case 413: return "too_large";
    case 414:
    case 431: return "too_large";
    case 429: return "throttled";
    case 503: return "unavailable";
    default: return status >= 500 ? "internal" : "invalid_argument";
  }
}

}  // namespace swapline::service
