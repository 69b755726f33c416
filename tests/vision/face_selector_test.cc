// Unit tests for face selection (vision/face_selector.h) on synthetic faces.
//
// The real-recognizer reference-mode test is in face_analysis_test.cc; here a fake
// one-dimensional recognizer makes reference mode deterministic.

#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "vision/face.h"
#include "vision/face_recognizer.h"
#include "vision/face_selector.h"

namespace swapline::vision {
namespace {

// Four faces whose orders differ for every --face-selector-order:
//   name  x    y    size  score
//   A     100  50   40    0.90
//   B     10   200  60    0.60
//   C     300  10   80    0.70
//   D     200  120  20    0.99
Face MakeFace(char name, float x, float y, float size, float score) {
  Face face;
  face.box = cv::Rect2f(x, y, size, size);
  face.score = score;
  // Identity for the fake recognizer: one value per person.
  face.embedding = Embedding{{static_cast<float>(name - 'A')}};
  return face;
}

std::vector<Face> Faces() {
  return {MakeFace('A', 100, 50, 40, 0.90f), MakeFace('B', 10, 200, 60, 0.60f),
          MakeFace('C', 300, 10, 80, 0.70f), MakeFace('D', 200, 120, 20, 0.99f)};
}

char NameOf(const Face& face) {
  if (face.box.x == 100) return 'A';
  if (face.box.x == 10) return 'B';
  if (face.box.x == 300) return 'C';
  if (face.box.x == 200) return 'D';
  return '?';
}

std::string Names(const std::vector<Face>& faces) {
  std::string out;
  for (const Face& f : faces) out += NameOf(f);
  return out;
}

struct OrderCase {
  const char* name;
  SelectorOrder order;
  const char* expected;
};

const OrderCase kOrders[] = {
    {"left-right", SelectorOrder::kLeftRight, "BADC"},   {"right-left", SelectorOrder::kRightLeft, "CDAB"},
    {"top-bottom", SelectorOrder::kTopBottom, "CADB"},   {"bottom-top", SelectorOrder::kBottomTop, "BDAC"},
    {"small-large", SelectorOrder::kSmallLarge, "DABC"}, {"large-small", SelectorOrder::kLargeSmall, "CBAD"},
    {"best-worst", SelectorOrder::kBestWorst, "DACB"},   {"worst-best", SelectorOrder::kWorstBest, "BCAD"},
};

class SelectorOrderTest : public ::testing::TestWithParam<OrderCase> {};

TEST_P(SelectorOrderTest, ParsesTheFaceFusionName) {
  auto parsed = ParseSelectorOrder(GetParam().name);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(*parsed, GetParam().order);
}

TEST_P(SelectorOrderTest, SortsFaces) {
  std::vector<Face> faces = Faces();
  SortFaces(faces, GetParam().order);
  EXPECT_EQ(Names(faces), GetParam().expected);
  // Whatever the input order.
  const std::vector<Face> original = Faces();
  std::vector<Face> reversed(original.rbegin(), original.rend());
  SortFaces(reversed, GetParam().order);
  EXPECT_EQ(Names(reversed), GetParam().expected);
}

TEST_P(SelectorOrderTest, ManyKeepsEveryFaceInOrder) {
  FaceSelectorOptions options;
  options.mode = SelectorMode::kMany;
  options.order = GetParam().order;
  auto selected = SelectFaces(Faces(), {}, options, nullptr);
  ASSERT_TRUE(selected.ok()) << selected.status().ToString();
  EXPECT_EQ(Names(*selected), GetParam().expected);
}

TEST_P(SelectorOrderTest, OneKeepsTheFirstFace) {
  FaceSelectorOptions options;
  options.mode = SelectorMode::kOne;
  options.order = GetParam().order;
  auto selected = SelectFaces(Faces(), {}, options, nullptr);
  ASSERT_TRUE(selected.ok()) << selected.status().ToString();
  EXPECT_EQ(Names(*selected), std::string(1, GetParam().expected[0]));
}

INSTANTIATE_TEST_SUITE_P(AllOrders, SelectorOrderTest, ::testing::ValuesIn(kOrders),
                         [](const auto& info) {
                           std::string name = info.param.name;
                           for (char& c : name) if (c == '-') c = '_';
                           return name;
                         });

TEST(SelectorTest, DefaultsAreManyLargeSmall) {
  const FaceSelectorOptions options;
  EXPECT_EQ(options.mode, SelectorMode::kMany);
  EXPECT_EQ(options.order, SelectorOrder::kLargeSmall);
  EXPECT_EQ(options.reference_face_position, 0);
  EXPECT_FALSE(options.reference_face_distance.has_value());
}

TEST(SelectorTest, ParsesModes) {
  EXPECT_EQ(*ParseSelectorMode("one"), SelectorMode::kOne);
  EXPECT_EQ(*ParseSelectorMode("many"), SelectorMode::kMany);
  EXPECT_EQ(*ParseSelectorMode("reference"), SelectorMode::kReference);
  auto bad = ParseSelectorMode("all");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("--face-selector-mode"), std::string::npos);
}

TEST(SelectorTest, RejectsUnknownOrder) {
  for (const char* name : {"left_right", "LEFT-RIGHT", "", "biggest"}) {
    auto bad = ParseSelectorOrder(name);
    ASSERT_FALSE(bad.ok()) << name;
    EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);
    EXPECT_NE(bad.status().message().find("--face-selector-order"), std::string::npos);
  }
}

TEST(SelectorTest, NoFacesGivesNoFaces) {
  for (SelectorMode mode : {SelectorMode::kOne, SelectorMode::kMany}) {
    FaceSelectorOptions options;
    options.mode = mode;
    auto selected = SelectFaces({}, {}, options, nullptr);
    ASSERT_TRUE(selected.ok());
    EXPECT_TRUE(selected->empty());
  }
}

TEST(SelectorTest, SortIsStableForTies) {
  std::vector<Face> faces = {MakeFace('A', 100, 50, 40, 0.9f), MakeFace('B', 10, 50, 40, 0.9f),
                             MakeFace('C', 300, 50, 40, 0.9f)};
  for (const OrderCase& c : kOrders) {
    if (c.order == SelectorOrder::kLeftRight || c.order == SelectorOrder::kRightLeft) continue;
    std::vector<Face> sorted = faces;
    SortFaces(sorted, c.order);
    EXPECT_EQ(Names(sorted), "ABC") << c.name;
  }
}

TEST(SelectorTest, ReferenceWithoutRecognizerNamesTheMissingOption) {
  FaceSelectorOptions options;
  options.mode = SelectorMode::kReference;
  // With faces and with none: either way the missing model is the error.
  for (const std::vector<Face>& faces : {Faces(), std::vector<Face>{}}) {
    auto selected = SelectFaces(faces, faces, options, nullptr);
    ASSERT_FALSE(selected.ok());
    EXPECT_EQ(selected.status().code(), Code::kFailedPrecondition);
    EXPECT_NE(selected.status().message().find("--face-recognizer-model"), std::string::npos)
        << selected.status().message();
  }
}

// A recognizer whose embeddings are one number; distance is the absolute difference.
class FakeRecognizer final : public FaceRecognizer {
 public:
  Result<Embedding> Embed(const cv::Mat&, const Face&) override { return Internal("not used"); }
  float Distance(const Embedding& a, const Embedding& b) const override {
    return std::abs(a.values.at(0) - b.values.at(0));
  }
  float SameIdentityThreshold() const override { return 0.5f; }
};

TEST(SelectorReferenceTest, SelectsFacesOfTheReferenceIdentity) {
  const FakeRecognizer recognizer;
  FaceSelectorOptions options;
  options.mode = SelectorMode::kReference;
  options.order = SelectorOrder::kLeftRight;  // references sorted B A D C
  const std::string sorted = "BADC";
  for (int position = 0; position < 4; ++position) {
    options.reference_face_position = position;
    auto selected = SelectFaces(Faces(), Faces(), options, &recognizer);
    ASSERT_TRUE(selected.ok()) << selected.status().ToString();
    EXPECT_EQ(Names(*selected), std::string(1, sorted[position])) << "position " << position;
  }
}

TEST(SelectorReferenceTest, DistanceWidensTheSelection) {
  const FakeRecognizer recognizer;
  FaceSelectorOptions options;
  options.mode = SelectorMode::kReference;
  options.order = SelectorOrder::kLeftRight;
  options.reference_face_position = 1;  // A (identity 0)
  options.reference_face_distance = 1.5f;  // A (0) and B (1), not C (2) or D (3)
  auto selected = SelectFaces(Faces(), Faces(), options, &recognizer);
  ASSERT_TRUE(selected.ok());
  EXPECT_EQ(Names(*selected), "BA");  // in the selector's order
}

TEST(SelectorReferenceTest, ReferenceFromAnotherImage) {
  const FakeRecognizer recognizer;
  FaceSelectorOptions options;
  options.mode = SelectorMode::kReference;
  // The reference image holds only C's identity.
  std::vector<Face> reference = {MakeFace('C', 5, 5, 50, 0.8f)};
  auto selected = SelectFaces(Faces(), reference, options, &recognizer);
  ASSERT_TRUE(selected.ok());
  EXPECT_EQ(Names(*selected), "C");
  // An empty reference image selects nothing.
  auto none = SelectFaces(Faces(), {}, options, &recognizer);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(SelectorReferenceTest, BadPositionsAreUsageErrors) {
  const FakeRecognizer recognizer;
  FaceSelectorOptions options;
  options.mode = SelectorMode::kReference;
  for (int position : {4, 100, -1}) {
    options.reference_face_position = position;
    auto selected = SelectFaces(Faces(), Faces(), options, &recognizer);
    ASSERT_FALSE(selected.ok()) << position;
    EXPECT_EQ(selected.status().code(), Code::kInvalidArgument) << position;
    EXPECT_NE(selected.status().message().find("--reference-face-position"), std::string::npos);
  }
}

TEST(SelectorReferenceTest, FacesWithoutEmbeddingsAreAnInternalError) {
  const FakeRecognizer recognizer;
  FaceSelectorOptions options;
  options.mode = SelectorMode::kReference;
  std::vector<Face> faces = Faces();
  for (Face& f : faces) f.embedding.reset();
  auto selected = SelectFaces(faces, faces, options, &recognizer);
  ASSERT_FALSE(selected.ok());
  EXPECT_EQ(selected.status().code(), Code::kInternal);
}

}  // namespace
}  // namespace swapline::vision
