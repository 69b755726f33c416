#include "media/libav.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <mutex>
#include <string_view>

#include <spdlog/spdlog.h>

extern "C" {
#include <libavutil/avstring.h>
}

namespace swapline::media {
namespace {

namespace fs = std::filesystem;

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

const char* DescribeImageDemuxer(const AVInputFormat* format) {
  const std::string_view name = format->name;
  if (name.starts_with("jpeg")) return "a JPEG image";
  if (name.starts_with("png")) return "a PNG image";
  if (name.starts_with("webp")) return "a WebP image";
  if (name.starts_with("bmp")) return "a BMP image";
  return "a still image";
}

}  // namespace

std::string AvError(int err) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(err, buf, sizeof(buf));
  return buf;
}

std::string Quoted(const fs::path& path) { return "'" + path.filename().string() + "'"; }

void InitLibav() {
  static std::once_flag once;
  std::call_once(once, [] { av_log_set_callback(AvLogToSpdlog); });
}

void InputCloser::operator()(AVFormatContext* c) const {
  AVIOContext* custom = (c->flags & AVFMT_FLAG_CUSTOM_IO) != 0 ? c->pb : nullptr;
  avformat_close_input(&c);
  FreeCustomIo(custom);
}

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

}  // namespace swapline::media
