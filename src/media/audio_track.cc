#include "media/audio_track.h"

#include <algorithm>
#include <limits>
#include <utility>

#include <spdlog/spdlog.h>

#include "media/libav.h"

extern "C" {
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
}

namespace swapline::media {
namespace {

namespace fs = std::filesystem;

class LibavAudioTrack final : public AudioTrack {
 public:
  static Result<std::unique_ptr<AudioTrack>> Make(const fs::path& source, std::int64_t start_us,
                                                  std::optional<std::int64_t> end_us, AVFormatContext* out) {
    auto track = std::unique_ptr<LibavAudioTrack>(new LibavAudioTrack());
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
    return std::unique_ptr<AudioTrack>(std::move(track));
  }

  Status PumpUntil(std::int64_t limit_us) override {
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

  Status Finish() override {
    SWAPLINE_RETURN_IF_ERROR(PumpUntil(std::numeric_limits<std::int64_t>::max()));
    if (copy_) return Status::Ok();
    SWAPLINE_RETURN_IF_ERROR(Decode(nullptr));
    return Encode(/*flush=*/true);
  }

 private:
  LibavAudioTrack() = default;

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

}  // namespace

Result<std::unique_ptr<AudioTrack>> AudioTrack::Open(const fs::path& source, std::int64_t start_us,
                                                     std::optional<std::int64_t> end_us, AVFormatContext* out) {
  return LibavAudioTrack::Make(source, start_us, end_us, out);
}

}  // namespace swapline::media
