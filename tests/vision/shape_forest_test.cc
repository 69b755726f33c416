// ShapeForest (vision/shape_forest.h): the same shapes as dlib's own shape predictor,
// point for point, and a clear refusal of files that are not a whole model. Its
// DlibDecoder (vision/dlib_decoder.h): every value as dlib decodes it.

#include "vision/shape_forest.h"

#include <bit>
#include <cstdint>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <dlib/image_processing/frontal_face_detector.h>
#include <dlib/opencv/cv_image.h>
#include <dlib/serialize.h>
#include <gtest/gtest.h>

#include "photo_face_test.h"
#include "vision/dlib_decoder.h"
#include "vision/face_landmarker.h"

namespace swapline::vision {
namespace {

std::string ModelBytes() {
  std::ifstream in(DefaultShapePredictorPath(), std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

Result<ShapeForest> ReadBytes(const std::string& bytes) {
  std::istringstream in(bytes);
  return ShapeForest::Read(in);
}

TEST(ShapeForestTest, FitsTheShapesDlibsPredictorFits) {
  const std::string bytes = ModelBytes();
  ASSERT_GT(bytes.size(), 1000000u) << DefaultShapePredictorPath();
  const Result<ShapeForest> forest = ReadBytes(bytes);
  ASSERT_TRUE(forest.ok()) << forest.status().ToString();
  EXPECT_EQ(forest->num_parts(), 68u);
  dlib::shape_predictor predictor;
  std::istringstream dlib_in(bytes);
  dlib::deserialize(predictor, dlib_in);
  dlib::frontal_face_detector detector = dlib::get_frontal_face_detector();

  int boxes = 0;
  for (const std::string name : {"grace_hopper_usn_portrait.jpg", "eileen_collins_nasa_portrait.png",
                                 "abraham_lincoln_gardner_1863.jpg", "obama_biden_blue_room_2010_two_faces.jpg",
                                 "obama_official_portrait_2012_partial_face.jpg"}) {
    const auto [bgr, grey] = ReadScaledPhoto(name, 480);
    std::vector<dlib::rectangle> faces = detector(dlib::cv_image<unsigned char>(grey));
    // Boxes the detector would not give: off the face, and reaching past the image's edges
    // (features that fall outside read as 0).
    const long w = bgr.cols, h = bgr.rows;
    faces.emplace_back(w / 4, h / 4, 3 * w / 4, 3 * h / 4);
    faces.emplace_back(-w / 3, -h / 5, w / 2, h / 2);
    faces.emplace_back(w / 2, h / 2, w + w / 3, h + h / 4);
    for (const dlib::rectangle& box : faces) {
      const auto expect_same = [&](const auto& view, const char* kind) {
        const dlib::full_object_detection expected = predictor(view, box);
        const dlib::full_object_detection fitted = forest->Fit(view, box);
        ASSERT_EQ(fitted.num_parts(), expected.num_parts());
        EXPECT_EQ(fitted.get_rect(), box);
        for (unsigned long p = 0; p < expected.num_parts(); ++p) {
          EXPECT_EQ(fitted.part(p), expected.part(p)) << name << " " << kind << " box " << box << " point " << p;
        }
      };
      expect_same(dlib::cv_image<dlib::bgr_pixel>(bgr), "bgr");
      expect_same(dlib::cv_image<unsigned char>(grey), "grey");
      ++boxes;
    }
  }
  EXPECT_GE(boxes, 5 * 3 + 5);  // the three made-up boxes per photo and the faces found
}

TEST(ShapeForestTest, RefusesWhatIsNotAWholeModel) {
  const std::string bytes = ModelBytes();
  ASSERT_GT(bytes.size(), 1000000u) << DefaultShapePredictorPath();
  for (const std::size_t kept : {std::size_t{0}, std::size_t{3}, std::size_t{5000}, bytes.size() / 2, bytes.size() - 4}) {
    const Result<ShapeForest> cut = ReadBytes(bytes.substr(0, kept));
    EXPECT_EQ(cut.status().code(), Code::kInvalidArgument) << "first " << kept << " bytes";
    EXPECT_NE(cut.status().message().find("not a usable dlib shape predictor"), std::string::npos)
        << cut.status().ToString();
  }
  std::string other_version = bytes;
  other_version[1] = 2;  // dlib writes the version 1 as a byte count (1) and the byte
  EXPECT_EQ(ReadBytes(other_version).status().code(), Code::kInvalidArgument);
  auto photo = std::ifstream(SWAPLINE_TESTDATA_DIR "/photos/grace_hopper_usn_portrait.jpg", std::ios::binary);
  const std::string jpeg(std::istreambuf_iterator<char>(photo), {});
  EXPECT_EQ(ReadBytes(jpeg).status().code(), Code::kInvalidArgument);
}

// Each value written by dlib::serialize is read back by DlibDecoder as by dlib::deserialize.
template <typename T>
void ExpectDecodedAsDlibDoes(const std::vector<T>& values) {
  std::ostringstream written;
  for (const T& v : values) dlib::serialize(v, written);
  std::istringstream ours(written.str()), theirs(written.str());
  DlibDecoder decoder(ours);
  for (const T& v : values) {
    T expected{};
    dlib::deserialize(expected, theirs);
    if constexpr (std::is_floating_point_v<T>) {
      const T got = decoder.Float();
      EXPECT_EQ(std::bit_cast<std::uint32_t>(got), std::bit_cast<std::uint32_t>(expected)) << v;
    } else {
      EXPECT_EQ(decoder.template Integer<T>(), expected) << v;
    }
  }
  EXPECT_EQ(ours.rdbuf()->sgetc(), std::char_traits<char>::eof()) << "a value was read short";
}

template <typename T>
std::vector<T> IntegerExtremes() {
  using Limits = std::numeric_limits<T>;
  std::vector<T> values = {0, 1, 127, 128, 255, 256, Limits::max(), static_cast<T>(Limits::max() - 1)};
  if constexpr (std::is_signed_v<T>) values.insert(values.end(), {-1, -128, -129, static_cast<T>(Limits::min() + 1)});
  return values;
}

TEST(DlibDecoderTest, ReadsIntegersAndFloatsAsDlibDoes) {
  ExpectDecodedAsDlibDoes(IntegerExtremes<std::int16_t>());
  ExpectDecodedAsDlibDoes(IntegerExtremes<int>());
  ExpectDecodedAsDlibDoes(IntegerExtremes<long>());
  ExpectDecodedAsDlibDoes(IntegerExtremes<unsigned long>());
  using Limits = std::numeric_limits<float>;
  std::vector<float> floats = {0.0f, -0.0f, 1.0f, -1.5f, 3.14159265f, Limits::min(), Limits::denorm_min(),
                               -Limits::denorm_min(), Limits::max(), Limits::lowest(), Limits::epsilon(),
                               Limits::infinity(), -Limits::infinity(), Limits::quiet_NaN()};
  std::mt19937 random(11);
  for (int i = 0; i < 100000; ++i) floats.push_back(std::bit_cast<float>(static_cast<std::uint32_t>(random())));
  ExpectDecodedAsDlibDoes(floats);
}

TEST(DlibDecoderTest, RefusesMalformedAndTruncatedValues) {
  std::ostringstream written;
  dlib::serialize(1234567.0f, written);
  const std::string bytes = written.str();
  for (std::size_t kept = 0; kept < bytes.size(); ++kept) {
    std::istringstream cut(bytes.substr(0, kept));
    DlibDecoder decoder(cut);
    EXPECT_THROW(decoder.Float(), dlib::serialization_error) << "first " << kept << " bytes";
  }
  for (const char control : {'\x00', '\x09', '\x85'}) {  // no bytes, more than 8, a sign on an unsigned
    std::istringstream in(std::string(1, control) + std::string(9, '\x01'));
    DlibDecoder decoder(in);
    EXPECT_THROW(decoder.Integer<unsigned long>(), dlib::serialization_error) << int{control};
  }
}

}  // namespace
}  // namespace swapline::vision
