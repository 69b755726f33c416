#include "pipeline/video_job.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <map>
#include <mutex>
#include <span>
#include <thread>

#include <opencv2/imgproc.hpp>
#include <spdlog/spdlog.h>

#include "pipeline/frame_pipeline.h"
#include "pipeline/yuv_region.h"
#include "vision/face_glasses.h"

namespace swapline::pipeline {
namespace {

using Clock = std::chrono::steady_clock;

// Frames held back for the tracker's look-back take at most this much memory.
constexpr double kMaxLookbackBytes = 256.0 * 1024 * 1024;

double MsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// `face` in the coordinates of a region starting at `origin`.
vision::Face Shifted(vision::Face face, cv::Point origin) {
  const cv::Point2f offset(static_cast<float>(origin.x), static_cast<float>(origin.y));
  face.box.x -= offset.x;
  face.box.y -= offset.y;
  for (auto& p : face.landmarks68) p -= offset;
  for (auto& p : face.landmarks5) p -= offset;
  return face;
}

class ReaderSource final : public FrameSource {
 public:
  ReaderSource(media::VideoReader& reader, const Cancellation* cancel) : reader_(reader), cancel_(cancel) {}
  Result<bool> Next(media::VideoFrame& frame) override {
    if (cancel_ && cancel_->cancelled()) return Cancelled("cancelled; no output was written");
    return reader_.Read(frame);
  }

 private:
  media::VideoReader& reader_;
  const Cancellation* cancel_;
};

// Sequential: follows faces through the frames on the luma plane and selects them.
// Mode one keeps the face it chose while that face is tracked. Reference mode decides
// once per track: the track's face is embedded when it first appears and compared with
// the reference face, the face at --reference-face-position in the first frame at or
// after --reference-frame-number that has faces. Frames are held back for the
// tracker's look-back: a face found late is swapped in the frames before too, as the
// selection decided for its track in the frame it was found in.
class TrackStage final : public SequentialStage {
 public:
  // `decide_glasses`: each track's glasses are decided across its frames
  // (vision::GlassesVote) for a swapper that keeps a target's glasses.
  TrackStage(vision::FaceAnalyser& analyser, const vision::FaceTrackerOptions& options,
             const vision::FaceSelectorOptions& selector, std::int64_t reference_frame_number, bool decide_glasses)
      : tracker_(analyser.detector(), analyser.landmarker(), options), lookback_(options.lookback),
        recognizer_(analyser.recognizer()), selector_(selector), reference_frame_number_(reference_frame_number),
        decide_glasses_(decide_glasses) {}

  int Lookback() const override { return lookback_; }

  Status Process(FrameWork& work, std::span<FrameWork* const> held) override {
    const auto start = Clock::now();
    Status status = Select(work, held);
    track_ms_ += MsSince(start);
    return status;
  }

  // The last frame searched once more (FaceTracker::Finish), its new faces followed
  // back into the frames still held.
  Status Finish(std::span<FrameWork* const> held) override {
    const auto start = Clock::now();
    Status status = SelectAtEnd(held);
    track_ms_ += MsSince(start);
    return status;
  }

  double track_ms() const { return track_ms_; }

 private:
  Status Select(FrameWork& work, std::span<FrameWork* const> held) {
    std::vector<cv::Mat> earlier;
    for (const FrameWork* h : held) earlier.push_back(h->frame.y);
    std::vector<std::vector<vision::TrackedFace>> late;
    SWAPLINE_ASSIGN_OR_RETURN(std::vector<vision::TrackedFace> tracked, tracker_.Track(work.frame.y, earlier, &late));
    if (decide_glasses_) DecideGlasses(work.frame, tracked);
    SWAPLINE_ASSIGN_OR_RETURN(const std::vector<int> chosen, Choose(work.frame, tracked));
    AddLate(late, held, chosen, tracked);
    for (const vision::TrackedFace& t : tracked) {
      if (std::find(chosen.begin(), chosen.end(), t.track_id) != chosen.end()) work.faces.push_back(t.face);
    }
    last_tracked_ = std::move(tracked);
    return Status::Ok();
  }

  Status SelectAtEnd(std::span<FrameWork* const> held) {
    std::vector<cv::Mat> frames;
    for (const FrameWork* h : held) frames.push_back(h->frame.y);
    SWAPLINE_ASSIGN_OR_RETURN(std::vector<std::vector<vision::TrackedFace>> late, tracker_.Finish(frames));
    if (std::all_of(late.begin(), late.end(), [](const auto& l) { return l.empty(); })) {
      return Status::Ok();
    }
    const media::VideoFrame& last = held.back()->frame;
    if (decide_glasses_) DecideGlasses(last, late.back());
    std::vector<vision::TrackedFace> tracked = last_tracked_;
    tracked.insert(tracked.end(), late.back().begin(), late.back().end());
    SWAPLINE_ASSIGN_OR_RETURN(const std::vector<int> chosen, Choose(last, tracked));
    AddLate(late, held, chosen, tracked);
    return Status::Ok();
  }

  // Adds the faces of `late` (one list per frame of `held`) of the `chosen` tracks to
  // their frames, each with the glasses decided for its track's face in `decided`.
  static void AddLate(std::vector<std::vector<vision::TrackedFace>>& late, std::span<FrameWork* const> held,
                      const std::vector<int>& chosen, const std::vector<vision::TrackedFace>& decided) {
    for (std::size_t i = 0; i < late.size(); ++i) {
      for (vision::TrackedFace& t : late[i]) {
        if (std::find(chosen.begin(), chosen.end(), t.track_id) == chosen.end()) continue;
        auto it = std::find_if(decided.begin(), decided.end(),
                               [&](const vision::TrackedFace& d) { return d.track_id == t.track_id; });
        if (it == decided.end()) continue;
        t.face.glasses = it->face.glasses;
        held[i]->faces.push_back(std::move(t.face));
      }
    }
  }

  // The ids of the tracks of `tracked` to swap.
  Result<std::vector<int>> Choose(const media::VideoFrame& frame, const std::vector<vision::TrackedFace>& tracked) {
    std::vector<int> chosen;
    if (selector_.mode == vision::SelectorMode::kMany) {
      for (const auto& t : tracked) chosen.push_back(t.track_id);
      return chosen;
    }
    if (selector_.mode == vision::SelectorMode::kOne) {
      // The chosen face stays chosen while its track lives: ranking every frame anew
      // would hop between faces of similar size.
      const bool alive = std::any_of(tracked.begin(), tracked.end(),
                                     [&](const vision::TrackedFace& t) { return t.track_id == chosen_track_; });
      if (!alive && !tracked.empty()) {
        std::vector<vision::Face> faces;
        for (const auto& t : tracked) faces.push_back(t.face);
        vision::SortFaces(faces, selector_.order);
        chosen_track_ = std::find_if(tracked.begin(), tracked.end(), [&](const vision::TrackedFace& t) {
                          return t.face.landmarks68 == faces.front().landmarks68;
                        })->track_id;
      }
      if (!tracked.empty()) chosen.push_back(chosen_track_);
      return chosen;
    }
    if (!reference_ && frame.index >= reference_frame_number_ && !tracked.empty()) {
      std::vector<vision::Face> faces;
      for (const auto& t : tracked) faces.push_back(t.face);
      vision::SortFaces(faces, selector_.order);
      const auto position = static_cast<std::size_t>(selector_.reference_face_position);
      if (position >= faces.size()) {
        return InvalidArgument("--reference-face-position " + std::to_string(position) + " but frame " +
                               std::to_string(frame.index) + " has " + std::to_string(faces.size()) +
                               " face(s)");
      }
      SWAPLINE_ASSIGN_OR_RETURN(reference_, Embed(frame, faces[position]));
    }
    if (!reference_) return chosen;
    const float max_distance = selector_.reference_face_distance.value_or(recognizer_->SameIdentityThreshold());
    for (const auto& t : tracked) {
      auto decision = same_person_.find(t.track_id);
      if (decision == same_person_.end()) {
        SWAPLINE_ASSIGN_OR_RETURN(vision::Embedding embedding, Embed(frame, t.face));
        decision = same_person_.emplace(t.track_id, recognizer_->Distance(embedding, *reference_) < max_distance).first;
      }
      if (decision->second) chosen.push_back(t.track_id);
    }
    return chosen;
  }

  // Each tracked face's glasses, by its track's vote; the votes of tracks that ended
  // are dropped.
  void DecideGlasses(const media::VideoFrame& frame, std::vector<vision::TrackedFace>& tracked) {
    const cv::Size size = frame.y.size();
    std::map<int, vision::GlassesVote> votes;
    for (vision::TrackedFace& t : tracked) {
      const cv::Rect roi = EvenRegion(vision::GlassesRegion(t.face.landmarks68, size), size);
      const bool found = roi.width >= 2 && roi.height >= 2 &&
                         vision::MeasureGlasses(RegionToBgr(frame, roi), Shifted(t.face, roi.tl()).landmarks68).found;
      vision::GlassesVote& vote = votes[t.track_id] = glasses_votes_[t.track_id];
      t.face.glasses = vote.Update(found);
    }
    glasses_votes_ = std::move(votes);
  }

  Result<vision::Embedding> Embed(const media::VideoFrame& frame, const vision::Face& face) {
    const cv::Size size = frame.y.size();
    // The recognizer's chip reaches a quarter of the face beyond the landmarks.
    const cv::Rect roi = EvenRegion(vision::FaceRegionOfInterest(face.landmarks68, size, 0.3f), size);
    return recognizer_->Embed(RegionToBgr(frame, roi), Shifted(face, roi.tl()));
  }

  vision::FaceTracker tracker_;
  int lookback_;
  std::vector<vision::TrackedFace> last_tracked_;  // the last frame's faces, as decided
  vision::FaceRecognizer* recognizer_;
  vision::FaceSelectorOptions selector_;
  std::int64_t reference_frame_number_;
  int chosen_track_ = -1;  // mode one
  std::optional<vision::Embedding> reference_;
  std::map<int, bool> same_person_;  // track id → matches the reference
  bool decide_glasses_;
  std::map<int, vision::GlassesVote> glasses_votes_;  // track id → its vote so far
  double track_ms_ = 0;
};

// Parallel: runs the processors (swapper, enhancer) on the selected faces, converting
// only their regions.
class SwapStage final : public FrameStage {
 public:
  SwapStage(std::shared_ptr<const vision::SwapSource> source, const ImageSwapEngine& engine,
            const vision::SwapperOptions& options, std::atomic<std::int64_t>& swapped,
            std::atomic<std::int64_t>& frames_with_faces, std::mutex& times_mutex, VideoStageTimes& times)
      : source_(std::move(source)), engine_(engine), options_(options), swapped_(swapped),
        frames_with_faces_(frames_with_faces), times_mutex_(times_mutex), times_(times) {}

  Status Open() override {
    SWAPLINE_ASSIGN_OR_RETURN(processors_, engine_.NewProcessors(options_));
    for (auto& processor : processors_) processor->SetSource(source_);
    return Status::Ok();
  }

  Status Close() override {
    std::lock_guard lock(times_mutex_);
    times_.swap.read_ms += swap_.read_ms;
    times_.swap.warp_ms += swap_.warp_ms;
    times_.swap.colour_ms += swap_.colour_ms;
    times_.swap.blend_ms += swap_.blend_ms;
    times_.swap.paste_ms += swap_.paste_ms;
    times_.swap.faces += swap_.faces;
    times_.swap.reused_geometries += swap_.reused_geometries;
    times_.swap.kept_glasses += swap_.kept_glasses;
    return Status::Ok();
  }

  Status Process(FrameWork& work) override {
    if (work.faces.empty()) return Status::Ok();
    media::VideoFrame& frame = work.frame;
    frame.MakeWritable();
    const cv::Size size = frame.y.size();
    const vision::RegionReader read = [&frame](const cv::Rect& roi, cv::Size scaled, int interpolation) {
      return ReadRegion(frame, roi, scaled, interpolation);
    };
    for (const vision::Face& face : work.faces) {
      bool processed = false;
      for (auto& processor : processors_) {  // each reads what the one before pasted
        const cv::Rect roi = EvenRegion(processor->Region(face, size), size);
        if (roi.width < 8 || roi.height < 8) continue;
        SWAPLINE_ASSIGN_OR_RETURN(vision::SwapPatch patch, processor->Render(face, size, roi, read, &swap_));
        const auto start = Clock::now();
        PastePatch(frame, patch);
        swap_.paste_ms += MsSince(start);
        processed = true;
      }
      if (processed) ++swapped_;
    }
    ++frames_with_faces_;
    return Status::Ok();
  }

 private:
  std::shared_ptr<const vision::SwapSource> source_;  // prepared once per job
  const ImageSwapEngine& engine_;
  const vision::SwapperOptions& options_;
  std::vector<std::unique_ptr<vision::FaceSwapper>> processors_;  // made in Open(), on the stage's thread
  std::atomic<std::int64_t>& swapped_;
  std::atomic<std::int64_t>& frames_with_faces_;
  std::mutex& times_mutex_;
  VideoStageTimes& times_;
  vision::SwapTimings swap_;
};

class WriterSink final : public FrameSink {
 public:
  explicit WriterSink(media::VideoWriter& writer) : writer_(writer) {}
  Status Write(const FrameWork& work) override {
    ++frames_;
    return writer_.Write(work.frame);
  }
  std::int64_t frames() const { return frames_; }

 private:
  media::VideoWriter& writer_;
  std::int64_t frames_ = 0;
};

}  // namespace

Status ValidateVideoJobSpec(const VideoJobSpec& spec) {
  if (spec.sources.empty()) return InvalidArgument("at least one source (-s) is needed");
  if (!(spec.face_detector_score >= 0.0f && spec.face_detector_score <= 1.0f)) {
    return InvalidArgument("--face-detector-score must be between 0 and 1");
  }
  if (spec.trim_frame_start < 0) return InvalidArgument("--trim-frame-start must be 0 or more");
  if (spec.trim_frame_end && *spec.trim_frame_end <= spec.trim_frame_start) {
    return InvalidArgument("--trim-frame-end must be greater than --trim-frame-start");
  }
  if (spec.output_video.quality < 0 || spec.output_video.quality > 100) {
    return InvalidArgument("--output-video-quality must be between 0 and 100");
  }
  if (spec.face_detector_interval < 1) return InvalidArgument("--face-detector-interval must be 1 or more");
  if (spec.execution_thread_count < 0 || spec.execution_thread_count > 64) {
    return InvalidArgument("--execution-thread-count must be between 1 and 64 (0: one per core)");
  }
  if (spec.reference_frame_number < 0) return InvalidArgument("--reference-frame-number must be 0 or more");
  return vision::ValidateSwapperOptions(spec.swapper);
}

Result<VideoJobReport> RunVideoJob(ImageSwapEngine& engine, const VideoJobSpec& spec,
                                   const std::function<void(const VideoProgress&)>& on_progress,
                                   const Cancellation* cancel) {
  SWAPLINE_RETURN_IF_ERROR(ValidateVideoJobSpec(spec));
  if (spec.selector.mode == vision::SelectorMode::kReference && engine.analyser().recognizer() == nullptr) {
    return vision::SelectFaces({}, {}, spec.selector, nullptr).status();  // names the missing model
  }
  const auto start = Clock::now();
  SWAPLINE_ASSIGN_OR_RETURN(std::vector<SourceFace> sources,
                            engine.ChooseSourceFaces(spec.sources, spec.face_detector_score, spec.max_source_pixels));
  SWAPLINE_ASSIGN_OR_RETURN(std::shared_ptr<const vision::SwapSource> source, PrepareSwapSource(sources));
  media::VideoReaderOptions reader_options;
  reader_options.trim_frame_start = spec.trim_frame_start;
  reader_options.trim_frame_end = spec.trim_frame_end;
  auto reader = media::VideoReader::Open(spec.target, reader_options);
  if (!reader.ok()) return reader.status().WithContext("target");
  const media::VideoInfo& info = (*reader)->info();

  media::VideoWriterOptions writer_options = spec.output_video;
  writer_options.synthetic_mark = media::SyntheticMark();
  writer_options.audio_source = spec.target;
  const double fps = info.frame_rate.value() > 0 ? info.frame_rate.value() : 30.0;
  writer_options.audio_start_us = static_cast<std::int64_t>(static_cast<double>(spec.trim_frame_start) * 1e6 / fps);
  if (spec.trim_frame_end) {
    writer_options.audio_end_us = static_cast<std::int64_t>(static_cast<double>(*spec.trim_frame_end) * 1e6 / fps);
  }
  SWAPLINE_ASSIGN_OR_RETURN(auto writer, media::VideoWriter::Create(spec.output, info, writer_options));

  vision::FaceTrackerOptions tracker_options;
  tracker_options.min_score = spec.face_detector_score;
  // New faces are followed back through the frames since the last detection, held
  // back unencoded for it, within a memory budget; detections are no further apart
  // than that reaches, so a face is swapped from the first frame it shows in.
  const double frame_bytes = 1.5 * std::max(1, info.width) * std::max(1, info.height);
  tracker_options.lookback = static_cast<int>(
      std::min<double>(spec.face_detector_interval - 1, std::floor(kMaxLookbackBytes / frame_bytes)));
  tracker_options.detect_interval = std::min(spec.face_detector_interval, tracker_options.lookback + 1);
  tracker_options.frame_rate = fps;
  tracker_options.smooth = spec.smooth_landmarks;
  TrackStage track_stage(engine.analyser(), tracker_options, spec.selector,
                         spec.reference_frame_number - spec.trim_frame_start, spec.swapper.keep_glasses);

  std::atomic<std::int64_t> swapped{0}, frames_with_faces{0};
  std::mutex times_mutex;
  VideoStageTimes times;
  const int workers = spec.execution_thread_count > 0
                          ? spec.execution_thread_count
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  FrameRunnerOptions runner_options;
  runner_options.workers = workers;
  runner_options.max_in_flight = 2 * workers + 4;
  std::int64_t total = std::max<std::int64_t>(0, info.frame_count - spec.trim_frame_start);
  if (spec.trim_frame_end) total = std::min(total, *spec.trim_frame_end - spec.trim_frame_start);
  auto last_report = Clock::now();
  runner_options.on_progress = [&](std::int64_t done) {
    const auto now = Clock::now();
    if (!on_progress || (now - last_report < std::chrono::seconds(1) && done != total)) return;
    last_report = now;
    VideoProgress progress;
    progress.frames_done = done;
    progress.frames_total = total;
    const double elapsed = std::chrono::duration<double>(now - start).count();
    progress.fps = elapsed > 0 ? static_cast<double>(done) / elapsed : 0;
    progress.eta_s = progress.fps > 0 && total > done ? static_cast<double>(total - done) / progress.fps : 0;
    on_progress(progress);
  };
  FrameRunner runner(runner_options);
  ReaderSource frame_source(**reader, cancel);
  WriterSink sink(*writer);
  SWAPLINE_RETURN_IF_ERROR(runner.Run(
      frame_source, &track_stage,
      [&] {
        return std::make_unique<SwapStage>(source, engine, spec.swapper, swapped, frames_with_faces, times_mutex,
                                           times);
      }, sink));
  SWAPLINE_RETURN_IF_ERROR(writer->Finish());

  VideoJobReport report;
  report.output = spec.output;
  report.source_used = sources.front().path;
  report.frames = sink.frames();
  report.frames_with_faces = frames_with_faces;
  report.swapped_faces = swapped;
  report.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  report.stages = times;
  report.stages.track_ms = track_stage.track_ms();
  return report;
}

}  // namespace swapline::pipeline
