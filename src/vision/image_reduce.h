// ReduceArea: an image scaled down by area averaging at a fraction of cv::resize's
// INTER_AREA cost for factors that are not whole numbers. ReduceByHalves: cheaper
// still, a little less smooth.
//
// OpenCV averages whole blocks (2×2, 3×3, …) on a fast path (2×2 vectorised, larger
// ones not) and any other factor on a general one several times slower. ReduceArea takes the whole part of the factor
// first, on whole blocks only (up to `whole - 1` of the last columns and rows are left
// out), then what remains (under 2) on the smaller image: nearly the one-step average,
// at about half its cost on a face-sized region.
#pragma once

#include <opencv2/core.hpp>

namespace swapline::vision {

struct AreaReduction {
  cv::Mat image;      // may be the input itself (a scale that keeps its size)
  cv::Size covered;   // the part of the input the result averages: its top-left corner
  cv::Point2f scale;  // result pixels per input pixel, per axis: image.size() / covered;
                      // pixel centres of `covered` map onto the result's as cv::resize maps them
};

// `image` reduced by `scale` (0 < scale <= 1).
AreaReduction ReduceArea(const cv::Mat& image, double scale);

// `image` reduced by `scale` (0 < scale <= 1): halved (2×2 averages, each on whole
// blocks: an odd last column or row is left out) while the factor left is 2 or more,
// then scaled bilinearly the rest of the way. OpenCV averages 2×2 blocks on a
// vectorised path and other whole blocks on a scalar one about ten times slower: on a
// face filling a 1080p frame this costs a sixth of ReduceArea. Every result pixel
// averages blocks of more than half the factor on a side. The landmarks fitted on it
// differ a little from ReduceArea's, which the still swaps' identity figures were
// measured with; it serves what follows pixels from frame to frame (FaceMotion).
AreaReduction ReduceByHalves(const cv::Mat& image, double scale);

// `image` averaged over whole `whole` x `whole` blocks, OpenCV's fast path only (the
// last `image.cols % whole` columns and `image.rows % whole` rows are left out);
// `image` itself when `whole` < 2 or a side is shorter than `whole`.
AreaReduction ReduceByBlocks(const cv::Mat& image, int whole);

}  // namespace swapline::vision
