#include "cli/exit_codes.h"

#include <spdlog/spdlog.h>

namespace swapline::cli {

int ExitCodeFor(const Status& status) {
  switch (status.code()) {
    case Code::kOk: return kExitOk;
    case Code::kInvalidArgument: return kExitUsage;
    case Code::kNotFound:
    case Code::kUnsupportedInput:
    case Code::kTooLarge:
    case Code::kPermissionDenied: return kExitBadInput;
    case Code::kNoFace: return kExitNoSourceFace;
    case Code::kOutputNotWritable: return kExitOutputNotWritable;
    case Code::kFailedPrecondition: return kExitMissingModel;
    case Code::kCancelled: return kExitCancelled;
    case Code::kIOError:
    case Code::kUnavailable:
    case Code::kThrottled:
    case Code::kInternal: return kExitInternal;
  }
  return kExitInternal;
}

int RemoteExitCodeFor(const Status& status) {
  switch (status.code()) {
    case Code::kPermissionDenied: return kExitAccessDenied;
    case Code::kUnavailable:
    case Code::kThrottled: return kExitUnavailable;
    default: return ExitCodeFor(status);
  }
}

int RemoteFail(const Status& status) {
  spdlog::error("{}", status.message());
  return RemoteExitCodeFor(status);
}

int Fail(const Status& status) {
  spdlog::error("{}", status.message());
  return ExitCodeFor(status);
}

}  // namespace swapline::cli
