#include "vision/dlib_kernels.h"

namespace swapline::vision::dlib_kernels {

const Kernels& Active() {
#ifdef SWAPLINE_AVX2_KERNELS
  static const Kernels& active = __builtin_cpu_supports("avx2") ? avx2::Copy() : baseline::Copy();
  return active;
#else
  return baseline::Copy();
#endif
}

}  // namespace swapline::vision::dlib_kernels
