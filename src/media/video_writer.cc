// VideoWriter (media/video.h) on libavcodec/libavformat/libswscale, writing into a
// temporary file beside the output (core/atomic_file.h).
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <string_view>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "core/atomic_file.h"
#include "media/audio_track.h"
#include "media/libav.h"
#include "media/video.h"

extern "C" {
#include <libavutil/display.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
}

namespace swapline::media {
namespace {

namespace fs = std::filesystem;

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
      // An input made with B-frames has its P frames (the references, coded finer) where
      // its encoder put them, and its noise follows that pattern; an encoder that puts
      // its own references elsewhere pays for coding the coarse frames' noise finely.
      // Left to decide, x264 kept the input's pattern or lost it on a swapped face's
      // small changes: at crf 10 the large-face clip took 45 % more bits and 12 % more
      // time when it did. The input's P frames stay P; the rest is the encoder's choice.
      if (frame.coded == VideoFrame::Coded::kBidirectional) input_has_b_frames_ = true;
      if (input_has_b_frames_ && encoder_->has_b_frames > 0 && frame.coded == VideoFrame::Coded::kPredicted) {
        av->pict_type = AV_PICTURE_TYPE_P;
      }
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
  bool input_has_b_frames_ = false;
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

Result<std::unique_ptr<VideoWriter>> VideoWriter::Create(const fs::path& output, const VideoInfo& input,
                                                         const VideoWriterOptions& options) {
  return LibavWriter::Make(output, input, options);
}

}  // namespace swapline::media
