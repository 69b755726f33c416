#include "media/video.h"

#include "cli/cli_test_util.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <stdlib.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <future>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#if defined(__SANITIZE_ADDRESS__)
// libx265 3.5 leaks a few small buffers of its own per encoder (not swapline's).
extern "C" const char* __lsan_default_suppressions() { return "leak:libx265.so\n"; }
#endif

namespace swapline::media {
namespace {

namespace fs = std::filesystem;
using swapline::testing::Q;
using swapline::testing::Shell;

const fs::path kVideos = SWAPLINE_TESTDATA_DIR "/videos";
const fs::path kSpeech1080 = kVideos / "a_one_face_zoom_rotate_1920x1080_30fps_5s.mp4";  // speech audio
const fs::path kTone720 = kVideos / "b_two_faces_side_by_side_1280x720_30fps_3s.mp4";    // tone audio
const fs::path kSilent360 = kVideos / "c_no_face_640x360_30fps_2s.mp4";                  // no audio
const fs::path kJpeg = SWAPLINE_TESTDATA_DIR "/photos/grace_hopper_usn_portrait.jpg";
const fs::path kPng = SWAPLINE_TESTDATA_DIR "/photos/noface_coffee.png";

// A fresh folder, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "swapline-video-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};


// ffprobe's value for one entry, e.g. ("v:0", "stream=nb_frames").
std::string Probe(const fs::path& file, const std::string& streams, const std::string& entries) {
  std::string cmd = "ffprobe -v error ";
  if (!streams.empty()) cmd += "-select_streams " + streams + " ";
  cmd += "-show_entries " + entries + " -of default=noprint_wrappers=1:nokey=1 " + Q(file);
  std::string out = Shell(cmd);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

double ProbeDouble(const fs::path& file, const std::string& streams, const std::string& entries) {
  const std::string s = Probe(file, streams, entries);
  return s.empty() || s == "N/A" ? -1.0 : std::stod(s);
}

// (size, md5) of every audio packet, as FFmpeg's framemd5 muxer lists them.
std::vector<std::string> AudioPacketHashes(const fs::path& file) {
  std::vector<std::string> hashes;
  std::istringstream lines(Shell("ffmpeg -v error -i " + Q(file) + " -map 0:a:0 -c copy -f framemd5 -"));
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    // stream, dts, pts, duration, size, hash
    std::vector<std::string> fields;
    std::stringstream ss(line);
    std::string field;
    while (std::getline(ss, field, ',')) fields.push_back(field.substr(field.find_first_not_of(' ')));
    if (fields.size() >= 6) hashes.push_back(fields[4] + ":" + fields[5]);
  }
  return hashes;
}

// Runs `fn` on another thread; a hang fails the whole binary instead of blocking ctest.
void WithinSeconds(int seconds, const std::function<void()>& fn) {
  auto done = std::async(std::launch::async, fn);
  if (done.wait_for(std::chrono::seconds(seconds)) != std::future_status::ready) {
    std::fprintf(stderr, "video_test: operation did not finish within %d s (hang)\n", seconds);
    std::_Exit(3);
  }
  done.get();
}

struct ReadSummary {
  Status status;
  std::int64_t frames = 0;
  bool dense = true;
  bool increasing = true;
  std::vector<std::int64_t> pts_us;
};

ReadSummary ReadAll(const fs::path& path, const VideoReaderOptions& options = {}) {
  ReadSummary summary;
  auto reader = VideoReader::Open(path, options);
  if (!reader.ok()) {
    summary.status = reader.status();
    return summary;
  }
  VideoFrame frame;
  for (int guard = 0; guard < 100000; ++guard) {
    auto got = (*reader)->Read(frame);
    if (!got.ok()) {
      summary.status = got.status();
      return summary;
    }
    if (!*got) return summary;
    if (frame.index != summary.frames) summary.dense = false;
    if (!summary.pts_us.empty() && frame.pts_us <= summary.pts_us.back()) summary.increasing = false;
    summary.pts_us.push_back(frame.pts_us);
    ++summary.frames;
  }
  summary.status = Internal("reader never reached the end");
  return summary;
}

Status Transcode(const fs::path& input, const fs::path& output, VideoWriterOptions options,
                 const VideoReaderOptions& reader_options = {}, std::int64_t* written = nullptr) {
  SWAPLINE_ASSIGN_OR_RETURN(auto reader, VideoReader::Open(input, reader_options));
  SWAPLINE_ASSIGN_OR_RETURN(auto writer, VideoWriter::Create(output, reader->info(), options));
  VideoFrame frame;
  std::int64_t n = 0;
  while (true) {
    SWAPLINE_ASSIGN_OR_RETURN(bool got, reader->Read(frame));
    if (!got) break;
    SWAPLINE_RETURN_IF_ERROR(writer->Write(frame));
    ++n;
  }
  if (written != nullptr) *written = n;
  return writer->Finish();
}

VideoWriterOptions Fast() {
  VideoWriterOptions options;
  options.preset = "ultrafast";
  return options;
}

std::vector<fs::path> Listing(const fs::path& dir) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir)) files.push_back(entry.path());
  return files;
}

double Psnr(const cv::Mat& a, const cv::Mat& b) {
  const double mse = cv::norm(a, b, cv::NORM_L2SQR) / static_cast<double>(a.total());
  return mse == 0 ? 100.0 : 10.0 * std::log10(255.0 * 255.0 / mse);
}

// ---- Reading. ----

TEST(VideoReaderTest, ReadsEveryFrameInOrder) {
  for (const fs::path& video : {kSpeech1080, kTone720, kSilent360}) {
    SCOPED_TRACE(video.filename().string());
    auto info = ProbeVideo(video);
    ASSERT_TRUE(info.ok()) << info.status().ToString();
    const std::int64_t nb_frames = std::stoll(Probe(video, "v:0", "stream=nb_frames"));
    EXPECT_EQ(info->frame_count, nb_frames);
    ReadSummary summary = ReadAll(video);
    ASSERT_TRUE(summary.status.ok()) << summary.status.ToString();
    EXPECT_EQ(summary.frames, nb_frames);
    EXPECT_TRUE(summary.dense);
    EXPECT_TRUE(summary.increasing);
    EXPECT_EQ(summary.pts_us.front(), 0);
    // 30 fps: frame k at k/30 s.
    EXPECT_NEAR(summary.pts_us.back(), (nb_frames - 1) * 1000000.0 / 30, 1000);
  }
}

TEST(VideoReaderTest, InfoDescribesTheStreams) {
  auto a = ProbeVideo(kSpeech1080);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->width, 1920);
  EXPECT_EQ(a->height, 1080);
  EXPECT_DOUBLE_EQ(a->frame_rate.value(), 30.0);
  EXPECT_GT(a->time_base.den, 0);
  EXPECT_NEAR(a->duration_s, 5.0, 0.05);
  EXPECT_EQ(a->frame_count, 150);
  EXPECT_EQ(a->rotation_degrees, 0);
  EXPECT_FALSE(a->full_range);
  EXPECT_EQ(a->video_codec, "h264");
  EXPECT_EQ(a->audio_codec, "aac");
  auto c = ProbeVideo(kSilent360);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->width, 640);
  EXPECT_EQ(c->height, 360);
  EXPECT_EQ(c->audio_codec, "");
}

TEST(VideoReaderTest, FramesArePlanarYuv420) {
  auto reader = VideoReader::Open(kTone720);
  ASSERT_TRUE(reader.ok());
  VideoFrame frame;
  auto got = (*reader)->Read(frame);
  ASSERT_TRUE(got.ok() && *got);
  EXPECT_EQ(frame.y.size(), cv::Size(1280, 720));
  EXPECT_EQ(frame.u.size(), cv::Size(640, 360));
  EXPECT_EQ(frame.v.size(), cv::Size(640, 360));
  EXPECT_EQ(frame.y.type(), CV_8UC1);
  EXPECT_NE(frame.owner, nullptr);  // shares the decoder's buffer
  const cv::Mat before = frame.y.clone();
  frame.MakeWritable();
  EXPECT_EQ(frame.owner, nullptr);
  EXPECT_EQ(cv::norm(before, frame.y, cv::NORM_INF), 0);
  frame.y.setTo(0);  // ours now
}

TEST(VideoReaderTest, TrimReturnsTheRangeWithDenseIndex) {
  VideoReaderOptions options;
  options.trim_frame_start = 30;
  options.trim_frame_end = 90;
  ReadSummary summary = ReadAll(kSpeech1080, options);
  ASSERT_TRUE(summary.status.ok()) << summary.status.ToString();
  EXPECT_EQ(summary.frames, 60);
  EXPECT_TRUE(summary.dense);
  EXPECT_NEAR(summary.pts_us.front(), 1000000, 1000);  // frame 30 of the file

  options.trim_frame_start = 50;
  options.trim_frame_end = 1000;  // past the end: stops at the end
  summary = ReadAll(kSilent360, options);
  ASSERT_TRUE(summary.status.ok());
  EXPECT_EQ(summary.frames, 10);

  options.trim_frame_end = 40;
  EXPECT_EQ(VideoReader::Open(kSilent360, options).status().code(), Code::kInvalidArgument);
}

TEST(VideoReaderTest, LooksLikeVideoRoutesImagesAway) {
  TempDir dir;
  EXPECT_TRUE(LooksLikeVideo(kSpeech1080));
  EXPECT_TRUE(LooksLikeVideo(kSilent360));
  EXPECT_FALSE(LooksLikeVideo(kJpeg));
  EXPECT_FALSE(LooksLikeVideo(kPng));
  EXPECT_FALSE(LooksLikeVideo(dir / "missing.mp4"));
  fs::copy_file(kJpeg, dir / "photo.mp4");
  EXPECT_FALSE(LooksLikeVideo(dir / "photo.mp4"));
  std::ofstream(dir / "notes.mp4") << "just some text, not a video\n";
  EXPECT_FALSE(LooksLikeVideo(dir / "notes.mp4"));
}

// ---- Bad inputs: the right code, a message naming the file, no crash, no hang. ----

void ExpectReadFails(const fs::path& file, Code code, const std::string& must_mention = "") {
  WithinSeconds(60, [&] {
    SCOPED_TRACE(file.filename().string());  // traces are per thread
    ReadSummary summary = ReadAll(file);
    EXPECT_EQ(summary.status.code(), code) << summary.status.ToString();
    EXPECT_NE(summary.status.message().find(file.filename().string()), std::string::npos)
        << summary.status.message();
    // The file's folder is the server's business, not the tenant's.
    EXPECT_EQ(summary.status.message().find(file.parent_path().string()), std::string::npos)
        << summary.status.message();
    if (!must_mention.empty()) {
      EXPECT_NE(summary.status.message().find(must_mention), std::string::npos) << summary.status.message();
    }
  });
}

TEST(VideoReaderTest, BadInputsGiveClearErrors) {
  TempDir dir;
  ExpectReadFails(dir / "missing.mp4", Code::kNotFound);
  EXPECT_EQ(ProbeVideo(dir / "missing.mp4").status().code(), Code::kNotFound);

  std::ofstream(dir / "empty.mp4").close();
  ExpectReadFails(dir / "empty.mp4", Code::kUnsupportedInput, "empty");

  fs::copy_file(kJpeg, dir / "photo.mp4");
  ExpectReadFails(dir / "photo.mp4", Code::kUnsupportedInput, "image");

  int rc = -1;
  Shell("ffmpeg -v error -y -i " + Q(kTone720) + " -vn -c:a copy " + Q(dir / "audio_only.m4a"), &rc);
  ASSERT_EQ(rc, 0);
  ExpectReadFails(dir / "audio_only.m4a", Code::kUnsupportedInput, "audio only");
  fs::copy_file(dir / "audio_only.m4a", dir / "audio_only.mp4");
  ExpectReadFails(dir / "audio_only.mp4", Code::kUnsupportedInput, "audio only");

  std::ofstream(dir / "text.mp4") << "not a video\n";
  ExpectReadFails(dir / "text.mp4", Code::kUnsupportedInput);

  // A FIFO without a writer would block the open forever.
  ASSERT_EQ(::mkfifo((dir / "fifo.mp4").c_str(), 0600), 0);
  ExpectReadFails(dir / "fifo.mp4", Code::kUnsupportedInput, "not a regular file");
}

// Files that make a demuxer open other files or URLs. Read as videos they would hand
// the named file's frames back to whoever sent the "video".
TEST(VideoReaderTest, RefusesPlaylistsAndReferencesToOtherFiles) {
  TempDir dir;
  fs::copy_file(kTone720, dir / "secret.mp4");
  const std::string secret = (dir / "secret.mp4").string();
  std::ofstream(dir / "hls.mp4") << "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:3,\n" << secret
                                 << "\n#EXT-X-ENDLIST\n";
  std::ofstream(dir / "ffconcat.mp4") << "ffconcat version 1.0\nfile secret.mp4\n";
  std::ofstream(dir / "rtp.mp4") << "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=x\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
                                    "m=video 5004 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n";
  const VideoInfo info = *ProbeVideo(kTone720);
  for (const char* name : {"hls.mp4", "ffconcat.mp4", "rtp.mp4"}) {
    SCOPED_TRACE(name);
    ExpectReadFails(dir / name, Code::kUnsupportedInput, "not an accepted video container");
    EXPECT_FALSE(LooksLikeVideo(dir / name));
    // The audio of the output is read from the input too.
    VideoWriterOptions options = Fast();
    options.audio_source = dir / name;
    const auto writer = VideoWriter::Create(dir / "out.mp4", info, options);
    EXPECT_EQ(writer.status().code(), Code::kUnsupportedInput) << writer.status().ToString();
    EXPECT_NE(writer.status().message().find("not an accepted video container"), std::string::npos)
        << writer.status().message();
  }
  // The accepted containers still open.
  for (const char* name : {"ok.mkv", "ok.webm", "ok.avi", "ok.mov"}) {
    SCOPED_TRACE(name);
    int rc = -1;
    Shell("ffmpeg -v error -y -i " + Q(kSilent360) + " -frames:v 3 -vf scale=64:36 " +
          (std::string_view(name).ends_with("webm") ? "-c:v libvpx-vp9 " : "") + Q(dir / name), &rc);
    ASSERT_EQ(rc, 0);
    EXPECT_EQ(ReadAll(dir / name).frames, 3);
  }
}

TEST(VideoReaderTest, FramePixelLimit) {
  VideoReaderOptions options;
  options.max_frame_pixels = 640 * 360 - 1;
  const auto refused = VideoReader::Open(kSilent360, options);
  EXPECT_EQ(refused.status().code(), Code::kTooLarge) << refused.status().ToString();
  EXPECT_NE(refused.status().message().find("640x360"), std::string::npos) << refused.status().message();
  options.max_frame_pixels = 640 * 360;
  EXPECT_TRUE(VideoReader::Open(kSilent360, options).ok());
}

std::vector<char> Bytes(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return std::vector<char>(std::istreambuf_iterator<char>(in), {});
}

void Put(const fs::path& file, const std::vector<char>& bytes) {
  std::ofstream(file, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

TEST(VideoReaderTest, TruncatedFilesFailAtOpenOrRead) {
  TempDir dir;
  for (const fs::path& video : {kSilent360, kTone720}) {
    std::vector<char> bytes = Bytes(video);
    for (double fraction : {0.5, 0.9, 0.02}) {
      const fs::path cut = dir / ("cut_" + std::to_string(static_cast<int>(fraction * 100)) + "_" +
                                  video.filename().string());
      Put(cut, std::vector<char>(bytes.begin(), bytes.begin() + static_cast<long>(bytes.size() * fraction)));
      ExpectReadFails(cut, Code::kUnsupportedInput);
    }
  }
  // The header of a non-faststart file (moov at the end) is gone with the tail.
  int rc = -1;
  Shell("ffmpeg -v error -y -i " + Q(kSilent360) + " -c copy -movflags -faststart " + Q(dir / "moov_last.mp4"), &rc);
  ASSERT_EQ(rc, 0);
  std::vector<char> bytes = Bytes(dir / "moov_last.mp4");
  Put(dir / "moov_last_cut.mp4", std::vector<char>(bytes.begin(), bytes.begin() + static_cast<long>(bytes.size() / 2)));
  ExpectReadFails(dir / "moov_last_cut.mp4", Code::kUnsupportedInput);
}

TEST(VideoReaderTest, DamageMidwayNamesTheFrame) {
  TempDir dir;
  std::vector<char> bytes = Bytes(kSilent360);
  std::mt19937 rng(7);
  // Overwrite 8 KiB in the middle of the media data with noise.
  const std::size_t at = bytes.size() / 2;
  for (std::size_t i = at; i < at + 8192; ++i) bytes[i] = static_cast<char>(rng());
  const fs::path damaged = dir / "damaged.mp4";
  Put(damaged, bytes);
  WithinSeconds(60, [&] {
    ReadSummary summary = ReadAll(damaged);
    EXPECT_EQ(summary.status.code(), Code::kUnsupportedInput) << summary.status.ToString();
    EXPECT_NE(summary.status.message().find("frame"), std::string::npos) << summary.status.message();
    EXPECT_NE(summary.status.message().find("damaged.mp4"), std::string::npos);
    EXPECT_GT(summary.frames, 0);
    EXPECT_LT(summary.frames, 60);
  });
}

TEST(VideoReaderTest, DamagedSliceNamesTheFrame) {
  // Noise inside one frame's slice data (NAL sizes intact): the decoder conceals and
  // flags the frame; the reader reports it instead of passing it on. One decoder
  // thread: with frame threading FFmpeg 5.1's H.264 decoder sets the flag only
  // sometimes (a race; `ffmpeg -i` shows the same), so only damage the decoder
  // rejects outright (DamageMidwayNamesTheFrame) is caught every time there.
  TempDir dir;
  std::istringstream rows(Shell("ffprobe -v error -select_streams v -show_entries packet=pos,size -of csv=p=0 " +
                                Q(kSilent360)));
  std::vector<std::pair<long, long>> packets;  // size, pos
  std::string row;
  while (std::getline(rows, row)) {
    const auto comma = row.find(',');
    if (comma != std::string::npos) packets.emplace_back(std::stol(row.substr(0, comma)), std::stol(row.substr(comma + 1)));
  }
  ASSERT_EQ(packets.size(), 60u);
  std::vector<char> bytes = Bytes(kSilent360);
  std::mt19937 rng(3);
  const auto [size, pos] = packets[30];
  for (long i = pos + size / 2; i < pos + size; ++i) bytes[static_cast<std::size_t>(i)] = static_cast<char>(rng());
  Put(dir / "slice.mp4", bytes);
  WithinSeconds(60, [&] {
    VideoReaderOptions one_thread;
    one_thread.threads = 1;
    ReadSummary summary = ReadAll(dir / "slice.mp4", one_thread);
    EXPECT_EQ(summary.status.code(), Code::kUnsupportedInput) << summary.status.ToString();
    EXPECT_NE(summary.status.message().find("frame 30"), std::string::npos) << summary.status.message();
    EXPECT_EQ(summary.frames, 30);
  });
}

TEST(VideoReaderTest, DecodesAClipCutFromAnOpenGop) {
  // `ffmpeg -ss … -c copy` of an open-GOP stream starts with frames whose references
  // are missing; FFmpeg decodes such clips with a warning, and so must the reader.
  TempDir dir;
  int rc = -1;
  Shell("ffmpeg -v error -y -i " + Q(kTone720) + " -an -vf scale=320:180 -c:v libx264 -preset ultrafast "
        "-x264-params open-gop=1:keyint=30:bframes=3 " + Q(dir / "open_gop.mp4") + " && ffmpeg -v error -y -ss 1.4 -i " +
        Q(dir / "open_gop.mp4") + " -c copy " + Q(dir / "cut.mkv"), &rc);
  ASSERT_EQ(rc, 0);
  const std::string counted = Probe(dir / "cut.mkv", "v:0", "stream=nb_read_frames -count_frames");
  ReadSummary summary = ReadAll(dir / "cut.mkv");
  ASSERT_TRUE(summary.status.ok()) << summary.status.ToString();
  EXPECT_EQ(std::to_string(summary.frames), counted);
}

TEST(VideoReaderTest, ConvertsOtherPixelFormats) {
  TempDir dir;
  struct Case {
    const char* name;
    const char* args;
    bool full_range;
  };
  for (const Case& c : {Case{"p10.mkv", "-pix_fmt yuv420p10le -c:v libx264", false},
                        Case{"p444.mkv", "-pix_fmt yuv444p -c:v libx264", false},
                        Case{"rgb.avi", "-pix_fmt rgb24 -c:v png", false},
                        Case{"full.mp4", "-pix_fmt yuvj420p -c:v libx264", true}}) {
    SCOPED_TRACE(c.name);
    int rc = -1;
    Shell("ffmpeg -v error -y -i " + Q(kSilent360) + " -vf scale=160:90 -frames:v 10 -preset ultrafast " + c.args + " " +
          Q(dir / c.name), &rc);
    ASSERT_EQ(rc, 0);
    auto reader = VideoReader::Open(dir / c.name);
    ASSERT_TRUE(reader.ok()) << reader.status().ToString();
    EXPECT_EQ((*reader)->info().full_range, c.full_range);
    // FFmpeg's own conversion of the same file to 8-bit 4:2:0, as a reference.
    const std::string raw = Shell("ffmpeg -v error -i " + Q(dir / c.name) + " -pix_fmt " +
                                  (c.full_range ? "yuvj420p" : "yuv420p") + " -f rawvideo -");
    ASSERT_EQ(raw.size(), 10u * 160 * 90 * 3 / 2);
    VideoFrame frame;
    int frames = 0;
    double worst = 100;
    while (true) {
      auto got = (*reader)->Read(frame);
      ASSERT_TRUE(got.ok()) << got.status().ToString();
      if (!*got) break;
      ASSERT_EQ(frame.y.size(), cv::Size(160, 90));
      ASSERT_EQ(frame.u.size(), cv::Size(80, 45));
      ASSERT_LT(frames, 10);
      auto* base = reinterpret_cast<std::uint8_t*>(const_cast<char*>(raw.data())) + frames * 160 * 90 * 3 / 2;
      const cv::Mat y(90, 160, CV_8UC1, base);
      const cv::Mat u(45, 80, CV_8UC1, base + 160 * 90);
      const cv::Mat v(45, 80, CV_8UC1, base + 160 * 90 + 80 * 45);
      worst = std::min({worst, Psnr(frame.y, y), Psnr(frame.u, u), Psnr(frame.v, v)});
      ++frames;
    }
    EXPECT_EQ(frames, 10);
    EXPECT_GT(worst, 35.0);
    // Written back with the range kept.
    ASSERT_TRUE(Transcode(dir / c.name, dir / (std::string("out_") + c.name + ".mp4"), Fast()).ok());
    const std::string range = Probe(dir / (std::string("out_") + c.name + ".mp4"), "v:0", "stream=color_range");
    if (c.full_range) {
      EXPECT_EQ(range, "pc");
    } else {
      EXPECT_TRUE(range == "tv" || range == "unknown") << range;  // limited is the default
    }
  }
}

// ---- Writing. ----

TEST(VideoWriterTest, TranscodeKeepsFramesTimingResolutionAudioAndMark) {
  TempDir dir;
  const fs::path out = dir / "out.mp4";
  VideoWriterOptions options = Fast();
  options.synthetic_mark = "swapline synthetic media test-mark";
  options.audio_source = kTone720;
  ASSERT_TRUE(Transcode(kTone720, out, options).ok());
  EXPECT_EQ(Listing(dir.path()), std::vector<fs::path>{out});  // nothing else left behind

  EXPECT_EQ(Probe(out, "v:0", "stream=nb_frames"), "90");
  EXPECT_EQ(Probe(out, "v:0", "stream=width"), "1280");
  EXPECT_EQ(Probe(out, "v:0", "stream=height"), "720");
  EXPECT_EQ(Probe(out, "v:0", "stream=avg_frame_rate"), "30/1");
  EXPECT_EQ(Probe(out, "v:0", "stream=codec_name"), "h264");
  EXPECT_EQ(Probe(out, "v:0", "stream=pix_fmt"), "yuv420p");
  EXPECT_NEAR(ProbeDouble(out, "v:0", "stream=duration"), ProbeDouble(kTone720, "v:0", "stream=duration"), 1.0 / 30);
  EXPECT_EQ(Probe(out, "", "format_tags=comment"), options.synthetic_mark);

  // Audio copied packet for packet.
  const auto in_hashes = AudioPacketHashes(kTone720);
  ASSERT_FALSE(in_hashes.empty());
  EXPECT_EQ(AudioPacketHashes(out), in_hashes);
  EXPECT_NEAR(ProbeDouble(out, "a:0", "stream=duration"), ProbeDouble(kTone720, "a:0", "stream=duration"), 0.001);

  // faststart: the moov box comes before mdat.
  std::vector<char> bytes = Bytes(out);
  const std::string head(bytes.begin(), bytes.begin() + std::min<std::size_t>(bytes.size(), 4096));
  EXPECT_NE(head.find("moov"), std::string::npos);

  auto info = ProbeVideo(out);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->frame_count, 90);
  EXPECT_EQ(info->audio_codec, "aac");

  // Matroska takes AAC too: copied as well.
  const fs::path mkv = dir / "out.mkv";
  ASSERT_TRUE(Transcode(kTone720, mkv, options).ok());
  EXPECT_EQ(AudioPacketHashes(mkv), in_hashes);
  EXPECT_EQ(ReadAll(mkv).frames, 90);
}

TEST(VideoWriterTest, TrimmedTranscodeTrimsTheAudioToo) {
  TempDir dir;
  const fs::path out = dir / "trimmed.mp4";
  VideoReaderOptions trim;
  trim.trim_frame_start = 30;
  trim.trim_frame_end = 90;
  VideoWriterOptions options = Fast();
  options.audio_source = kSpeech1080;
  options.audio_start_us = 1000000;  // frame 30 at 30 fps
  options.audio_end_us = 3000000;    // frame 90
  std::int64_t written = 0;
  Status status = Transcode(kSpeech1080, out, options, trim, &written);
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(written, 60);
  EXPECT_EQ(Probe(out, "v:0", "stream=nb_frames"), "60");
  const double video = ProbeDouble(out, "v:0", "stream=duration");
  const double audio = ProbeDouble(out, "a:0", "stream=duration");
  EXPECT_NEAR(video, 2.0, 1.0 / 30);
  EXPECT_NEAR(audio, video, 0.050);
  EXPECT_EQ(Probe(out, "a:0", "stream=codec_name"), "aac");
}

TEST(VideoWriterTest, VideoWithoutAudio) {
  TempDir dir;
  for (const char* name : {"silent.mp4", "silent.mkv", "silent.avi", "silent.mov"}) {
    SCOPED_TRACE(name);
    const fs::path out = dir / name;
    VideoWriterOptions options = Fast();
    options.audio_source = kSilent360;  // has no audio: nothing to copy, not an error
    options.synthetic_mark = "mark-" + std::string(name);
    Status status = Transcode(kSilent360, out, options);
    ASSERT_TRUE(status.ok()) << status.ToString();
    ReadSummary summary = ReadAll(out);
    ASSERT_TRUE(summary.status.ok()) << summary.status.ToString();
    EXPECT_EQ(summary.frames, 60);
    EXPECT_EQ(Probe(out, "a", "stream=codec_name"), "");
    auto info = ProbeVideo(out);
    ASSERT_TRUE(info.ok());
    EXPECT_NEAR(info->frame_rate.value(), 30.0, 0.01);
    EXPECT_NEAR(info->duration_s, 2.0, 1.0 / 30 + 0.001);
    std::string comment = Probe(out, "", "format_tags=comment");
    if (comment.empty()) comment = Probe(out, "", "format_tags=COMMENT");
    EXPECT_EQ(comment, options.synthetic_mark);
  }
}

TEST(VideoWriterTest, NoChangeTranscodeIsNearlyLossless) {
  TempDir dir;
  const fs::path out = dir / "q80.mp4";
  VideoWriterOptions options;  // quality 80 (crf 10), veryfast
  ASSERT_TRUE(Transcode(kSilent360, out, options).ok());
  auto original = VideoReader::Open(kSilent360);
  auto encoded = VideoReader::Open(out);
  ASSERT_TRUE(original.ok() && encoded.ok());
  VideoFrame a, b;
  double worst = 100;
  int frames = 0;
  while (true) {
    auto got_a = (*original)->Read(a);
    auto got_b = (*encoded)->Read(b);
    ASSERT_TRUE(got_a.ok() && got_b.ok());
    ASSERT_EQ(*got_a, *got_b);
    if (!*got_a) break;
    ++frames;
    worst = std::min({worst, Psnr(a.y, b.y), Psnr(a.u, b.u), Psnr(a.v, b.v)});
  }
  EXPECT_EQ(frames, 60);
  EXPECT_GT(worst, 40.0);
}

TEST(VideoWriterTest, KeepsRotation) {
  TempDir dir;
  // Written with an explicit rotation: players (and ffmpeg) turn it 90° clockwise;
  // ffprobe reports the display matrix's counterclockwise angle, -90.
  VideoInfo info = *ProbeVideo(kSilent360);
  info.rotation_degrees = 90;
  auto writer = VideoWriter::Create(dir / "rotated.mp4", info, Fast());
  ASSERT_TRUE(writer.ok());
  auto reader = VideoReader::Open(kSilent360);
  ASSERT_TRUE(reader.ok());
  VideoFrame frame;
  while (*(*reader)->Read(frame)) ASSERT_TRUE((*writer)->Write(frame).ok());
  ASSERT_TRUE((*writer)->Finish().ok());
  EXPECT_EQ(Probe(dir / "rotated.mp4", "v:0", "stream_side_data=rotation"), "-90");
  // ffmpeg's autorotation turns it clockwise.
  const std::string first = " -frames:v 1 -f rawvideo -pix_fmt gray - | md5sum";
  const std::string upright = Shell("ffmpeg -v error -i " + Q(dir / "rotated.mp4") + first);
  EXPECT_EQ(upright, Shell("ffmpeg -v error -noautorotate -i " + Q(dir / "rotated.mp4") + " -vf transpose=clock" + first));
  EXPECT_NE(upright, Shell("ffmpeg -v error -noautorotate -i " + Q(dir / "rotated.mp4") + " -vf transpose=cclock" + first));

  // Read back and carried through a transcode.
  auto rotated = ProbeVideo(dir / "rotated.mp4");
  ASSERT_TRUE(rotated.ok());
  EXPECT_EQ(rotated->rotation_degrees, 90);
  EXPECT_EQ(rotated->width, 640);  // stored unrotated
  ASSERT_TRUE(Transcode(dir / "rotated.mp4", dir / "again.mp4", Fast()).ok());
  EXPECT_EQ(ProbeVideo(dir / "again.mp4")->rotation_degrees, 90);
  EXPECT_EQ(Probe(dir / "again.mp4", "v:0", "stream_side_data=rotation"), "-90");
}

TEST(VideoWriterTest, ChangesFrameRateAndResolution) {
  TempDir dir;
  struct Case {
    int fps;
    std::int64_t frames;
  };
  for (const Case c : {Case{15, 30}, Case{60, 120}, Case{24, 48}}) {
    SCOPED_TRACE(c.fps);
    const fs::path out = dir / ("fps" + std::to_string(c.fps) + ".mp4");
    VideoWriterOptions options = Fast();
    options.frame_rate = Rational{c.fps, 1};
    options.resolution = cv::Size(320, 180);
    ASSERT_TRUE(Transcode(kSilent360, out, options).ok());
    EXPECT_EQ(Probe(out, "v:0", "stream=nb_frames"), std::to_string(c.frames));
    EXPECT_EQ(Probe(out, "v:0", "stream=avg_frame_rate"), std::to_string(c.fps) + "/1");
    EXPECT_EQ(Probe(out, "v:0", "stream=width"), "320");
    EXPECT_EQ(Probe(out, "v:0", "stream=height"), "180");
    EXPECT_NEAR(ProbeDouble(out, "v:0", "stream=duration"), 2.0, 1.0 / c.fps + 0.001);
  }
}

TEST(VideoWriterTest, WebmUsesVp9AndReencodesTheAudio) {
  TempDir dir;
  const fs::path out = dir / "out.webm";
  VideoWriterOptions options = Fast();  // libx264 asked: WebM forces VP9
  options.resolution = cv::Size(320, 180);
  options.audio_source = kTone720;
  options.synthetic_mark = "webm-mark";
  Status status = Transcode(kTone720, out, options);
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(Probe(out, "v:0", "stream=codec_name"), "vp9");
  EXPECT_EQ(Probe(out, "a:0", "stream=codec_name"), "opus");
  ReadSummary summary = ReadAll(out);
  ASSERT_TRUE(summary.status.ok()) << summary.status.ToString();
  EXPECT_EQ(summary.frames, 90);
  // Audio decodes to about the video's length.
  const std::string samples = Shell("ffprobe -v error -select_streams a:0 -count_packets -show_entries "
                                    "format=duration -of default=nw=1:nk=1 " + Q(out));
  EXPECT_NEAR(std::stod(samples), 3.0, 0.1);
}

TEST(VideoWriterTest, X265InMp4) {
  TempDir dir;
  const fs::path out = dir / "hevc.mp4";
  VideoWriterOptions options = Fast();
  options.encoder = "libx265";
  options.resolution = cv::Size(320, 180);
  Status status = Transcode(kSilent360, out, options);
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(Probe(out, "v:0", "stream=codec_name"), "hevc");
  EXPECT_EQ(Probe(out, "v:0", "stream=codec_tag_string"), "hvc1");
  EXPECT_EQ(Probe(out, "v:0", "stream=nb_frames"), "60");
  EXPECT_EQ(ReadAll(out).frames, 60);
}

TEST(VideoWriterTest, ReencodesAudioTheContainerCannotTake) {
  TempDir dir;
  int rc = -1;
  // PCM audio in MKV; MP4 does not take PCM, so it becomes AAC.
  Shell("ffmpeg -v error -y -i " + Q(kTone720) + " -c:v copy -c:a pcm_s16le " + Q(dir / "pcm.mkv"), &rc);
  ASSERT_EQ(rc, 0);
  const fs::path out = dir / "out.mp4";
  VideoWriterOptions options = Fast();
  options.audio_source = dir / "pcm.mkv";
  options.audio_start_us = 1000000;
  options.audio_end_us = 2000000;
  VideoReaderOptions trim;
  trim.trim_frame_start = 30;
  trim.trim_frame_end = 60;
  Status status = Transcode(dir / "pcm.mkv", out, options, trim);
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(Probe(out, "a:0", "stream=codec_name"), "aac");
  EXPECT_EQ(Probe(out, "v:0", "stream=nb_frames"), "30");
  EXPECT_NEAR(ProbeDouble(out, "a:0", "stream=duration"), ProbeDouble(out, "v:0", "stream=duration"), 0.050);
}

TEST(VideoWriterTest, NoFileWithoutFinish) {
  TempDir dir;
  {
    auto reader = VideoReader::Open(kSilent360);
    ASSERT_TRUE(reader.ok());
    VideoWriterOptions options = Fast();
    options.audio_source = kTone720;
    auto writer = VideoWriter::Create(dir / "abandoned.mp4", (*reader)->info(), options);
    ASSERT_TRUE(writer.ok()) << writer.status().ToString();
    VideoFrame frame;
    for (int i = 0; i < 10; ++i) {
      ASSERT_TRUE((*reader)->Read(frame).ok());
      ASSERT_TRUE((*writer)->Write(frame).ok());
    }
  }
  EXPECT_TRUE(Listing(dir.path()).empty());
  {
    // Zero frames: Finish fails and leaves nothing.
    auto writer = VideoWriter::Create(dir / "empty.mp4", *ProbeVideo(kSilent360), Fast());
    ASSERT_TRUE(writer.ok());
    EXPECT_FALSE((*writer)->Finish().ok());
  }
  EXPECT_TRUE(Listing(dir.path()).empty());
}

TEST(VideoWriterTest, RejectsBadRequests) {
  TempDir dir;
  const VideoInfo info = *ProbeVideo(kSilent360);
  EXPECT_EQ(VideoWriter::Create(dir / "out.gif", info, Fast()).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(VideoWriter::Create(dir / "out", info, Fast()).status().code(), Code::kInvalidArgument);
  VideoWriterOptions options = Fast();
  options.quality = 101;
  EXPECT_EQ(VideoWriter::Create(dir / "out.mp4", info, options).status().code(), Code::kInvalidArgument);
  options = Fast();
  options.preset = "warp";
  EXPECT_EQ(VideoWriter::Create(dir / "out.mp4", info, options).status().code(), Code::kInvalidArgument);
  options = Fast();
  options.encoder = "mpeg1";
  EXPECT_EQ(VideoWriter::Create(dir / "out.mp4", info, options).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(VideoWriter::Create(dir / "no_such_folder" / "out.mp4", info, Fast()).status().code(),
            Code::kOutputNotWritable);
  options = Fast();
  options.audio_source = dir / "missing.mp4";
  EXPECT_EQ(VideoWriter::Create(dir / "out.mp4", info, options).status().code(), Code::kNotFound);
  EXPECT_TRUE(Listing(dir.path()).empty());

  // A frame of the wrong size.
  auto writer = VideoWriter::Create(dir / "out.mp4", info, Fast());
  ASSERT_TRUE(writer.ok());
  VideoFrame frame;
  frame.y = cv::Mat(10, 10, CV_8UC1, cv::Scalar(0));
  frame.u = cv::Mat(5, 5, CV_8UC1, cv::Scalar(128));
  frame.v = frame.u;
  EXPECT_EQ((*writer)->Write(frame).code(), Code::kInvalidArgument);
}

TEST(VideoWriterTest, WritesOwnedFramesOfAnySize) {
  // Frames built by the caller (not from a reader), odd size: cropped to even.
  TempDir dir;
  VideoInfo info;
  info.width = 99;
  info.height = 51;
  info.frame_rate = {25, 1};
  info.time_base = {1, 25};
  auto writer = VideoWriter::Create(dir / "synthetic.mkv", info, Fast());
  ASSERT_TRUE(writer.ok()) << writer.status().ToString();
  for (int i = 0; i < 25; ++i) {
    VideoFrame frame;
    frame.index = i;
    frame.pts_us = i * 40000;
    frame.y = cv::Mat(51, 99, CV_8UC1, cv::Scalar(i * 8));
    frame.u = cv::Mat(26, 50, CV_8UC1, cv::Scalar(100));
    frame.v = cv::Mat(26, 50, CV_8UC1, cv::Scalar(150));
    ASSERT_TRUE((*writer)->Write(frame).ok());
  }
  ASSERT_TRUE((*writer)->Finish().ok());
  auto out = ProbeVideo(dir / "synthetic.mkv");
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->width, 98);
  EXPECT_EQ(out->height, 50);
  EXPECT_EQ(ReadAll(dir / "synthetic.mkv").frames, 25);
}

// `input`'s frames written with preset medium (B-frames), each frame's coded type set
// by `coded_as` from its index; then the output's coded types, frame by frame.
std::vector<VideoFrame::Coded> WriteCodedAs(const fs::path& input, const fs::path& output,
                                            const std::function<VideoFrame::Coded(std::int64_t)>& coded_as) {
  std::vector<VideoFrame::Coded> types;
  auto reader = VideoReader::Open(input);
  if (!reader.ok()) return types;
  VideoWriterOptions options;
  options.preset = "medium";
  auto writer = VideoWriter::Create(output, (*reader)->info(), options);
  if (!writer.ok()) return types;
  VideoFrame frame;
  while (true) {
    auto more = (*reader)->Read(frame);
    if (!more.ok() || !*more) break;
    frame.coded = coded_as(frame.index);
    if (!(*writer)->Write(frame).ok()) return types;
  }
  if (!(*writer)->Finish().ok()) return types;
  auto written = VideoReader::Open(output);
  if (!written.ok()) return types;
  while (true) {
    auto more = (*written)->Read(frame);
    if (!more.ok() || !*more) break;
    types.push_back(frame.coded);
  }
  return types;
}

TEST(VideoWriterTest, KeepsTheInputsPFramesWhereTheInputHasBFrames) {
  // A pattern no encoder picks by itself (P frames side by side, runs of four B-frames
  // where the encoder makes at most three): left alone, x264 codes the clip in runs
  // of its own choosing.
  using Coded = VideoFrame::Coded;
  auto pattern = [](std::int64_t i) {
    if (i == 0) return Coded::kIntra;
    return i % 5 == 0 || i % 7 == 0 ? Coded::kPredicted : Coded::kBidirectional;
  };
  TempDir dir;
  const std::vector<Coded> types = WriteCodedAs(kSilent360, dir / "pattern.mp4", pattern);
  ASSERT_EQ(types.size(), 60u);
  int kept = 0;
  for (std::size_t i = 0; i < types.size(); ++i) {
    if (pattern(static_cast<std::int64_t>(i)) != Coded::kPredicted) continue;
    EXPECT_EQ(types[i], Coded::kPredicted) << "frame " << i;
    ++kept;
  }
  EXPECT_GT(kept, 15);
  EXPECT_GT(std::count(types.begin(), types.end(), Coded::kBidirectional), 10) << "the rest is the encoder's choice";

  // An input without B-frames (every frame P) leaves the pattern to the encoder, which
  // makes B-frames of its own.
  const std::vector<Coded> own = WriteCodedAs(kSilent360, dir / "own.mp4", [](std::int64_t i) {
    return i == 0 ? Coded::kIntra : Coded::kPredicted;
  });
  ASSERT_EQ(own.size(), 60u);
  EXPECT_GT(std::count(own.begin(), own.end(), Coded::kBidirectional), 10);
}

}  // namespace
}  // namespace swapline::media
