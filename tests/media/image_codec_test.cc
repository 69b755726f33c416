#include "media/image_codec.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>

#include <opencv2/imgcodecs.hpp>

#include "core/version.h"
#include "support/process.h"

namespace swapline::media {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<std::uint8_t>;

const char kGraceHopperJpeg[] = SWAPLINE_TESTDATA_DIR "/photos/grace_hopper_usn_portrait.jpg";

// A deterministic colourful picture; non-square so swapped width/height show up.
cv::Mat TestPicture(int width = 80, int height = 48) {
  cv::Mat bgr(height, width, CV_8UC3);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      bgr.at<cv::Vec3b>(y, x) =
          cv::Vec3b(static_cast<std::uint8_t>(x * 3), static_cast<std::uint8_t>(y * 5),
                    static_cast<std::uint8_t>((x + y) * 2));
    }
  }
  return bgr;
}

Bytes OpenCvEncode(const std::string& extension, const cv::Mat& bgr,
                   const std::vector<int>& params = {}) {
  Bytes out;
  EXPECT_TRUE(cv::imencode(extension, bgr, out, params));
  return out;
}

Bytes Encode(const cv::Mat& bgr, ImageFormat format, const std::string& mark = "") {
  auto encoded = EncodeImage(bgr, format, {.quality = 90, .synthetic_mark = mark});
  EXPECT_TRUE(encoded.ok()) << encoded.status().ToString();
  return encoded.ok() ? *encoded : Bytes{};
}

void PutBe32(Bytes& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(v >> shift));
}

// A PNG signature and IHDR chunk (valid CRC) claiming width x height; no pixel data.
Bytes PngHeaderOnly(std::uint32_t width, std::uint32_t height) {
  Bytes png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  PutBe32(png, 13);
  const std::size_t type_at = png.size();
  for (char c : std::string("IHDR")) png.push_back(static_cast<std::uint8_t>(c));
  PutBe32(png, width);
  PutBe32(png, height);
  png.insert(png.end(), {8, 2, 0, 0, 0});  // 8-bit RGB, deflate, no filter, no interlace
  PutBe32(png, static_cast<std::uint32_t>(crc32(0, png.data() + type_at, 17)));
  return png;
}

class ImageCodecTest : public ::testing::Test {
 protected:
  void SetUp() override {
    scratch_ = std::make_unique<testing::TempDir>("swapline-media");
    dir_ = scratch_->path();
  }
  void TearDown() override { scratch_.reset(); }

  fs::path WriteFile(const std::string& name, const Bytes& bytes) const {
    const fs::path path = dir_ / name;
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));
    return path;
  }

  static Bytes Slurp(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
  }

  std::unique_ptr<testing::TempDir> scratch_;
  fs::path dir_;
};

struct FormatCase {
  const char* extension;
  ImageFormat format;
  bool lossless;
};

class ImageRoundTripTest : public ImageCodecTest,
                           public ::testing::WithParamInterface<FormatCase> {};

TEST_P(ImageRoundTripTest, WritesMarkedImageThatDecodes) {
  const FormatCase& c = GetParam();
  const cv::Mat picture = TestPicture();
  const fs::path path = dir_ / (std::string("out") + c.extension);
  ASSERT_TRUE(WriteImage(path, picture, {.quality = 95, .synthetic_mark = SyntheticMark()}).ok());

  const Bytes bytes = Slurp(path);
  EXPECT_EQ(ReadSyntheticMark(bytes), SyntheticMark());
  auto info = ProbeImage(bytes);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->format, c.format);
  EXPECT_EQ(info->width, picture.cols);
  EXPECT_EQ(info->height, picture.rows);

  auto decoded = ReadImage(path);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  ASSERT_EQ(decoded->type(), CV_8UC3);
  ASSERT_EQ(decoded->size(), picture.size());
  if (c.lossless) {
    EXPECT_EQ(cv::norm(*decoded, picture, cv::NORM_INF), 0);
  } else {
    EXPECT_LT(cv::norm(*decoded, picture, cv::NORM_L1) / static_cast<double>(picture.total() * 3),
              8);
  }
}

TEST_P(ImageRoundTripTest, EmptyMarkWritesNone) {
  const Bytes bytes = Encode(TestPicture(), GetParam().format);
  EXPECT_EQ(ReadSyntheticMark(bytes), std::nullopt);
  EXPECT_TRUE(DecodeImage(bytes, "plain").ok());
}

TEST_P(ImageRoundTripTest, MarkWithXmlSpecialCharactersRoundTrips) {
  const std::string mark = R"(faces <swapped> by "A & B's" tool)";
  const Bytes bytes = Encode(TestPicture(), GetParam().format, mark);
  EXPECT_EQ(ReadSyntheticMark(bytes), mark);
  EXPECT_TRUE(DecodeImage(bytes, "marked").ok());
}

INSTANTIATE_TEST_SUITE_P(AllFormats, ImageRoundTripTest,
                         ::testing::Values(FormatCase{".jpg", ImageFormat::kJpeg, false},
                                           FormatCase{".png", ImageFormat::kPng, true},
                                           FormatCase{".webp", ImageFormat::kWebp, false},
                                           FormatCase{".bmp", ImageFormat::kBmp, true}),
                         [](const auto& info) { return std::string(info.param.extension + 1); });

TEST(ImageCodec, JpegMarkIsAlsoInCommentAndIptcSourceType) {
  const Bytes jpeg = Encode(TestPicture(), ImageFormat::kJpeg, "m<1>");
  const std::string text(jpeg.begin(), jpeg.end());
  EXPECT_NE(text.find(std::string("\xFF\xFE\x00\x06m<1>", 8)), std::string::npos);
  EXPECT_NE(text.find("http://ns.adobe.com/xap/1.0/"), std::string::npos);
  EXPECT_NE(text.find("digitalsourcetype/trainedAlgorithmicMedia"), std::string::npos);
  EXPECT_NE(text.find("m&lt;1&gt;"), std::string::npos);
}

TEST(ImageCodec, ProbesEveryFormatWithoutDecoding) {
  const cv::Mat picture = TestPicture(70, 45);
  const struct {
    const char* label;
    Bytes bytes;
    ImageFormat format;
  } cases[] = {
      {"jpeg", OpenCvEncode(".jpg", picture), ImageFormat::kJpeg},
      {"png", OpenCvEncode(".png", picture), ImageFormat::kPng},
      {"webp lossy (VP8)", OpenCvEncode(".webp", picture, {cv::IMWRITE_WEBP_QUALITY, 80}),
       ImageFormat::kWebp},
      {"webp lossless (VP8L)", OpenCvEncode(".webp", picture, {cv::IMWRITE_WEBP_QUALITY, 101}),
       ImageFormat::kWebp},
      {"webp extended (VP8X)", Encode(picture, ImageFormat::kWebp, "mark"), ImageFormat::kWebp},
      {"bmp", OpenCvEncode(".bmp", picture), ImageFormat::kBmp},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.label);
    auto info = ProbeImage(c.bytes);
    ASSERT_TRUE(info.ok()) << info.status().ToString();
    EXPECT_EQ(info->format, c.format);
    EXPECT_EQ(info->width, 70);
    EXPECT_EQ(info->height, 45);
  }
  // The two WebP samples really use the two codecs.
  EXPECT_EQ(std::string(cases[2].bytes.begin() + 12, cases[2].bytes.begin() + 16), "VP8 ");
  EXPECT_EQ(std::string(cases[3].bytes.begin() + 12, cases[3].bytes.begin() + 16), "VP8L");
}

TEST(ImageCodec, ProbesTopDownBmp) {
  Bytes bmp = OpenCvEncode(".bmp", TestPicture(70, 45));
  const std::int32_t top_down_height = -45;
  std::memcpy(bmp.data() + 22, &top_down_height, 4);  // biHeight, little-endian on x86
  auto info = ProbeImage(bmp);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->height, 45);
}

TEST(ImageCodec, LosslessWebpDecodesExactly) {
  const cv::Mat picture = TestPicture();
  auto decoded =
      DecodeImage(OpenCvEncode(".webp", picture, {cv::IMWRITE_WEBP_QUALITY, 101}), "lossless.webp");
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(cv::norm(*decoded, picture, cv::NORM_INF), 0);
}

TEST_F(ImageCodecTest, ReadsRealPhoto) {
  ASSERT_TRUE(fs::exists(kGraceHopperJpeg)) << "test photo missing (../shared/testdata): " << kGraceHopperJpeg;
  const Bytes bytes = Slurp(kGraceHopperJpeg);
  auto info = ProbeImage(bytes);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  auto decoded = ReadImage(kGraceHopperJpeg);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->type(), CV_8UC3);
  EXPECT_EQ(decoded->total(),
            static_cast<std::size_t>(info->width) * static_cast<std::size_t>(info->height));
}

TEST_F(ImageCodecTest, MissingFileIsNotFound) {
  EXPECT_EQ(ReadImage(dir_ / "absent.jpg").status().code(), Code::kNotFound);
}

TEST_F(ImageCodecTest, EmptyFileIsUnsupported) {
  const Status status = ReadImage(WriteFile("empty.png", {})).status();
  EXPECT_EQ(status.code(), Code::kUnsupportedInput);
  EXPECT_NE(status.message().find("is empty"), std::string::npos) << status.message();
}

TEST_F(ImageCodecTest, TextNamedJpgIsUnsupported) {
  const std::string text = "this is not a picture\n";
  const Status status = ReadImage(WriteFile("notes.jpg", Bytes(text.begin(), text.end()))).status();
  EXPECT_EQ(status.code(), Code::kUnsupportedInput);
  EXPECT_NE(status.message().find("notes.jpg' is not a supported image (JPEG, PNG, WebP, BMP)"),
            std::string::npos)
      << status.message();
}

TEST_F(ImageCodecTest, MessagesNameTheFileNotItsFolder) {
  const std::string text = "this is not a picture\n";
  const Status status = ReadImage(WriteFile("notes.jpg", Bytes(text.begin(), text.end()))).status();
  EXPECT_NE(status.message().find("'notes.jpg'"), std::string::npos) << status.message();
  EXPECT_EQ(status.message().find(dir_.string()), std::string::npos) << status.message();
}

TEST_F(ImageCodecTest, OversizedFileIsRefusedBeforeItIsRead) {
  // A valid header in front of a sparse terabyte: allocating it first would abort.
  const fs::path file = WriteFile("huge.png", OpenCvEncode(".png", TestPicture(64, 64)));
  ASSERT_EQ(::truncate(file.c_str(), off_t{1} << 40), 0) << std::strerror(errno);
  const Status status = ReadImage(file).status();
  EXPECT_EQ(status.code(), Code::kTooLarge) << status.ToString();
  EXPECT_NE(status.message().find("1099511627776 bytes"), std::string::npos) << status.message();
  // The bound follows the pixel limit: 8 bytes a pixel plus 16 MiB of metadata.
  ASSERT_EQ(::truncate(file.c_str(), (off_t{16} << 20) + 8 * 1000 + 1), 0);
  EXPECT_EQ(ReadImage(file, 1000).status().code(), Code::kTooLarge);
}

TEST(ImageCodec, PixelCountDoesNotOverflow) {
  // cv::Size::area() is an int: 46341² wraps negative and would pass a 40000² cap.
  EXPECT_GT(PixelCount({46341, 46341}), std::int64_t{40000} * 40000);
  EXPECT_EQ(PixelCount({1 << 30, 1 << 30}), std::int64_t{1} << 60);
}

TEST_F(ImageCodecTest, FolderIsUnsupported) {
  EXPECT_EQ(ReadImage(dir_).status().code(), Code::kUnsupportedInput);
}

TEST_F(ImageCodecTest, FifoIsUnsupportedWithoutBlocking) {
  // Without a writer, a blocking open would never return.
  ASSERT_EQ(::mkfifo((dir_ / "fifo.png").c_str(), 0600), 0);
  const Status status = ReadImage(dir_ / "fifo.png").status();
  EXPECT_EQ(status.code(), Code::kUnsupportedInput) << status.ToString();
  EXPECT_NE(status.message().find("not a regular file"), std::string::npos) << status.message();
}

TEST_F(ImageCodecTest, RealJpegCutInHalfIsUnsupported) {
  ASSERT_TRUE(fs::exists(kGraceHopperJpeg)) << "test photo missing (../shared/testdata): " << kGraceHopperJpeg;
  Bytes bytes = Slurp(kGraceHopperJpeg);
  bytes.resize(bytes.size() / 2);
  const Status status = ReadImage(WriteFile("half.jpg", bytes)).status();
  EXPECT_EQ(status.code(), Code::kUnsupportedInput);
  EXPECT_NE(status.message().find("truncated"), std::string::npos) << status.message();
}

TEST(ImageCodec, TruncatedFilesAreUnsupported) {
  const cv::Mat picture = TestPicture();
  for (const ImageFormat format :
       {ImageFormat::kJpeg, ImageFormat::kPng, ImageFormat::kWebp, ImageFormat::kBmp}) {
    SCOPED_TRACE(ImageFormatName(format));
    Bytes bytes = Encode(picture, format);
    bytes.resize(bytes.size() * 3 / 4);
    const Status status = DecodeImage(bytes, "cut").status();
    EXPECT_EQ(status.code(), Code::kUnsupportedInput);
    EXPECT_NE(status.message().find("truncated"), std::string::npos) << status.message();
  }
}

TEST(ImageCodec, CorruptPixelDataIsUnsupported) {
  Bytes png = OpenCvEncode(".png", TestPicture());
  // Overwrite the middle of the compressed data; the chunk layout and IEND stay.
  std::fill(png.begin() + 60, png.begin() + 120, 0x5A);
  const Status status = DecodeImage(png, "scrambled.png").status();
  EXPECT_EQ(status.code(), Code::kUnsupportedInput);
  EXPECT_NE(status.message().find("corrupt"), std::string::npos) << status.message();
}

TEST(ImageCodec, ADicomMarkerIsRefusedBeforeAnyDecoderSeesIt) {
  // OpenCV's DICOM decoder claims any buffer with "DICM" at offset 128 that the
  // intended decoder declines, and then trusts its lengths (fuzz/regressions/image).
  for (const ImageFormat format : {ImageFormat::kWebp, ImageFormat::kPng, ImageFormat::kJpeg}) {
    SCOPED_TRACE(ImageFormatName(format));
    Bytes bytes = Encode(TestPicture(), format);
    ASSERT_GT(bytes.size(), 132u);
    std::copy_n("DICM", 4, bytes.begin() + 128);
    const Status status = DecodeImage(bytes, "odd").status();
    EXPECT_EQ(status.code(), Code::kUnsupportedInput);
    EXPECT_NE(status.message().find("DICOM"), std::string::npos) << status.message();
  }
}

TEST(ImageCodec, TinyImageIsUnsupported) {
  const Status status = DecodeImage(OpenCvEncode(".png", TestPicture(1, 1)), "dot.png").status();
  EXPECT_EQ(status.code(), Code::kUnsupportedInput);
  EXPECT_NE(status.message().find("too small to contain a face"), std::string::npos)
      << status.message();
}

TEST(ImageCodec, HugeImageIsRefusedFromItsHeader) {
  const Bytes header = PngHeaderOnly(20000, 20000);
  auto info = ProbeImage(header);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->width, 20000);

  const Status status = DecodeImage(header, "huge.png").status();
  EXPECT_EQ(status.code(), Code::kTooLarge);
  EXPECT_NE(status.message().find("400000000 pixels"), std::string::npos) << status.message();
  EXPECT_NE(status.message().find(std::to_string(kDefaultMaxImagePixels)), std::string::npos)
      << status.message();
}

TEST(ImageCodec, PixelLimitIsConfigurable) {
  EXPECT_EQ(
      DecodeImage(OpenCvEncode(".png", TestPicture(80, 48)), "p.png", 80 * 48 - 1).status().code(),
      Code::kTooLarge);
  EXPECT_TRUE(DecodeImage(OpenCvEncode(".png", TestPicture(80, 48)), "p.png", 80 * 48).ok());
}

TEST(ImageCodec, FormatFromPathIgnoresCase) {
  EXPECT_EQ(*ImageFormatFromPath("a/B.JPG"), ImageFormat::kJpeg);
  EXPECT_EQ(*ImageFormatFromPath("x.Jpeg"), ImageFormat::kJpeg);
  EXPECT_EQ(*ImageFormatFromPath("x.PNG"), ImageFormat::kPng);
  EXPECT_EQ(*ImageFormatFromPath("x.webp"), ImageFormat::kWebp);
  EXPECT_EQ(*ImageFormatFromPath("x.Bmp"), ImageFormat::kBmp);
  EXPECT_EQ(ImageFormatFromPath("noext").status().code(), Code::kInvalidArgument);
}

TEST_F(ImageCodecTest, UnknownOutputExtensionIsInvalid) {
  const Status status = WriteImage(dir_ / "out.gif", TestPicture(), {});
  EXPECT_EQ(status.code(), Code::kInvalidArgument);
  EXPECT_NE(status.message().find(".webp"), std::string::npos) << status.message();
  EXPECT_TRUE(fs::is_empty(dir_));
}

TEST_F(ImageCodecTest, MissingOutputFolderIsNotWritable) {
  const Status status = WriteImage(dir_ / "missing" / "out.png", TestPicture(), {});
  EXPECT_EQ(status.code(), Code::kOutputNotWritable);
  EXPECT_TRUE(fs::is_empty(dir_));
}

TEST_F(ImageCodecTest, QualityOutOfRangeIsInvalid) {
  for (const int quality : {-1, 101}) {
    EXPECT_EQ(
        WriteImage(dir_ / "out.jpg", TestPicture(), {.quality = quality, .synthetic_mark = ""})
            .code(),
        Code::kInvalidArgument);
  }
  EXPECT_TRUE(fs::is_empty(dir_));
  for (const int quality : {0, 100}) {
    for (const ImageFormat format : {ImageFormat::kJpeg, ImageFormat::kPng, ImageFormat::kWebp}) {
      EXPECT_TRUE(
          EncodeImage(TestPicture(), format, {.quality = quality, .synthetic_mark = ""}).ok());
    }
  }
}

TEST(ImageCodec, MarkWithControlCharactersIsInvalid) {
  EXPECT_EQ(
      EncodeImage(TestPicture(), ImageFormat::kPng, {.synthetic_mark = std::string("a\0b", 3)})
          .status()
          .code(),
      Code::kInvalidArgument);
}

TEST(ImageCodec, SyntheticMarkNamesToolAndVersion) {
  const std::string mark = SyntheticMark();
  EXPECT_NE(mark.find("AI-generated"), std::string::npos);
  EXPECT_NE(mark.find(std::string("swapline ") + kVersion), std::string::npos);
}

}  // namespace
}  // namespace swapline::media
