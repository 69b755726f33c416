// VideoReader and ProbeVideo (media/video.h) on libavformat/libavcodec/libswscale.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "media/libav.h"
#include "media/video.h"

extern "C" {
#include <libavutil/display.h>
#include <libavutil/pixdesc.h>
}

namespace swapline::media {
namespace {

namespace fs = std::filesystem;

bool IsStillImageCodec(AVCodecID id) {
  switch (id) {
    case AV_CODEC_ID_MJPEG: case AV_CODEC_ID_PNG: case AV_CODEC_ID_BMP: case AV_CODEC_ID_WEBP:
    case AV_CODEC_ID_TIFF: case AV_CODEC_ID_JPEG2000: case AV_CODEC_ID_JPEGLS:
      return true;
    default:
      return false;
  }
}

struct OpenedInput {
  InputPtr format;
  int video_index = -1;
};

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
    switch (f->pict_type) {
      case AV_PICTURE_TYPE_I: out.coded = VideoFrame::Coded::kIntra; break;
      case AV_PICTURE_TYPE_P: out.coded = VideoFrame::Coded::kPredicted; break;
      case AV_PICTURE_TYPE_B: out.coded = VideoFrame::Coded::kBidirectional; break;
      default: break;
    }
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

}  // namespace swapline::media
