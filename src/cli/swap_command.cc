// `swapline swap`: one job, in-process. Option names follow FaceFusion's.
#include <spdlog/spdlog.h>

#include <unistd.h>

#include <cmath>
#include <fstream>
#include <csignal>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/swap_flags.h"
#include "core/logging.h"
#include "media/video.h"
#include "pipeline/image_job.h"
#include "models/model_dir.h"
#include "pipeline/swap_options.h"
#include "pipeline/video_job.h"

namespace swapline::cli {
namespace {

struct SwapArgs {
  std::vector<std::string> sources;
  std::string target;
  std::string output;
  pipeline::SwapOptions options;  // the swap options, shared with `swapline jobs submit`
  std::string models_dir;         // where named models are resolved
  std::string models_manifest;    // a manifest adding models to the embedded one
  std::vector<std::string> accepted_licenses;  // non-commercial models the user accepts
};

std::vector<std::filesystem::path> SourcePaths(const SwapArgs& args) {
  return {args.sources.begin(), args.sources.end()};
}

// Progress: a bar on a TTY, JSON events with --log-format json, nothing otherwise.
void ReportProgress(const pipeline::VideoProgress& p) {
  if (CurrentLogFormat() == LogFormat::kJson) {
    LogEvent("progress", {{"event", "progress"}, {"frames_done", p.frames_done}, {"frames_total", p.frames_total},
                          {"fps", p.fps}, {"eta_s", p.eta_s}});
    return;
  }
  if (!::isatty(STDERR_FILENO)) return;
  const double share = p.frames_total > 0 ? std::min(1.0, static_cast<double>(p.frames_done) / p.frames_total) : 0;
  const int filled = static_cast<int>(share * 30);
  std::fprintf(stderr, "\r[%s%s] %lld/%lld frames  %.1f fps  ETA %.0fs   ", std::string(filled, '#').c_str(),
               std::string(30 - filled, '.').c_str(), static_cast<long long>(p.frames_done),
               static_cast<long long>(p.frames_total), p.fps, p.eta_s);
  if (p.frames_done >= p.frames_total) std::fprintf(stderr, "\n");
}

// SIGINT/SIGTERM stop a running video at the next frame; the output is not written.
Cancellation g_interrupted;

extern "C" void OnInterrupt(int) { g_interrupted.Cancel(); }

// True when the file starts like an image swapline reads.
bool StartsLikeImage(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<std::uint8_t> head(64 * 1024);
  in.read(reinterpret_cast<char*>(head.data()), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<std::size_t>(in.gcount()));
  return media::ProbeImage(head).ok();
}

int RunSwap(const SwapArgs& args) {
  std::signal(SIGINT, OnInterrupt);
  std::signal(SIGTERM, OnInterrupt);
  const bool video = media::LooksLikeVideo(args.target);
  if (!video && !media::ImageFormatFromPath(args.output).ok() && !StartsLikeImage(args.target)) {
    // A video output asked for, but the target is neither video nor image: say what is
    // wrong with the target (empty, audio only, …), not with the output's extension.
    auto probe = media::ProbeVideo(args.target);
    return Fail(probe.ok() ? UnsupportedInput("target '" + args.target + "' has no video frames")
                           : probe.status().WithContext("target"));
  }
  std::optional<std::filesystem::path> recognizer;
  if (!args.options.face_recognizer_model.empty()) recognizer = args.options.face_recognizer_model;
  if (args.options.face_selector_mode == "reference" && !recognizer) {
    // Fail before loading any model; the message names the missing option.
    vision::FaceSelectorOptions reference;
    reference.mode = vision::SelectorMode::kReference;
    return Fail(vision::SelectFaces({}, {}, reference, nullptr).status());
  }
  auto detection = pipeline::DetectorSettingsOf(args.options, video);
  if (!detection.ok()) return Fail(detection.status());
  // Every option is checked (exit 2) before any model is looked for (exit 6).
  std::optional<pipeline::VideoJobSpec> video_spec;
  std::optional<pipeline::ImageJobSpec> image_spec;
  if (video) {
    auto spec = pipeline::BuildVideoJobSpec(args.options, SourcePaths(args), args.target, args.output);
    if (!spec.ok()) return Fail(spec.status());
    video_spec = std::move(spec).value();
  } else {
    auto spec = pipeline::BuildImageJobSpec(args.options, SourcePaths(args), args.target, args.output);
    if (!spec.ok()) return Fail(spec.status());
    image_spec = std::move(spec).value();
  }
  auto manifest = models::ModelManifest::EmbeddedWith(args.models_manifest);
  if (!manifest.ok()) return Fail(manifest.status().WithContext("--models-manifest"));
  models::ModelDir models(models::ModelsDirOr(args.models_dir), *manifest);
  auto face_models = pipeline::ResolveFaceModels(
      args.options, detection->side, &models, {args.accepted_licenses.begin(), args.accepted_licenses.end()}, "--");
  if (!face_models.ok()) return Fail(face_models.status());
  auto engine = pipeline::ImageSwapEngine::Create(recognizer, *detection, *face_models);
  if (!engine.ok()) return Fail(engine.status());
  if (video) {
    auto report = pipeline::RunVideoJob(*engine, *video_spec, ReportProgress, &g_interrupted);
    if (!report.ok()) return Fail(report.status());
    spdlog::info("swapped {} face(s) in {} of {} frame(s) in {:.1f} s ({:.1f} fps) with the face from '{}'",
                 report->swapped_faces, report->frames_with_faces, report->frames, report->seconds,
                 report->seconds > 0 ? static_cast<double>(report->frames) / report->seconds : 0.0,
                 report->source_used.string());
    if (video_spec->swapper.keep_glasses && report->stages.swap.faces > 0) {  // the classic swapper's
      spdlog::info("kept the target's glasses on {} of {} swapped face(s)", report->stages.swap.kept_glasses,
                   report->stages.swap.faces);
    }
    std::printf("%s\n", report->output.string().c_str());
    return kExitOk;
  }
  auto report = engine->Run(*image_spec);
  if (!report.ok()) return Fail(report.status());
  spdlog::info("swapped {} of {} target face(s) with the face from '{}'", report->swapped_faces,
               report->target_faces, report->source_used.string());
  std::printf("%s\n", report->output.string().c_str());
  return kExitOk;
}

}  // namespace

void RegisterSwapCommand(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<SwapArgs>();
  CLI::App* cmd = app.add_subcommand("swap", "swap the source face into the faces of a target image or video");
  cmd->add_option("-s,--source,--source-paths", args->sources, "source image(s); the best face among them is used")
      ->required();
  cmd->add_option("-t,--target,--target-path", args->target, "target image (JPEG, PNG, WebP, BMP) or video (mp4, mov, mkv, webm, avi, …)")->required();
  cmd->add_option("-o,--output,--output-path", args->output,
                  "output file; its extension picks the format (.jpg .png .webp .bmp; .mp4 .mov .mkv .webm)")
      ->required();
  AddSwapOptionFlags(cmd, args->options);
  cmd->add_option("--models-dir", args->models_dir,
                  "models folder for named models (default: $SWAPLINE_MODELS_DIR, else ~/.cache/swapline/models)")
      ->envname("SWAPLINE_MODELS_DIR");
  cmd->add_option("--models-manifest", args->models_manifest,
                  "a JSON manifest adding models you bring (README: Models)")
      ->envname("SWAPLINE_MODELS_MANIFEST");
  cmd->add_option("--accept-license", args->accepted_licenses,
                  "use this model although its license does not allow commercial use; repeatable");
  cmd->callback([args, &exit_code] { exit_code = RunSwap(*args); });
}

}  // namespace swapline::cli
