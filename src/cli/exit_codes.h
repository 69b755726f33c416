// Process exit codes, one per cause, documented in README.md ("Exit codes").
// Scripts rely on them: never renumber.
#pragma once

#include "core/status.h"

namespace swapline::cli {

enum ExitCode : int {
  kExitOk = 0,
  kExitInternal = 1,        // a bug or an unexpected library failure
  kExitUsage = 2,           // bad command line or option value
  kExitBadInput = 3,        // input missing, unreadable, unsupported, corrupt or too large
  kExitNoSourceFace = 4,    // no usable face in the source image(s)
  kExitOutputNotWritable = 5,
  kExitMissingModel = 6,    // an option needs a model that is not configured or installed
  kExitAccessDenied = 7,    // object storage refused the credentials or the operation
  kExitUnavailable = 8,     // network or storage server unavailable after retries
  kExitCancelled = 130,     // interrupted (SIGINT)
};

int ExitCodeFor(const Status& status);
// For commands whose errors come from a server (store, jobs, models pull): refused
// credentials or operations are 7, an unreachable or throttling server 8.
int RemoteExitCodeFor(const Status& status);
// Logs the error and returns its RemoteExitCodeFor.
int RemoteFail(const Status& status);

// Logs the error and returns its exit code.
int Fail(const Status& status);

}  // namespace swapline::cli
