#include "vision/dlib_kernels.h"

namespace swapline::vision::dlib_kernels {
namespace {

bool UseAvx2() {
#ifdef SWAPLINE_AVX2_KERNELS
  static const bool avx2 = __builtin_cpu_supports("avx2");
  return avx2;
#else
  return false;
#endif
}

}  // namespace

void ScanFaces(dlib::frontal_face_detector& detector, const cv::Mat& grey, double threshold,
               std::vector<dlib::rect_detection>& found) {
#ifdef SWAPLINE_AVX2_KERNELS
  if (UseAvx2()) return avx2::ScanFaces(detector, grey, threshold, found);
#endif
  baseline::ScanFaces(detector, grey, threshold, found);
}

dlib::full_object_detection FitShape(const dlib::shape_predictor& predictor, const cv::Mat& image,
                                     const dlib::rectangle& box) {
#ifdef SWAPLINE_AVX2_KERNELS
  if (UseAvx2()) return avx2::FitShape(predictor, image, box);
#endif
  return baseline::FitShape(predictor, image, box);
}

std::string_view InstructionSet() { return UseAvx2() ? "avx2" : "baseline"; }

}  // namespace swapline::vision::dlib_kernels
