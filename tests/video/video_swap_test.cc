// End-to-end tests of the video face swap (`swapline swap` on a video target), on the
// shared test videos (SWAPLINE_TESTDATA_DIR, read by path, never copied into the repo).
// The built executable (SWAPLINE_BINARY) runs in a child process with a timeout, its
// outputs in a temporary folder removed afterwards. Checks use the library itself:
// media::VideoReader to decode, bench::BareTranscode for a decode + encode with the same
// settings and no face work, vision::FaceAnalyser to find the faces; and ffprobe/ffmpeg
// for stream facts and audio packet hashes. The reader/writer on their own are tested
// in tests/media/video_test.cc.
//
// Measured values are printed as "[ video    ] ..." lines and recorded as test properties.

#include <poll.h>
#include <stdlib.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "bench/video_baseline.h"
#include "cli/cli_test_util.h"
#include "support/brought_models.h"
#include "support/landmark_distance.h"
#include "cli/exit_codes.h"
#include "media/image_codec.h"
#include "media/video.h"
#include "pipeline/image_job.h"
#include "vision/face.h"
#include "vision/face_analyser.h"
#include "vision/face_masker.h"
#include "vision/face_tracker.h"

namespace swapline {
namespace {

namespace fs = std::filesystem;
using swapline::testing::ListDir;
using swapline::testing::MeanLandmarkDistance;
using swapline::testing::Q;
using swapline::testing::Shell;
using swapline::testing::ReadFileBytes;
using swapline::testing::RunProcess;
using swapline::testing::RunResult;
using swapline::testing::TempDir;
using swapline::testing::WriteFileBytes;
using vision::Face;

const std::string kBinary = SWAPLINE_BINARY;
const fs::path kVideos = SWAPLINE_TESTDATA_DIR "/videos";
const fs::path kOneFace1080 = kVideos / "a_one_face_zoom_rotate_1920x1080_30fps_5s.mp4";    // speech audio
const fs::path kTwoFaces720 = kVideos / "b_two_faces_side_by_side_1280x720_30fps_3s.mp4";  // tone audio
const fs::path kNoFace360 = kVideos / "c_no_face_640x360_30fps_2s.mp4";                    // no audio
const fs::path kHopper = SWAPLINE_TESTDATA_DIR "/photos/grace_hopper_usn_portrait.jpg";

constexpr int kTimeoutS = 300;  // per swapline run; a hang fails instead of blocking ctest

// Frames with a face: a pixel counts as changed when its luma differs by more than
// this from the bare transcode's (below it: encoder noise spreading from the face).
constexpr int kChangedLuma = 12;
// Margin of the face's region of interest (of the outline's size) inside which the
// swap may change pixels; generous, the reference faces are found independently.
constexpr float kFaceMargin = 0.3f;
// Share of the pixels outside the face regions that may still change (encoder noise).
constexpr double kMaxOutsideChangedShare = 0.005;
// A face counts as swapped when the mean |luma difference| over its core exceeds this.
constexpr double kSwappedCoreDiff = 4.0;
// A face counts as untouched when the mean |luma difference| over its core is below this.
constexpr double kUntouchedCoreDiff = 1.5;

// ---- Processes and ffprobe. ----


// ffprobe's value(s) for `entries`, e.g. ("v:0", "stream=nb_frames").
std::string Probe(const fs::path& file, const std::string& streams, const std::string& entries) {
  std::string cmd = "ffprobe -v error ";
  if (!streams.empty()) cmd += "-select_streams " + streams + " ";
  cmd += "-show_entries " + entries + " -of default=noprint_wrappers=1:nokey=1 " + Q(file) + " 2>/dev/null";
  std::string out = Shell(cmd);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

double ProbeDouble(const fs::path& file, const std::string& streams, const std::string& entries) {
  const std::string s = Probe(file, streams, entries);
  if (s.empty() || s == "N/A") return -1.0;
  try {
    return std::stod(s);
  } catch (...) {
    return -1.0;
  }
}

// Every audio packet of the first audio stream as FFmpeg's framemd5 muxer lists it on
// a stream copy (dts, pts, duration, size, md5), plus the codec's extradata hash.
std::vector<std::string> AudioPacketLines(const fs::path& file) {
  std::vector<std::string> lines;
  std::istringstream in(Shell("ffmpeg -v error -i " + Q(file) + " -map 0:a:0 -c copy -f framemd5 - 2>/dev/null"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (line[0] == '#' && line.rfind("#extradata", 0) != 0) continue;
    lines.push_back(line);
  }
  return lines;
}

// ---- Frames. ----

// Decoded frames of `path`, and the error that ended reading early, if any.
struct Decoded {
  Status status;
  std::int64_t frames = 0;
};

// Calls `fn` with each pair of frames of `a` and `b`, in order, until either ends.
Decoded ForEachFramePair(const fs::path& a, const fs::path& b,
                         const std::function<void(const media::VideoFrame&, const media::VideoFrame&)>& fn,
                         std::int64_t* frames_b = nullptr) {
  Decoded result;
  auto ra = media::VideoReader::Open(a);
  auto rb = media::VideoReader::Open(b);
  if (!ra.ok()) return {ra.status(), 0};
  if (!rb.ok()) return {rb.status(), 0};
  media::VideoFrame fa, fb;
  std::int64_t nb = 0;
  for (;;) {
    auto ga = (*ra)->Read(fa);
    auto gb = (*rb)->Read(fb);
    if (!ga.ok()) return {ga.status(), result.frames};
    if (!gb.ok()) return {gb.status(), result.frames};
    if (*gb) ++nb;
    if (!*ga || !*gb) {
      // Count the rest of b, so callers see both lengths.
      while (*gb) {
        gb = (*rb)->Read(fb);
        if (!gb.ok()) break;
        if (*gb) ++nb;
      }
      if (frames_b != nullptr) *frames_b = nb;
      return result;
    }
    fn(fa, fb);
    ++result.frames;
  }
}

// Calls `fn` with each frame of `path`.
Decoded ForEachFrame(const fs::path& path, const std::function<void(const media::VideoFrame&)>& fn,
                     const media::VideoReaderOptions& options = {}) {
  Decoded result;
  auto reader = media::VideoReader::Open(path, options);
  if (!reader.ok()) return {reader.status(), 0};
  media::VideoFrame frame;
  for (;;) {
    auto got = (*reader)->Read(frame);
    if (!got.ok()) return {got.status(), result.frames};
    if (!*got) return result;
    if (fn) fn(frame);
    ++result.frames;
  }
}

// PSNR over the three planes together (each sample weighs the same).
double FramePsnr(const media::VideoFrame& a, const media::VideoFrame& b) {
  const double sq = cv::norm(a.y, b.y, cv::NORM_L2SQR) + cv::norm(a.u, b.u, cv::NORM_L2SQR) +
                    cv::norm(a.v, b.v, cv::NORM_L2SQR);
  const double n = static_cast<double>(a.y.total() + a.u.total() + a.v.total());
  const double mse = sq / n;
  return mse <= 1e-12 ? 100.0 : 10.0 * std::log10(255.0 * 255.0 / mse);
}

// The writer options `swapline swap` uses by default (CLI defaults, mark, audio of the target).
media::VideoWriterOptions CliDefaultWriterOptions(const fs::path& target) {
  media::VideoWriterOptions options;
  options.encoder = "libx264";
  options.quality = 80;
  options.preset = "veryfast";
  options.synthetic_mark = media::SyntheticMark();
  options.audio_source = target;
  return options;
}

// ---- Faces. ----

// The core of a face: bounding box of its brows, eyes, nose and mouth (landmarks 17-67),
// well inside what the swap replaces.
cv::Rect FaceCore(const Face& face, cv::Size size) {
  std::vector<cv::Point2f> points(face.landmarks68.begin() + 17, face.landmarks68.end());
  return cv::boundingRect(points) & cv::Rect(0, 0, size.width, size.height);
}

double MeanAbsDiff(const cv::Mat& a, const cv::Mat& b, const cv::Rect& roi) {
  if (roi.area() <= 0) return 0;
  cv::Mat diff;
  cv::absdiff(a(roi), b(roi), diff);
  return cv::mean(diff)[0];
}

// Landmarks of the single face of each frame (nullopt: none or several found).
struct Trajectory {
  std::vector<std::optional<vision::Landmarks68>> frames;
  double mean_face_width = 0;
};

// Frame-to-frame landmark motion of a trajectory: `raw` is the mean displacement of the
// 68 landmarks between consecutive frames; `residual` the mean distance of each
// landmark from its 5-frame centred moving average (motion that a smooth trajectory
// does not explain: jitter). Pixels; pairs/windows with a missing frame are skipped.
struct Motion {
  double raw = 0;
  double residual = 0;
  int pairs = 0;
  int windows = 0;
};

Motion MeasureMotion(const Trajectory& t) {
  Motion m;
  const auto& f = t.frames;
  for (std::size_t i = 1; i < f.size(); ++i) {
    if (!f[i] || !f[i - 1]) continue;
    m.raw += MeanLandmarkDistance(*f[i], *f[i - 1]);
    ++m.pairs;
  }
  for (std::size_t i = 2; i + 2 < f.size(); ++i) {
    bool all = true;
    for (std::size_t k = i - 2; k <= i + 2; ++k) all = all && f[k].has_value();
    if (!all) continue;
    double sum = 0;
    for (int p = 0; p < 68; ++p) {
      cv::Point2f mean(0, 0);
      for (std::size_t k = i - 2; k <= i + 2; ++k) mean += (*f[k])[p] * 0.2f;
      sum += cv::norm((*f[i])[p] - mean);
    }
    m.residual += sum / 68.0;
    ++m.windows;
  }
  if (m.pairs > 0) m.raw /= m.pairs;
  if (m.windows > 0) m.residual /= m.windows;
  return m;
}

// How much a face slides over the head it was swapped onto: the mean frame-to-frame
// change of the offset of each of `face`'s landmarks from the same landmark of `head`
// (both re-detected, so each adds its landmarker's noise). Pixels; pairs with a frame
// missing from either are skipped.
double Swim(const Trajectory& face, const Trajectory& head) {
  double sum = 0;
  int pairs = 0;
  for (std::size_t i = 1; i < face.frames.size() && i < head.frames.size(); ++i) {
    if (!face.frames[i] || !face.frames[i - 1] || !head.frames[i] || !head.frames[i - 1]) continue;
    double frame = 0;
    for (int p = 0; p < 68; ++p) {
      const cv::Point2f now = (*face.frames[i])[p] - (*head.frames[i])[p];
      const cv::Point2f before = (*face.frames[i - 1])[p] - (*head.frames[i - 1])[p];
      frame += cv::norm(now - before);
    }
    sum += frame / 68.0;
    ++pairs;
  }
  return pairs > 0 ? sum / pairs : 0;
}

// ---- Watching folders. ----

// Records every name created in or moved into the watched folders while it lives.
class FolderWatch {
 public:
  explicit FolderWatch(const std::vector<fs::path>& folders) {
    fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd_ < 0) return;
    for (const fs::path& folder : folders) {
      const int wd = ::inotify_add_watch(fd_, folder.c_str(), IN_CREATE | IN_MOVED_TO);
      if (wd >= 0) watches_.emplace_back(wd, folder);
    }
    thread_ = std::thread([this] { Loop(); });
  }
  ~FolderWatch() { Stop(); }

  bool ok() const { return fd_ >= 0 && !watches_.empty(); }

  // Stops watching; every path that appeared, in order.
  std::vector<fs::path> Stop() {
    if (thread_.joinable()) {
      stop_ = true;
      thread_.join();
      Drain();
    }
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
    return seen_;
  }

 private:
  void Loop() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) > 0) Drain();
    }
  }

  void Drain() {
    alignas(inotify_event) char buf[16384];
    for (;;) {
      const ssize_t n = ::read(fd_, buf, sizeof(buf));
      if (n <= 0) return;
      for (ssize_t at = 0; at < n;) {
        const auto* event = reinterpret_cast<const inotify_event*>(buf + at);
        if (event->len > 0) {
          for (const auto& [wd, folder] : watches_) {
            if (wd == event->wd) seen_.push_back(folder / event->name);
          }
        }
        at += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
      }
    }
  }

  int fd_ = -1;
  std::vector<std::pair<int, fs::path>> watches_;
  std::vector<fs::path> seen_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Sets an environment variable for the scope (children started meanwhile inherit it).
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = ::getenv(name)) old_ = old;
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

void Report(const std::string& line) { std::cout << "[ video    ] " << line << std::endl; }

// ---- Fixture. ----

class VideoSwapTest : public ::testing::Test {
 protected:
  static void TearDownTestSuite() {
    delete analyser_;
    analyser_ = nullptr;
    cache_.clear();
    delete shared_;
    shared_ = nullptr;
  }

  void SetUp() override {
    ASSERT_TRUE(fs::is_regular_file(kBinary)) << kBinary;
    for (const fs::path& video : {kOneFace1080, kTwoFaces720, kNoFace360, kHopper}) {
      ASSERT_TRUE(fs::is_regular_file(video)) << video;
    }
    dir_ = std::make_unique<TempDir>("swapline_video_test");
    out_dir_ = dir_->Sub("out");
    work_ = dir_->Sub("work");
  }

  RunResult Swapline(const std::vector<std::string>& args, TempDir* logs_in = nullptr) {
    TempDir& logs_dir = logs_in != nullptr ? *logs_in : *dir_;
    const fs::path logs = logs_dir.path() / ("logs" + std::to_string(runs_++));
    RunResult r = RunProcess(kBinary, args, logs, kTimeoutS);
    EXPECT_FALSE(r.timed_out) << "swapline ran over " << kTimeoutS << " s: " << ::testing::PrintToString(args);
    return r;
  }

  // `swapline swap -s Hopper -t target -o output extra...`
  RunResult Swap(const fs::path& target, const fs::path& output, const std::vector<std::string>& extra = {},
                 TempDir* logs_in = nullptr) {
    std::vector<std::string> args = {"swap", "-s", kHopper.string(), "-t", target.string(), "-o", output.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return Swapline(args, logs_in);
  }

  // `swapline swap -s Hopper -t target -o <name> extra...`, run once per process and
  // kept until the suite ends (tests under ctest each run in their own process, so
  // there each makes its own). Fails the calling test when the run failed.
  const fs::path& CachedSwap(const std::string& name, const fs::path& target,
                             const std::vector<std::string>& extra = {}) {
    if (shared_ == nullptr) shared_ = new TempDir("swapline_video_shared");
    auto it = cache_.find(name);
    if (it == cache_.end()) {
      const fs::path folder = shared_->Sub("out_" + name);  // one output per folder
      const fs::path output = folder / name;
      const RunResult r = Swap(target, output, extra, shared_);
      Report(name + ": " + target.filename().string() + " swapped by the CLI " + ::testing::PrintToString(extra) +
             " in " + std::to_string(r.seconds) + " s, exit " + std::to_string(r.exit_code));
      it = cache_.emplace(name, std::make_pair(output, r)).first;
    }
    const RunResult& r = it->second.second;
    EXPECT_EQ(r.exit_code, cli::kExitOk) << r.err;
    EXPECT_EQ(r.out, it->second.first.string() + "\n");
    return it->second.first;
  }

  // The one-face clip swapped with the CLI's defaults.
  const fs::path& SwappedOneFace() { return CachedSwap("one_face.mp4", kOneFace1080); }

  // A bare decode + encode of `input` at the CLI's default settings, in this test's folder.
  fs::path BareTranscodeOf(const fs::path& input) {
    const fs::path output = work_ / ("bare_" + input.filename().string());
    if (!fs::exists(output)) {
      auto stats = bench::BareTranscode(input, output, CliDefaultWriterOptions(input));
      EXPECT_TRUE(stats.ok()) << stats.status().ToString();
    }
    return output;
  }

  static vision::FaceAnalyser* Analyser() {
    if (analyser_ == nullptr) {
      auto analyser = vision::FaceAnalyser::CreateDefault(pipeline::kVideoDetectSide);
      EXPECT_TRUE(analyser.ok()) << analyser.status().ToString();
      if (!analyser.ok()) return nullptr;
      analyser_ = new vision::FaceAnalyser(std::move(analyser).value());
    }
    return analyser_;
  }

  // Faces of one frame, detected on its luma at the video detection scale.
  static std::vector<Face> Analyse(const cv::Mat& luma) {
    vision::FaceAnalyser* analyser = Analyser();
    if (analyser == nullptr) return {};
    auto faces = analyser->Analyse(luma, 0.5f, false);
    EXPECT_TRUE(faces.ok()) << faces.status().ToString();
    return faces.ok() ? *faces : std::vector<Face>{};
  }

  // Landmarks of the single face of every frame, each frame analysed on its own.
  static Trajectory TrajectoryOf(const fs::path& video) {
    Trajectory t;
    int widths = 0;
    const Decoded d = ForEachFrame(video, [&](const media::VideoFrame& frame) {
      const std::vector<Face> faces = Analyse(frame.y);
      if (faces.size() == 1) {
        t.frames.emplace_back(faces.front().landmarks68);
        t.mean_face_width += vision::FaceWidth(faces.front().landmarks68);
        ++widths;
      } else {
        t.frames.emplace_back(std::nullopt);
      }
    });
    EXPECT_TRUE(d.status.ok()) << video << ": " << d.status.ToString();
    if (widths > 0) t.mean_face_width /= widths;
    return t;
  }

  static vision::FaceAnalyser* analyser_;
  static TempDir* shared_;
  static std::map<std::string, std::pair<fs::path, RunResult>> cache_;
  std::unique_ptr<TempDir> dir_;
  fs::path out_dir_;
  fs::path work_;
  int runs_ = 0;
};

vision::FaceAnalyser* VideoSwapTest::analyser_ = nullptr;
TempDir* VideoSwapTest::shared_ = nullptr;
std::map<std::string, std::pair<fs::path, RunResult>> VideoSwapTest::cache_;

// ---- Frames, timing, resolution, mark, audio. ----

TEST_F(VideoSwapTest, KeepsFrameCountDurationResolutionRateMarkAndAudio) {
  const fs::path& output = SwappedOneFace();
  ASSERT_TRUE(fs::is_regular_file(output));
  EXPECT_EQ(ListDir(output.parent_path()), std::vector<std::string>{"one_face.mp4"}) << "stray files beside the output";

  // Frame count: the header's and the decoded one, both the input's.
  const std::string in_frames = Probe(kOneFace1080, "v:0", "stream=nb_frames");
  ASSERT_EQ(in_frames, "150");
  EXPECT_EQ(Probe(output, "v:0", "stream=nb_frames"), in_frames);
  const Decoded decoded = ForEachFrame(output, {});
  ASSERT_TRUE(decoded.status.ok()) << decoded.status.ToString();
  EXPECT_EQ(decoded.frames, 150);

  // Duration within one frame; resolution, rate and codec.
  const double in_duration = ProbeDouble(kOneFace1080, "v:0", "stream=duration");
  const double out_duration = ProbeDouble(output, "v:0", "stream=duration");
  EXPECT_NEAR(out_duration, in_duration, 1.0 / 30) << "video stream duration";
  EXPECT_NEAR(ProbeDouble(output, "", "format=duration"), ProbeDouble(kOneFace1080, "", "format=duration"), 1.0 / 30);
  EXPECT_EQ(Probe(output, "v:0", "stream=width"), "1920");
  EXPECT_EQ(Probe(output, "v:0", "stream=height"), "1080");
  EXPECT_EQ(Probe(output, "v:0", "stream=avg_frame_rate"), Probe(kOneFace1080, "v:0", "stream=avg_frame_rate"));
  EXPECT_EQ(Probe(output, "v:0", "stream=r_frame_rate"), "30/1");
  EXPECT_EQ(Probe(output, "v:0", "stream=codec_name"), "h264");
  EXPECT_EQ(Probe(output, "v:0", "stream=pix_fmt"), "yuv420p");

  // The synthetic-media mark, in the container's comment tag.
  EXPECT_EQ(Probe(output, "", "format_tags=comment"), media::SyntheticMark());

  // Audio copied packet for packet: timestamps, sizes and hashes all the input's.
  const std::vector<std::string> in_audio = AudioPacketLines(kOneFace1080);
  ASSERT_GT(in_audio.size(), 200u) << "the input has speech audio";
  const std::vector<std::string> out_audio = AudioPacketLines(output);
  EXPECT_EQ(out_audio.size(), in_audio.size());
  EXPECT_TRUE(out_audio == in_audio) << "audio packets differ from the input's";
  EXPECT_EQ(Probe(output, "a:0", "stream=codec_name"), "aac");
  EXPECT_NEAR(ProbeDouble(output, "a:0", "stream=duration"), ProbeDouble(kOneFace1080, "a:0", "stream=duration"),
              0.001);
  Report("one-face clip: " + std::to_string(decoded.frames) + " frames, video " + std::to_string(out_duration) +
         " s (input " + std::to_string(in_duration) + " s), " + std::to_string(out_audio.size()) +
         " audio packet lines identical: " + (out_audio == in_audio ? "yes" : "no"));
}

TEST_F(VideoSwapTest, TrimmedRangeKeepsSixtyFramesAndAudioOfTheSameLength) {
  const fs::path output = out_dir_ / "trimmed.mp4";
  const RunResult r = Swap(kOneFace1080, output, {"--trim-frame-start", "30", "--trim-frame-end", "90"});
  ASSERT_EQ(r.exit_code, cli::kExitOk) << r.err;
  EXPECT_EQ(r.out, output.string() + "\n");
  EXPECT_EQ(ListDir(out_dir_), std::vector<std::string>{"trimmed.mp4"});

  EXPECT_EQ(Probe(output, "v:0", "stream=nb_frames"), "60");
  const Decoded decoded = ForEachFrame(output, {});
  ASSERT_TRUE(decoded.status.ok()) << decoded.status.ToString();
  EXPECT_EQ(decoded.frames, 60);
  EXPECT_EQ(Probe(output, "v:0", "stream=width"), "1920");
  EXPECT_EQ(Probe(output, "v:0", "stream=height"), "1080");
  EXPECT_EQ(Probe(output, "v:0", "stream=avg_frame_rate"), "30/1");
  EXPECT_EQ(Probe(output, "", "format_tags=comment"), media::SyntheticMark());

  const double video = ProbeDouble(output, "v:0", "stream=duration");
  const double audio = ProbeDouble(output, "a:0", "stream=duration");
  EXPECT_NEAR(video, 2.0, 1.0 / 30);
  EXPECT_NEAR(audio, video, 0.050) << "audio trimmed with the video";
  EXPECT_EQ(Probe(output, "a:0", "stream=codec_name"), "aac");
  Report("trimmed 30..90: " + std::to_string(decoded.frames) + " frames, video " + std::to_string(video) +
         " s, audio " + std::to_string(audio) + " s, |audio - video| " + std::to_string(std::abs(audio - video) * 1000) +
         " ms");
  RecordProperty("trim_audio_minus_video_ms", std::to_string((audio - video) * 1000));
}

TEST_F(VideoSwapTest, DetectorAnglesTrackAFaceLyingOnItsSide) {
  // The first second of the one-face clip turned a quarter anticlockwise: HOG alone
  // finds no upright face; with the angles every frame's face is found and followed.
  const fs::path turned = out_dir_ / "on_its_side.mp4";
  int rc = 0;
  Shell("ffmpeg -v error -y -i " + Q(kOneFace1080) + " -t 1 -vf transpose=2 -an " + Q(turned) + " 2>&1", &rc);
  ASSERT_EQ(rc, 0);
  const fs::path plain = out_dir_ / "plain.mp4";
  const RunResult without = Swap(turned, plain, {"--output-video-preset", "ultrafast"});
  ASSERT_EQ(without.exit_code, cli::kExitOk) << without.err;
  EXPECT_NE(without.err.find("swapped 0 face(s) in 0 of 30 frame(s)"), std::string::npos) << without.err;
  const fs::path output = out_dir_ / "angles.mp4";
  const RunResult r = Swap(turned, output, {"--output-video-preset", "ultrafast", "--face-detector-angles", "0", "90"});
  ASSERT_EQ(r.exit_code, cli::kExitOk) << r.err;
  EXPECT_NE(r.err.find("swapped 30 face(s) in 30 of 30 frame(s)"), std::string::npos) << r.err;
}

TEST_F(VideoSwapTest, TrackedFacesKeepTheirScaleWhileTheClipMovesThemWithoutScaling) {
  // The two-face clip slides both photos around without scaling them, so each face's
  // width is the same in every frame. The landmarker's eye corners slide onto the left
  // face's glasses frame in some frames (a fit in its detection box alone then reads
  // it 40 % wider); each fit in a box made from the last one grew that face by half
  // in six frames, until the tracker re-anchored its box on a detection.
  vision::FaceAnalyser* analyser = Analyser();
  ASSERT_NE(analyser, nullptr);
  vision::FaceTrackerOptions options;
  options.frame_rate = 30;
  vision::FaceTracker tracker(analyser->detector(), analyser->landmarker(), options);
  std::map<int, std::vector<double>> widths;  // track id → width per frame
  const Decoded d = ForEachFrame(kTwoFaces720, [&](const media::VideoFrame& frame) {
    auto tracked = tracker.Track(frame.y);
    ASSERT_TRUE(tracked.ok()) << tracked.status().ToString();
    for (const vision::TrackedFace& t : *tracked) widths[t.track_id].push_back(vision::FaceWidth(t.face.landmarks68));
  });
  ASSERT_TRUE(d.status.ok()) << d.status.ToString();
  ASSERT_EQ(widths.size(), 2u) << "two faces, each followed by one track";
  for (const auto& [id, track] : widths) {
    EXPECT_EQ(track.size(), 90u) << "track " << id;
    std::vector<double> sorted = track;
    std::sort(sorted.begin(), sorted.end());
    const double median = sorted[sorted.size() / 2];
    const double worst = std::max(sorted.back() / median, median / sorted.front());
    Report("two-face clip, track " + std::to_string(id) + ": median width " + std::to_string(median) +
           " px, widest/narrowest frame against it " + std::to_string(worst) + "x");
    EXPECT_LT(worst, 1.2) << "track " << id;
  }
}

TEST_F(VideoSwapTest, KeptGlassesStayOnInEveryFrameOfTheTrackWearingThem) {
  // The left face of the two-face clip wears glasses; in eight of its 90 frames a
  // lower rim does not show on its own, and glasses decided per frame came and went.
  const fs::path output = out_dir_ / "glasses.mp4";
  const RunResult r = Swap(kTwoFaces720, output, {"--output-video-preset", "ultrafast", "--face-swapper-keep-glasses"});
  ASSERT_EQ(r.exit_code, cli::kExitOk) << r.err;
  EXPECT_NE(r.err.find("swapped 180 face(s) in 90 of 90 frame(s)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("kept the target's glasses on 90 of 180 swapped face(s)"), std::string::npos) << r.err;
}

TEST_F(VideoSwapTest, InswapperEnhancerAndLearnedMasksProcessEveryTrackedFaceOfTheTwoFaceClip) {
  // The neural swapper and the enhancer in the one-pass pipeline, one after the other
  // on each face: one model each, shared by the swap threads. Their stand-ins
  // (support/synthetic_models.py) add the source latent to the face and negate it.
  // Both run under the box, occlusion and region masks (XSeg and BiSeNet stand-ins).
  const fs::path models = dir_->Sub("models");
  const fs::path manifest = dir_->Sub("manifests") / "inswapper.json";
  ASSERT_EQ(swapline::testing::PullBrought(
                kBinary, manifest,
                swapline::testing::BroughtManifest(
                    {{"inswapper_128", "swapper", "inswapper_128.onnx", "inswapper"},
                     {"arcface_w600k_r50", "recognizer", "arcface_w600k_r50.onnx", "arcface"},
                     {"gfpgan_1.4", "enhancer", "gfpgan_1.4.onnx", "gfpgan"},
                     {"xseg_1", "masker", "xseg_1.onnx", "xseg"},
                     {"bisenet_resnet_34", "masker", "bisenet_resnet_34.onnx", "bisenet"}}),
                models, dir_->Sub("pull_logs")),
            0);
  const fs::path output = out_dir_ / "inswapper.mp4";
  const RunResult r = Swap(kTwoFaces720, output,
                           {"--trim-frame-end", "30", "--output-video-preset", "ultrafast", "--face-swapper-model",
                            "inswapper_128", "--models-dir", models.string(), "--models-manifest", manifest.string(),
                            "--accept-license", "inswapper_128", "--accept-license", "arcface_w600k_r50",
                            "--accept-license", "gfpgan_1.4", "--processors", "face_swapper", "face_enhancer",
                            "--face-mask-types", "box", "occlusion", "region", "--accept-license", "xseg_1",
                            "--accept-license", "bisenet_resnet_34"});
  ASSERT_EQ(r.exit_code, cli::kExitOk) << r.err;
  EXPECT_NE(r.err.find("swapped 60 face(s) in 30 of 30 frame(s)"), std::string::npos) << r.err;
}

// ---- What changes. ----

TEST_F(VideoSwapTest, NoFaceClipIsTheBareTranscode) {
  const fs::path output = out_dir_ / "no_face.mp4";
  const RunResult r = Swap(kNoFace360, output);
  ASSERT_EQ(r.exit_code, cli::kExitOk) << r.err;
  EXPECT_EQ(ListDir(out_dir_), std::vector<std::string>{"no_face.mp4"});
  EXPECT_EQ(Probe(output, "", "stream=codec_type"), "video") << "the input has no audio, nor must the output";
  EXPECT_EQ(Probe(output, "", "format_tags=comment"), media::SyntheticMark());
  const fs::path bare = BareTranscodeOf(kNoFace360);

  double min_psnr = 1000, sum_psnr = 0;
  int identical = 0;
  std::int64_t bare_frames = 0;
  const Decoded d = ForEachFramePair(
      output, bare,
      [&](const media::VideoFrame& a, const media::VideoFrame& b) {
        const double psnr = FramePsnr(a, b);
        min_psnr = std::min(min_psnr, psnr);
        sum_psnr += psnr;
        if (psnr >= 100.0) ++identical;
      },
      &bare_frames);
  ASSERT_TRUE(d.status.ok()) << d.status.ToString();
  EXPECT_EQ(d.frames, 60);
  EXPECT_EQ(bare_frames, 60);
  Report("no-face clip vs bare transcode: " + std::to_string(d.frames) + " frames, PSNR min " +
         std::to_string(min_psnr) + " dB, mean " + std::to_string(sum_psnr / std::max<std::int64_t>(1, d.frames)) +
         " dB (100 = identical), identical frames " + std::to_string(identical));
  RecordProperty("no_face_min_psnr_db", std::to_string(min_psnr));
  EXPECT_GE(min_psnr, 45.0);
}

TEST_F(VideoSwapTest, FramesWithAFaceChangeOnlyInsideTheFace) {
  const fs::path& output = SwappedOneFace();
  ASSERT_TRUE(fs::is_regular_file(output));
  const fs::path bare = BareTranscodeOf(kOneFace1080);

  double outside_changed = 0, outside_total = 0, worst_frame_share = 0;
  std::int64_t worst_frame = -1, frames_with_face = 0, frames_swapped = 0, frames_without_face = 0;
  double min_core_diff = 1e9;
  std::int64_t index = 0;
  const Decoded d = ForEachFramePair(output, bare, [&](const media::VideoFrame& out, const media::VideoFrame& ref) {
    const cv::Size size = ref.y.size();
    const std::vector<Face> faces = Analyse(ref.y);
    cv::Mat inside = cv::Mat::zeros(size, CV_8U);
    for (const Face& face : faces) inside(vision::FaceRegionOfInterest(face.landmarks68, size, kFaceMargin)).setTo(255);
    cv::Mat diff;
    cv::absdiff(out.y, ref.y, diff);
    const cv::Mat changed = diff > kChangedLuma;
    const cv::Mat outside = inside == 0;
    const double n_out = cv::countNonZero(outside);
    const double n_changed_out = cv::countNonZero(changed & outside);
    outside_changed += n_changed_out;
    outside_total += n_out;
    const double share = n_out > 0 ? n_changed_out / n_out : 0;
    if (share > worst_frame_share) {
      worst_frame_share = share;
      worst_frame = index;
    }
    if (faces.empty()) {
      ++frames_without_face;
    } else {
      ++frames_with_face;
      const double core = MeanAbsDiff(out.y, ref.y, FaceCore(faces.front(), size));
      min_core_diff = std::min(min_core_diff, core);
      if (core > kSwappedCoreDiff) ++frames_swapped;
    }
    ++index;
  });
  ASSERT_TRUE(d.status.ok()) << d.status.ToString();
  EXPECT_EQ(d.frames, 150);
  const double share = outside_total > 0 ? outside_changed / outside_total : 1.0;
  Report("one-face clip vs bare transcode: " + std::to_string(frames_with_face) + " frames with a face detected, " +
         std::to_string(frames_without_face) + " without; face swapped (core mean |dY| > " +
         std::to_string(kSwappedCoreDiff) + ") in " + std::to_string(frames_swapped) + ", min core |dY| " +
         std::to_string(min_core_diff) + "; |dY| > " + std::to_string(kChangedLuma) + " outside the faces (ROI margin " +
         std::to_string(kFaceMargin) + "): " + std::to_string(100.0 * share) + " % of outside pixels overall, worst frame " +
         std::to_string(worst_frame) + " at " + std::to_string(100.0 * worst_frame_share) + " %");
  RecordProperty("outside_changed_percent", std::to_string(100.0 * share));
  RecordProperty("worst_frame_outside_changed_percent", std::to_string(100.0 * worst_frame_share));
  EXPECT_GE(frames_with_face, 140) << "the reference detector should find the face in nearly every frame";
  EXPECT_GE(frames_swapped, frames_with_face * 95 / 100) << "the face must be swapped in (nearly) every frame";
  EXPECT_LT(share, kMaxOutsideChangedShare) << "pixels changed outside the face regions";
  EXPECT_LT(worst_frame_share, 4 * kMaxOutsideChangedShare) << "frame " << worst_frame;
}

// A face that appears beside one already tracked is swapped from the frame it appears
// in, though the whole frame is searched only at frames 0 and 30 (the default
// --face-detector-interval 30) and, at the end, 39: the frames wait, unencoded, for
// the search that finds it, and it is followed back into them. Before the look-back it
// was swapped from the search on, up to 29 frames late (23 for a face from frame 7),
// and a face appearing after the last search not at all.
TEST_F(VideoSwapTest, AFaceAppearingBetweenSearchesIsSwappedFromItsFirstFrame) {
  const fs::path photos = SWAPLINE_TESTDATA_DIR "/photos";
  const std::string half =
      "scale=640:720:force_original_aspect_ratio=decrease,pad=640:720:(ow-iw)/2:(oh-ih)/2,setsar=1";
  for (const int appears : {7, 33}) {
    const std::string name = "face_from_" + std::to_string(appears) + ".mp4";
    const fs::path target = work_ / name;
    int rc = -1;
    const std::string err = Shell(
        "ffmpeg -hide_banner -v error -y -loop 1 -framerate 30 -i " + Q(photos / "abraham_lincoln_gardner_1863.jpg") +
            " -loop 1 -framerate 30 -i " + Q(photos / "noface_coffee.png") + " -loop 1 -framerate 30 -i " +
            Q(photos / "eileen_collins_nasa_portrait.png") + " -filter_complex \"[0:v]" + half + "[left];[1:v]" +
            half + "[cup];[2:v]" + half + "[face];[cup][face]overlay=enable='gte(n," + std::to_string(appears) +
            ")'[right];[left][right]hstack,format=yuv420p[v]\" -map '[v]' -frames:v 40 -c:v libx264 "
            "-preset ultrafast -crf 16 " + Q(target) + " 2>&1",
        &rc);
    ASSERT_EQ(rc, 0) << err;
    const fs::path output = out_dir_ / name;
    const RunResult r = Swap(target, output);
    ASSERT_EQ(r.exit_code, cli::kExitOk) << r.err;
    int index = 0, swapped = 0;
    const Decoded d = ForEachFramePair(BareTranscodeOf(target), output, [&](const media::VideoFrame& ref,
                                                                              const media::VideoFrame& out) {
      const cv::Rect right(640, 0, 640, 720);
      std::vector<Face> faces = Analyse(ref.y);
      const auto on_right = std::partition(faces.begin(), faces.end(), [](const Face& f) { return f.box.x < 640; });
      EXPECT_EQ(on_right - faces.begin(), 1) << "frame " << index << ": one face on the left";
      EXPECT_EQ(faces.end() - on_right, index < appears ? 0 : 1) << "frame " << index << " on the right";
      for (auto face = faces.begin(); face != faces.end(); ++face) {
        const double core = MeanAbsDiff(out.y, ref.y, FaceCore(*face, ref.y.size()));
        EXPECT_GT(core, kSwappedCoreDiff) << "frame " << index << " shows a face unswapped";
        if (face >= on_right && core > kSwappedCoreDiff) ++swapped;
      }
      if (index < appears) {
        EXPECT_LT(MeanAbsDiff(out.y, ref.y, right), kUntouchedCoreDiff) << "frame " << index;
      }
      ++index;
    });
    ASSERT_TRUE(d.status.ok()) << d.status.ToString();
    EXPECT_EQ(d.frames, 40);
    Report("a face appearing at frame " + std::to_string(appears) + " of 40 beside another: swapped in " +
           std::to_string(swapped) + " of its " + std::to_string(40 - appears) + " frames");
  }
}

// ---- Temporal stability. ----

// The one-face clip made again from the same photo with the same moves (zoom, turn,
// drift: ../shared/testdata/make-videos.sh, clip (a)), after swapping the face into
// the photo once: a swap that adds no jitter of its own, moved exactly as the input.
// Landmarks re-detected on it carry only the landmarker's noise on the swapped face.
fs::path StillSwapMovedLikeTheOneFaceClip(const fs::path& still, const fs::path& output) {
  const std::string moves =
      "[0:v]scale=1920:1080:force_original_aspect_ratio=increase,crop=1920:1080,boxblur=40:4,eq=brightness=-0.15,"
      "format=yuv420p[bg];"
      "[1:v]zoompan=z='1+0.25*on/150':x='iw/2-iw/zoom/2':y='ih/2.6-ih/zoom/2.6':d=1:s=720x720:fps=30,format=rgba,"
      "pad=iw+160:ih+160:80:80:color=black@0,rotate=a='0.15*sin(2*PI*t/5)':c=none[fg];"
      "[bg][fg]overlay=x='(W-w)/2+420*sin(2*PI*t/5)':y='(H-h)/2+90*sin(4*PI*t/5)':shortest=1,format=yuv420p,"
      "setsar=1[vout]";
  int rc = -1;
  const std::string err = Shell("ffmpeg -hide_banner -v error -y -loop 1 -framerate 30 -t 5 -i " + Q(still) +
                                " -loop 1 -framerate 30 -t 5 -i " + Q(still) + " -filter_complex \"" + moves +
                                "\" -map '[vout]' -r 30 -frames:v 150 -c:v libx264 -preset medium -crf 20 "
                                "-pix_fmt yuv420p " + Q(output) + " 2>&1", &rc);
  EXPECT_EQ(rc, 0) << err;
  return output;
}

TEST_F(VideoSwapTest, SwappedFaceJittersNoMoreThanTheSameSwapMovedAsTheTarget) {
  const fs::path& output = SwappedOneFace();
  ASSERT_TRUE(fs::is_regular_file(output));
  // The reference: the clip's photo swapped once by the CLI, then moved as the clip.
  const fs::path still = work_ / "still.png";
  const RunResult swapped = Swap(SWAPLINE_TESTDATA_DIR "/photos/eileen_collins_nasa_portrait.png", still);
  ASSERT_EQ(swapped.exit_code, cli::kExitOk) << swapped.err;
  const fs::path moved = StillSwapMovedLikeTheOneFaceClip(still, work_ / "still_moved.mp4");

  const Trajectory in = TrajectoryOf(kOneFace1080);
  const Trajectory out = TrajectoryOf(output);
  const Trajectory ref = TrajectoryOf(moved);
  ASSERT_EQ(in.frames.size(), 150u);
  ASSERT_EQ(out.frames.size(), 150u);
  ASSERT_EQ(ref.frames.size(), 150u);
  const Motion mi = MeasureMotion(in);
  const Motion mo = MeasureMotion(out);
  const Motion mr = MeasureMotion(ref);
  const double swim = Swim(out, in), swim_ref = Swim(ref, in);
  std::ostringstream line;
  line << "jitter (landmarks re-detected in every frame, detect side " << pipeline::kVideoDetectSide
       << "): raw mean frame-to-frame displacement input " << mi.raw << " px, output " << mo.raw
       << " px (ratio " << (mi.raw > 0 ? mo.raw / mi.raw : 0) << "); residual from 5-frame moving average input "
       << mi.residual << " px, output " << mo.residual << " px (ratio " << (mi.residual > 0 ? mo.residual / mi.residual : 0)
       << "), the still swap moved as the input " << mr.residual << " px (output / it "
       << (mr.residual > 0 ? mo.residual / mr.residual : 0) << "); pairs " << mi.pairs << "/" << mo.pairs << "/"
       << mr.pairs << ", mean face width " << in.mean_face_width << " px; swim over the input's face " << swim
       << " px, the still swap moved as the input " << swim_ref << " px (ratio " << (swim_ref > 0 ? swim / swim_ref : 0)
       << ")";
  Report(line.str());
  RecordProperty("jitter_raw_input_px", std::to_string(mi.raw));
  RecordProperty("jitter_raw_output_px", std::to_string(mo.raw));
  RecordProperty("jitter_residual_input_px", std::to_string(mi.residual));
  RecordProperty("jitter_residual_output_px", std::to_string(mo.residual));
  RecordProperty("jitter_residual_still_swap_moved_px", std::to_string(mr.residual));
  RecordProperty("swim_px", std::to_string(swim));
  RecordProperty("swim_still_swap_moved_px", std::to_string(swim_ref));
  ASSERT_GE(mi.pairs, 140) << "the face should be found in nearly every input frame";
  ASSERT_GE(mo.pairs, 140) << "the swapped face should be found in nearly every output frame";
  ASSERT_GE(mr.pairs, 140) << "the swapped face should be found in nearly every frame of the reference";
  // The face moves as the input's does.
  EXPECT_LE(mo.raw, 1.02 * mi.raw) << line.str();
  // The swapped face stays on the head: it slides over the input's face barely more
  // than the still swap moved exactly as the clip does (whose swim is the two
  // landmarkers' noise alone). Landmarks smoothed on their own let the face lag and
  // lead the head: 1.16 times the reference's swim; carried by the pixels' measured
  // motion (vision/face_motion.h), 1.06.
  EXPECT_LE(swim, 1.10 * swim_ref) << line.str();
  // The landmarker is less sure of some faces than of others: on the reference its
  // residual is 1.3 times the input's with this source, whose glasses and wrinkles it
  // fits less steadily. The video pipeline's own jitter is what the output adds over
  // the reference, which moves exactly as the clip's pixels do, the sub-pixel steps of
  // the clip's making included: 1.03 of it, a face that follows those steps too and is
  // drawn anew in every frame. (Smoothed on their own, landmarks smoothed those steps
  // away: 0.98 of it, and the face slid over the head, above.)
  EXPECT_LE(mo.residual, 1.05 * mr.residual) << line.str();
}

// ---- Two faces. ----

// Which faces of a two-face frame changed: both faces of the bare frame are found and
// ordered left to right; a face is swapped when its core changed on average by more
// than kSwappedCoreDiff.
struct TwoFaceFrame {
  bool two_faces = false;
  double left = 0, right = 0;  // mean |dY| over each face's core
  bool left_swapped() const { return left > kSwappedCoreDiff; }
  bool right_swapped() const { return right > kSwappedCoreDiff; }
};

struct TwoFaceCounts {
  std::int64_t frames = 0;
  std::int64_t two_faces_found = 0;
  std::int64_t both_swapped = 0;
  std::int64_t exactly_one_swapped = 0;
  std::int64_t none_swapped = 0;
  std::int64_t left_only = 0;
  std::int64_t right_only = 0;
  std::int64_t other_untouched = 0;  // exactly one swapped and the other's core unchanged
  double max_other_diff = 0;
  std::vector<std::int64_t> left_only_frames, right_only_frames;
};

TwoFaceCounts Count(const std::vector<TwoFaceFrame>& frames) {
  TwoFaceCounts c;
  for (const TwoFaceFrame& f : frames) {
    const std::int64_t index = c.frames++;
    if (!f.two_faces) continue;
    ++c.two_faces_found;
    const bool l = f.left_swapped(), r = f.right_swapped();
    if (l && r) ++c.both_swapped;
    if (!l && !r) ++c.none_swapped;
    if (l != r) {
      ++c.exactly_one_swapped;
      (l ? c.left_only : c.right_only)++;
      (l ? c.left_only_frames : c.right_only_frames).push_back(index);
      const double other = l ? f.right : f.left;
      c.max_other_diff = std::max(c.max_other_diff, other);
      if (other < kUntouchedCoreDiff) ++c.other_untouched;
    }
  }
  return c;
}

std::string Describe(const TwoFaceCounts& c) {
  std::ostringstream s;
  s << c.frames << " frames, 2 faces found in " << c.two_faces_found << ", both swapped " << c.both_swapped
    << ", exactly one " << c.exactly_one_swapped << " (left " << c.left_only << ", right " << c.right_only
    << "; the other untouched in " << c.other_untouched << ", the other's max core |dY| " << c.max_other_diff
    << "), none " << c.none_swapped;
  return s.str();
}

class TwoFaceTest : public VideoSwapTest {
 protected:
  // Per frame of `output`: which faces changed against the bare transcode.
  std::vector<TwoFaceFrame> Compare(const fs::path& output) {
    const fs::path bare = BareTranscodeOf(kTwoFaces720);
    if (faces_.empty()) {
      const Decoded d = ForEachFrame(bare, [&](const media::VideoFrame& f) {
        std::vector<Face> faces = Analyse(f.y);
        std::sort(faces.begin(), faces.end(),
                  [](const Face& a, const Face& b) { return a.box.x + a.box.width / 2 < b.box.x + b.box.width / 2; });
        faces_.push_back(std::move(faces));
      });
      EXPECT_TRUE(d.status.ok()) << d.status.ToString();
    }
    std::vector<TwoFaceFrame> frames;
    const Decoded d = ForEachFramePair(output, bare, [&](const media::VideoFrame& out, const media::VideoFrame& ref) {
      TwoFaceFrame f;
      const std::size_t i = frames.size();
      if (i < faces_.size() && faces_[i].size() == 2) {
        f.two_faces = true;
        f.left = MeanAbsDiff(out.y, ref.y, FaceCore(faces_[i][0], ref.y.size()));
        f.right = MeanAbsDiff(out.y, ref.y, FaceCore(faces_[i][1], ref.y.size()));
      }
      frames.push_back(f);
    });
    EXPECT_TRUE(d.status.ok()) << d.status.ToString();
    return frames;
  }

  std::vector<std::vector<Face>> faces_;  // of each bare frame, left to right
};

TEST_F(TwoFaceTest, ManySwapsBothFacesOneSwapsOne) {
  const fs::path& many = CachedSwap("many.mp4", kTwoFaces720, {"--face-selector-mode", "many"});
  const fs::path& one = CachedSwap("one.mp4", kTwoFaces720, {"--face-selector-mode", "one"});
  ASSERT_TRUE(fs::is_regular_file(many));
  ASSERT_TRUE(fs::is_regular_file(one));
  const TwoFaceCounts m = Count(Compare(many));
  const TwoFaceCounts o = Count(Compare(one));
  Report("two-face clip, many: " + Describe(m));
  Report("two-face clip, one:  " + Describe(o));
  EXPECT_EQ(m.frames, 90);
  EXPECT_EQ(o.frames, 90);
  ASSERT_GE(m.two_faces_found, 80) << "the reference detector should find both faces in most frames";
  EXPECT_GE(m.both_swapped, m.two_faces_found * 9 / 10) << "many: both faces swapped in most frames";
  EXPECT_GE(o.exactly_one_swapped, o.two_faces_found * 9 / 10) << "one: a single face swapped in most frames";
  EXPECT_EQ(o.both_swapped, 0) << "one: never both faces";
  EXPECT_EQ(o.other_untouched, o.exactly_one_swapped) << "one: the other face untouched";
}

TEST_F(TwoFaceTest, OneKeepsSwappingTheSameFace) {
  // The right face is clearly the larger (jaw width ~192 px against ~164 px), so
  // --face-selector-mode one (order large-small) must pick it in every frame.
  const fs::path& one = CachedSwap("one.mp4", kTwoFaces720, {"--face-selector-mode", "one"});
  ASSERT_TRUE(fs::is_regular_file(one));
  double left_width = 0, right_width = 0;
  const TwoFaceCounts o = Count(Compare(one));
  int both = 0;
  for (const auto& faces : faces_) {
    if (faces.size() != 2) continue;
    left_width += vision::FaceWidth(faces[0].landmarks68);
    right_width += vision::FaceWidth(faces[1].landmarks68);
    ++both;
  }
  ASSERT_GT(both, 0);
  left_width /= both;
  right_width /= both;
  std::ostringstream line;
  line << "two-face clip, one: mean face width left " << left_width << " px, right " << right_width
       << " px; right face swapped in " << o.right_only << " frames, left in " << o.left_only << " frames "
       << ::testing::PrintToString(o.left_only_frames);
  Report(line.str());
  RecordProperty("one_mode_frames_on_the_smaller_face", std::to_string(o.left_only));
  ASSERT_GT(right_width, 1.1 * left_width) << "the right face is the larger";
  EXPECT_GE(o.right_only, 80);
  EXPECT_EQ(o.left_only, 0) << line.str();
  EXPECT_EQ(o.left_only, 0);
}

// ---- No temporary files. ----

TEST_F(VideoSwapTest, WritesNoTemporaryFiles) {
  const fs::path tmp = dir_->Sub("tmpdir");
  const fs::path output = out_dir_ / "clip.mp4";
  FolderWatch watch({tmp, out_dir_});
  ASSERT_TRUE(watch.ok()) << "inotify unavailable";
  RunResult r;
  {
    ScopedEnv env("TMPDIR", tmp.string());
    r = Swap(kTwoFaces720, output, {"--trim-frame-end", "45"});
  }
  const std::vector<fs::path> appeared = watch.Stop();
  ASSERT_EQ(r.exit_code, cli::kExitOk) << r.err;
  EXPECT_TRUE(ListDir(tmp).empty()) << "left in TMPDIR: " << ::testing::PrintToString(ListDir(tmp));
  EXPECT_EQ(ListDir(out_dir_), std::vector<std::string>{"clip.mp4"});
  // While it ran: nothing in TMPDIR; in the output folder only the output and its one
  // atomic-write temporary beside it (".swapline-tmp-clip.mp4-*", renamed into place).
  std::vector<std::string> names;
  int atomic_temps = 0;
  for (const fs::path& p : appeared) {
    names.push_back(p.string());
    EXPECT_NE(p.parent_path(), tmp) << "created in TMPDIR: " << p;
    if (p.parent_path() == out_dir_) {
      const std::string name = p.filename().string();
      const bool is_temp = name.rfind(".swapline-tmp-clip.mp4-", 0) == 0;
      atomic_temps += is_temp ? 1 : 0;
      EXPECT_TRUE(name == "clip.mp4" || is_temp) << "unexpected file in the output folder: " << name;
    }
  }
  EXPECT_LE(atomic_temps, 1);
  Report("files that appeared during the run: " + ::testing::PrintToString(names));
  EXPECT_EQ(Probe(output, "v:0", "stream=nb_frames"), "45");
}

// ---- Bad input: documented exit code, no output, no hang. ----

class VideoBadInputTest : public VideoSwapTest {
 protected:
  void SetUp() override {
    VideoSwapTest::SetUp();
    if (HasFatalFailure()) return;
    output_ = out_dir_ / "out.mp4";
    inputs_ = dir_->Sub("inputs");
  }

  // Runs the swap on `target`; nothing may be left in the output folder whatever the code.
  RunResult Run(const fs::path& target, const std::vector<std::string>& extra = {}) {
    RunResult r = Swap(target, output_, extra);
    EXPECT_FALSE(fs::exists(output_)) << "an output was written";
    EXPECT_TRUE(ListDir(out_dir_).empty()) << "left in the output folder: " << ::testing::PrintToString(ListDir(out_dir_));
    EXPECT_EQ(r.out, "") << "nothing on stdout on failure";
    EXPECT_NE(r.err, "") << "an error message";
    Report(target.filename().string() + ": exit " + std::to_string(r.exit_code) + " in " +
           std::to_string(r.seconds) + " s, stderr: " + r.err.substr(0, r.err.find_last_not_of('\n') + 1));
    return r;
  }

  fs::path output_;
  fs::path inputs_;
};

TEST_F(VideoBadInputTest, TruncatedMp4) {
  const std::string bytes = ReadFileBytes(kOneFace1080);
  const fs::path file = inputs_ / "truncated.mp4";
  WriteFileBytes(file, bytes.substr(0, bytes.size() / 2));
  const RunResult r = Run(file);
  EXPECT_EQ(r.exit_code, cli::kExitBadInput) << r.err;
  EXPECT_NE(r.err.find("truncated.mp4"), std::string::npos) << r.err;
}

TEST_F(VideoBadInputTest, ZeroByteMp4) {
  const fs::path file = inputs_ / "empty.mp4";
  WriteFileBytes(file, "");
  const RunResult r = Run(file);
  EXPECT_EQ(r.exit_code, cli::kExitBadInput) << r.err;
  EXPECT_NE(r.err.find("empty"), std::string::npos) << r.err;
}

TEST_F(VideoBadInputTest, JpegNamedMp4IsAnImageSoMp4OutputIsRefused) {
  // Content sniffing routes it to the image pipeline: a normal image swap, for which
  // an .mp4 output is a usage error.
  const fs::path file = inputs_ / "x.mp4";
  fs::copy_file(kHopper, file);
  ASSERT_FALSE(media::LooksLikeVideo(file));
  const RunResult r = Run(file);
  EXPECT_EQ(r.exit_code, cli::kExitUsage) << r.err;
  EXPECT_NE(r.err.find(".mp4"), std::string::npos) << r.err;
  // As an image swap with an image output it works.
  const fs::path jpg = out_dir_ / "x.jpg";
  const RunResult ok = Swap(file, jpg);
  EXPECT_EQ(ok.exit_code, cli::kExitOk) << ok.err;
  EXPECT_TRUE(fs::is_regular_file(jpg));
}

TEST_F(VideoBadInputTest, AudioOnlyFile) {
  const fs::path file = inputs_ / "a.m4a";
  int rc = -1;
  Shell("ffmpeg -v error -y -f lavfi -i sine=d=1 " + Q(file) + " 2>&1", &rc);
  ASSERT_EQ(rc, 0);
  ASSERT_FALSE(media::LooksLikeVideo(file));
  const RunResult r = Run(file);
  EXPECT_EQ(r.exit_code, cli::kExitBadInput) << r.err;
  EXPECT_NE(r.err.find("a.m4a"), std::string::npos) << r.err;
}

// Overwrites 8 KiB at `at` of a copy of the 720p clip with noise.
fs::path Damage(const fs::path& folder, const std::string& name, std::size_t at) {
  std::string bytes = ReadFileBytes(kTwoFaces720);
  std::mt19937 rng(7);
  for (std::size_t i = at; i < at + 8192 && i < bytes.size(); ++i) bytes[i] = static_cast<char>(rng());
  const fs::path file = folder / name;
  WriteFileBytes(file, bytes);
  return file;
}

// File offsets of the 720p clip's video packets, in file order.
std::vector<std::size_t> VideoPacketPositions() {
  std::istringstream rows(
      Shell("ffprobe -v error -select_streams v -show_entries packet=pos -of csv=p=0 " + Q(kTwoFaces720)));
  std::vector<std::size_t> positions;
  std::string row;
  while (std::getline(rows, row)) {
    if (!row.empty()) positions.push_back(std::stoul(row));
  }
  std::sort(positions.begin(), positions.end());
  return positions;
}

// The damage starts at a packet's first byte, so the packet's NAL length prefix is
// noise: the decoder rejects the packet whatever its threading, and the run must
// fail naming the file (noise inside slice data may instead be concealed, which a
// frame-threaded decoder flags only sometimes).
TEST_F(VideoBadInputTest, DamagedInTheMiddleOfTheFile) {
  const std::vector<std::size_t> positions = VideoPacketPositions();
  ASSERT_EQ(positions.size(), 90u);
  const std::size_t middle = ReadFileBytes(kTwoFaces720).size() / 2;
  const auto packet = std::upper_bound(positions.begin(), positions.end(), middle);
  ASSERT_NE(packet, positions.begin());
  const fs::path file = Damage(inputs_, "damaged_middle.mp4", *std::prev(packet));
  const RunResult r = Run(file, {"--execution-thread-count", "1"});
  EXPECT_EQ(r.exit_code, cli::kExitBadInput) << r.err;
  EXPECT_NE(r.err.find("damaged_middle.mp4"), std::string::npos) << r.err;
}

TEST_F(VideoBadInputTest, DamagedMidwayThroughTheFrames) {
  // The damage starts at the 46th video packet (in file order), so decoding fails midway.
  const std::vector<std::size_t> positions = VideoPacketPositions();
  ASSERT_EQ(positions.size(), 90u);
  const fs::path file = Damage(inputs_, "damaged_midway.mp4", positions[45]);
  const RunResult r = Run(file, {"--execution-thread-count", "1"});
  EXPECT_EQ(r.exit_code, cli::kExitBadInput) << r.err;
  EXPECT_NE(r.err.find("damaged_midway.mp4"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("frame"), std::string::npos) << "the message names the frame: " << r.err;
}

}  // namespace
}  // namespace swapline
