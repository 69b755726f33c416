#include "job/job_spec.h"

#include <algorithm>
#include <cctype>
#include <ctime>
#include <mutex>
#include <random>

#include "core/random_text.h"
#include "core/time_text.h"
#include "storage/object_key.h"
#include "storage/url.h"

namespace swapline::job {
namespace {

constexpr std::string_view kStateNames[kJobStateCount] = {
    "queued", "running", "succeeded", "failed", "cancelled", "dead"};

constexpr std::string_view kAlphabet = kCrockfordBase32;
constexpr std::size_t kIdLength = 26;

int AlphabetIndex(char c) {
  for (int i = 0; i < 32; ++i) {
    if (kAlphabet[i] == c) return i;
  }
  return -1;
}

Status FieldError(const std::string& field, const std::string& what) {
  return InvalidArgument(field + ": " + what);
}

bool HasControl(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; });
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Object references: s3://bucket/key, file://..., a bare object key, and (inputs
// only) http(s):// URLs.
Status CheckUri(const std::string& field, const nlohmann::json& value, bool allow_http) {
  if (!value.is_string()) return FieldError(field, "must be a string URI");
  const auto& s = value.get_ref<const std::string&>();
  if (s.empty()) return FieldError(field, "must not be empty");
  if (s.size() > 2048) return FieldError(field, "longer than 2048 characters");
  if (HasControl(s)) return FieldError(field, "must not contain control characters");
  const std::string_view v(s);
  if (v.starts_with("s3://")) {
    const std::size_t slash = v.find('/', 5);
    if (slash == std::string_view::npos || slash == 5 || slash + 1 == v.size()) {
      return FieldError(field, "must name an object as s3://bucket/key");
    }
    if (!storage::ValidateObjectKey(v.substr(slash + 1)).ok()) {
      return FieldError(field, "invalid object key in '" + s + "'");
    }
    return Status::Ok();
  }
  if (v.starts_with("file://")) {
    if (v.size() == 7) return FieldError(field, "names no file");
    const std::string_view path = v.substr(7);
    if (path.find("/../") != std::string_view::npos || path.starts_with("../") ||
        path.ends_with("/..") || path == "..") {
      return FieldError(field, "must not contain '..' parts");
    }
    return Status::Ok();
  }
  if (v.starts_with("http://") || v.starts_with("https://")) {
    if (!allow_http) return FieldError(field, "must be an object in the store, not a URL");
    if (v.find('/', v.find("//") + 2) == std::string_view::npos &&
        v.size() <= v.find("//") + 2) {
      return FieldError(field, "URL names no host");
    }
    return Status::Ok();
  }
  if (v.find("://") != std::string_view::npos) {
    return FieldError(field, "unsupported scheme in '" + s +
                                 "': use s3://bucket/key, file://PATH or an object key");
  }
  const Status key = storage::ValidateObjectKey(v);
  if (!key.ok()) return FieldError(field, key.message());
  return Status::Ok();
}

Status CheckTenant(const std::string& tenant) {
  if (tenant.empty()) return FieldError("tenant", "must not be empty");
  if (tenant.size() > 64) return FieldError("tenant", "longer than 64 characters");
  if (tenant == "." || tenant == "..") return FieldError("tenant", "must not be '.' or '..'");
  for (unsigned char c : tenant) {
    if (!(std::isalnum(c) || c == '-' || c == '_' || c == '.')) {
      return FieldError("tenant", "may contain only letters, digits, '-', '_' and '.'");
    }
  }
  return Status::Ok();
}

Status CheckOptionValue(const std::string& field, const nlohmann::json& v) {
  if (v.is_string() || v.is_number() || v.is_boolean()) return Status::Ok();
  if (v.is_array()) {
    for (std::size_t i = 0; i < v.size(); ++i) {
      const auto& e = v[i];
      if (!(e.is_string() || e.is_number() || e.is_boolean())) {
        return FieldError(field + "[" + std::to_string(i) + "]",
                          "must be a string, number or boolean");
      }
    }
    return Status::Ok();
  }
  return FieldError(field, "must be a string, number, boolean or an array of them");
}

Status CheckOptions(const nlohmann::json& options) {
  if (!options.is_object()) return FieldError("options", "must be a JSON object");
  for (const auto& [name, value] : options.items()) {
    const std::string field = "options." + name;
    if (name.empty()) return FieldError("options", "has an empty option name");
    if (name.front() == '-') {
      return FieldError(field, "write option names without leading dashes");
    }
    if (name.size() > 64) return FieldError(field, "option name longer than 64 characters");
    for (unsigned char c : name) {
      if (!(std::islower(c) || std::isdigit(c) || c == '-' || c == '_')) {
        return FieldError(field, "option names use lowercase letters, digits, '-' and '_'");
      }
    }
    SWAPLINE_RETURN_IF_ERROR(CheckOptionValue(field, value));
  }
  return Status::Ok();
}

std::string Extension(std::string_view uri) {
  std::string_view s = uri;
  if (s.starts_with("http://") || s.starts_with("https://")) {
    s = s.substr(0, s.find_first_of("?#"));
  }
  const std::size_t slash = s.rfind('/');
  const std::string_view name = slash == std::string_view::npos ? s : s.substr(slash + 1);
  const std::size_t dot = name.rfind('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == name.size()) return "";
  return Lower(name.substr(dot + 1));
}

struct IdState {
  std::mutex mu;
  std::uint64_t last_ms = 0;
  std::uint16_t rand_hi = 0;  // top 16 of the 80 random bits
  std::uint64_t rand_lo = 0;  // low 64
  std::mt19937_64 rng{std::random_device{}()};
};

IdState& GlobalIdState() {
  static IdState state;
  return state;
}

}  // namespace

const char* JobStateName(JobState state) {
  const int i = static_cast<int>(state);
  if (i < 0 || i >= kJobStateCount) return "unknown";
  return kStateNames[i].data();
}

Result<JobState> ParseJobState(std::string_view name) {
  for (int i = 0; i < kJobStateCount; ++i) {
    if (kStateNames[i] == name) return static_cast<JobState>(i);
  }
  return InvalidArgument("state: '" + std::string(name) +
                         "' is not one of queued, running, succeeded, failed, cancelled, dead");
}

bool IsTerminal(JobState state) {
  return state != JobState::kQueued && state != JobState::kRunning;
}

std::string NewJobId() { return NewJobId(Clock::now()); }

std::string NewJobId(TimePoint now) {
  IdState& st = GlobalIdState();
  std::uint64_t ms = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count());
  ms &= (std::uint64_t{1} << 48) - 1;
  std::uint16_t hi;
  std::uint64_t lo;
  {
    std::lock_guard<std::mutex> lock(st.mu);
    if (ms <= st.last_ms && st.last_ms != 0) {
      // Same millisecond (or the clock stepped back): keep order by incrementing.
      ms = st.last_ms;
      if (++st.rand_lo == 0) ++st.rand_hi;
    } else {
      st.last_ms = ms;
      st.rand_lo = st.rng();
      // Leave headroom so increments within one millisecond never wrap.
      st.rand_hi = static_cast<std::uint16_t>(st.rng() & 0x7fff);
    }
    hi = st.rand_hi;
    lo = st.rand_lo;
  }
  std::string id(kIdLength, '0');
  // 10 chars of time (50 bits, top 2 zero).
  for (int i = 9; i >= 0; --i) {
    id[static_cast<std::size_t>(i)] = kAlphabet[ms & 31];
    ms >>= 5;
  }
  // 16 chars of randomness (80 bits): hi 16 bits then lo 64 bits.
  for (int i = 25; i >= 10; --i) {
    id[static_cast<std::size_t>(i)] = kAlphabet[lo & 31];
    lo = (lo >> 5) | (static_cast<std::uint64_t>(hi & 31) << 59);
    hi = static_cast<std::uint16_t>(hi >> 5);
  }
  return id;
}

bool IsValidJobId(std::string_view id) {
  if (id.size() != kIdLength) return false;
  if (AlphabetIndex(id[0]) > 7) return false;  // 48-bit time: first char 0..7
  return std::all_of(id.begin(), id.end(), [](char c) { return AlphabetIndex(c) >= 0; });
}

Result<TimePoint> JobIdTime(std::string_view id) {
  if (!IsValidJobId(id)) return InvalidArgument("'" + std::string(id) + "' is not a job id");
  std::uint64_t ms = 0;
  for (std::size_t i = 0; i < 10; ++i) ms = (ms << 5) | static_cast<std::uint64_t>(AlphabetIndex(id[i]));
  return TimePoint(std::chrono::milliseconds(ms));
}

Result<JobSpec> JobSpec::FromJson(const nlohmann::json& json) {
  if (!json.is_object()) return FieldError("body", "must be a JSON object");
  JobSpec spec;
  for (const auto& [name, value] : json.items()) {
    if (name == "id") {
      if (!value.is_string()) return FieldError("id", "must be a string");
      spec.id = value.get<std::string>();
    } else if (name == "tenant") {
      if (!value.is_string()) return FieldError("tenant", "must be a string");
      spec.tenant = value.get<std::string>();
    } else if (name == "sources") {
      if (!value.is_array()) return FieldError("sources", "must be an array of URIs");
      for (std::size_t i = 0; i < value.size(); ++i) {
        SWAPLINE_RETURN_IF_ERROR(
            CheckUri("sources[" + std::to_string(i) + "]", value[i], /*allow_http=*/true));
        spec.sources.push_back(value[i].get<std::string>());
      }
    } else if (name == "target") {
      SWAPLINE_RETURN_IF_ERROR(CheckUri("target", value, /*allow_http=*/true));
      spec.target = value.get<std::string>();
    } else if (name == "output") {
      if (value.is_null()) continue;
      SWAPLINE_RETURN_IF_ERROR(CheckUri("output", value, /*allow_http=*/false));
      spec.output = value.get<std::string>();
    } else if (name == "options") {
      if (value.is_null()) continue;
      SWAPLINE_RETURN_IF_ERROR(CheckOptions(value));
      spec.options = value;
    } else if (name == "max_attempts") {
      if (!value.is_number_integer() || value.get<std::int64_t>() < 1 ||
          value.get<std::int64_t>() > 100) {
        return FieldError("max_attempts", "must be an integer from 1 to 100");
      }
      spec.max_attempts = value.get<int>();
    } else if (name == "callback_url") {
      if (value.is_null()) continue;
      if (!value.is_string()) return FieldError("callback_url", "must be a string URL");
      spec.callback_url = value.get<std::string>();
    } else {
      return FieldError(name, "unknown field (expected sources, target, output, options, "
                              "max_attempts, callback_url)");
    }
  }
  SWAPLINE_RETURN_IF_ERROR(spec.Validate(/*require_identity=*/false));
  return spec;
}

Result<JobSpec> JobSpec::Parse(std::string_view json_text) {
  nlohmann::json json = nlohmann::json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) {
    // Re-parse with exceptions only to get the position for the message.
    try {
      nlohmann::json ignored = nlohmann::json::parse(json_text);
      (void)ignored;
    } catch (const nlohmann::json::exception& e) {  // parse_error, or out_of_range ("1e400")
      return FieldError("body", std::string("malformed JSON: ") + e.what());
    }
    return FieldError("body", "malformed JSON");
  }
  return FromJson(json);
}

nlohmann::json JobSpec::ToJson() const {
  nlohmann::json j = nlohmann::json::object();
  if (!id.empty()) j["id"] = id;
  if (!tenant.empty()) j["tenant"] = tenant;
  j["sources"] = sources;
  j["target"] = target;
  if (output) j["output"] = *output;
  j["options"] = options.is_object() ? options : nlohmann::json::object();
  j["max_attempts"] = max_attempts;
  if (callback_url) j["callback_url"] = *callback_url;
  return j;
}

Status JobSpec::Validate(bool require_identity) const {
  if (require_identity || !id.empty()) {
    if (id.empty()) return FieldError("id", "must be set");
    if (!IsValidJobId(id)) return FieldError("id", "'" + id + "' is not a job id");
  }
  if (require_identity || !tenant.empty()) SWAPLINE_RETURN_IF_ERROR(CheckTenant(tenant));
  if (sources.empty()) return FieldError("sources", "must list at least one source URI");
  if (sources.size() > 16) return FieldError("sources", "at most 16 sources");
  for (std::size_t i = 0; i < sources.size(); ++i) {
    SWAPLINE_RETURN_IF_ERROR(
        CheckUri("sources[" + std::to_string(i) + "]", sources[i], /*allow_http=*/true));
  }
  if (target.empty()) return FieldError("target", "must be set to a URI");
  SWAPLINE_RETURN_IF_ERROR(CheckUri("target", target, /*allow_http=*/true));
  SWAPLINE_RETURN_IF_ERROR(MediaKind().status());
  if (output) {
    SWAPLINE_RETURN_IF_ERROR(CheckUri("output", *output, /*allow_http=*/false));
    const std::string out_ext = Extension(*output);
    if (out_ext.empty()) return FieldError("output", "must end in a file extension");
  }
  SWAPLINE_RETURN_IF_ERROR(CheckOptions(options));
  if (max_attempts < 1 || max_attempts > 100) {
    return FieldError("max_attempts", "must be an integer from 1 to 100");
  }
  if (callback_url) {
    const std::string& u = *callback_url;
    const bool http = u.starts_with("http://") || u.starts_with("https://");
    if (!http || u.size() > 2048 || HasControl(u) || !storage::ParseUrl(u).ok()) {
      return FieldError("callback_url", "must be an http:// or https:// URL");
    }
  }
  return Status::Ok();
}

std::string_view MediaKindOfName(std::string_view name) {
  static constexpr std::string_view kImage[] = {"jpg", "jpeg", "png", "webp", "bmp", "tif", "tiff"};
  static constexpr std::string_view kVideo[] = {"mp4", "mov", "mkv", "webm", "avi", "m4v"};
  const std::string ext = Extension(name);
  if (std::find(std::begin(kImage), std::end(kImage), ext) != std::end(kImage)) return "image";
  if (std::find(std::begin(kVideo), std::end(kVideo), ext) != std::end(kVideo)) return "video";
  return "";
}

Result<std::string> JobSpec::MediaKind() const {
  const std::string_view kind = MediaKindOfName(target);
  if (!kind.empty()) return std::string(kind);
  const std::string ext = Extension(target);
  if (ext.empty()) return FieldError("target", "has no file extension to tell image from video");
  return FieldError("target", "'." + ext + "' is neither a supported image nor video type");
}

Result<std::string> DefaultOutputKey(const JobSpec& spec) {
  SWAPLINE_ASSIGN_OR_RETURN(const std::string kind, spec.MediaKind());
  SWAPLINE_ASSIGN_OR_RETURN(const TimePoint time, JobIdTime(spec.id));
  SWAPLINE_RETURN_IF_ERROR(CheckTenant(spec.tenant));
  storage::ObjectKeyParts parts;
  parts.type = kind == "image" ? "images/output" : "videos/output";
  parts.tenant = spec.tenant;
  parts.time = time;
  parts.filename = spec.id + "." + Extension(spec.target);
  return storage::BuildObjectKey(parts);
}

Status FinalizeJobSpec(JobSpec& spec, const std::string& tenant) {
  if (!spec.tenant.empty() && spec.tenant != tenant) {
    return FieldError("tenant", "does not match the caller's tenant");
  }
  spec.tenant = tenant;
  if (spec.id.empty()) spec.id = NewJobId();
  if (!spec.output) {
    SWAPLINE_ASSIGN_OR_RETURN(std::string key, DefaultOutputKey(spec));
    spec.output = std::move(key);
  }
  return spec.Validate(/*require_identity=*/true);
}

JobError JobError::FromStatus(const Status& status) {
  return JobError{CodeName(status.code()), status.message()};
}

nlohmann::json JobRecord::ToJson() const {
  nlohmann::json j;
  j["id"] = spec.id;
  j["tenant"] = spec.tenant;
  j["state"] = JobStateName(state);
  j["progress"] = progress;
  j["attempts"] = attempts;
  j["max_attempts"] = spec.max_attempts;
  j["cancel_requested"] = cancel_requested;
  j["created"] = FormatIso8601Millis(created);
  j["updated"] = FormatIso8601Millis(updated);
  if (result_uri) j["result"] = {{"uri", *result_uri}};
  if (error) j["error"] = {{"code", error->code}, {"message", error->message}};
  j["spec"] = spec.ToJson();
  return j;
}

}  // namespace swapline::job
