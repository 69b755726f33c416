// dlib kernels: the HOG face scan and the 68-point shape fit, compiled per instruction set.
//
// These two are most of the CPU a video job spends in dlib: a scan of the frame every
// few frames, a shape fit per face per frame. dlib is a header library for them: its
// templates are compiled into swapline, and they vectorise with what the compiler may
// use. x86-64's baseline (SSE2) leaves much on the table: with AVX2 a 960 px scan takes
// 0.55-0.75 of the time; a fit gains less. So dlib_kernels.cc is compiled twice, for the
// baseline and for AVX2, and Active() picks one per process by what the CPU has.
//
// The AVX2 copy is linked so that nothing leaves it but its entry points: its own
// instantiations of dlib's templates are local to it (CMakeLists.txt), so the two
// copies never mix and a CPU without AVX2 never runs an AVX2 instruction. It is built
// without FMA: both copies round alike, element by element; only sums vectorised 8
// wide instead of 4 may differ in their last bits.
//
// Thread safety: as the dlib objects passed in (one thread per detector).
#pragma once

#include <string_view>
#include <vector>

#include <dlib/image_processing/frontal_face_detector.h>
#include <opencv2/core.hpp>

#include "vision/shape_forest.h"

namespace swapline::vision::dlib_kernels {

// One compiled copy of the kernels.
struct Kernels {
  // Detections of `detector` in `grey` (8-bit, one channel) with an SVM margin of at
  // least `threshold`, as dlib's object_detector::operator() gives them.
  void (*scan_faces)(dlib::frontal_face_detector& detector, const cv::Mat& grey, double threshold,
                     std::vector<dlib::rect_detection>& found);
  // `model`'s shape of the face in `box` of `image` (8-bit BGR or grey).
  dlib::full_object_detection (*fit_shape)(const ShapeForest& model, const cv::Mat& image, const dlib::rectangle& box);
  std::string_view instruction_set;  // "baseline" or "avx2"
};

// The copy this process runs: AVX2 where it is built in and the CPU has it.
const Kernels& Active();

// Each copy on its own, for the test that they agree. The AVX2 one exists where
// SWAPLINE_AVX2_KERNELS is defined and may run only where the CPU has AVX2.
namespace baseline {
const Kernels& Copy();
}
namespace avx2 {
const Kernels& Copy();
}

}  // namespace swapline::vision::dlib_kernels
