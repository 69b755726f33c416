#include "media/video.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <limits>
#include <mutex>
#include <string_view>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "core/atomic_file.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/audio_fifo.h>
#include <libavutil/avstring.h>
#include <libavutil/channel_layout.h>
#include <libavutil/display.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libswresample/swresample.h>
#include <libswscale/swscale.h>
}

namespace swapline::media {
namespace {

namespace fs = std::filesystem;

constexpr AVRational kMicros{1, 1000000};

// ---- libav plumbing. ----

std::string AvError(int err) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(err, buf, sizeof(buf));
  return buf;
}

// Messages name a file by its name only: inputs may sit in server folders (scratch,
// file store) whose paths are nobody's business but the operator's.
std::string Quoted(const fs::path& path) { return "'" + path.filename().string() + "'"; }

// libav logs to stderr by default; swapline reports errors as Status values and
// keeps libav's own lines at debug level (visible with --log-level debug).
void AvLogToSpdlog(void* avcl, int level, const char* fmt, va_list vl) {
  if (level > AV_LOG_WARNING) return;
  if (!spdlog::should_log(spdlog::level::debug)) return;
  char line[1024];
  int print_prefix = 1;
  av_log_format_line2(avcl, level, fmt, vl, line, sizeof(line), &print_prefix);
  std::string_view text(line);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  if (!text.empty()) spdlog::debug("libav: {}", text);
}

void InitLibav() {
  static std::once_flag once;
  std::call_once(once, [] { av_log_set_callback(AvLogToSpdlog); });
}

// An input opened by OpenUntrustedInput: libavformat reads it through our own byte
// source (FileSource below), which the context does not own.
struct FileSource {
  int fd = -1;
  ~FileSource() {
    if (fd >= 0) ::close(fd);
  }
};

void FreeCustomIo(AVIOContext* pb) {
  if (pb == nullptr) return;
  delete static_cast<FileSource*>(pb->opaque);
  av_freep(&pb->buffer);
  avio_context_free(&pb);
}

struct InputCloser {
  void operator()(AVFormatContext* c) const {
    AVIOContext* custom = (c->flags & AVFMT_FLAG_CUSTOM_IO) != 0 ? c->pb : nullptr;
    avformat_close_input(&c);
    FreeCustomIo(custom);
  }
};
struct CodecContextFree {
  void operator()(AVCodecContext* c) const { avcodec_free_context(&c); }
};
struct FrameFree {
  void operator()(AVFrame* f) const { av_frame_free(&f); }
};
struct PacketFree {
  void operator()(AVPacket* p) const { av_packet_free(&p); }
};
struct SwsFree {
  void operator()(SwsContext* c) const { sws_freeContext(c); }
};
struct SwrFree {
  void operator()(SwrContext* c) const { swr_free(&c); }
};
struct FifoFree {
  void operator()(AVAudioFifo* f) const { av_audio_fifo_free(f); }
};
using InputPtr = std::unique_ptr<AVFormatContext, InputCloser>;
using CodecPtr = std::unique_ptr<AVCodecContext, CodecContextFree>;
using FramePtr = std::unique_ptr<AVFrame, FrameFree>;
using PacketPtr = std::unique_ptr<AVPacket, PacketFree>;
using SwsPtr = std::unique_ptr<SwsContext, SwsFree>;
using SwrPtr = std::unique_ptr<SwrContext, SwrFree>;
using FifoPtr = std::unique_ptr<AVAudioFifo, FifoFree>;

FramePtr NewFrame() { return FramePtr(av_frame_alloc()); }
PacketPtr NewPacket() { return PacketPtr(av_packet_alloc()); }

bool ValidRational(AVRational r) { return r.num > 0 && r.den > 0; }

// ---- Input. ----

// Opens `path` for reading. kNotFound / kPermissionDenied / kUnsupportedInput for
// paths that cannot be videos; the checks run on the opened descriptor.
Result<std::unique_ptr<FileSource>> OpenInputFile(const fs::path& path) {
  auto source = std::make_unique<FileSource>();
  source->fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);  // a FIFO must not block the open
  if (source->fd < 0) {
    const int err = errno;
    if (err == ENOENT || err == ENOTDIR) return NotFound("video " + Quoted(path) + " does not exist");
    if (err == EACCES) return PermissionDenied("video " + Quoted(path) + " is not readable (permission denied)");
    return ErrnoStatus(err, "cannot read video", path.filename().string());
  }
  struct stat st {};
  if (::fstat(source->fd, &st) != 0) return ErrnoStatus(errno, "cannot read video", path.filename().string());
  if (S_ISDIR(st.st_mode)) return UnsupportedInput(Quoted(path) + " is a folder, not a video file");
  if (!S_ISREG(st.st_mode)) return UnsupportedInput(Quoted(path) + " is not a regular file");
  if (st.st_size == 0) return UnsupportedInput("video " + Quoted(path) + " is empty (0 bytes)");
  return source;
}

int ReadFromFile(void* opaque, std::uint8_t* buf, int size) {
  const int fd = static_cast<FileSource*>(opaque)->fd;
  while (true) {
    const ssize_t n = ::read(fd, buf, static_cast<std::size_t>(size));
    if (n > 0) return static_cast<int>(n);
    if (n == 0) return AVERROR_EOF;
    if (errno != EINTR) return AVERROR(errno);
  }
}

std::int64_t SeekInFile(void* opaque, std::int64_t offset, int whence) {
  const int fd = static_cast<FileSource*>(opaque)->fd;
  if ((whence & AVSEEK_SIZE) != 0) {
    struct stat st {};
    return ::fstat(fd, &st) == 0 ? st.st_size : AVERROR(errno);
  }
  const off_t at = ::lseek(fd, offset, whence & ~AVSEEK_FORCE);
  return at < 0 ? AVERROR(errno) : at;
}

// A container may name other files or URLs (HLS and DASH playlists, concat lists,
// mov external references, image sequences); libavformat opens those through
// io_open, which untrusted inputs never get.
int RefuseNestedOpen(AVFormatContext* /*s*/, AVIOContext** /*pb*/, const char* /*url*/, int /*flags*/,
                     AVDictionary** /*options*/) {
  return AVERROR(EPERM);
}

// The demuxers untrusted inputs may reach, as FFmpeg names them ("mov" is the
// "mov,mp4,m4a,3gp,3g2,mj2" demuxer, "matroska" also reads WebM). Everything else
// (playlists, network and device demuxers, raw streams) is refused after the probe.
constexpr char kAllowedDemuxers[] = "mov,matroska,avi";
constexpr char kAllowedContainers[] = "MP4/MOV, Matroska/WebM or AVI";

// Demuxers that read single pictures (image2, jpeg_pipe, png_pipe, webp_pipe, …).
bool IsImageDemuxer(const AVInputFormat* format) {
  const std::string_view name = format->name;
  return name == "image2" || name == "image2pipe" ||
         (name.size() > 5 && name.substr(name.size() - 5) == "_pipe");
}

bool IsStillImageCodec(AVCodecID id) {
  switch (id) {
    case AV_CODEC_ID_MJPEG: case AV_CODEC_ID_PNG: case AV_CODEC_ID_BMP: case AV_CODEC_ID_WEBP:
    case AV_CODEC_ID_TIFF: case AV_CODEC_ID_JPEG2000: case AV_CODEC_ID_JPEGLS:
      return true;
    default:
      return false;
  }
}

const char* DescribeImageDemuxer(const AVInputFormat* format) {
  const std::string_view name = format->name;
  if (name.starts_with("jpeg")) return "a JPEG image";
  if (name.starts_with("png")) return "a PNG image";
  if (name.starts_with("webp")) return "a WebP image";
  if (name.starts_with("bmp")) return "a BMP image";
  return "a still image";
}

struct OpenedInput {
  InputPtr format;
  int video_index = -1;
};

// Opens an untrusted file for demuxing. libavformat reads it only through one
// AVIOContext over the descriptor we opened, probes it by its bytes alone (the name
// plays no part), and may use only an allow-listed demuxer, which cannot open
// anything else. Still images get their own message (they are routed to the image
// pipeline).
Result<InputPtr> OpenUntrustedInput(const fs::path& path) {
  InitLibav();
  SWAPLINE_ASSIGN_OR_RETURN(std::unique_ptr<FileSource> source, OpenInputFile(path));
  constexpr int kBufferSize = 64 * 1024;
  auto* buffer = static_cast<unsigned char*>(av_malloc(kBufferSize));
  if (buffer == nullptr) return Internal("out of memory opening a video");
  AVIOContext* pb = avio_alloc_context(buffer, kBufferSize, 0, source.get(), ReadFromFile, nullptr, SeekInFile);
  if (pb == nullptr) {
    av_free(buffer);
    return Internal("out of memory opening a video");
  }
  source.release();  // owned by pb from here (FreeCustomIo)
  const AVInputFormat* format = nullptr;
  int ret = av_probe_input_buffer2(pb, &format, "", nullptr, 0, 0);
  Status refused;
  if (ret < 0 || format == nullptr) {
    refused = UnsupportedInput("cannot read " + Quoted(path) + " as a video (not a container FFmpeg recognises" +
                               (ret < 0 ? ": " + AvError(ret) : std::string()) + ")");
  } else if (IsImageDemuxer(format)) {
    refused = UnsupportedInput(Quoted(path) + " is " + DescribeImageDemuxer(format) + ", not a video");
  } else if (av_match_list(format->name, kAllowedDemuxers, ',') <= 0) {
    refused = UnsupportedInput(Quoted(path) + " is " + (format->long_name ? format->long_name : format->name) +
                               " (" + format->name + "), not an accepted video container (" +
                               kAllowedContainers + "); playlists and files that refer to other files are refused");
  }
  if (!refused.ok()) {
    FreeCustomIo(pb);
    return refused;
  }
  AVFormatContext* raw = avformat_alloc_context();
  if (raw == nullptr) {
    FreeCustomIo(pb);
    return Internal("out of memory opening a video");
  }
  raw->pb = pb;
  raw->flags |= AVFMT_FLAG_CUSTOM_IO;
  raw->io_open = RefuseNestedOpen;
  AVDictionary* options = nullptr;
  av_dict_set(&options, "format_whitelist", kAllowedDemuxers, 0);
  ret = avformat_open_input(&raw, "", format, &options);  // frees `raw` on failure, never pb
  av_dict_free(&options);
  if (ret < 0) {
    FreeCustomIo(pb);
    return UnsupportedInput("cannot read " + Quoted(path) + " as a video (a damaged header: " + AvError(ret) + ")");
  }
  return InputPtr(raw);
}

Result<OpenedInput> OpenVideoInput(const fs::path& path) {
  OpenedInput input;
  SWAPLINE_ASSIGN_OR_RETURN(input.format, OpenUntrustedInput(path));
  AVFormatContext* fmt = input.format.get();
  int ret = avformat_find_stream_info(fmt, nullptr);
  if (ret < 0) {
    return UnsupportedInput("cannot read the streams of " + Quoted(path) +
                            " (truncated or damaged file?): " + AvError(ret));
  }
  bool has_audio = false;
  for (unsigned i = 0; i < fmt->nb_streams; ++i) {
    const AVStream* st = fmt->streams[i];
    if (st->codecpar->codec_type == AVMEDIA_TYPE_AUDIO) has_audio = true;
    if (st->codecpar->codec_type == AVMEDIA_TYPE_VIDEO && !(st->disposition & AV_DISPOSITION_ATTACHED_PIC) &&
        input.video_index < 0) {
      input.video_index = static_cast<int>(i);
    }
  }
  if (input.video_index < 0) {
    return UnsupportedInput(Quoted(path) + (has_audio ? " has no video stream (audio only)"
                                                      : " has no video stream"));
  }
  const AVStream* st = fmt->streams[input.video_index];
  const AVCodecParameters* par = st->codecpar;
  // A lone picture in a raw or container demuxer (e.g. a JPEG read by "mjpeg").
  if (IsStillImageCodec(par->codec_id) && st->nb_frames <= 1 &&
      (fmt->duration == AV_NOPTS_VALUE || fmt->duration <= AV_TIME_BASE / 10)) {
    return UnsupportedInput(Quoted(path) + " holds a single still image, not a video");
  }
  if (avcodec_find_decoder(par->codec_id) == nullptr) {
    const char* name = avcodec_get_name(par->codec_id);
    return UnsupportedInput("the video codec of " + Quoted(path) + " (" + (name ? name : "unknown") +
                            ") cannot be decoded by this FFmpeg");
  }
  if (par->width <= 0 || par->height <= 0) {
    return UnsupportedInput("cannot find the frame size of the video in " + Quoted(path) +
                            " (truncated or damaged file?)");
  }
  return input;
}

bool IsRgbFormat(int format) {
  const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(static_cast<AVPixelFormat>(format));
  return desc != nullptr && (desc->flags & AV_PIX_FMT_FLAG_RGB) != 0;
}

bool IsJpegFormat(int format) {
  return format == AV_PIX_FMT_YUVJ420P || format == AV_PIX_FMT_YUVJ422P || format == AV_PIX_FMT_YUVJ444P ||
         format == AV_PIX_FMT_YUVJ440P || format == AV_PIX_FMT_YUVJ411P;
}

int RotationOf(const AVStream* st) {
  size_t size = 0;
  const uint8_t* matrix = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, &size);
  if (matrix == nullptr || size < 9 * sizeof(int32_t)) return 0;
  // Phones' portrait videos (shown turned 90° clockwise) read -90 here, and ffmpeg's
  // own autorotation turns a frame by the negated angle; so clockwise = -angle.
  const double angle = av_display_rotation_get(reinterpret_cast<const int32_t*>(matrix));
  if (std::isnan(angle)) return 0;
  long cw = std::lround(-angle / 90.0) * 90;
  cw %= 360;
  if (cw < 0) cw += 360;
  return static_cast<int>(cw);
}

AVRational FrameRateOf(AVFormatContext* fmt, AVStream* st) {
  if (ValidRational(st->avg_frame_rate)) return st->avg_frame_rate;
  if (ValidRational(st->r_frame_rate)) return st->r_frame_rate;
  AVRational guess = av_guess_frame_rate(fmt, st, nullptr);
  if (ValidRational(guess)) return guess;
  return AVRational{25, 1};
}

// A colour field as the demuxer stored it, which may be any number the file
// carried (found by fuzz_video: 32 in a color_space): read as an int, and values
// libav does not define become `unspecified`.
template <typename Enum>
int CodePoint(const Enum& field, int count, int unspecified = 2) {
  static_assert(sizeof(Enum) == sizeof(int));
  int value = 0;
  std::memcpy(&value, &field, sizeof(value));
  return value >= 0 && value < count ? value : unspecified;
}

VideoInfo BuildInfo(AVFormatContext* fmt, int video_index) {
  AVStream* st = fmt->streams[video_index];
  const AVCodecParameters* par = st->codecpar;
  VideoInfo info;
  info.width = par->width;
  info.height = par->height;
  const AVRational rate = FrameRateOf(fmt, st);
  info.frame_rate = {rate.num, rate.den};
  info.time_base = {st->time_base.num, st->time_base.den};
  if (st->duration != AV_NOPTS_VALUE && st->duration > 0) {
    info.duration_s = static_cast<double>(st->duration) * av_q2d(st->time_base);
  } else if (fmt->duration != AV_NOPTS_VALUE && fmt->duration > 0) {
    info.duration_s = static_cast<double>(fmt->duration) / AV_TIME_BASE;
  }
  if (st->nb_frames > 0) {
    info.frame_count = st->nb_frames;
  } else {
    info.frame_count = std::llround(info.duration_s * av_q2d(rate));
  }
  info.rotation_degrees = RotationOf(st);
  const int range = CodePoint(par->color_range, AVCOL_RANGE_NB, AVCOL_RANGE_UNSPECIFIED);
  info.full_range = !IsRgbFormat(par->format) && (range == AVCOL_RANGE_JPEG || IsJpegFormat(par->format));
  info.color_primaries = CodePoint(par->color_primaries, AVCOL_PRI_NB);
  info.color_transfer = CodePoint(par->color_trc, AVCOL_TRC_NB);
  info.color_matrix = CodePoint(par->color_space, AVCOL_SPC_NB);
  if (ValidRational(par->sample_aspect_ratio)) {
    info.sample_aspect_ratio = {par->sample_aspect_ratio.num, par->sample_aspect_ratio.den};
  }
  info.video_codec = avcodec_get_name(par->codec_id);
  for (unsigned i = 0; i < fmt->nb_streams; ++i) {
    if (fmt->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_AUDIO) {
      info.audio_codec = avcodec_get_name(fmt->streams[i]->codecpar->codec_id);
      break;
    }
  }
  return info;
}

// ---- Reader. ----

class LibavReader final : public VideoReader {
 public:
  LibavReader(fs::path path, OpenedInput input, const VideoReaderOptions& options)
      : path_(std::move(path)), input_(std::move(input)), options_(options) {}

  Status Init() {
    AVFormatContext* fmt = input_.format.get();
    stream_ = fmt->streams[input_.video_index];
    // Only the video stream's packets are needed.
    for (unsigned i = 0; i < fmt->nb_streams; ++i) {
      if (static_cast<int>(i) != input_.video_index) fmt->streams[i]->discard = AVDISCARD_ALL;
    }
    info_ = BuildInfo(fmt, input_.video_index);
    const AVCodec* codec = avcodec_find_decoder(stream_->codecpar->codec_id);
    decoder_.reset(avcodec_alloc_context3(codec));
    if (!decoder_) return Internal("out of memory allocating a video decoder");
    int ret = avcodec_parameters_to_context(decoder_.get(), stream_->codecpar);
    if (ret < 0) return Internal("cannot set up the video decoder: " + AvError(ret));
    decoder_->pkt_timebase = stream_->time_base;
    decoder_->thread_count = std::max(0, options_.threads);
    decoder_->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
    // Damage is caught where the decoder reports it: a packet it cannot decode (an
    // error from send/receive) or a frame it flags as concealed/corrupt (Read checks
    // decode_error_flags). AV_EF_EXPLODE is not set: it also fails on benign issues,
    // such as the missing references of a clip cut with `ffmpeg -ss … -c copy` from
    // an open-GOP stream, which FFmpeg itself decodes fine.
    ret = avcodec_open2(decoder_.get(), codec, nullptr);
    if (ret < 0) {
      return UnsupportedInput("cannot open the " + info_.video_codec + " decoder for " + Quoted(path_) + ": " +
                              AvError(ret));
    }
    packet_ = NewPacket();
    frame_ = NewFrame();
    if (!packet_ || !frame_) return Internal("out of memory");
    start_pts_ = stream_->start_time;
    frame_duration_us_ = av_rescale_q(1, av_inv_q(FrameRateOf(fmt, stream_)), kMicros);
    return Status::Ok();
  }

  const VideoInfo& info() const override { return info_; }

  Result<bool> Read(VideoFrame& out) override {
    if (!failed_.ok()) return failed_;
    auto result = ReadImpl(out);
    if (!result.ok()) failed_ = result.status();
    return result;
  }

 private:
  Result<bool> ReadImpl(VideoFrame& out) {
    if (done_) return false;
    while (true) {
      if (options_.trim_frame_end && decoded_ >= *options_.trim_frame_end) {
        done_ = true;
        return false;
      }
      int ret = avcodec_receive_frame(decoder_.get(), frame_.get());
      if (ret == 0) {
        const std::int64_t number = decoded_++;
        if (frame_->decode_error_flags != 0 || (frame_->flags & AV_FRAME_FLAG_CORRUPT) != 0) {
          return DecodeError("frame " + std::to_string(number) + " is damaged");
        }
        if (number < options_.trim_frame_start) {
          av_frame_unref(frame_.get());
          continue;
        }
        SWAPLINE_RETURN_IF_ERROR(Deliver(number - options_.trim_frame_start, out));
        return true;
      }
      if (ret == AVERROR_EOF) {
        done_ = true;
        if (input_.format->pb != nullptr && input_.format->pb->error < 0) {
          return UnsupportedInput("reading " + Quoted(path_) + " failed after frame " + std::to_string(decoded_) +
                                  ": " + AvError(input_.format->pb->error));
        }
        if (decoded_ == 0) {
          return UnsupportedInput(Quoted(path_) + " contains no decodable video frames (truncated or damaged file?)");
        }
        return false;
      }
      if (ret != AVERROR(EAGAIN)) return DecodeError(AvError(ret));
      SWAPLINE_RETURN_IF_ERROR(Feed());
    }
  }

  Status DecodeError(const std::string& what) {
    return UnsupportedInput("decoding " + Quoted(path_) + " failed at frame " + std::to_string(decoded_) +
                            " (" + what + "); the file is damaged or truncated");
  }

  // Sends the next video packet (or the end-of-stream flush) to the decoder.
  Status Feed() {
    if (flushing_) return Internal("video decoder asked for input after the end of the stream");
    AVFormatContext* fmt = input_.format.get();
    int again = 0;
    while (true) {
      int ret = av_read_frame(fmt, packet_.get());
      if (ret == AVERROR_EOF) {
        flushing_ = true;
        ret = avcodec_send_packet(decoder_.get(), nullptr);
        if (ret < 0 && ret != AVERROR_EOF) return DecodeError(AvError(ret));
        return Status::Ok();
      }
      if (ret == AVERROR(EAGAIN) && ++again < 1000) continue;
      if (ret < 0) {
        return UnsupportedInput(Quoted(path_) + " is truncated or damaged: reading stopped after frame " +
                                std::to_string(decoded_) + " (" + AvError(ret) + ")");
      }
      if (packet_->stream_index != input_.video_index) {
        av_packet_unref(packet_.get());
        continue;
      }
      if ((packet_->flags & AV_PKT_FLAG_CORRUPT) != 0) {
        av_packet_unref(packet_.get());
        return UnsupportedInput(Quoted(path_) + " is truncated or damaged: a packet near frame " +
                                std::to_string(decoded_) + " is incomplete");
      }
      ret = avcodec_send_packet(decoder_.get(), packet_.get());
      av_packet_unref(packet_.get());
      if (ret < 0) return DecodeError(AvError(ret));
      return Status::Ok();
    }
  }

  Status Deliver(std::int64_t index, VideoFrame& out) {
    AVFrame* f = frame_.get();
    std::int64_t ts = f->best_effort_timestamp;
    if (ts == AV_NOPTS_VALUE) ts = f->pts;
    std::int64_t pts_us;
    if (ts == AV_NOPTS_VALUE) {
      pts_us = last_pts_us_ == std::numeric_limits<std::int64_t>::min() ? 0 : last_pts_us_ + frame_duration_us_;
    } else {
      if (start_pts_ == AV_NOPTS_VALUE) start_pts_ = ts;
      pts_us = av_rescale_q(ts - start_pts_, stream_->time_base, kMicros);
    }
    last_pts_us_ = pts_us;

    out = VideoFrame{};
    out.index = index;
    out.pts_us = pts_us;
    const int w = info_.width;
    const int h = info_.height;
    const int cw = (w + 1) / 2;
    const int ch = (h + 1) / 2;
    if ((f->format == AV_PIX_FMT_YUV420P || f->format == AV_PIX_FMT_YUVJ420P) && f->width == w &&
        f->height == h && f->linesize[0] > 0 && f->linesize[1] > 0 && f->linesize[2] > 0) {
      FramePtr held = NewFrame();
      if (!held) return Internal("out of memory");
      av_frame_move_ref(held.get(), f);
      AVFrame* p = held.get();
      out.y = cv::Mat(h, w, CV_8UC1, p->data[0], static_cast<size_t>(p->linesize[0]));
      out.u = cv::Mat(ch, cw, CV_8UC1, p->data[1], static_cast<size_t>(p->linesize[1]));
      out.v = cv::Mat(ch, cw, CV_8UC1, p->data[2], static_cast<size_t>(p->linesize[2]));
      out.owner = std::shared_ptr<AVFrame>(held.release(), FrameFree());
      return Status::Ok();
    }
    // Any other layout: convert to 8-bit 4:2:0 at the stream's size, keeping the range.
    SwsContext* before = sws_.get();
    SwsContext* ctx = sws_getCachedContext(sws_.release(), f->width, f->height, static_cast<AVPixelFormat>(f->format),
                                           w, h, AV_PIX_FMT_YUV420P, SWS_BICUBIC, nullptr, nullptr, nullptr);
    sws_.reset(ctx);
    if (ctx == nullptr) {
      av_frame_unref(f);
      const char* name = av_get_pix_fmt_name(static_cast<AVPixelFormat>(f->format));
      return UnsupportedInput("cannot convert the pixel format " + std::string(name ? name : "?") + " of " +
                              Quoted(path_) + " to YUV 4:2:0");
    }
    if (ctx != before || sws_format_ != f->format) {
      const bool src_full = !IsRgbFormat(f->format) && (f->color_range == AVCOL_RANGE_JPEG || IsJpegFormat(f->format) ||
                                                         (f->color_range == AVCOL_RANGE_UNSPECIFIED && info_.full_range));
      const int* coeffs = sws_getCoefficients(f->colorspace == AVCOL_SPC_BT709 ? SWS_CS_ITU709 : SWS_CS_DEFAULT);
      sws_setColorspaceDetails(ctx, coeffs, src_full ? 1 : 0, coeffs, info_.full_range ? 1 : 0, 0, 1 << 16, 1 << 16);
      sws_format_ = f->format;
    }
    out.y.create(h, w, CV_8UC1);
    out.u.create(ch, cw, CV_8UC1);
    out.v.create(ch, cw, CV_8UC1);
    uint8_t* dst[4] = {out.y.data, out.u.data, out.v.data, nullptr};
    int dst_stride[4] = {static_cast<int>(out.y.step), static_cast<int>(out.u.step), static_cast<int>(out.v.step), 0};
    sws_scale(ctx, f->data, f->linesize, 0, f->height, dst, dst_stride);
    av_frame_unref(f);
    return Status::Ok();
  }

  fs::path path_;
  OpenedInput input_;
  VideoReaderOptions options_;
  AVStream* stream_ = nullptr;
  VideoInfo info_;
  CodecPtr decoder_;
  PacketPtr packet_;
  FramePtr frame_;
  SwsPtr sws_;
  int sws_format_ = -1;
  std::int64_t start_pts_ = AV_NOPTS_VALUE;
  std::int64_t frame_duration_us_ = 0;
  std::int64_t last_pts_us_ = std::numeric_limits<std::int64_t>::min();
  std::int64_t decoded_ = 0;  // frames the decoder has returned, from the file's first
  bool flushing_ = false;
  bool done_ = false;
  Status failed_;
};

// ---- Writer. ----

struct ContainerSpec {
  const char* extension;
  const char* muxer;
  bool faststart;
};

constexpr ContainerSpec kContainers[] = {
    {".mp4", "mp4", true}, {".m4v", "mp4", true}, {".mov", "mov", true},
    {".mkv", "matroska", false}, {".webm", "webm", false}, {".avi", "avi", false},
};

const ContainerSpec* ContainerFor(const fs::path& output) {
  std::string ext = output.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const ContainerSpec& spec : kContainers) {
    if (ext == spec.extension) return &spec;
  }
  return nullptr;
}

constexpr std::array<std::string_view, 9> kPresets = {"ultrafast", "superfast", "veryfast", "faster", "fast",
                                                       "medium",    "slow",      "slower",   "veryslow"};

int PresetRank(std::string_view preset) {
  for (std::size_t i = 0; i < kPresets.size(); ++i) {
    if (kPresets[i] == preset) return static_cast<int>(i);
  }
  return -1;
}

// Packets of the first audio stream of `audio_source` within [start, end), copied or
// re-encoded into one output stream.
class AudioTrack {
 public:
  static Result<std::unique_ptr<AudioTrack>> Open(const fs::path& source, std::int64_t start_us,
                                                  std::optional<std::int64_t> end_us, AVFormatContext* out) {
    auto track = std::unique_ptr<AudioTrack>(new AudioTrack());
    Result<InputPtr> opened = OpenUntrustedInput(source);
    if (!opened.ok()) return opened.status().WithContext("audio source");
    track->input_ = std::move(opened).value();
    AVFormatContext* raw = track->input_.get();
    track->source_ = source;
    track->start_us_ = std::max<std::int64_t>(0, start_us);
    track->end_us_ = end_us.value_or(std::numeric_limits<std::int64_t>::max());
    const int ret = avformat_find_stream_info(raw, nullptr);
    if (ret < 0) return UnsupportedInput("cannot read the streams of " + Quoted(source) + ": " + AvError(ret));

    int subtitles = 0, data = 0, extra_audio = 0;
    int video_index = -1;
    for (unsigned i = 0; i < raw->nb_streams; ++i) {
      AVStream* st = raw->streams[i];
      st->discard = AVDISCARD_ALL;
      switch (st->codecpar->codec_type) {
        case AVMEDIA_TYPE_AUDIO:
          if (track->in_stream_ == nullptr) {
            track->in_stream_ = st;
          } else {
            ++extra_audio;
          }
          break;
        case AVMEDIA_TYPE_VIDEO:
          if (video_index < 0 && !(st->disposition & AV_DISPOSITION_ATTACHED_PIC)) video_index = static_cast<int>(i);
          break;
        case AVMEDIA_TYPE_SUBTITLE: ++subtitles; break;
        case AVMEDIA_TYPE_DATA: case AVMEDIA_TYPE_ATTACHMENT: ++data; break;
        default: break;
      }
    }
    if (subtitles + data > 0) {
      spdlog::info("{}: dropping {} subtitle and {} data/attachment stream(s); only video and audio are written",
                   source.string(), subtitles, data);
    }
    if (extra_audio > 0) {
      spdlog::info("{}: keeping the first audio stream, dropping {} other(s)", source.string(), extra_audio);
    }
    if (track->in_stream_ == nullptr) return std::unique_ptr<AudioTrack>();
    track->in_stream_->discard = AVDISCARD_DEFAULT;
    // Times are measured like VideoReader's pts_us: from the video stream's start.
    if (video_index >= 0 && raw->streams[video_index]->start_time != AV_NOPTS_VALUE) {
      track->ref_us_ = av_rescale_q(raw->streams[video_index]->start_time, raw->streams[video_index]->time_base, kMicros);
    } else if (track->in_stream_->start_time != AV_NOPTS_VALUE) {
      track->ref_us_ = av_rescale_q(track->in_stream_->start_time, track->in_stream_->time_base, kMicros);
    }
    SWAPLINE_RETURN_IF_ERROR(track->SetUpOutput(out));
    track->SeekNearStart();
    return track;
  }

  // Writes the packets whose output time is before `limit_us` (video-relative).
  Status PumpUntil(std::int64_t limit_us) {
    while (!eof_) {
      if (!have_packet_) {
        SWAPLINE_RETURN_IF_ERROR(NextPacket());
        if (!have_packet_) break;
      }
      if (packet_out_us_ >= limit_us) break;
      SWAPLINE_RETURN_IF_ERROR(copy_ ? WriteCopied() : Decode(packet_.get()));
      have_packet_ = false;
    }
    return Status::Ok();
  }

  Status Finish() {
    SWAPLINE_RETURN_IF_ERROR(PumpUntil(std::numeric_limits<std::int64_t>::max()));
    if (copy_) return Status::Ok();
    SWAPLINE_RETURN_IF_ERROR(Decode(nullptr));
    return Encode(/*flush=*/true);
  }

 private:
  AudioTrack() = default;

  Status SetUpOutput(AVFormatContext* out) {
    const AVCodecParameters* par = in_stream_->codecpar;
    out_ = out;
    const bool accepted = avformat_query_codec(out->oformat, par->codec_id, FF_COMPLIANCE_NORMAL) == 1;
    // ADTS AAC (from MPEG-TS) has no global header and would need a bitstream filter.
    const bool needs_bsf = par->codec_id == AV_CODEC_ID_AAC && par->extradata_size == 0 &&
                           (out->oformat->flags & AVFMT_GLOBALHEADER) != 0;
    copy_ = accepted && !needs_bsf;
    out_stream_ = avformat_new_stream(out, nullptr);
    if (out_stream_ == nullptr) return Internal("out of memory adding the audio stream");
    packet_ = NewPacket();
    if (!packet_) return Internal("out of memory");
    if (copy_) {
      int ret = avcodec_parameters_copy(out_stream_->codecpar, par);
      if (ret < 0) return Internal("cannot copy the audio stream parameters: " + AvError(ret));
      out_stream_->codecpar->codec_tag = 0;
      out_stream_->time_base = in_stream_->time_base;
      return Status::Ok();
    }
    return SetUpTranscode();
  }

  Status SetUpTranscode() {
    const AVCodecParameters* par = in_stream_->codecpar;
    const AVCodec* decoder = avcodec_find_decoder(par->codec_id);
    if (decoder == nullptr) {
      return UnsupportedInput("the audio codec of " + Quoted(source_) + " (" + avcodec_get_name(par->codec_id) +
                              ") cannot be decoded");
    }
    decoder_.reset(avcodec_alloc_context3(decoder));
    int ret = avcodec_parameters_to_context(decoder_.get(), par);
    if (ret < 0) return Internal("cannot set up the audio decoder: " + AvError(ret));
    decoder_->pkt_timebase = in_stream_->time_base;
    ret = avcodec_open2(decoder_.get(), decoder, nullptr);
    if (ret < 0) return UnsupportedInput("cannot open the audio decoder for " + Quoted(source_) + ": " + AvError(ret));
    if (decoder_->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC) {
      const int channels = decoder_->ch_layout.nb_channels > 0 ? decoder_->ch_layout.nb_channels : 2;
      av_channel_layout_uninit(&decoder_->ch_layout);
      av_channel_layout_default(&decoder_->ch_layout, channels);
    }

    // AAC where the container takes it; otherwise Opus, then Vorbis (WebM).
    const AVCodec* encoder = nullptr;
    for (const char* name : {"aac", "libopus", "libvorbis"}) {
      const AVCodec* c = avcodec_find_encoder_by_name(name);
      if (c != nullptr && avformat_query_codec(out_->oformat, c->id, FF_COMPLIANCE_NORMAL) == 1) {
        encoder = c;
        break;
      }
    }
    if (encoder == nullptr) {
      return FailedPrecondition("no audio encoder available for the " + std::string(out_->oformat->name) +
                                " container");
    }
    encoder_.reset(avcodec_alloc_context3(encoder));
    AVCodecContext* enc = encoder_.get();
    // Sample rate: the source's when the encoder takes it, else the closest it offers.
    int rate = decoder_->sample_rate > 0 ? decoder_->sample_rate : 48000;
    if (encoder->supported_samplerates != nullptr) {
      int best = 0;
      for (const int* r = encoder->supported_samplerates; *r != 0; ++r) {
        if (*r == rate) { best = rate; break; }
        if (best == 0 || std::abs(*r - rate) < std::abs(best - rate)) best = *r;
      }
      rate = best;
    }
    enc->sample_rate = rate;
    enc->sample_fmt = encoder->sample_fmts != nullptr ? encoder->sample_fmts[0] : AV_SAMPLE_FMT_FLTP;
    int channels = std::min(decoder_->ch_layout.nb_channels, encoder->id == AV_CODEC_ID_OPUS ? 2 : 8);
    av_channel_layout_default(&enc->ch_layout, channels);
    enc->bit_rate = std::clamp<int64_t>(64000LL * channels, 64000, 320000);
    enc->time_base = AVRational{1, rate};
    if ((out_->oformat->flags & AVFMT_GLOBALHEADER) != 0) enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    ret = avcodec_open2(enc, encoder, nullptr);
    if (ret < 0) return Internal("cannot open the " + std::string(encoder->name) + " audio encoder: " + AvError(ret));
    ret = avcodec_parameters_from_context(out_stream_->codecpar, enc);
    if (ret < 0) return Internal("cannot set the audio stream parameters: " + AvError(ret));
    out_stream_->time_base = enc->time_base;

    SwrContext* swr = nullptr;
    ret = swr_alloc_set_opts2(&swr, &enc->ch_layout, enc->sample_fmt, enc->sample_rate, &decoder_->ch_layout,
                              decoder_->sample_fmt, decoder_->sample_rate, 0, nullptr);
    swr_.reset(swr);
    if (ret < 0 || (ret = swr_init(swr)) < 0) return Internal("cannot set up audio resampling: " + AvError(ret));
    fifo_.reset(av_audio_fifo_alloc(enc->sample_fmt, channels, 4096));
    decoded_ = NewFrame();
    if (!fifo_ || !decoded_) return Internal("out of memory");
    frame_size_ = enc->frame_size > 0 ? enc->frame_size : 1024;
    spdlog::info("{}: re-encoding its {} audio to {} ({} does not take it as is)", source_.string(),
                 avcodec_get_name(par->codec_id), encoder->name, out_->oformat->name);
    return Status::Ok();
  }

  void SeekNearStart() {
    if (start_us_ <= 0) return;
    const std::int64_t target =
        av_rescale_q(std::max<std::int64_t>(0, start_us_ + ref_us_ - 1000000), kMicros, in_stream_->time_base);
    if (avformat_seek_file(input_.get(), in_stream_->index, std::numeric_limits<std::int64_t>::min(), target, target,
                           0) < 0) {
      avformat_seek_file(input_.get(), -1, std::numeric_limits<std::int64_t>::min(), 0, 0, 0);
    }
  }

  // Reads the next packet of the audio stream within range into packet_.
  Status NextPacket() {
    while (true) {
      int ret = av_read_frame(input_.get(), packet_.get());
      if (ret == AVERROR_EOF) {
        eof_ = true;
        return Status::Ok();
      }
      if (ret < 0) {
        return UnsupportedInput("reading the audio of " + Quoted(source_) + " failed (truncated or damaged file?): " +
                                AvError(ret));
      }
      if (packet_->stream_index != in_stream_->index) {
        av_packet_unref(packet_.get());
        continue;
      }
      const AVRational tb = in_stream_->time_base;
      std::int64_t ts = packet_->pts != AV_NOPTS_VALUE ? packet_->pts : packet_->dts;
      if (ts == AV_NOPTS_VALUE) ts = next_ts_;
      if (ts == AV_NOPTS_VALUE) ts = 0;
      if (packet_->pts == AV_NOPTS_VALUE) packet_->pts = ts;
      if (packet_->dts == AV_NOPTS_VALUE) packet_->dts = ts;
      next_ts_ = ts + std::max<std::int64_t>(packet_->duration, 1);
      const std::int64_t begin_us = av_rescale_q(ts, tb, kMicros) - ref_us_;
      const std::int64_t dur_us = av_rescale_q(packet_->duration, tb, kMicros);
      if (begin_us >= end_us_) {
        av_packet_unref(packet_.get());
        eof_ = true;
        return Status::Ok();
      }
      // From the stream's beginning everything is kept (priming packets included);
      // after a trim, packets overlapping the start (the decoder warms up on a
      // little more when re-encoding, and cuts at the sample).
      const std::int64_t lead_us = copy_ ? 0 : 200000;
      if (start_us_ > 0 && begin_us + dur_us <= start_us_ - lead_us) {
        av_packet_unref(packet_.get());
        continue;
      }
      have_packet_ = true;
      packet_out_us_ = begin_us - start_us_;
      return Status::Ok();
    }
  }

  Status WriteCopied() {
    AVPacket* pkt = packet_.get();
    const std::int64_t shift = av_rescale_q(start_us_ + ref_us_, kMicros, in_stream_->time_base);
    pkt->pts -= shift;
    pkt->dts -= shift;
    av_packet_rescale_ts(pkt, in_stream_->time_base, out_stream_->time_base);
    pkt->stream_index = out_stream_->index;
    pkt->pos = -1;
    const int ret = av_interleaved_write_frame(out_, pkt);
    av_packet_unref(pkt);
    if (ret < 0) return IOError("writing the audio failed: " + AvError(ret));
    return Status::Ok();
  }

  // Decodes one packet (nullptr: flush), trims to the range, queues samples.
  Status Decode(AVPacket* pkt) {
    int ret = avcodec_send_packet(decoder_.get(), pkt);
    if (pkt != nullptr) av_packet_unref(pkt);
    if (ret < 0 && ret != AVERROR_EOF) {
      // A damaged audio packet: keep going (the video decides whether the file is usable).
      spdlog::debug("{}: audio packet not decodable: {}", source_.string(), AvError(ret));
      return Status::Ok();
    }
    while (true) {
      ret = avcodec_receive_frame(decoder_.get(), decoded_.get());
      if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) return Status::Ok();
      if (ret < 0) {
        spdlog::debug("{}: audio frame not decodable: {}", source_.string(), AvError(ret));
        return Status::Ok();
      }
      SWAPLINE_RETURN_IF_ERROR(Queue(decoded_.get()));
      av_frame_unref(decoded_.get());
      SWAPLINE_RETURN_IF_ERROR(Encode(false));
    }
  }

  Status Queue(AVFrame* in) {
    AVCodecContext* enc = encoder_.get();
    const int max_out = swr_get_out_samples(swr_.get(), in->nb_samples);
    if (max_out <= 0) return Status::Ok();
    uint8_t** buffer = nullptr;
    int linesize = 0;
    int ret = av_samples_alloc_array_and_samples(&buffer, &linesize, enc->ch_layout.nb_channels, max_out,
                                                 enc->sample_fmt, 0);
    if (ret < 0) return Internal("out of memory resampling audio");
    struct Release {
      uint8_t** b;
      ~Release() {
        if (b) av_freep(&b[0]);
        av_freep(&b);
      }
    } release{buffer};
    const int got = swr_convert(swr_.get(), buffer, max_out, const_cast<const uint8_t**>(in->extended_data),
                                in->nb_samples);
    if (got < 0) return Internal("audio resampling failed: " + AvError(got));
    // Position of these samples relative to the trim start.
    std::int64_t ts = in->best_effort_timestamp != AV_NOPTS_VALUE ? in->best_effort_timestamp : in->pts;
    std::int64_t first_us;
    if (ts == AV_NOPTS_VALUE) {
      first_us = start_us_ + av_rescale(queued_, 1000000, enc->sample_rate);
    } else {
      first_us = av_rescale_q(ts, in_stream_->time_base, kMicros) - ref_us_;
    }
    const std::int64_t rate = enc->sample_rate;
    std::int64_t skip = std::clamp<std::int64_t>(av_rescale(start_us_ - first_us, rate, 1000000), 0, got);
    std::int64_t keep_end = got;
    if (end_us_ != std::numeric_limits<std::int64_t>::max()) {
      keep_end = std::clamp<std::int64_t>(av_rescale(end_us_ - first_us, rate, 1000000), 0, got);
    }
    if (keep_end <= skip) return Status::Ok();
    const int bytes = av_get_bytes_per_sample(enc->sample_fmt);
    const bool planar = av_sample_fmt_is_planar(enc->sample_fmt) != 0;
    const int channels = enc->ch_layout.nb_channels;
    std::vector<void*> planes(planar ? channels : 1);
    for (std::size_t c = 0; c < planes.size(); ++c) {
      planes[c] = buffer[c] + skip * bytes * (planar ? 1 : channels);
    }
    ret = av_audio_fifo_write(fifo_.get(), planes.data(), static_cast<int>(keep_end - skip));
    if (ret < 0) return Internal("out of memory queueing audio");
    return Status::Ok();
  }

  // Encodes whole frames from the FIFO (and, when flushing, the remainder).
  Status Encode(bool flush) {
    AVCodecContext* enc = encoder_.get();
    while (av_audio_fifo_size(fifo_.get()) >= frame_size_ || (flush && av_audio_fifo_size(fifo_.get()) > 0)) {
      const int available = av_audio_fifo_size(fifo_.get());
      const int n = std::min(available, frame_size_);
      const bool pad = n < frame_size_ && !(enc->codec->capabilities &
                                            (AV_CODEC_CAP_SMALL_LAST_FRAME | AV_CODEC_CAP_VARIABLE_FRAME_SIZE));
      FramePtr frame = NewFrame();
      if (!frame) return Internal("out of memory");
      frame->nb_samples = pad ? frame_size_ : n;
      frame->format = enc->sample_fmt;
      frame->sample_rate = enc->sample_rate;
      av_channel_layout_copy(&frame->ch_layout, &enc->ch_layout);
      if (av_frame_get_buffer(frame.get(), 0) < 0) return Internal("out of memory encoding audio");
      if (pad) {
        av_samples_set_silence(frame->extended_data, 0, frame_size_, enc->ch_layout.nb_channels, enc->sample_fmt);
      }
      if (av_audio_fifo_read(fifo_.get(), reinterpret_cast<void**>(frame->extended_data), n) < n) {
        return Internal("audio FIFO underrun");
      }
      frame->pts = queued_;
      queued_ += frame->nb_samples;
      SWAPLINE_RETURN_IF_ERROR(SendToEncoder(frame.get()));
    }
    if (flush) return SendToEncoder(nullptr);
    return Status::Ok();
  }

  Status SendToEncoder(AVFrame* frame) {
    AVCodecContext* enc = encoder_.get();
    int ret = avcodec_send_frame(enc, frame);
    if (ret < 0) return Internal("audio encoding failed: " + AvError(ret));
    PacketPtr pkt = NewPacket();
    while (true) {
      ret = avcodec_receive_packet(enc, pkt.get());
      if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) return Status::Ok();
      if (ret < 0) return Internal("audio encoding failed: " + AvError(ret));
      av_packet_rescale_ts(pkt.get(), enc->time_base, out_stream_->time_base);
      pkt->stream_index = out_stream_->index;
      ret = av_interleaved_write_frame(out_, pkt.get());
      if (ret < 0) return IOError("writing the audio failed: " + AvError(ret));
    }
  }

  fs::path source_;
  InputPtr input_;
  AVStream* in_stream_ = nullptr;
  AVFormatContext* out_ = nullptr;
  AVStream* out_stream_ = nullptr;
  bool copy_ = true;
  std::int64_t start_us_ = 0;
  std::int64_t end_us_ = 0;
  std::int64_t ref_us_ = 0;
  PacketPtr packet_;
  bool have_packet_ = false;
  bool eof_ = false;
  std::int64_t packet_out_us_ = 0;
  std::int64_t next_ts_ = AV_NOPTS_VALUE;
  // Re-encoding.
  CodecPtr decoder_;
  CodecPtr encoder_;
  SwrPtr swr_;
  FifoPtr fifo_;
  FramePtr decoded_;
  int frame_size_ = 1024;
  std::int64_t queued_ = 0;  // samples sent to the encoder
};

// Keeps a VideoFrame's planes alive while libavcodec references them.
struct PlaneHolder {
  cv::Mat y, u, v;
  std::shared_ptr<void> owner;
};

void ReleasePlanes(void* opaque, uint8_t*) { delete static_cast<PlaneHolder*>(opaque); }

class LibavWriter final : public VideoWriter {
 public:
  ~LibavWriter() override { Close(); }

  static Result<std::unique_ptr<VideoWriter>> Make(const fs::path& output, const VideoInfo& input,
                                                   const VideoWriterOptions& options) {
    InitLibav();
    const ContainerSpec* container = ContainerFor(output);
    if (container == nullptr) {
      return InvalidArgument("cannot write video " + Quoted(output) + ": unsupported extension '" +
                             output.extension().string() + "' (use .mp4, .mov, .mkv, .webm or .avi)");
    }
    if (options.quality < 0 || options.quality > 100) {
      return InvalidArgument("--output-video-quality must be within 0..100, got " + std::to_string(options.quality));
    }
    if (PresetRank(options.preset) < 0) {
      return InvalidArgument("unknown --output-video-preset '" + options.preset +
                             "' (ultrafast, superfast, veryfast, faster, fast, medium, slow, slower, veryslow)");
    }
    if (options.encoder != "libx264" && options.encoder != "libx265" && options.encoder != "libvpx-vp9") {
      return InvalidArgument("unknown --output-video-encoder '" + options.encoder +
                             "' (libx264, libx265 or libvpx-vp9)");
    }
    if (options.frame_rate && (options.frame_rate->num <= 0 || options.frame_rate->den <= 0)) {
      return InvalidArgument("--output-video-fps must be positive");
    }
    if (options.resolution && (options.resolution->width <= 0 || options.resolution->height <= 0 ||
                               options.resolution->width > 16384 || options.resolution->height > 16384)) {
      return InvalidArgument("--output-video-resolution must be positive and at most 16384x16384");
    }
    if (input.width <= 0 || input.height <= 0) return InvalidArgument("the input frame size is unknown");
    if (options.synthetic_mark.size() > 4096) return InvalidArgument("synthetic mark longer than 4096 bytes");

    auto writer = std::unique_ptr<LibavWriter>(new LibavWriter());
    writer->output_ = output;
    writer->input_ = input;
    writer->options_ = options;
    writer->container_ = container;
    SWAPLINE_RETURN_IF_ERROR(writer->Init());
    return std::unique_ptr<VideoWriter>(std::move(writer));
  }

  Status Write(const VideoFrame& frame) override {
    if (finished_) return FailedPrecondition("VideoWriter::Write after Finish");
    if (!failed_.ok()) return failed_;
    Status status = WriteImpl(frame);
    if (!status.ok()) failed_ = status;
    return status;
  }

  Status Finish() override {
    if (finished_) return FailedPrecondition("VideoWriter::Finish called twice");
    if (!failed_.ok()) return failed_;
    Status status = FinishImpl();
    if (!status.ok()) {
      failed_ = status;
      Close();  // the temporary file goes with the AtomicFile
    }
    return status;
  }

 private:
  LibavWriter() = default;

  Status Init() {
    const std::string muxer = container_->muxer;
    std::string encoder_name = options_.encoder;
    if (muxer == "webm" && encoder_name != "libvpx-vp9") {
      spdlog::info("{}: WebM holds VP8/VP9/AV1 only; encoding with libvpx-vp9 instead of {}", output_.string(),
                   encoder_name);
      encoder_name = "libvpx-vp9";
    }
    const AVOutputFormat* oformat = av_guess_format(muxer.c_str(), nullptr, nullptr);
    if (oformat == nullptr) return FailedPrecondition("this FFmpeg has no " + muxer + " muxer");
    const AVCodec* codec = avcodec_find_encoder_by_name(encoder_name.c_str());
    if (codec == nullptr) return FailedPrecondition("this FFmpeg has no " + encoder_name + " encoder");
    if (avformat_query_codec(oformat, codec->id, FF_COMPLIANCE_NORMAL) != 1) {
      return InvalidArgument("the " + encoder_name + " encoder's video cannot be stored in a " +
                             output_.extension().string() + " file");
    }

    SWAPLINE_ASSIGN_OR_RETURN(AtomicFile file, AtomicFile::Create(output_));
    atomic_.emplace(std::move(file));
    const fs::path& temp = atomic_->temp_path();

    AVFormatContext* oc = nullptr;
    int ret = avformat_alloc_output_context2(&oc, oformat, nullptr, temp.c_str());
    if (ret < 0 || oc == nullptr) return Internal("cannot create the " + muxer + " muxer: " + AvError(ret));
    out_ = oc;

    // Geometry and timing.
    in_width_ = input_.width;
    in_height_ = input_.height;
    int width = input_.width;
    int height = input_.height;
    if (options_.resolution) {
      width = options_.resolution->width;
      height = options_.resolution->height;
    }
    // 4:2:0 encoders need even sizes: crop the odd last row/column (or round a requested size up).
    if (options_.resolution) {
      width += width & 1;
      height += height & 1;
    } else if ((width | height) & 1) {
      spdlog::info("{}: cropping {}x{} to even {}x{} for 4:2:0 encoding", output_.string(), width, height,
                   width & ~1, height & ~1);
      width &= ~1;
      height &= ~1;
    }
    if (width < 2 || height < 2) return InvalidArgument("video frames are too small to encode");
    scale_ = options_.resolution.has_value() && (width != input_.width || height != input_.height);

    AVRational in_rate{input_.frame_rate.num, input_.frame_rate.den};
    if (!ValidRational(in_rate)) in_rate = AVRational{25, 1};
    in_rate_ = in_rate;
    out_rate_ = options_.frame_rate ? AVRational{options_.frame_rate->num, options_.frame_rate->den} : in_rate;
    av_reduce(&out_rate_.num, &out_rate_.den, out_rate_.num, out_rate_.den, 1 << 30);
    const AVRational in_tb{input_.time_base.num, input_.time_base.den};
    // Constant frame rate (frames placed on the n/fps grid) when asked, for AVI (no
    // timestamps), or when the input time base is unknown; otherwise the input's
    // timestamps are kept in its own time base.
    cfr_ = options_.frame_rate.has_value() || muxer == "avi" || !ValidRational(in_tb);
    const AVRational tb = cfr_ ? av_inv_q(out_rate_) : in_tb;

    encoder_.reset(avcodec_alloc_context3(codec));
    AVCodecContext* enc = encoder_.get();
    if (enc == nullptr) return Internal("out of memory allocating the encoder");
    enc->width = width;
    enc->height = height;
    enc->pix_fmt = AV_PIX_FMT_YUV420P;
    enc->time_base = tb;
    enc->framerate = out_rate_;
    if (input_.sample_aspect_ratio.num > 0 && input_.sample_aspect_ratio.den > 0) {
      AVRational sar{input_.sample_aspect_ratio.num, input_.sample_aspect_ratio.den};
      if (width != input_.width || height != input_.height) {
        // Keep the display aspect ratio.
        AVRational scale{1, 1};  // in 64 bits: width × height overflows an int
        av_reduce(&scale.num, &scale.den, std::int64_t{input_.width} * height, std::int64_t{input_.height} * width,
                  INT_MAX);
        sar = av_mul_q(sar, scale);
      }
      enc->sample_aspect_ratio = sar;
    }
    enc->color_range = input_.full_range ? AVCOL_RANGE_JPEG : AVCOL_RANGE_MPEG;
    enc->color_primaries = static_cast<AVColorPrimaries>(input_.color_primaries);
    enc->color_trc = static_cast<AVColorTransferCharacteristic>(input_.color_transfer);
    enc->colorspace = static_cast<AVColorSpace>(input_.color_matrix);
    enc->thread_count = std::max(0, options_.threads);
    if ((oformat->flags & AVFMT_GLOBALHEADER) != 0) enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;

    AVDictionary* opts = nullptr;
    const int q = options_.quality;
    const int rank = PresetRank(options_.preset);
    if (codec->id == AV_CODEC_ID_VP9) {
      const int crf = static_cast<int>(std::lround(63.0 - q * 63.0 / 100.0));
      av_dict_set_int(&opts, "crf", crf, 0);
      enc->bit_rate = 0;  // constant quality
      av_dict_set(&opts, "deadline", rank <= 1 ? "realtime" : "good", 0);
      av_dict_set_int(&opts, "cpu-used", 8 - rank, 0);  // ultrafast 8 … veryslow 0
      av_dict_set_int(&opts, "row-mt", 1, 0);
    } else {
      const int crf = static_cast<int>(std::lround(51.0 - q * 51.0 / 100.0));
      av_dict_set(&opts, "preset", options_.preset.c_str(), 0);
      av_dict_set_int(&opts, "crf", crf, 0);
      if (codec->id == AV_CODEC_ID_HEVC) av_dict_set(&opts, "x265-params", "log-level=error", 0);
    }
    ret = avcodec_open2(enc, codec, &opts);
    av_dict_free(&opts);
    if (ret < 0) return Internal("cannot open the " + encoder_name + " encoder: " + AvError(ret));

    video_stream_ = avformat_new_stream(oc, nullptr);
    if (video_stream_ == nullptr) return Internal("out of memory adding the video stream");
    ret = avcodec_parameters_from_context(video_stream_->codecpar, enc);
    if (ret < 0) return Internal("cannot set the video stream parameters: " + AvError(ret));
    video_stream_->time_base = enc->time_base;
    video_stream_->avg_frame_rate = out_rate_;
    video_stream_->r_frame_rate = out_rate_;
    video_stream_->sample_aspect_ratio = enc->sample_aspect_ratio;
    if (codec->id == AV_CODEC_ID_HEVC && container_->faststart) {
      video_stream_->codecpar->codec_tag = MKTAG('h', 'v', 'c', '1');  // plays in Apple players
    }
    if (input_.rotation_degrees % 360 != 0) {
      auto* matrix = reinterpret_cast<int32_t*>(
          av_stream_new_side_data(video_stream_, AV_PKT_DATA_DISPLAYMATRIX, 9 * sizeof(int32_t)));
      if (matrix == nullptr) return Internal("out of memory writing the rotation");
      // av_display_rotation_get() of the result is -rotation_degrees, as RotationOf() expects.
      av_display_rotation_set(matrix, static_cast<double>(input_.rotation_degrees));
    }
    frame_duration_ = std::max<std::int64_t>(1, av_rescale_q(1, av_inv_q(out_rate_), tb));

    if (options_.audio_source) {
      SWAPLINE_ASSIGN_OR_RETURN(audio_, AudioTrack::Open(*options_.audio_source, options_.audio_start_us,
                                                         options_.audio_end_us, oc));
    }

    if (!options_.synthetic_mark.empty()) av_dict_set(&oc->metadata, "comment", options_.synthetic_mark.c_str(), 0);

    ret = avio_open(&oc->pb, temp.c_str(), AVIO_FLAG_WRITE);
    if (ret < 0) return OutputNotWritable("cannot write " + Quoted(temp) + ": " + AvError(ret));
    AVDictionary* mux_opts = nullptr;
    if (container_->faststart) av_dict_set(&mux_opts, "movflags", "+faststart", 0);
    ret = avformat_write_header(oc, &mux_opts);
    av_dict_free(&mux_opts);
    if (ret < 0) return Internal("cannot write the " + muxer + " header: " + AvError(ret));

    packet_ = NewPacket();
    if (!packet_) return Internal("out of memory");
    if (scale_) {
      sws_.reset(sws_getContext(in_width_, in_height_, AV_PIX_FMT_YUV420P, width, height, AV_PIX_FMT_YUV420P,
                                SWS_BICUBIC, nullptr, nullptr, nullptr));
      if (!sws_) return Internal("cannot set up scaling to " + std::to_string(width) + "x" + std::to_string(height));
      const int* coeffs = sws_getCoefficients(SWS_CS_DEFAULT);
      const int range = input_.full_range ? 1 : 0;
      sws_setColorspaceDetails(sws_.get(), coeffs, range, coeffs, range, 0, 1 << 16, 1 << 16);
    }
    return Status::Ok();
  }

  Status WriteImpl(const VideoFrame& frame) {
    const int w = in_width_;
    const int h = in_height_;
    const cv::Size luma(w, h);
    const cv::Size chroma((w + 1) / 2, (h + 1) / 2);
    if (frame.y.type() != CV_8UC1 || frame.u.type() != CV_8UC1 || frame.v.type() != CV_8UC1 ||
        frame.y.size() != luma || frame.u.size() != chroma || frame.v.size() != chroma) {
      return InvalidArgument("VideoWriter::Write: frame " + std::to_string(frame.index) + " is not " +
                             std::to_string(w) + "x" + std::to_string(h) + " YUV 4:2:0 (8-bit planes)");
    }
    // Wrap the planes without copying; the holder keeps them alive while libavcodec
    // references them, and READONLY makes any encoder that wants to modify them copy.
    FramePtr av = NewFrame();
    if (!av) return Internal("out of memory");
    auto* holder = new PlaneHolder{frame.y, frame.u, frame.v, frame.owner};
    av->buf[0] = av_buffer_create(frame.y.data, static_cast<size_t>(frame.y.step) * h, ReleasePlanes, holder,
                                  AV_BUFFER_FLAG_READONLY);
    if (av->buf[0] == nullptr) {
      delete holder;
      return Internal("out of memory");
    }
    av->format = AV_PIX_FMT_YUV420P;
    av->width = w;
    av->height = h;
    av->data[0] = frame.y.data;
    av->data[1] = frame.u.data;
    av->data[2] = frame.v.data;
    av->linesize[0] = static_cast<int>(frame.y.step);
    av->linesize[1] = static_cast<int>(frame.u.step);
    av->linesize[2] = static_cast<int>(frame.v.step);
    SetFrameColour(av.get());

    if (scale_) {
      FramePtr scaled = NewFrame();
      if (!scaled) return Internal("out of memory");
      scaled->format = AV_PIX_FMT_YUV420P;
      scaled->width = encoder_->width;
      scaled->height = encoder_->height;
      if (av_frame_get_buffer(scaled.get(), 0) < 0) return Internal("out of memory scaling a frame");
      sws_scale(sws_.get(), av->data, av->linesize, 0, h, scaled->data, scaled->linesize);
      SetFrameColour(scaled.get());
      av = std::move(scaled);
    } else {
      // Odd sizes: crop to the encoder's even size (same buffers).
      av->width = encoder_->width;
      av->height = encoder_->height;
    }

    if (frames_in_ == 0) first_pts_us_ = frame.pts_us;
    ++frames_in_;
    const std::int64_t t = frame.pts_us - first_pts_us_;
    if (!cfr_) {
      std::int64_t pts = av_rescale_q(t, kMicros, encoder_->time_base);
      if (pts <= last_pts_) pts = last_pts_ + 1;
      last_pts_ = pts;
      last_t_us_ = t;
      av->pts = pts;
      return Encode(av.get());
    }
    // Resampling to the output rate: output frame n shows the last input frame whose
    // time is at or before n/fps (plus a quarter frame, absorbing timestamp rounding).
    if (pending_) {
      while (OutputTimeUs(next_out_) + Tolerance() < t) SWAPLINE_RETURN_IF_ERROR(EmitPending());
    }
    pending_ = std::move(av);
    last_t_us_ = t;
    return Status::Ok();
  }

  std::int64_t OutputTimeUs(std::int64_t n) const {
    return av_rescale(n, 1000000LL * out_rate_.den, out_rate_.num);
  }
  std::int64_t Tolerance() const { return av_rescale(1, 1000000LL * out_rate_.den, 4LL * out_rate_.num); }

  Status EmitPending() {
    FramePtr copy(av_frame_clone(pending_.get()));
    if (!copy) return Internal("out of memory");
    copy->pts = next_out_++;
    return Encode(copy.get());
  }

  void SetFrameColour(AVFrame* f) const {
    f->color_range = encoder_->color_range;
    f->color_primaries = encoder_->color_primaries;
    f->color_trc = encoder_->color_trc;
    f->colorspace = encoder_->colorspace;
    f->sample_aspect_ratio = encoder_->sample_aspect_ratio;
  }

  // Sends a frame (nullptr: flush) and writes the packets that come out.
  Status Encode(AVFrame* frame) {
    AVCodecContext* enc = encoder_.get();
    int ret = avcodec_send_frame(enc, frame);
    if (ret < 0) return Internal("video encoding failed: " + AvError(ret));
    while (true) {
      ret = avcodec_receive_packet(enc, packet_.get());
      if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) return Status::Ok();
      if (ret < 0) return Internal("video encoding failed: " + AvError(ret));
      if (packet_->duration <= 0) packet_->duration = frame_duration_;
      const std::int64_t dts_us =
          av_rescale_q(packet_->dts != AV_NOPTS_VALUE ? packet_->dts : packet_->pts, enc->time_base, kMicros);
      av_packet_rescale_ts(packet_.get(), enc->time_base, video_stream_->time_base);
      packet_->stream_index = video_stream_->index;
      if (audio_) {
        // Keep audio about half a second ahead so the muxer can interleave.
        SWAPLINE_RETURN_IF_ERROR(audio_->PumpUntil(dts_us + 500000));
      }
      ret = av_interleaved_write_frame(out_, packet_.get());
      av_packet_unref(packet_.get());
      if (ret < 0) return IOError("writing " + Quoted(output_) + " failed: " + AvError(ret));
    }
  }

  Status FinishImpl() {
    if (frames_in_ == 0) return InvalidArgument("no frames were written to " + Quoted(output_));
    if (cfr_ && pending_) {
      const std::int64_t end_us = last_t_us_ + av_rescale_q(1, av_inv_q(in_rate_), kMicros);
      while (OutputTimeUs(next_out_) + Tolerance() < end_us) SWAPLINE_RETURN_IF_ERROR(EmitPending());
      if (next_out_ == 0) SWAPLINE_RETURN_IF_ERROR(EmitPending());
      pending_.reset();
    }
    SWAPLINE_RETURN_IF_ERROR(Encode(nullptr));
    if (audio_) SWAPLINE_RETURN_IF_ERROR(audio_->Finish());
    int ret = av_write_trailer(out_);
    if (ret < 0) return IOError("finishing " + Quoted(output_) + " failed: " + AvError(ret));
    ret = avio_closep(&out_->pb);
    if (ret < 0) return IOError("writing " + Quoted(output_) + " failed: " + AvError(ret));
    SWAPLINE_RETURN_IF_ERROR(atomic_->Commit());
    finished_ = true;
    Close();
    return Status::Ok();
  }

  // Frees libav state; the AtomicFile (unless committed) removes the temporary.
  void Close() {
    pending_.reset();
    audio_.reset();
    encoder_.reset();
    sws_.reset();
    packet_.reset();
    if (out_ != nullptr) {
      if (out_->pb != nullptr) avio_closep(&out_->pb);
      avformat_free_context(out_);
      out_ = nullptr;
    }
    atomic_.reset();
  }

  fs::path output_;
  VideoInfo input_;
  VideoWriterOptions options_;
  const ContainerSpec* container_ = nullptr;
  std::optional<AtomicFile> atomic_;
  AVFormatContext* out_ = nullptr;
  AVStream* video_stream_ = nullptr;
  CodecPtr encoder_;
  SwsPtr sws_;
  PacketPtr packet_;
  std::unique_ptr<AudioTrack> audio_;
  int in_width_ = 0;
  int in_height_ = 0;
  bool scale_ = false;
  bool cfr_ = false;
  AVRational in_rate_{25, 1};
  AVRational out_rate_{25, 1};
  std::int64_t frame_duration_ = 1;
  std::int64_t frames_in_ = 0;
  std::int64_t first_pts_us_ = 0;
  std::int64_t last_pts_ = std::numeric_limits<std::int64_t>::min();
  std::int64_t last_t_us_ = 0;
  FramePtr pending_;
  std::int64_t next_out_ = 0;
  bool finished_ = false;
  Status failed_;
};

}  // namespace

void VideoFrame::MakeWritable() {
  auto shared = [](const cv::Mat& m) { return m.u == nullptr || m.u->refcount > 1; };
  if (owner == nullptr && !shared(y) && !shared(u) && !shared(v)) return;
  y = y.clone();
  u = u.clone();
  v = v.clone();
  owner.reset();
}

Result<std::unique_ptr<VideoReader>> VideoReader::Open(const fs::path& path, const VideoReaderOptions& options) {
  if (options.trim_frame_start < 0) return InvalidArgument("--trim-frame-start must not be negative");
  if (options.trim_frame_end && *options.trim_frame_end <= options.trim_frame_start) {
    return InvalidArgument("--trim-frame-end must be greater than --trim-frame-start");
  }
  SWAPLINE_ASSIGN_OR_RETURN(OpenedInput input, OpenVideoInput(path));
  const AVCodecParameters* par = input.format->streams[input.video_index]->codecpar;
  const std::int64_t pixels = std::int64_t{par->width} * par->height;
  if (pixels > options.max_frame_pixels) {
    return TooLarge("the frames of " + Quoted(path) + " are " + std::to_string(par->width) + "x" +
                    std::to_string(par->height) + " = " + std::to_string(pixels) + " pixels; the limit is " +
                    std::to_string(options.max_frame_pixels) + " pixels");
  }
  auto reader = std::make_unique<LibavReader>(path, std::move(input), options);
  SWAPLINE_RETURN_IF_ERROR(reader->Init());
  return std::unique_ptr<VideoReader>(std::move(reader));
}

Result<VideoInfo> ProbeVideo(const fs::path& path) {
  SWAPLINE_ASSIGN_OR_RETURN(OpenedInput input, OpenVideoInput(path));
  return BuildInfo(input.format.get(), input.video_index);
}

bool LooksLikeVideo(const fs::path& path) { return OpenVideoInput(path).ok(); }

Result<std::unique_ptr<VideoWriter>> VideoWriter::Create(const fs::path& output, const VideoInfo& input,
                                                         const VideoWriterOptions& options) {
  return LibavWriter::Make(output, input, options);
}

}  // namespace swapline::media
