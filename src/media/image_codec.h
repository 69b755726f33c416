// Image codecs: probe, decode and encode still images (JPEG, PNG, WebP, BMP).
//
// Decoding is guarded: the format is sniffed from the bytes (never the extension),
// the dimensions are read from the header and refused above `max_pixels` before any
// pixel is decoded, and an input that is empty, not an image, truncated or corrupt
// gives Code::kUnsupportedInput with a message naming the file and the problem.
// A missing file gives Code::kNotFound. Images smaller than kMinImageSide on a side
// are refused (no face fits) with Code::kUnsupportedInput.
// EXIF orientation is applied on decode, so the returned pixels are upright.
//
// Encoding picks the format from the output extension (.jpg/.jpeg, .png, .webp,
// .bmp) and embeds the synthetic-media mark (see SyntheticMark) in the file's own
// metadata: PNG tEXt chunk (keyword "swapline"), JPEG COM segment plus XMP (APP1),
// WebP XMP chunk (VP8X container), BMP a text record in the gap between the header
// and the pixel array (BMP has no metadata field; readers skip the gap). Writes go
// through AtomicFile: the output appears complete or not at all.
//
// Thread safety: all functions are reentrant.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "core/status.h"

namespace swapline::media {

enum class ImageFormat { kJpeg, kPng, kWebp, kBmp };

const char* ImageFormatName(ImageFormat format);

// Documented limits (README "Limits").
inline constexpr std::int64_t kDefaultMaxImagePixels = 100'000'000;  // 100 megapixels
inline constexpr int kMinImageSide = 32;

// Pixels of `size` in 64-bit arithmetic: cv::Size::area() is an int and overflows
// from 46341x46341 on. Compare pixel counts with this, never with area().
inline std::int64_t PixelCount(cv::Size size) { return std::int64_t{size.width} * size.height; }

struct ImageInfo {
  ImageFormat format;
  int width = 0;
  int height = 0;
};

// Format from a file name's extension, case-insensitive. Unknown extensions give
// Code::kInvalidArgument listing the supported ones.
Result<ImageFormat> ImageFormatFromPath(const std::filesystem::path& path);

// Reads the format and dimensions from the first bytes of an encoded image.
Result<ImageInfo> ProbeImage(std::span<const std::uint8_t> bytes);

// Decodes to 8-bit BGR (alpha dropped, grey expanded). `name` is used in messages.
Result<cv::Mat> DecodeImage(std::span<const std::uint8_t> bytes, const std::string& name,
                            std::int64_t max_pixels = kDefaultMaxImagePixels);

// Reads and decodes a file. A file larger than an image of `max_pixels` can be
// (see DecodeImage) is refused with Code::kTooLarge before it is read. Messages name
// the file, not its folder.
Result<cv::Mat> ReadImage(const std::filesystem::path& path,
                          std::int64_t max_pixels = kDefaultMaxImagePixels);

struct ImageEncodeOptions {
  int quality = 80;  // 0..100: JPEG/WebP quality; PNG maps it to compression effort
  // Text of the synthetic-media mark; empty writes no mark.
  std::string synthetic_mark;
};

Result<std::vector<std::uint8_t>> EncodeImage(const cv::Mat& bgr, ImageFormat format,
                                              const ImageEncodeOptions& options);

// Encodes with the format of `path`'s extension and writes atomically.
Status WriteImage(const std::filesystem::path& path, const cv::Mat& bgr,
                  const ImageEncodeOptions& options);

// The synthetic-media mark embedded by EncodeImage, if any.
std::optional<std::string> ReadSyntheticMark(std::span<const std::uint8_t> bytes);

// The mark swapline writes into every output: names the tool and version and says
// that faces were swapped. Also used by the video writer.
std::string SyntheticMark();

}  // namespace swapline::media
