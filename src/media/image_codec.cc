#include "media/image_codec.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <string_view>

#include <opencv2/imgcodecs.hpp>

#include "core/atomic_file.h"
#include "core/version.h"

namespace swapline::media {
namespace {

// OpenCV 4.6 builds its registry of image codecs on first use, and ThreadSanitizer saw
// two job slots decoding their first images race on it. It is built here, during
// static initialisation, before any thread starts; this file is linked wherever
// images are read or written.
[[maybe_unused]] const bool kCodecRegistryBuilt = cv::haveImageWriter(".png");

using Bytes = std::span<const std::uint8_t>;

constexpr const char* kSupportedFormats = "JPEG, PNG, WebP, BMP";
constexpr const char* kSupportedExtensions = ".jpg, .jpeg, .png, .webp, .bmp";

// Keeps every container's metadata field within its limits (a JPEG segment holds
// at most 65533 bytes, and XML escaping can grow the text sixfold).
constexpr std::size_t kMaxSyntheticMarkBytes = 4096;

constexpr std::uint8_t kPngSignature[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
constexpr std::size_t kPngIhdrEnd = 8 + 8 + 13 + 4;  // signature, chunk header, data, CRC
constexpr std::string_view kPngMarkKeyword = "swapline";

constexpr std::uint8_t kJpegSoi = 0xD8;
constexpr std::uint8_t kJpegEoi = 0xD9;
constexpr std::uint8_t kJpegSos = 0xDA;
constexpr std::uint8_t kJpegApp0 = 0xE0;
constexpr std::uint8_t kJpegApp1 = 0xE1;
constexpr std::uint8_t kJpegCom = 0xFE;
constexpr std::string_view kXmpJpegSignature{"http://ns.adobe.com/xap/1.0/\0", 29};

constexpr std::uint8_t kWebpVp8xXmpFlag = 0x04;

constexpr std::size_t kBmpFileHeaderSize = 14;
constexpr std::string_view kBmpMarkPrefix = "swapline-mark:";

// The XMP property EncodeImage writes and ReadSyntheticMark looks for. A property of
// our own namespace, so another tool's description is never mistaken for the mark.
constexpr std::string_view kXmpMarkAttribute = "swapline:SyntheticMark=\"";

// ---- Byte access. Callers check bounds first. ----

std::uint32_t Be16(Bytes b, std::size_t at) { return (std::uint32_t{b[at]} << 8) | b[at + 1]; }
std::uint32_t Be32(Bytes b, std::size_t at) { return (Be16(b, at) << 16) | Be16(b, at + 2); }
std::uint32_t Le16(Bytes b, std::size_t at) { return b[at] | (std::uint32_t{b[at + 1]} << 8); }
std::uint32_t Le24(Bytes b, std::size_t at) {
  return Le16(b, at) | (std::uint32_t{b[at + 2]} << 16);
}
std::uint32_t Le32(Bytes b, std::size_t at) { return Le16(b, at) | (Le16(b, at + 2) << 16); }

bool HasAt(Bytes b, std::size_t at, std::string_view text) {
  return at <= b.size() && b.size() - at >= text.size() &&
         std::equal(text.begin(), text.end(), b.begin() + static_cast<std::ptrdiff_t>(at),
                    [](char c, std::uint8_t byte) { return static_cast<std::uint8_t>(c) == byte; });
}

std::string_view TextAt(Bytes b, std::size_t at, std::size_t size) {
  return {reinterpret_cast<const char*>(b.data() + at), size};
}

void PutBe16(std::vector<std::uint8_t>& out, std::uint32_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v));
}
void PutBe32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  PutBe16(out, v >> 16);
  PutBe16(out, v & 0xFFFF);
}
void PutLe(std::vector<std::uint8_t>& out, std::uint32_t v, int byte_count) {
  for (int i = 0; i < byte_count; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
void PutText(std::vector<std::uint8_t>& out, std::string_view text) {
  out.insert(out.end(), text.begin(), text.end());
}
void SetLe32(std::vector<std::uint8_t>& b, std::size_t at, std::uint32_t v) {
  for (std::size_t i = 0; i < 4; ++i) b[at + i] = static_cast<std::uint8_t>(v >> (8 * i));
}

std::vector<std::uint8_t> Splice(Bytes bytes, std::size_t at,
                                 const std::vector<std::uint8_t>& insert) {
  std::vector<std::uint8_t> out;
  out.reserve(bytes.size() + insert.size());
  out.insert(out.end(), bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(at));
  out.insert(out.end(), insert.begin(), insert.end());
  out.insert(out.end(), bytes.begin() + static_cast<std::ptrdiff_t>(at), bytes.end());
  return out;
}

std::string Quoted(const std::string& name) { return "'" + name + "'"; }

// ---- Format sniffing. ----

std::optional<ImageFormat> SniffFormat(Bytes b) {
  if (b.size() >= 3 && b[0] == 0xFF && b[1] == kJpegSoi && b[2] == 0xFF) return ImageFormat::kJpeg;
  if (b.size() >= sizeof(kPngSignature) &&
      std::equal(std::begin(kPngSignature), std::end(kPngSignature), b.begin())) {
    return ImageFormat::kPng;
  }
  if (HasAt(b, 0, "RIFF") && HasAt(b, 8, "WEBP")) return ImageFormat::kWebp;
  if (HasAt(b, 0, "BM")) return ImageFormat::kBmp;
  return std::nullopt;
}

// ---- PNG: a signature, then chunks of length (BE32), type, data, CRC. ----

struct PngChunk {
  std::string_view type;
  std::size_t data_begin = 0;
  std::size_t data_size = 0;
  std::size_t end = 0;  // just past the CRC
};

// The chunk at `at`, or nullopt when it runs past the end of `b`.
std::optional<PngChunk> PngChunkAt(Bytes b, std::size_t at) {
  if (at > b.size() || b.size() - at < 12) return std::nullopt;
  const std::size_t length = Be32(b, at);
  if (b.size() - at - 12 < length) return std::nullopt;
  return PngChunk{TextAt(b, at + 4, 4), at + 8, length, at + 12 + length};
}

std::vector<std::uint8_t> MakePngChunk(std::string_view type, std::string_view data) {
  std::vector<std::uint8_t> chunk;
  PutBe32(chunk, static_cast<std::uint32_t>(data.size()));
  PutText(chunk, type);
  PutText(chunk, data);
  const uLong crc =
      crc32(crc32(0, nullptr, 0), chunk.data() + 4, static_cast<uInt>(chunk.size() - 4));
  PutBe32(chunk, static_cast<std::uint32_t>(crc));
  return chunk;
}

Result<ImageInfo> ProbePng(Bytes b, const std::string& subject) {
  const std::optional<PngChunk> ihdr = PngChunkAt(b, sizeof(kPngSignature));
  if (!ihdr || ihdr->type != "IHDR" || ihdr->data_size != 13) {
    return UnsupportedInput(subject + " has a corrupt or truncated PNG header");
  }
  const std::uint32_t width = Be32(b, ihdr->data_begin);
  const std::uint32_t height = Be32(b, ihdr->data_begin + 4);
  if (width > INT_MAX || height > INT_MAX) {
    return UnsupportedInput(subject + " has a corrupt PNG header (impossible size)");
  }
  return ImageInfo{ImageFormat::kPng, static_cast<int>(width), static_cast<int>(height)};
}

bool PngHasEnd(Bytes b) {
  for (std::optional<PngChunk> chunk = PngChunkAt(b, sizeof(kPngSignature)); chunk;
       chunk = PngChunkAt(b, chunk->end)) {
    if (chunk->type == "IEND") return true;
  }
  return false;
}

// ---- JPEG: SOI, then marker segments up to SOS, entropy-coded data, EOI. ----

struct JpegSegment {
  std::uint8_t marker = 0;
  std::size_t payload_begin = 0;  // after the length field; `end` for markers without one
  std::size_t end = 0;
};

bool IsJpegSof(std::uint8_t marker) {
  return marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
}

// The next marker segment at or after `at`. Like libjpeg, skips stray bytes before
// a marker and 0xFF fill bytes. nullopt when the bytes end first.
std::optional<JpegSegment> NextJpegSegment(Bytes b, std::size_t at) {
  std::size_t pos = at;
  for (;;) {
    while (pos < b.size() && b[pos] != 0xFF) ++pos;
    while (pos < b.size() && b[pos] == 0xFF) ++pos;
    if (pos >= b.size()) return std::nullopt;
    if (b[pos] != 0x00) break;  // FF00 is a stuffed data byte, not a marker
  }
  const std::uint8_t marker = b[pos++];
  // TEM, RSTn, SOI and EOI stand alone; every other marker has a 16-bit length.
  if (marker == 0x01 || (marker >= 0xD0 && marker <= kJpegEoi)) {
    return JpegSegment{marker, pos, pos};
  }
  if (b.size() - pos < 2) return std::nullopt;
  const std::size_t length = Be16(b, pos);
  if (length < 2 || b.size() - pos < length) return std::nullopt;
  return JpegSegment{marker, pos + 2, pos + length};
}

Result<ImageInfo> ProbeJpeg(Bytes b, const std::string& subject) {
  for (std::optional<JpegSegment> segment = NextJpegSegment(b, 2); segment;
       segment = NextJpegSegment(b, segment->end)) {
    if (IsJpegSof(segment->marker)) {
      if (segment->end - segment->payload_begin < 5) break;
      // Frame header: precision (1 byte), height (2), width (2).
      const int height = static_cast<int>(Be16(b, segment->payload_begin + 1));
      const int width = static_cast<int>(Be16(b, segment->payload_begin + 3));
      return ImageInfo{ImageFormat::kJpeg, width, height};
    }
    if (segment->marker == kJpegSos || segment->marker == kJpegEoi) break;
  }
  return UnsupportedInput(subject + " has a corrupt or truncated JPEG header");
}

// True when an EOI marker follows the scan data. Searching after the first SOS skips
// any EOI of an embedded EXIF thumbnail; within scan data 0xFF is always stuffed, so
// an FFD9 there is the real end.
bool JpegHasEnd(Bytes b) {
  std::optional<JpegSegment> segment = NextJpegSegment(b, 2);
  while (segment && segment->marker != kJpegSos) segment = NextJpegSegment(b, segment->end);
  if (!segment) return false;
  for (std::size_t i = b.size(); i >= segment->end + 2; --i) {
    if (b[i - 2] == 0xFF && b[i - 1] == kJpegEoi) return true;
  }
  return false;
}

// ---- WebP: RIFF size (LE32), "WEBP", then chunks of fourcc, size (LE32), data
// padded to an even length. ----

constexpr std::size_t kWebpFirstChunk = 12;

struct WebpChunk {
  std::string_view fourcc;
  std::size_t data_begin = 0;
  std::size_t data_size = 0;
  std::size_t end = 0;  // past the padding
};

std::optional<WebpChunk> WebpChunkAt(Bytes b, std::size_t at) {
  if (at > b.size() || b.size() - at < 8) return std::nullopt;
  const std::size_t size = Le32(b, at + 4);
  if (b.size() - at - 8 < size) return std::nullopt;
  const std::size_t end = std::min(b.size(), at + 8 + size + (size & 1));
  return WebpChunk{TextAt(b, at, 4), at + 8, size, end};
}

Result<ImageInfo> ProbeWebp(Bytes b, const std::string& subject) {
  const Status corrupt = UnsupportedInput(subject + " has a corrupt or truncated WebP header");
  const std::optional<WebpChunk> chunk = WebpChunkAt(b, kWebpFirstChunk);
  if (!chunk) return corrupt;
  const std::size_t at = chunk->data_begin;
  std::uint32_t width = 0;
  std::uint32_t height = 0;
  if (chunk->fourcc == "VP8 ") {
    // Lossy: 3-byte frame tag, start code 9D 01 2A, then 14-bit width and height.
    if (chunk->data_size < 10 || b[at + 3] != 0x9D || b[at + 4] != 0x01 || b[at + 5] != 0x2A) {
      return corrupt;
    }
    width = Le16(b, at + 6) & 0x3FFF;
    height = Le16(b, at + 8) & 0x3FFF;
  } else if (chunk->fourcc == "VP8L") {
    // Lossless: signature 0x2F, then 14-bit width-1 and height-1.
    if (chunk->data_size < 5 || b[at] != 0x2F) return corrupt;
    const std::uint32_t bits = Le32(b, at + 1);
    width = (bits & 0x3FFF) + 1;
    height = ((bits >> 14) & 0x3FFF) + 1;
  } else if (chunk->fourcc == "VP8X") {
    // Extended: flags, 3 reserved bytes, 24-bit canvas width-1 and height-1.
    if (chunk->data_size < 10) return corrupt;
    width = Le24(b, at + 4) + 1;
    height = Le24(b, at + 7) + 1;
  } else {
    return corrupt;
  }
  return ImageInfo{ImageFormat::kWebp, static_cast<int>(width), static_cast<int>(height)};
}

bool WebpHasEnd(Bytes b) { return std::size_t{Le32(b, 4)} + 8 <= b.size(); }

// ---- BMP: file header (14 bytes), info header, optional colour table, pixels. ----

struct BmpHeader {
  std::size_t info_size = 0;
  std::size_t pixel_offset = 0;
  std::int64_t width = 0;
  std::int64_t height = 0;  // negative for top-down rows
  std::uint32_t bits_per_pixel = 0;
  std::uint32_t compression = 0;
  std::uint32_t image_size = 0;  // may be 0 for uncompressed images
};

std::optional<BmpHeader> ParseBmpHeader(Bytes b) {
  if (b.size() < kBmpFileHeaderSize + 4) return std::nullopt;
  BmpHeader header;
  header.pixel_offset = Le32(b, 10);
  header.info_size = Le32(b, kBmpFileHeaderSize);
  constexpr std::size_t at = kBmpFileHeaderSize;
  if (header.info_size == 12 && b.size() >= at + 12) {  // OS/2 BITMAPCOREHEADER
    header.width = Le16(b, at + 4);
    header.height = Le16(b, at + 6);
    header.bits_per_pixel = Le16(b, at + 10);
    return header;
  }
  if (header.info_size < 40 || b.size() < at + 40) return std::nullopt;
  header.width = static_cast<std::int32_t>(Le32(b, at + 4));
  header.height = static_cast<std::int32_t>(Le32(b, at + 8));
  header.bits_per_pixel = Le16(b, at + 14);
  header.compression = Le32(b, at + 16);
  header.image_size = Le32(b, at + 20);
  return header;
}

Result<ImageInfo> ProbeBmp(Bytes b, const std::string& subject) {
  const std::optional<BmpHeader> header = ParseBmpHeader(b);
  if (!header) return UnsupportedInput(subject + " has a corrupt or truncated BMP header");
  const std::int64_t height = header->height < 0 ? -header->height : header->height;
  if (header->width < 0 || header->width > INT_MAX || height > INT_MAX) {
    return UnsupportedInput(subject + " has a corrupt BMP header (impossible size)");
  }
  return ImageInfo{ImageFormat::kBmp, static_cast<int>(header->width), static_cast<int>(height)};
}

bool BmpHasEnd(Bytes b, const ImageInfo& info) {
  const std::optional<BmpHeader> header = ParseBmpHeader(b);
  if (!header) return false;
  constexpr std::uint32_t kRgb = 0;
  constexpr std::uint32_t kBitfields = 3;
  std::uint64_t pixel_bytes = header->image_size;  // compressed sizes are only known from here
  if (header->compression == kRgb || header->compression == kBitfields) {
    const std::uint64_t row_bytes =
        (std::uint64_t(info.width) * header->bits_per_pixel + 31) / 32 * 4;
    pixel_bytes = row_bytes * std::uint64_t(info.height);
  }
  return header->pixel_offset <= b.size() && b.size() - header->pixel_offset >= pixel_bytes;
}

// ---- Probing and decoding. ----

// `subject` names the input in messages, e.g. "'photo.jpg'".
Result<ImageInfo> Probe(Bytes bytes, const std::string& subject) {
  if (bytes.empty()) return UnsupportedInput(subject + " is empty");
  const std::optional<ImageFormat> format = SniffFormat(bytes);
  if (!format) {
    return UnsupportedInput(subject + " is not a supported image (" + kSupportedFormats + ")");
  }
  Result<ImageInfo> info = [&]() -> Result<ImageInfo> {
    switch (*format) {
      case ImageFormat::kJpeg:
        return ProbeJpeg(bytes, subject);
      case ImageFormat::kPng:
        return ProbePng(bytes, subject);
      case ImageFormat::kWebp:
        return ProbeWebp(bytes, subject);
      case ImageFormat::kBmp:
        return ProbeBmp(bytes, subject);
    }
    return Internal("unknown image format");
  }();
  if (info.ok() && (info->width == 0 || info->height == 0)) {
    return UnsupportedInput(subject + " has a corrupt " + ImageFormatName(*format) +
                            " header (zero size)");
  }
  return info;
}

bool IsComplete(Bytes bytes, const ImageInfo& info) {
  switch (info.format) {
    case ImageFormat::kJpeg:
      return JpegHasEnd(bytes);
    case ImageFormat::kPng:
      return PngHasEnd(bytes);
    case ImageFormat::kWebp:
      return WebpHasEnd(bytes);
    case ImageFormat::kBmp:
      return BmpHasEnd(bytes, info);
  }
  return false;
}

// The largest file an image of `max_pixels` may be: 8 bytes a pixel (16-bit RGBA
// stored uncompressed, the most the supported formats spend) plus room for metadata,
// and never more than the decoder takes (INT_MAX).
std::uint64_t MaxImageFileBytes(std::int64_t max_pixels) {
  constexpr std::uint64_t kMetadataBytes = 16 << 20;
  constexpr std::uint64_t kDecoderLimit = INT_MAX;
  const auto pixels = static_cast<std::uint64_t>(std::max<std::int64_t>(max_pixels, 0));
  if (pixels >= (kDecoderLimit - kMetadataBytes) / 8) return kDecoderLimit;
  return pixels * 8 + kMetadataBytes;
}

// Reads a file of at most `max_bytes`; a larger one is refused before anything is
// allocated. Messages name the file, not its folder.
Result<std::vector<std::uint8_t>> ReadWholeFile(const std::filesystem::path& path, std::uint64_t max_bytes) {
  const std::string name = path.filename().string();
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);  // a FIFO must not block the open
  if (fd < 0) return ErrnoStatus(errno, "cannot open image", name);
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) return ErrnoStatus(errno, "cannot read image", name);
  if (S_ISDIR(st.st_mode)) return UnsupportedInput(Quoted(name) + " is a folder, not an image");
  if (!S_ISREG(st.st_mode)) return UnsupportedInput(Quoted(name) + " is not a regular file");
  const auto size = static_cast<std::uint64_t>(std::max<off_t>(st.st_size, 0));
  if (size > max_bytes) {
    return TooLarge(Quoted(name) + " is " + std::to_string(size) + " bytes; images of the pixel limit fit in " +
                    std::to_string(max_bytes) + " bytes");
  }
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
  std::size_t filled = 0;
  while (filled < bytes.size()) {
    const ssize_t n = ::read(fd, bytes.data() + filled, bytes.size() - filled);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "cannot read image", name);
    }
    if (n == 0) break;  // the file shrank while we read it
    filled += static_cast<std::size_t>(n);
  }
  bytes.resize(filled);
  return bytes;
}

// ---- Synthetic-media mark. ----

std::string XmlEscape(std::string_view text) {
  std::string out;
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string XmlUnescape(std::string_view text) {
  static constexpr std::pair<std::string_view, char> kEntities[] = {
      {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
  std::string out;
  for (std::size_t i = 0; i < text.size();) {
    const auto* entity =
        std::find_if(std::begin(kEntities), std::end(kEntities),
                     [&](const auto& e) { return text.substr(i).starts_with(e.first); });
    if (entity != std::end(kEntities)) {
      out += entity->second;
      i += entity->first.size();
    } else {
      out += text[i++];
    }
  }
  return out;
}

// An XMP packet carrying the mark three ways: our own property (read back by
// ReadSyntheticMark), dc:description (shown by common viewers), and the IPTC digital
// source type that platforms use to label AI-generated media.
std::string XmpPacket(const std::string& mark) {
  const std::string escaped = XmlEscape(mark);
  std::string xmp =
      "<?xpacket begin=\"\xEF\xBB\xBF\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>\n"
      "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\">\n"
      " <rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">\n"
      "  <rdf:Description rdf:about=\"\"\n"
      "    xmlns:dc=\"http://purl.org/dc/elements/1.1/\"\n"
      "    xmlns:Iptc4xmpExt=\"http://iptc.org/std/Iptc4xmpExt/2008-02-29/\"\n"
      "    xmlns:swapline=\"urn:swapline:xmp:1.0/\"\n"
      "    Iptc4xmpExt:DigitalSourceType="
      "\"http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia\"\n";
  xmp += "    " + std::string(kXmpMarkAttribute) + escaped + "\">\n";
  xmp += "   <dc:description><rdf:Alt><rdf:li xml:lang=\"x-default\">" + escaped +
         "</rdf:li></rdf:Alt></dc:description>\n";
  xmp +=
      "  </rdf:Description>\n"
      " </rdf:RDF>\n"
      "</x:xmpmeta>\n"
      "<?xpacket end=\"r\"?>";
  return xmp;
}

std::optional<std::string> MarkFromXmp(std::string_view xmp) {
  const std::size_t begin = xmp.find(kXmpMarkAttribute);
  if (begin == std::string_view::npos) return std::nullopt;
  const std::size_t value_begin = begin + kXmpMarkAttribute.size();
  const std::size_t value_end = xmp.find('"', value_begin);
  if (value_end == std::string_view::npos) return std::nullopt;
  return XmlUnescape(xmp.substr(value_begin, value_end - value_begin));
}

std::vector<std::uint8_t> MakeJpegSegment(std::uint8_t marker, std::string_view payload) {
  std::vector<std::uint8_t> segment = {0xFF, marker};
  PutBe16(segment, static_cast<std::uint32_t>(payload.size() + 2));
  PutText(segment, payload);
  return segment;
}

// Inserts APP1 (XMP) and COM after SOI and the JFIF APP0 that must follow it.
std::vector<std::uint8_t> MarkJpeg(Bytes jpeg, const std::string& mark) {
  std::size_t insert_at = 2;
  const std::optional<JpegSegment> first = NextJpegSegment(jpeg, insert_at);
  if (first && first->marker == kJpegApp0 && HasAt(jpeg, first->payload_begin, {"JFIF\0", 5})) {
    insert_at = first->end;
  }
  std::vector<std::uint8_t> metadata =
      MakeJpegSegment(kJpegApp1, std::string(kXmpJpegSignature) + XmpPacket(mark));
  const std::vector<std::uint8_t> comment = MakeJpegSegment(kJpegCom, mark);
  metadata.insert(metadata.end(), comment.begin(), comment.end());
  return Splice(jpeg, insert_at, metadata);
}

std::optional<std::string> ReadJpegMark(Bytes b) {
  for (std::optional<JpegSegment> segment = NextJpegSegment(b, 2);
       segment && segment->marker != kJpegSos; segment = NextJpegSegment(b, segment->end)) {
    if (segment->marker == kJpegApp1 && HasAt(b, segment->payload_begin, kXmpJpegSignature)) {
      const std::size_t xmp_begin = segment->payload_begin + kXmpJpegSignature.size();
      if (std::optional<std::string> mark =
              MarkFromXmp(TextAt(b, xmp_begin, segment->end - xmp_begin))) {
        return mark;
      }
    }
  }
  return std::nullopt;
}

// tEXt holds Latin-1; the default mark is ASCII, and other text round-trips byte-exact.
std::vector<std::uint8_t> MarkPng(Bytes png, const std::string& mark) {
  return Splice(png, kPngIhdrEnd, MakePngChunk("tEXt", std::string(kPngMarkKeyword) + '\0' + mark));
}

std::optional<std::string> ReadPngMark(Bytes b) {
  for (std::optional<PngChunk> chunk = PngChunkAt(b, sizeof(kPngSignature)); chunk;
       chunk = PngChunkAt(b, chunk->end)) {
    const std::string_view data = TextAt(b, chunk->data_begin, chunk->data_size);
    if (chunk->type == "tEXt" && data.size() > kPngMarkKeyword.size() &&
        data.starts_with(kPngMarkKeyword) && data[kPngMarkKeyword.size()] == '\0') {
      return std::string(data.substr(kPngMarkKeyword.size() + 1));
    }
  }
  return std::nullopt;
}

void AppendWebpChunk(std::vector<std::uint8_t>& out, std::string_view fourcc, Bytes data) {
  PutText(out, fourcc);
  PutLe(out, static_cast<std::uint32_t>(data.size()), 4);
  out.insert(out.end(), data.begin(), data.end());
  if (data.size() % 2 != 0) out.push_back(0);
}

// Rewrites a simple (VP8 or VP8L) file into the extended layout, which is the only
// one that can carry metadata: VP8X, the image chunk, then XMP.
Result<std::vector<std::uint8_t>> MarkWebp(Bytes webp, const std::string& mark,
                                           const cv::Size& size) {
  const std::optional<WebpChunk> image = WebpChunkAt(webp, kWebpFirstChunk);
  if (!image || (image->fourcc != "VP8 " && image->fourcc != "VP8L")) {
    return Internal(
        "the WebP encoder wrote an unexpected layout; cannot add the synthetic-media mark");
  }
  std::vector<std::uint8_t> out;
  PutText(out, "RIFF");
  PutLe(out, 0, 4);  // RIFF size, set below
  PutText(out, "WEBP");
  std::vector<std::uint8_t> vp8x = {kWebpVp8xXmpFlag, 0, 0, 0};
  PutLe(vp8x, static_cast<std::uint32_t>(size.width - 1), 3);
  PutLe(vp8x, static_cast<std::uint32_t>(size.height - 1), 3);
  AppendWebpChunk(out, "VP8X", vp8x);
  // Copied without its padding byte and padded here: encoders may omit the last one.
  out.insert(out.end(), webp.begin() + static_cast<std::ptrdiff_t>(kWebpFirstChunk),
             webp.begin() + static_cast<std::ptrdiff_t>(image->data_begin + image->data_size));
  if (image->data_size % 2 != 0) out.push_back(0);
  const std::string xmp = XmpPacket(mark);
  AppendWebpChunk(out, "XMP ", {reinterpret_cast<const std::uint8_t*>(xmp.data()), xmp.size()});
  SetLe32(out, 4, static_cast<std::uint32_t>(out.size() - 8));
  return out;
}

std::optional<std::string> ReadWebpMark(Bytes b) {
  for (std::optional<WebpChunk> chunk = WebpChunkAt(b, kWebpFirstChunk); chunk;
       chunk = WebpChunkAt(b, chunk->end)) {
    if (chunk->fourcc == "XMP ") return MarkFromXmp(TextAt(b, chunk->data_begin, chunk->data_size));
  }
  return std::nullopt;
}

// BMP has no metadata field, but readers seek to the pixel array through bfOffBits,
// so a record placed just before the pixels is skipped by every decoder.
Result<std::vector<std::uint8_t>> MarkBmp(Bytes bmp, const std::string& mark) {
  const std::optional<BmpHeader> header = ParseBmpHeader(bmp);
  if (!header || header->pixel_offset > bmp.size()) {
    return Internal(
        "the BMP encoder wrote an unexpected layout; cannot add the synthetic-media mark");
  }
  std::vector<std::uint8_t> record;
  PutText(record, kBmpMarkPrefix);
  PutText(record, mark);
  record.push_back(0);
  record.resize((record.size() + 3) / 4 * 4, 0);  // keeps the pixel rows 4-byte aligned
  std::vector<std::uint8_t> out = Splice(bmp, header->pixel_offset, record);
  SetLe32(out, 2, static_cast<std::uint32_t>(out.size()));
  SetLe32(out, 10, static_cast<std::uint32_t>(header->pixel_offset + record.size()));
  return out;
}

std::optional<std::string> ReadBmpMark(Bytes b) {
  const std::optional<BmpHeader> header = ParseBmpHeader(b);
  if (!header) return std::nullopt;
  const std::size_t gap_begin = kBmpFileHeaderSize + header->info_size;
  const std::size_t gap_end = std::min(header->pixel_offset, b.size());
  if (gap_begin >= gap_end) return std::nullopt;
  const std::string_view gap = TextAt(b, gap_begin, gap_end - gap_begin);
  const std::size_t begin = gap.find(kBmpMarkPrefix);
  if (begin == std::string_view::npos) return std::nullopt;
  const std::string_view rest = gap.substr(begin + kBmpMarkPrefix.size());
  const std::size_t end = rest.find('\0');
  if (end == std::string_view::npos) return std::nullopt;
  return std::string(rest.substr(0, end));
}

Status ValidateMark(const std::string& mark) {
  if (mark.size() > kMaxSyntheticMarkBytes) {
    return InvalidArgument("synthetic-media mark is " + std::to_string(mark.size()) +
                           " bytes; the limit is " + std::to_string(kMaxSyntheticMarkBytes));
  }
  // Control characters (NUL above all) are invalid in XML and cut the PNG and BMP records.
  if (std::any_of(mark.begin(), mark.end(),
                  [](char c) { return static_cast<unsigned char>(c) < 0x20; })) {
    return InvalidArgument(
        "synthetic-media mark must be one line of text without control characters");
  }
  return Status::Ok();
}

}  // namespace

const char* ImageFormatName(ImageFormat format) {
  switch (format) {
    case ImageFormat::kJpeg:
      return "JPEG";
    case ImageFormat::kPng:
      return "PNG";
    case ImageFormat::kWebp:
      return "WebP";
    case ImageFormat::kBmp:
      return "BMP";
  }
  return "unknown";
}

Result<ImageFormat> ImageFormatFromPath(const std::filesystem::path& path) {
  std::string extension = path.extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (extension == ".jpg" || extension == ".jpeg") return ImageFormat::kJpeg;
  if (extension == ".png") return ImageFormat::kPng;
  if (extension == ".webp") return ImageFormat::kWebp;
  if (extension == ".bmp") return ImageFormat::kBmp;
  const std::string problem = extension.empty()
                                  ? "has no image extension"
                                  : "has an unsupported image extension '" + extension + "'";
  return InvalidArgument(Quoted(path.string()) + " " + problem + "; use one of " +
                         kSupportedExtensions);
}

Result<ImageInfo> ProbeImage(std::span<const std::uint8_t> bytes) {
  return Probe(bytes, "the input");
}

Result<cv::Mat> DecodeImage(std::span<const std::uint8_t> bytes, const std::string& name,
                            std::int64_t max_pixels) {
  const std::string subject = Quoted(name);
  SWAPLINE_ASSIGN_OR_RETURN(const ImageInfo info, Probe(bytes, subject));
  const std::int64_t pixels = PixelCount({info.width, info.height});
  if (pixels > max_pixels) {
    return TooLarge(subject + " is " + std::to_string(info.width) + "x" +
                    std::to_string(info.height) + " = " + std::to_string(pixels) +
                    " pixels; the limit is " + std::to_string(max_pixels) + " pixels");
  }
  if (info.width < kMinImageSide || info.height < kMinImageSide) {
    return UnsupportedInput(subject + " is " + std::to_string(info.width) + "x" +
                            std::to_string(info.height) +
                            " pixels, too small to contain a face (each side must be at least " +
                            std::to_string(kMinImageSide) + ")");
  }
  if (!IsComplete(bytes, info)) {
    return UnsupportedInput(subject + " is a truncated " + ImageFormatName(info.format) +
                            " file (its end is missing)");
  }
  if (bytes.size() > static_cast<std::size_t>(INT_MAX)) {
    return TooLarge(subject + " is " + std::to_string(bytes.size()) + " bytes; the limit is " +
                    std::to_string(INT_MAX) + " bytes");
  }
  // imdecode picks its decoder by signature, not by our probe: a WebP its WebP decoder
  // declines falls through to the DICOM decoder (GDCM) when "DICM" sits at offset 128,
  // and GDCM trusts the file's element lengths (a 869-byte input asked for 4 GB).
  // None of our formats has that marker there by design.
  static constexpr std::string_view kDicomMarker = "DICM";
  if (bytes.size() >= 132 && std::equal(kDicomMarker.begin(), kDicomMarker.end(), bytes.begin() + 128)) {
    return UnsupportedInput(subject + " carries a DICOM marker; only plain " +
                            std::string(ImageFormatName(info.format)) + " files are read");
  }
  try {
    // imdecode only reads the buffer; cv::Mat has no const view.
    const cv::Mat encoded(1, static_cast<int>(bytes.size()), CV_8UC1,
                          const_cast<std::uint8_t*>(bytes.data()));
    cv::Mat bgr = cv::imdecode(encoded, cv::IMREAD_COLOR);  // applies EXIF orientation
    if (bgr.empty()) {
      return UnsupportedInput(subject + " is a corrupt " +
                              std::string(ImageFormatName(info.format)) +
                              " file; the decoder could not read it");
    }
    return bgr;
  } catch (const cv::Exception& e) {
    return UnsupportedInput(subject + " is a corrupt " + std::string(ImageFormatName(info.format)) +
                            " file: " + e.err);
  }
}

Result<cv::Mat> ReadImage(const std::filesystem::path& path, std::int64_t max_pixels) {
  SWAPLINE_ASSIGN_OR_RETURN(const std::vector<std::uint8_t> bytes, ReadWholeFile(path, MaxImageFileBytes(max_pixels)));
  return DecodeImage(bytes, path.filename().string(), max_pixels);
}

Result<std::vector<std::uint8_t>> EncodeImage(const cv::Mat& bgr, ImageFormat format,
                                              const ImageEncodeOptions& options) {
  if (bgr.empty() || bgr.type() != CV_8UC3) {
    return InvalidArgument("only non-empty 8-bit BGR images can be encoded");
  }
  if (options.quality < 0 || options.quality > 100) {
    return InvalidArgument("image quality must be 0..100, got " + std::to_string(options.quality));
  }
  SWAPLINE_RETURN_IF_ERROR(ValidateMark(options.synthetic_mark));
  std::vector<int> params;
  const char* extension = ".bmp";
  switch (format) {
    case ImageFormat::kJpeg:
      extension = ".jpg";
      params = {cv::IMWRITE_JPEG_QUALITY, options.quality};
      break;
    case ImageFormat::kWebp:
      extension = ".webp";
      // OpenCV's WebP quality is 1..100 (above 100 means lossless).
      params = {cv::IMWRITE_WEBP_QUALITY, std::max(options.quality, 1)};
      break;
    case ImageFormat::kPng:
      extension = ".png";
      // PNG is lossless: quality maps linearly onto zlib effort, 100 → 0 (fastest,
      // largest) to 0 → 9 (slowest, smallest), i.e. round((100 - quality) * 9 / 100).
      params = {cv::IMWRITE_PNG_COMPRESSION, ((100 - options.quality) * 9 + 50) / 100};
      break;
    case ImageFormat::kBmp:
      break;  // no quality setting
  }
  std::vector<std::uint8_t> encoded;
  try {
    if (!cv::imencode(extension, bgr, encoded, params)) {
      return Internal(std::string("the ") + ImageFormatName(format) + " encoder failed");
    }
  } catch (const cv::Exception& e) {
    return Internal(std::string("the ") + ImageFormatName(format) + " encoder failed: " + e.err);
  }
  const std::string& mark = options.synthetic_mark;
  if (mark.empty()) return encoded;
  switch (format) {
    case ImageFormat::kJpeg:
      return MarkJpeg(encoded, mark);
    case ImageFormat::kPng:
      return MarkPng(encoded, mark);
    case ImageFormat::kWebp:
      return MarkWebp(encoded, mark, bgr.size());
    case ImageFormat::kBmp:
      return MarkBmp(encoded, mark);
  }
  return Internal("unknown image format");
}

Status WriteImage(const std::filesystem::path& path, const cv::Mat& bgr,
                  const ImageEncodeOptions& options) {
  SWAPLINE_ASSIGN_OR_RETURN(const ImageFormat format, ImageFormatFromPath(path));
  SWAPLINE_ASSIGN_OR_RETURN(const std::vector<std::uint8_t> encoded,
                            EncodeImage(bgr, format, options));
  return WriteFileAtomically(path, encoded);
}

std::optional<std::string> ReadSyntheticMark(std::span<const std::uint8_t> bytes) {
  const std::optional<ImageFormat> format = SniffFormat(bytes);
  if (!format) return std::nullopt;
  switch (*format) {
    case ImageFormat::kJpeg:
      return ReadJpegMark(bytes);
    case ImageFormat::kPng:
      return ReadPngMark(bytes);
    case ImageFormat::kWebp:
      return ReadWebpMark(bytes);
    case ImageFormat::kBmp:
      return ReadBmpMark(bytes);
  }
  return std::nullopt;
}

std::string SyntheticMark() {
  return std::string("AI-generated: faces swapped by swapline ") + kVersion + " (synthetic media)";
}

}  // namespace swapline::media
