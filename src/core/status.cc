#include "core/status.h"

#include <cerrno>
#include <cstring>

namespace swapline {

const char* CodeName(Code code) {
  switch (code) {
    case Code::kOk: return "ok";
    case Code::kInvalidArgument: return "invalid_argument";
    case Code::kNotFound: return "not_found";
    case Code::kUnsupportedInput: return "unsupported_input";
    case Code::kTooLarge: return "too_large";
    case Code::kNoFace: return "no_face";
    case Code::kOutputNotWritable: return "output_not_writable";
    case Code::kFailedPrecondition: return "failed_precondition";
    case Code::kPermissionDenied: return "permission_denied";
    case Code::kIOError: return "io_error";
    case Code::kUnavailable: return "unavailable";
    case Code::kThrottled: return "throttled";
    case Code::kCancelled: return "cancelled";
    case Code::kInternal: return "internal";
  }
  return "unknown";
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  return std::string(CodeName(code_)) + ": " + message_;
}

Status Status::WithContext(const std::string& context) const {
  if (ok()) return *this;
  return Status(code_, context + ": " + message_);
}

Status ErrnoStatus(int err, const std::string& what, const std::string& path) {
  std::string message = what + " '" + path + "': " + std::strerror(err);
  switch (err) {
    case ENOENT:
    case ENOTDIR: return NotFound(message);
    case EACCES:
    case EPERM:
    case EROFS: return PermissionDenied(message);
    default: return IOError(message);
  }
}

}  // namespace swapline
