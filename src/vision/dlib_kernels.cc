// One copy of the dlib kernels, in the namespace SWAPLINE_DLIB_KERNELS_SET names:
// baseline unless the build says avx2 (dlib_kernels.h says why there are two).
#include "vision/dlib_kernels.h"

#include <dlib/opencv/cv_image.h>

#ifndef SWAPLINE_DLIB_KERNELS_SET
#define SWAPLINE_DLIB_KERNELS_SET baseline
#endif
#define SWAPLINE_STRINGIFY(name) #name
#define SWAPLINE_NAME(name) SWAPLINE_STRINGIFY(name)

namespace swapline::vision::dlib_kernels::SWAPLINE_DLIB_KERNELS_SET {
namespace {

void ScanFaces(dlib::frontal_face_detector& detector, const cv::Mat& grey, double threshold,
               std::vector<dlib::rect_detection>& found) {
  detector(dlib::cv_image<unsigned char>(grey), found, threshold);
}

dlib::full_object_detection FitShape(const ShapeForest& model, const cv::Mat& image, const dlib::rectangle& box) {
  if (image.channels() == 3) return model.Fit(dlib::cv_image<dlib::bgr_pixel>(image), box);
  return model.Fit(dlib::cv_image<unsigned char>(image), box);
}

}  // namespace

const Kernels& Copy() {
  static constexpr Kernels kCopy{&ScanFaces, &FitShape, SWAPLINE_NAME(SWAPLINE_DLIB_KERNELS_SET)};
  return kCopy;
}

}  // namespace swapline::vision::dlib_kernels::SWAPLINE_DLIB_KERNELS_SET
