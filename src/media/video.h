// Video files: a frame reader and an encoder/muxer on FFmpeg's libraries (libavformat,
// libavcodec, libswscale, libswresample, libavutil), one pass, no frames on disk, no
// subprocess. libav's own log lines are routed to spdlog at debug level; failures
// reach callers as Status values.
//
// Frames travel as planar YUV 4:2:0 (8-bit) because that is what decoders produce and
// encoders take: face analysis reads the luma plane directly and face processing
// converts only the face's region to BGR and back, so pixels away from faces reach
// the encoder exactly as decoded. Only this header's implementation names libav types.
//
// VideoReader: Open() probes the file and opens its first video stream; Read() returns
// frames in presentation order with a dense `index` (0 = first frame of the trimmed
// range) and `pts_us`. Sources in another pixel format (10-bit, 4:4:4, …) are converted
// to 8-bit 4:2:0 by libswscale. Errors: missing file → kNotFound; not a video, no video
// stream, or undecodable (truncated, a JPEG named .mp4, audio-only) → kUnsupportedInput,
// with a message naming the file. A decoder error midway → kUnsupportedInput naming the
// frame; nothing is skipped silently. "Decoder error" means a packet the decoder
// rejects, or a frame it flags as concealed/corrupt (with frame threading FFmpeg
// 5.1's H.264 decoder raises that flag only sometimes; threads = 1 makes it
// reliable); harmless warnings (e.g. the missing references at the start of a clip
// cut from an open GOP) are not errors, as in FFmpeg itself. A truncated file fails at Open (header gone) or at the Read
// that reaches the cut (kUnsupportedInput, naming the frame); reads always end.
//
// VideoWriter: encodes frames (H.264 libx264 yuv420p by default, optionally libx265 or
// libvpx-vp9) and muxes them, with `+faststart` for mp4/mov, into a temporary file
// beside the output (core/atomic_file.h); Finish() flushes the encoder, writes the
// trailer and renames the file into place. A writer destroyed without Finish() leaves
// no file. Audio of `audio_source` (usually the input video) within the trimmed range
// is copied packet for packet when the output container accepts the codec, and
// re-encoded otherwise (AAC; Opus, else Vorbis, for WebM, which takes no AAC);
// subtitle and data streams are dropped with a log line.
// Resolution, frame rate, time base, rotation metadata and colour range/space of the
// input are kept unless options change them, and so is its GOP pattern where the
// input has B-frames and the encoder makes them: a frame the input coded as P is coded
// as P (VideoFrame::coded), the other frame types are the encoder's choice. The
// container metadata carries the synthetic-media mark ("comment" tag; ©cmt in
// mp4/mov, COMMENT in mkv/webm, ICMT in avi).
//
// Thread safety: a reader or writer is used by one thread at a time.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include <opencv2/core.hpp>

#include "core/status.h"

namespace swapline::media {

struct Rational {
  int num = 0;
  int den = 1;
  double value() const { return den == 0 ? 0.0 : static_cast<double>(num) / den; }
};

struct VideoInfo {
  int width = 0;
  int height = 0;
  Rational frame_rate;        // average frame rate of the video stream
  Rational time_base;         // of the video stream
  std::int64_t frame_count = 0;  // best estimate (stream header or duration × rate)
  double duration_s = 0;
  // Clockwise rotation a player applies to show the frame upright (the display
  // matrix; the same convention as the old "rotate" tag): 0, 90, 180 or 270.
  int rotation_degrees = 0;
  bool full_range = false;    // JPEG/full colour range instead of limited (TV)
  // Colour description as ITU-T H.273 code points (= FFmpeg's AVColor* values);
  // 2 = unspecified. Copied to the output by VideoWriter.
  int color_primaries = 2;
  int color_transfer = 2;
  int color_matrix = 2;
  Rational sample_aspect_ratio{0, 1};  // 0/1 = unknown (square pixels assumed)
  std::string video_codec;    // e.g. "h264"
  std::string audio_codec;    // empty when there is no audio stream
};

// One decoded frame, planar 8-bit YUV 4:2:0. The planes may share the decoder's
// buffers (kept alive by `owner`); treat them as read-only unless you own the frame.
struct VideoFrame {
  // How the input coded the frame, as its decoder reports it.
  enum class Coded : std::uint8_t { kUnknown, kIntra, kPredicted, kBidirectional };

  std::int64_t index = 0;
  std::int64_t pts_us = 0;
  Coded coded = Coded::kUnknown;
  cv::Mat y;  // width × height, CV_8U
  cv::Mat u;  // (width+1)/2 × (height+1)/2
  cv::Mat v;
  std::shared_ptr<void> owner;

  // Gives the frame its own copy of the planes, so they may be modified. Cheap when
  // the frame already owns planes that nothing else shares.
  void MakeWritable();
};

// Frames are counted as the decoder outputs them, from the file's first (what
// `ffprobe -count_frames` counts). Frames before trim_frame_start are decoded and
// dropped (no seeking, so the count is exact even for variable frame rates); reading
// stops at trim_frame_end or the end of the file, whichever comes first.
struct VideoReaderOptions {
  std::int64_t trim_frame_start = 0;               // first frame to return
  std::optional<std::int64_t> trim_frame_end;      // exclusive; must be > trim_frame_start
  int threads = 0;                                 // decoder threads (frame + slice), 0 = auto
  // Frames with more pixels (width × height from the stream header) are refused at
  // Open with kTooLarge, before a decoder is set up.
  std::int64_t max_frame_pixels = 100'000'000;
};

class VideoReader {
 public:
  static Result<std::unique_ptr<VideoReader>> Open(const std::filesystem::path& path,
                                                   const VideoReaderOptions& options = {});
  virtual ~VideoReader() = default;
  // The whole file's description (not the trimmed range's).
  virtual const VideoInfo& info() const = 0;
  // Next frame into `frame` (its previous planes are released); false at the end of
  // the (trimmed) stream. `pts_us` is the frame's presentation time from the video
  // stream's start (so frame trim_frame_start of a 30 fps file has pts_us ≈ start/30 s).
  // After an error every later call returns the same error.
  virtual Result<bool> Read(VideoFrame& frame) = 0;
};

// Probes without decoding frames (beyond the few FFmpeg reads to fill in stream
// parameters). Same errors as VideoReader::Open.
Result<VideoInfo> ProbeVideo(const std::filesystem::path& path);

// True when the file's bytes look like a container FFmpeg reads as video (used to
// route `swapline swap` targets to the image or the video pipeline): a readable file
// with a video stream. Still images (JPEG/PNG/WebP/BMP read by FFmpeg's image
// demuxers, or a lone picture in any container) are not video, whatever the file's
// extension; nor are audio-only files (animated GIFs are video). Never throws;
// false on any error.
bool LooksLikeVideo(const std::filesystem::path& path);

// Containers by the output's extension: .mp4/.m4v, .mov, .mkv, .webm, .avi (anything
// else: kInvalidArgument). WebM takes VP9 only, so it is encoded with libvpx-vp9
// whatever `encoder` says (logged). libx265 in mp4/mov is tagged hvc1.
struct VideoWriterOptions {
  std::string encoder = "libx264";       // libx264, libx265, libvpx-vp9
  // FaceFusion's 0..100, mapped to CRF: x264/x265 round(51 - q*0.51) (80 → 10);
  // vp9 round(63 - q*0.63) with b:v 0 (constant quality).
  int quality = 80;
  // x264/x265 presets ultrafast…veryslow. vp9: cpu-used 8 (ultrafast) … 0 (veryslow),
  // deadline realtime for ultrafast/superfast, good otherwise; row-mt on.
  std::string preset = "veryfast";
  // Unset: the input's rate and timestamps are kept as they are (variable rates too).
  // Set: frames are placed on the 1/fps grid; output frame n shows the last input
  // frame whose pts is at or before n/fps (within a quarter output frame), so frames
  // are dropped or repeated; the output lasts as long as the input. AVI, which stores
  // no timestamps, always uses the grid at the input's (or this) rate.
  std::optional<Rational> frame_rate;
  // Unset: the input's (odd sizes are cropped by one row/column to even, as 4:2:0
  // encoders need). Set: scaled by libswscale (bicubic), rounded up to even; the
  // display aspect ratio of non-square pixels is kept.
  std::optional<cv::Size> resolution;
  int threads = 0;                       // encoder threads, 0 = auto
  std::string synthetic_mark;            // written as the container's comment tag (≤ 4096 bytes)
  // Audio: the first audio stream of this file (no audio stream: the output has none,
  // not an error). Times are on the reader's clock (from the source's video stream
  // start): packets in [audio_start_us, audio_end_us) are written, shifted so that
  // audio_start_us lands on the first video frame. Copied packets are whole (the
  // first/last may reach up to one packet, ~21 ms for AAC, beyond the range; mp4
  // edit lists hide the excess); re-encoded audio is cut at the sample. Without a
  // start trim, everything from the stream's beginning is kept, priming included, so
  // an untrimmed copy is packet-identical. Unset end: to the end of the source; set
  // it when the video is trimmed at the end.
  std::optional<std::filesystem::path> audio_source;
  std::int64_t audio_start_us = 0;
  std::optional<std::int64_t> audio_end_us;
};

class VideoWriter {
 public:
  // `input` describes the frames that will be written (size, rate, time base, rotation,
  // range, colour, aspect). Opens the encoder and the audio source and writes the
  // header into the temporary file, so option and output-folder errors come here:
  // kInvalidArgument (extension, quality, preset, encoder, sizes), kOutputNotWritable
  // (folder missing or read-only), kNotFound/kUnsupportedInput (audio source).
  static Result<std::unique_ptr<VideoWriter>> Create(const std::filesystem::path& output, const VideoInfo& input,
                                                     const VideoWriterOptions& options);
  virtual ~VideoWriter() = default;
  // Frames in index order, each input.width × input.height (else kInvalidArgument);
  // `pts_us` on any clock, relative to the first written frame's, increasing (when
  // timestamps are kept, a repeated or decreasing one is nudged one tick forward). The planes are
  // referenced, not copied, until the encoder has taken them: do not modify them
  // after Write (call MakeWritable on a copy instead). After an error every later
  // call returns the same error.
  virtual Status Write(const VideoFrame& frame) = 0;
  // Flushes the encoder and the rest of the audio, writes the trailer (mp4/mov: moves
  // the index to the front) and renames into place. No frames written: kInvalidArgument
  // and no file. Any error: no file.
  virtual Status Finish() = 0;
};

}  // namespace swapline::media
