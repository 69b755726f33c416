#include "service/admission.h"

#include <toml++/toml.h>

#include <cmath>
#include <fstream>
#include <sstream>
#include <variant>

#include "service/callback.h"
#include "service/tenancy.h"

namespace swapline::service {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// One limit: its name (file key and flag), meaning and field.
struct LimitField {
  using Member = std::variant<std::int64_t Limits::*, int Limits::*, double Limits::*, std::uint64_t Limits::*,
                              std::vector<std::string> Limits::*>;
  const char* name;
  const char* help;
  Member member;
};

const std::vector<LimitField>& LimitFields() {
  static const std::vector<LimitField> fields = {
      {"max_image_pixels", "pixels of an image target or source (width x height)", &Limits::max_image_pixels},
      {"max_video_frame_pixels", "pixels of one frame of a video target", &Limits::max_video_frame_pixels},
      {"max_video_seconds", "duration of a video target", &Limits::max_video_seconds},
      {"max_video_frames", "frames of a video target; decoding stops there", &Limits::max_video_frames},
      {"max_output_side", "width and height of output-image-resolution / output-video-resolution",
       &Limits::max_output_side},
      {"max_output_fps", "output-video-fps", &Limits::max_output_fps},
      {"max_face_detector_size", "face-detector-size", &Limits::max_face_detector_size},
      {"max_execution_threads", "execution-thread-count", &Limits::max_execution_threads},
      {"max_upload_bytes", "bytes of one input object (uploads through the API, downloads by workers)",
       &Limits::max_upload_bytes},
      {"max_active_jobs_per_tenant", "queued and running jobs of one tenant", &Limits::max_active_jobs_per_tenant},
      {"max_jobs_per_window_per_tenant",
       "job submissions of one tenant per rate_window_seconds (all at once or spread out)",
       &Limits::max_jobs_per_window_per_tenant},
      {"max_upload_urls_per_window_per_tenant", "upload URLs minted for one tenant per rate_window_seconds",
       &Limits::max_upload_urls_per_window_per_tenant},
      {"rate_window_seconds", "the window of the per-tenant rate limits", &Limits::rate_window_seconds},
      {"allowed_callback_hosts",
       "host names or CIDR blocks callback_url may reach although they are loopback, private, link-local or multicast",
       &Limits::allowed_callback_hosts},
  };
  return fields;
}

Status LimitError(std::string_view name, const std::string& what) {
  return TooLarge("limit " + std::string(name) + ": " + what);
}

// Sets one field from a JSON value; `where` leads error messages.
Status SetField(Limits& limits, const LimitField& field, const json& value, const std::string& where) {
  return std::visit(
      [&](auto member) -> Status {
        using T = std::remove_reference_t<decltype(limits.*member)>;
        if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          if (!value.is_array()) return InvalidArgument(where + ": must be a list of strings");
          T list;
          for (const json& item : value) {
            if (!item.is_string() || item.get_ref<const std::string&>().empty()) {
              return InvalidArgument(where + ": must be a list of non-empty strings");
            }
            list.push_back(item.get<std::string>());
          }
          for (const std::string& host : list) {
            SWAPLINE_RETURN_IF_ERROR(CheckAllowedHostEntry(host).WithContext(where));
          }
          limits.*member = std::move(list);
        } else if constexpr (std::is_same_v<T, double>) {
          if (!value.is_number() || !(value.get<double>() > 0) || !std::isfinite(value.get<double>())) {
            return InvalidArgument(where + ": must be a positive number");
          }
          limits.*member = value.get<double>();
        } else {
          if (!value.is_number_integer() || value.get<std::int64_t>() < 1 ||
              (std::is_same_v<T, int> && value.get<std::int64_t>() > INT32_MAX)) {
            return InvalidArgument(where + ": must be a positive integer");
          }
          limits.*member = static_cast<T>(value.get<std::int64_t>());
        }
        return Status::Ok();
      },
      field.member);
}

const LimitField* FindField(std::string_view name) {
  for (const LimitField& field : LimitFields()) {
    if (name == field.name) return &field;
  }
  return nullptr;
}

std::string KnownNames() {
  std::string names;
  for (const LimitField& field : LimitFields()) names += std::string(names.empty() ? "" : ", ") + field.name;
  return names;
}

// A TOML value as JSON (only the shapes limits use: numbers, strings, arrays).
json TomlToJson(const toml::node& node) {
  if (const auto* i = node.as_integer()) return i->get();
  if (const auto* f = node.as_floating_point()) return f->get();
  if (const auto* s = node.as_string()) return s->get();
  if (const auto* b = node.as_boolean()) return b->get();
  if (const auto* a = node.as_array()) {
    json out = json::array();
    for (const toml::node& item : *a) out.push_back(TomlToJson(item));
    return out;
  }
  return json::object();  // a table: refused as the wrong type
}

std::string Extension(std::string_view key) {
  const std::size_t slash = key.rfind('/');
  const std::string_view name = slash == std::string_view::npos ? key : key.substr(slash + 1);
  const std::size_t dot = name.rfind('.');
  std::string ext(dot == std::string_view::npos ? "" : name.substr(dot + 1));
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

bool IsOneOf(const std::string& ext, std::initializer_list<std::string_view> list) {
  for (std::string_view e : list) {
    if (ext == e) return true;
  }
  return false;
}

// Stores name keys after files: S3 allows 1024 bytes, file systems 255 per name.
Status CheckKeyLength(std::string_view field, std::string_view key) {
  if (key.size() > 1024) return InvalidArgument(std::string(field) + ": object key longer than 1024 bytes");
  std::size_t start = 0;
  while (start <= key.size()) {
    std::size_t slash = key.find('/', start);
    if (slash == std::string_view::npos) slash = key.size();
    if (slash - start > 255) {
      return InvalidArgument(std::string(field) + ": a part of the object key is longer than 255 bytes");
    }
    start = slash + 1;
  }
  return Status::Ok();
}

// "WxH" within the output side limit; empty is fine (the target's size).
Status CheckResolution(const std::string& option, const std::string& text, int max_side) {
  if (text.empty()) return Status::Ok();
  long long width = 0, height = 0;
  char x = 0, extra = 0;
  if (std::sscanf(text.c_str(), "%lld%c%lld%c", &width, &x, &height, &extra) != 3 || (x != 'x' && x != 'X') ||
      width < 1 || height < 1) {
    return InvalidArgument("options." + option + ": must look like 1280x720, got '" + text + "'");
  }
  if (width > max_side || height > max_side) {
    return LimitError("max_output_side", "options." + option + " " + text + " has a side over " +
                                             std::to_string(max_side) + " pixels");
  }
  return Status::Ok();
}

}  // namespace

nlohmann::json Limits::ToJson() const {
  json out = json::object();
  for (const LimitField& field : LimitFields()) {
    std::visit([&](auto member) { out[field.name] = this->*member; }, field.member);
  }
  return out;
}

Result<Limits> LoadLimits(const fs::path& path, Limits base) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("--limits: cannot read '" + path.string() + "'");
  std::stringstream text;
  text << in.rdbuf();
  const std::string content = text.str();
  json values;
  const std::size_t first = content.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && content[first] == '{') {
    values = json::parse(content, nullptr, false);
    if (values.is_discarded() || !values.is_object()) {
      return InvalidArgument("--limits " + path.string() + ": malformed JSON object");
    }
  } else {
    try {
      const toml::table table = toml::parse(content, path.string());
      values = json::object();
      for (const auto& [key, node] : table) values[std::string(key.str())] = TomlToJson(node);
    } catch (const toml::parse_error& e) {
      return InvalidArgument("--limits " + path.string() + ": " + std::string(e.description()) + " (line " +
                             std::to_string(e.source().begin.line) + ")");
    }
  }
  for (const auto& [key, value] : values.items()) {
    const LimitField* field = FindField(key);
    const std::string where = "--limits " + path.string() + ": " + key;
    if (field == nullptr) return InvalidArgument(where + ": unknown limit (known: " + KnownNames() + ")");
    SWAPLINE_RETURN_IF_ERROR(SetField(base, *field, value, where));
  }
  return base;
}

Status SetLimit(Limits& limits, std::string_view assignment) {
  const std::size_t eq = assignment.find('=');
  const std::string name(assignment.substr(0, eq));
  const LimitField* field = eq == std::string_view::npos ? nullptr : FindField(name);
  if (field == nullptr) {
    return InvalidArgument("--limit '" + std::string(assignment) + "': expected NAME=VALUE with NAME one of " +
                           KnownNames());
  }
  const std::string text(assignment.substr(eq + 1));
  json value;
  if (std::holds_alternative<std::vector<std::string> Limits::*>(field->member)) {
    value = json::array();
    std::size_t start = 0;
    while (start <= text.size()) {
      std::size_t comma = text.find(',', start);
      if (comma == std::string::npos) comma = text.size();
      if (comma > start) value.push_back(text.substr(start, comma - start));
      start = comma + 1;
    }
  } else {
    value = json::parse(text, nullptr, false);
    if (value.is_discarded()) value = text;  // refused below as not a number
  }
  return SetField(limits, *field, value, "--limit " + name);
}

Result<Limits> LimitsFromFlags(const std::string& file, const std::vector<std::string>& assignments) {
  Limits limits;
  if (!file.empty()) {
    SWAPLINE_ASSIGN_OR_RETURN(limits, LoadLimits(file));
  }
  for (const std::string& assignment : assignments) SWAPLINE_RETURN_IF_ERROR(SetLimit(limits, assignment));
  return limits;
}

std::vector<std::pair<std::string, std::string>> LimitDescriptions() {
  std::vector<std::pair<std::string, std::string>> out;
  for (const LimitField& field : LimitFields()) out.emplace_back(field.name, field.help);
  return out;
}

Admission::Admission(Limits limits, storage::StorageUri store_uri)
    : limits_(std::move(limits)), store_uri_(std::move(store_uri)) {}

Status Admission::CheckNewJobId(std::string_view id, job::TimePoint now, std::chrono::milliseconds window) {
  SWAPLINE_ASSIGN_OR_RETURN(const job::TimePoint time, job::JobIdTime(id));
  if (time > now + window || time < now - window) {
    return InvalidArgument("id: a new job's id must carry the current time (within " +
                           std::to_string(window.count() / 1000) + " s); leave 'id' out to get one");
  }
  return Status::Ok();
}

namespace {
job::RateLimit MakeRateLimit(const char* name, int max, double window_seconds) {
  const auto window = std::chrono::milliseconds(std::max<std::int64_t>(1, std::llround(std::min(window_seconds, 1e9) * 1000)));
  return job::RateLimit{name, max, window};
}
}  // namespace

job::RateLimit Admission::job_rate() const {
  return MakeRateLimit("max_jobs_per_window_per_tenant", limits_.max_jobs_per_window_per_tenant,
                       limits_.rate_window_seconds);
}

job::RateLimit Admission::upload_url_rate() const {
  return MakeRateLimit("max_upload_urls_per_window_per_tenant", limits_.max_upload_urls_per_window_per_tenant,
                       limits_.rate_window_seconds);
}

Status Admission::RateLimitError(const job::RateLimit& limit, std::string_view tenant,
                                 std::chrono::milliseconds retry_after) {
  char window[32];
  std::snprintf(window, sizeof(window), "%g", static_cast<double>(limit.window.count()) / 1000);
  return Status(Code::kThrottled, "limit " + limit.name + ": tenant '" + std::string(tenant) + "' is over " +
                                      std::to_string(limit.max) + " per " + window + " s; retry in " +
                                      std::to_string((retry_after.count() + 999) / 1000) + " s");
}

Status Admission::CheckInputSize(std::string_view field, std::uint64_t size) const {
  if (size <= limits_.max_upload_bytes) return Status::Ok();
  return LimitError("max_upload_bytes", std::string(field) + " is " + std::to_string(size) +
                                            " bytes, over the limit of " + std::to_string(limits_.max_upload_bytes));
}

Status Admission::CheckOptions(const pipeline::SwapOptions& o, bool video) const {
  if (o.max_pixels > limits_.max_image_pixels) {
    return LimitError("max_image_pixels", "options.max-pixels " + std::to_string(o.max_pixels) +
                                              " is over the limit of " + std::to_string(limits_.max_image_pixels));
  }
  if (o.max_pixels < 1) return InvalidArgument("options.max-pixels: must be at least 1");
  SWAPLINE_RETURN_IF_ERROR(CheckResolution("output-image-resolution", o.output_image_resolution, limits_.max_output_side));
  SWAPLINE_RETURN_IF_ERROR(CheckResolution("output-video-resolution", o.output_video_resolution, limits_.max_output_side));
  if (!std::isfinite(o.output_video_fps) || o.output_video_fps < 0) {
    return InvalidArgument("options.output-video-fps: must be a positive number");
  }
  if (o.output_video_fps > limits_.max_output_fps) {
    return LimitError("max_output_fps", "options.output-video-fps " + std::to_string(o.output_video_fps) +
                                            " is over the limit of " + std::to_string(limits_.max_output_fps));
  }
  if (o.execution_thread_count < 0) return InvalidArgument("options.execution-thread-count: must not be negative");
  if (o.execution_thread_count > limits_.max_execution_threads) {
    return LimitError("max_execution_threads", "options.execution-thread-count " +
                                                   std::to_string(o.execution_thread_count) + " is over the limit of " +
                                                   std::to_string(limits_.max_execution_threads));
  }
  if (o.trim_frame_start < 0) return InvalidArgument("options.trim-frame-start: must not be negative");
  if (o.trim_frame_start >= limits_.max_video_frames || o.trim_frame_end > limits_.max_video_frames) {
    return LimitError("max_video_frames", "options.trim-frame-start/-end reach past frame " +
                                              std::to_string(limits_.max_video_frames));
  }
  SWAPLINE_ASSIGN_OR_RETURN(const int detect_side, pipeline::DetectorSide(o, video));
  if (detect_side > limits_.max_face_detector_size) {
    return LimitError("max_face_detector_size", "options.face-detector-size " + o.face_detector_size +
                                                    " is over the limit of " +
                                                    std::to_string(limits_.max_face_detector_size));
  }
  if (o.face_detector_size.find('x') != std::string::npos || o.face_detector_size.find('X') != std::string::npos) {
    // "WxH": both sides count.
    long long w = 0, h = 0;
    if (std::sscanf(o.face_detector_size.c_str(), "%lld%*[xX]%lld", &w, &h) == 2 &&
        std::min(w, h) > limits_.max_face_detector_size) {
      return LimitError("max_face_detector_size", "options.face-detector-size is over the limit");
    }
  }
  if (!o.face_recognizer_model.empty() &&
      (o.face_recognizer_model.find('/') != std::string::npos || o.face_recognizer_model[0] == '.')) {
    return InvalidArgument("options.face-recognizer-model: must be a model file name in the workers' models folder");
  }
  if (o.face_selector_mode == "reference" && o.face_recognizer_model.empty()) {
    return InvalidArgument("options.face-selector-mode: 'reference' needs options.face-recognizer-model");
  }
  return Status::Ok();
}

Result<AdmittedJob> Admission::Admit(const job::JobSpec& spec) const {
  SWAPLINE_RETURN_IF_ERROR(spec.Validate(/*require_identity=*/true));
  if (!spec.output) return InvalidArgument("output: must be set (job::FinalizeJobSpec)");
  AdmittedJob job;
  job.spec = spec;
  auto map = [&](std::string& reference, const std::string& field) -> Result<std::string> {
    SWAPLINE_ASSIGN_OR_RETURN(std::string key, KeyInStore(store_uri_, reference, field));
    SWAPLINE_RETURN_IF_ERROR(CheckKeyLength(field, key));
    const Status owned = CheckTenantKey(spec.tenant, key);
    if (!owned.ok()) return Status(owned.code(), field + ": " + owned.message());
    reference = key;
    return key;
  };
  for (std::size_t i = 0; i < job.spec.sources.size(); ++i) {
    SWAPLINE_ASSIGN_OR_RETURN(std::string key, map(job.spec.sources[i], "sources[" + std::to_string(i) + "]"));
    job.source_keys.push_back(std::move(key));
  }
  SWAPLINE_ASSIGN_OR_RETURN(job.target_key, map(job.spec.target, "target"));
  SWAPLINE_ASSIGN_OR_RETURN(job.output_key, map(*job.spec.output, "output"));

  // Kinds: the target's extension decides image or video; the output must be of
  // the same kind and in a format the pipeline writes.
  SWAPLINE_ASSIGN_OR_RETURN(const std::string kind, job.spec.MediaKind());
  job.video = kind == "video";
  const std::string out_ext = Extension(job.output_key);
  const bool out_ok = job.video ? job::MediaKindOfName(job.output_key) == "video"
                                : IsOneOf(out_ext, {"jpg", "jpeg", "png", "webp", "bmp"});
  if (!out_ok) {
    return InvalidArgument("output: '." + out_ext + "' is not an " + (job.video ? "video" : "image") +
                           " format swapline writes for a" + (job.video ? " video" : "n image") + " target");
  }
  for (std::size_t i = 0; i < job.source_keys.size(); ++i) {
    if (!IsOneOf(Extension(job.source_keys[i]), {"jpg", "jpeg", "png", "webp", "bmp"})) {
      return InvalidArgument("sources[" + std::to_string(i) + "]: must be a JPEG, PNG, WebP or BMP image");
    }
  }
  if (spec.callback_url) {
    SWAPLINE_RETURN_IF_ERROR(CheckCallbackUrl(*spec.callback_url, limits_.allowed_callback_hosts));
  }

  SWAPLINE_ASSIGN_OR_RETURN(job.options, pipeline::SwapOptionsFromJson(spec.options));
  SWAPLINE_RETURN_IF_ERROR(CheckOptions(job.options, job.video));
  SWAPLINE_ASSIGN_OR_RETURN(job.detect_side, pipeline::DetectorSide(job.options, job.video));
  if (job.video) {
    // Decoding stops at the frame limit whatever the container claims.
    if (job.options.trim_frame_end < 0) job.options.trim_frame_end = limits_.max_video_frames;
  }
  // Every remaining value is checked by the builders `swapline swap` uses.
  const std::vector<fs::path> sources(job.source_keys.size(), fs::path("source.jpg"));
  const fs::path target = "target." + Extension(job.target_key);
  const fs::path output = "output." + out_ext;
  const Status built = job.video ? pipeline::BuildVideoJobSpec(job.options, sources, target, output).status()
                                 : pipeline::BuildImageJobSpec(job.options, sources, target, output).status();
  if (!built.ok()) return InvalidArgument("options: " + built.message());
  return job;
}

Status Admission::CheckVideoTarget(const media::VideoInfo& info) const {
  const std::int64_t pixels = static_cast<std::int64_t>(info.width) * static_cast<std::int64_t>(info.height);
  if (pixels > limits_.max_video_frame_pixels) {
    return LimitError("max_video_frame_pixels", "the target's frames are " + std::to_string(info.width) + "x" +
                                                    std::to_string(info.height) + ", over the limit of " +
                                                    std::to_string(limits_.max_video_frame_pixels) + " pixels");
  }
  if (!(info.duration_s <= limits_.max_video_seconds)) {
    return LimitError("max_video_seconds", "the target lasts " + std::to_string(info.duration_s) +
                                               " s, over the limit of " + std::to_string(limits_.max_video_seconds) +
                                               " s");
  }
  if (info.frame_count > limits_.max_video_frames) {
    return LimitError("max_video_frames", "the target has " + std::to_string(info.frame_count) +
                                              " frames, over the limit of " +
                                              std::to_string(limits_.max_video_frames));
  }
  return Status::Ok();
}

}  // namespace swapline::service
