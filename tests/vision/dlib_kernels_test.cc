// The dlib kernels' two copies (vision/dlib_kernels.h): the process runs the AVX2 one
// exactly when the CPU has AVX2, and both find the same faces and shapes on real photos.

#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "photo_face_test.h"
#include "vision/dlib_kernels.h"
#include "vision/face_landmarker.h"
#include "vision/shape_forest.h"

namespace swapline::vision {
namespace {

#ifdef SWAPLINE_AVX2_KERNELS
bool CpuHasAvx2() { return __builtin_cpu_supports("avx2"); }
#endif

TEST(DlibKernelsTest, TheCopyInUseIsTheOneTheCpuRuns) {
#ifdef SWAPLINE_AVX2_KERNELS
  EXPECT_EQ(dlib_kernels::Active().instruction_set, CpuHasAvx2() ? "avx2" : "baseline");
  EXPECT_EQ(dlib_kernels::avx2::Copy().instruction_set, "avx2");
#else
  EXPECT_EQ(dlib_kernels::Active().instruction_set, "baseline");
#endif
  EXPECT_EQ(dlib_kernels::baseline::Copy().instruction_set, "baseline");
}

#ifdef SWAPLINE_AVX2_KERNELS
TEST(DlibKernelsTest, BothCopiesFindTheSameFacesAndShapes) {
  if (!CpuHasAvx2()) {
    // Only the baseline copy may run here; the test above checks it is the one used.
    EXPECT_EQ(dlib_kernels::Active().instruction_set, "baseline");
    return;
  }
  const dlib_kernels::Kernels& baseline_copy = dlib_kernels::baseline::Copy();
  const dlib_kernels::Kernels& avx2_copy = dlib_kernels::avx2::Copy();
  dlib::frontal_face_detector baseline_detector = dlib::get_frontal_face_detector();
  dlib::frontal_face_detector avx2_detector = dlib::get_frontal_face_detector();
  std::ifstream model_file(DefaultShapePredictorPath(), std::ios::binary);
  const Result<ShapeForest> model = ShapeForest::Read(model_file);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  int faces = 0;
  for (const std::string name : {"grace_hopper_usn_portrait.jpg", "eileen_collins_nasa_portrait.png",
                                 "obama_official_portrait_2012.jpg", "abraham_lincoln_gardner_1863.jpg",
                                 "obama_biden_blue_room_2010_two_faces.jpg", "noface_coffee.png"}) {
    const auto [bgr, grey] = ReadScaledPhoto(name, 640);
    std::vector<dlib::rect_detection> baseline_found, avx2_found;
    baseline_copy.scan_faces(baseline_detector, grey, 0.0, baseline_found);
    avx2_copy.scan_faces(avx2_detector, grey, 0.0, avx2_found);
    ASSERT_EQ(avx2_found.size(), baseline_found.size()) << name;
    for (std::size_t i = 0; i < baseline_found.size(); ++i) {
      EXPECT_EQ(avx2_found[i].rect, baseline_found[i].rect) << name;
      EXPECT_NEAR(avx2_found[i].detection_confidence, baseline_found[i].detection_confidence, 1e-4) << name;
      for (const cv::Mat& marked : {bgr, grey}) {
        const dlib::full_object_detection expected =
            baseline_copy.fit_shape(*model, marked, baseline_found[i].rect);
        const dlib::full_object_detection shape = avx2_copy.fit_shape(*model, marked, baseline_found[i].rect);
        ASSERT_EQ(shape.num_parts(), 68u);
        for (unsigned p = 0; p < 68; ++p) EXPECT_EQ(shape.part(p), expected.part(p)) << name << " point " << p;
      }
      ++faces;
    }
  }
  EXPECT_GE(faces, 6);
}
#endif

}  // namespace
}  // namespace swapline::vision
