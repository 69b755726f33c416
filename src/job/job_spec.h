// Job specs, ids, states and records: the data a job carries through the queue.
//
// A JobSpec is what a client asks for (POST /v1/jobs body) plus the id and tenant the
// service assigns. It is immutable once submitted. A JobRecord is the queue's view of
// one job: the spec plus its state, progress, attempts, result and error.
//
// URIs in a spec (sources, target, output) are object references, checked for shape
// only here: an "s3://bucket/key" URI, a "file://" URI, or a bare object key
// ("images/input/u1/202504051423/a.jpg") relative to the store the service is
// configured with. Whether a tenant may name them (its own prefixes) is decided by
// the service, which knows the store.
//
// Thread safety: plain values; the free functions are safe to call from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace swapline::job {

using Clock = std::chrono::system_clock;
using TimePoint = Clock::time_point;

// ---------------------------------------------------------------------------------
// States.
//
//   queued → running → succeeded | failed | cancelled
//   running → queued   (retryable failure with attempts left, release, lease takeover)
//   running → dead     (retryable failure after max_attempts; delivery limit reached)
//   queued  → cancelled
//
// The numeric values and the names are stored (SQLite rows, Redis hashes, JSON) and
// are part of the API: never change or reuse them.
enum class JobState : int {
  kQueued = 0,
  kRunning = 1,
  kSucceeded = 2,
  kFailed = 3,
  kCancelled = 4,
  kDead = 5,
};
inline constexpr int kJobStateCount = 6;

// "queued", "running", "succeeded", "failed", "cancelled", "dead".
const char* JobStateName(JobState state);
// Inverse of JobStateName; InvalidArgument naming the accepted values otherwise.
Result<JobState> ParseJobState(std::string_view name);
// succeeded, failed, cancelled and dead never change again.
bool IsTerminal(JobState state);

// "image", "video", or "" for neither, by a file name's (or URI's) extension,
// case-insensitive. Videos are also written in these containers.
std::string_view MediaKindOfName(std::string_view name);

// ---------------------------------------------------------------------------------
// Job ids: 26 characters of lowercase Crockford base32 (ULID layout): 48 bits of
// milliseconds since the Unix epoch, then 80 random bits. Unique, URL-safe, safe as
// an object-key file name, and sortable by creation time (byte order = time order;
// ids made by one process in the same millisecond still sort in creation order).
std::string NewJobId();
std::string NewJobId(TimePoint now);
// True for a well-formed id (length, alphabet).
bool IsValidJobId(std::string_view id);
// The creation time encoded in a well-formed id (millisecond precision).
Result<TimePoint> JobIdTime(std::string_view id);

// ---------------------------------------------------------------------------------
struct JobSpec {
  std::string id;       // NewJobId(); empty in a client request until assigned
  std::string tenant;   // from the caller's token; empty in a client request
  std::vector<std::string> sources;  // at least one
  std::string target;                // image or video to swap faces into
  // Where the result goes. Absent: DefaultOutputKey(*this) (filled in by FinalizeJobSpec).
  std::optional<std::string> output;
  // Swap options, names as the `swapline swap` flags without leading dashes
  // ("face-selector-mode": "one", "processors": ["face_swapper"]). Always an object.
  // Values are scalars or arrays of scalars; their meaning is checked by the worker.
  nlohmann::json options = nlohmann::json::object();
  int max_attempts = 3;  // 1..100; retryable failures beyond it make the job dead
  std::optional<std::string> callback_url;  // http(s):// URL told about the outcome

  // Parses and validates (Validate(false)). Accepted fields: "id", "tenant",
  // "sources", "target", "output", "options", "max_attempts", "callback_url"; any
  // other field is an error. Errors are InvalidArgument with a message that starts
  // with the bad field, e.g. "sources[1]: must be a string URI",
  // "max_attempts: must be an integer from 1 to 100", "colour: unknown field".
  static Result<JobSpec> FromJson(const nlohmann::json& json);
  // As FromJson from text; malformed JSON → InvalidArgument "body: malformed JSON ...".
  static Result<JobSpec> Parse(std::string_view json_text);

  // Every field present; optional ones only when set. FromJson(ToJson()) == *this.
  nlohmann::json ToJson() const;

  // Checks every field's shape. With `require_identity`, id (IsValidJobId) and tenant
  // (a valid object-key segment) must be set too, as for a spec being submitted.
  Status Validate(bool require_identity) const;

  // "image" or "video", from the target's file extension; InvalidArgument
  // "target: ..." for an extension that is neither.
  Result<std::string> MediaKind() const;

  bool operator==(const JobSpec&) const = default;
};

// The deterministic result key of a job without an explicit output:
//   "{images|videos}/output/{tenant}/{yyyymmddHHMM of the id's time}/{id}.{target ext}"
// (storage::BuildObjectKey layout). The same spec always gives the same key, so every
// attempt of a job writes to one place. REQUIRES: id and tenant set.
Result<std::string> DefaultOutputKey(const JobSpec& spec);

// Makes a client's spec ready to submit: sets tenant, a new id when empty, and the
// default output when absent, then Validate(true). InvalidArgument when the spec
// names a different tenant than `tenant`.
Status FinalizeJobSpec(JobSpec& spec, const std::string& tenant);

// ---------------------------------------------------------------------------------
// The error a failed/dead job reports: a stable code name (CodeName(Code), e.g.
// "unsupported_input", or "lease_expired"/"delivery_limit" set by the queue) and a
// message for the user.
struct JobError {
  std::string code;
  std::string message;

  static JobError FromStatus(const Status& status);
  bool operator==(const JobError&) const = default;
};

// The queue's view of one job.
struct JobRecord {
  JobSpec spec;  // spec.id and spec.tenant identify the job
  JobState state = JobState::kQueued;
  double progress = 0;  // 0..1, last value the worker reported; 1 once succeeded
  int attempts = 0;     // how many times a worker was handed the job (Claim)
  std::optional<std::string> result_uri;  // set once succeeded
  std::optional<JobError> error;          // set when failed/dead; last error while retrying
  bool cancel_requested = false;          // Cancel() on a running job; worker not done yet
  TimePoint created{};
  TimePoint updated{};

  const std::string& id() const { return spec.id; }
  const std::string& tenant() const { return spec.tenant; }

  // The API form: {"id", "tenant", "state", "progress", "attempts", "max_attempts",
  // "created", "updated" (RFC 3339 UTC, milliseconds), "cancel_requested",
  // "result": {"uri"} (when succeeded), "error": {"code", "message"} (when set),
  // "spec": JobSpec::ToJson()}.
  nlohmann::json ToJson() const;
};


}  // namespace swapline::job
