// libav plumbing shared by the video reader, the audio track and the video writer
// (internal to media/; only media's .cc files include it, since only they see
// FFmpeg's headers): error strings, libav's log routed to spdlog, owning pointers
// for libav objects, and OpenUntrustedInput, the one way a file from outside reaches
// a demuxer.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "core/status.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/audio_fifo.h>
#include <libswresample/swresample.h>
#include <libswscale/swscale.h>
}

namespace swapline::media {

inline constexpr AVRational kMicros{1, 1000000};

std::string AvError(int err);

// Messages name a file by its name only: inputs may sit in server folders (scratch,
// file store) whose paths are nobody's business but the operator's.
std::string Quoted(const std::filesystem::path& path);

// Routes libav's log lines to spdlog (debug level); idempotent, thread-safe.
void InitLibav();

struct InputCloser {
  void operator()(AVFormatContext* c) const;
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

inline FramePtr NewFrame() { return FramePtr(av_frame_alloc()); }
inline PacketPtr NewPacket() { return PacketPtr(av_packet_alloc()); }


inline bool ValidRational(AVRational r) { return r.num > 0 && r.den > 0; }

// Opens an untrusted file for demuxing. libavformat reads it only through one
// AVIOContext over the descriptor we opened, probes it by its bytes alone (the name
// plays no part), and may use only an allow-listed demuxer, which cannot open
// anything else. kNotFound / kPermissionDenied for paths that cannot be read;
// kUnsupportedInput for anything else, still images with their own message (they
// are routed to the image pipeline).
Result<InputPtr> OpenUntrustedInput(const std::filesystem::path& path);

}  // namespace swapline::media
