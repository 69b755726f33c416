#!/usr/bin/python3
"""Writes small ONNX networks with exactly the input and output layout of face models
that cannot be shipped or downloaded here (SCRFD/RetinaFace, yolo_face, 2DFAN4, ArcFace,
inswapper, HyperSwap, SimSwap and its converter, GFPGAN, XSeg, BiSeNet), so the tests
can check swapline's pre- and post-processing of them numerically.

Each detector network answers to a colour: at stride 8 it scores the mean of the blue
channel over each cell, at 16 the green one, at 32 the red one (BGR input, as FaceFusion
feeds them), score = sigmoid(20 * (mean - 0.9)) on the normalised input. A blue square
covering one stride-8 cell therefore makes exactly one stride-8 candidate; the box and
keypoint regressions are constants, distinct per coordinate, so the decoded box shows
whether anchors, strides and the coordinate order are read right.

Usage: synthetic_models.py OUT_DIR   (needs Debian's python3-onnx)
"""
import json
import os
import sys

import numpy as np
from onnx import TensorProto, checker, helper, numpy_helper, save

STRIDES = (8, 16, 32)
# Box distances (left, top, right, bottom) and keypoint offsets, in strides.
SCRFD_DISTANCES = (1.0, 2.0, 3.0, 4.0)
KEYPOINT_OFFSETS = tuple((0.5 * k, -0.25 * k) for k in range(5))


def channel_score_conv(name, inp, out, stride, channel, channels_out, nodes, inits):
    """A conv scoring one input channel's mean over each stride x stride cell."""
    weight = np.zeros((channels_out, 3, stride, stride), np.float32)
    weight[:, channel] = 20.0 / (stride * stride)
    bias = np.full((channels_out,), -18.0, np.float32)
    inits += [numpy_helper.from_array(weight, name + "_w"), numpy_helper.from_array(bias, name + "_b")]
    nodes.append(helper.make_node("Conv", [inp, name + "_w", name + "_b"], [name + "_logit"],
                                  kernel_shape=[stride, stride], strides=[stride, stride]))
    nodes.append(helper.make_node("Sigmoid", [name + "_logit"], [out]))


def constant_conv(name, inp, out, stride, values, nodes, inits):
    """A conv whose every output cell holds `values` (one per output channel)."""
    weight = np.zeros((len(values), 3, stride, stride), np.float32)
    bias = np.asarray(values, np.float32)
    inits += [numpy_helper.from_array(weight, name + "_w"), numpy_helper.from_array(bias, name + "_b")]
    nodes.append(helper.make_node("Conv", [inp, name + "_w", name + "_b"], [out],
                                  kernel_shape=[stride, stride], strides=[stride, stride]))


def rows(name, inp, out, width, nodes, inits):
    """(1, A*width, h, w) -> (h*w*A, width): cell-major, anchors inside a cell."""
    nodes.append(helper.make_node("Transpose", [inp], [name + "_nhwc"], perm=[0, 2, 3, 1]))
    inits.append(numpy_helper.from_array(np.asarray([-1, width], np.int64), name + "_shape"))
    nodes.append(helper.make_node("Reshape", [name + "_nhwc", name + "_shape"], [out]))


def scrfd():
    """InsightFace SCRFD / RetinaFace (det_2.5g, det_10g): input.1 1x3xHxW of any size,
    nine outputs (scores, boxes, keypoints per stride), two anchors per cell, numbered
    tensor names."""
    nodes, inits, outputs = [], [], []
    anchors = 2
    names = {}
    number = 440
    for kind in ("score", "bbox", "kps"):
        for stride in STRIDES:
            names[kind, stride] = str(number)
            number += 3
    for stride in STRIDES:
        channel = STRIDES.index(stride)
        channel_score_conv(f"s{stride}", "input.1", f"s{stride}_map", stride, channel, anchors, nodes, inits)
        rows(f"s{stride}", f"s{stride}_map", names["score", stride], 1, nodes, inits)
        constant_conv(f"b{stride}", "input.1", f"b{stride}_map", stride, SCRFD_DISTANCES * anchors, nodes, inits)
        rows(f"b{stride}", f"b{stride}_map", names["bbox", stride], 4, nodes, inits)
        offsets = [v for point in KEYPOINT_OFFSETS for v in point]
        constant_conv(f"k{stride}", "input.1", f"k{stride}_map", stride, offsets * anchors, nodes, inits)
        rows(f"k{stride}", f"k{stride}_map", names["kps", stride], 10, nodes, inits)
    for kind, width in (("score", 1), ("bbox", 4), ("kps", 10)):
        for stride in STRIDES:
            outputs.append(helper.make_tensor_value_info(names[kind, stride], TensorProto.FLOAT,
                                                         [f"cells_{stride}", width]))
    graph = helper.make_graph(nodes, "scrfd_synthetic",
                              [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [1, 3, "height", "width"])],
                              outputs, inits)
    return graph


def yolo_face():
    """yoloface_8n: images 1x3x640x640 (x/255), output0 1x20x8400: per candidate cx, cy,
    w, h (input pixels), score, then five keypoints as x, y, confidence."""
    side = 640
    nodes, inits = [], []
    score_maps = []
    grid = []
    for stride in STRIDES:
        channel_score_conv(f"s{stride}", "images", f"s{stride}_map", stride, STRIDES.index(stride), 1, nodes, inits)
        inits.append(numpy_helper.from_array(np.asarray([1, 1, -1], np.int64), f"s{stride}_shape"))
        nodes.append(helper.make_node("Reshape", [f"s{stride}_map", f"s{stride}_shape"], [f"s{stride}_row"]))
        score_maps.append(f"s{stride}_row")
        cols = side // stride
        for y in range(cols):
            for x in range(cols):
                grid.append(((x + 0.5) * stride, (y + 0.5) * stride, stride))
    nodes.append(helper.make_node("Concat", score_maps, ["scores"], axis=2))
    grid = np.asarray(grid, np.float32)
    box = np.stack([grid[:, 0], grid[:, 1], 2 * grid[:, 2], 3 * grid[:, 2]])  # w = 2 strides, h = 3
    keypoints = []
    for dx, dy in KEYPOINT_OFFSETS:
        keypoints += [grid[:, 0] + dx * grid[:, 2], grid[:, 1] + dy * grid[:, 2], np.ones(len(grid), np.float32)]
    inits.append(numpy_helper.from_array(box[None].astype(np.float32), "boxes"))
    inits.append(numpy_helper.from_array(np.stack(keypoints)[None].astype(np.float32), "keypoints"))
    nodes.append(helper.make_node("Concat", ["boxes", "scores", "keypoints"], ["output0"], axis=1))
    graph = helper.make_graph(nodes, "yoloface_synthetic",
                              [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, side, side])],
                              [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 20, len(grid)])],
                              inits)
    return graph


FAN_POINTS = 68
FAN_HEATMAP_PEAK = 0.45
# Point 0's x on the grid is this plus FAN_BLUE_GAIN x the mean of input channel 0 (blue in
# FaceFusion's BGR feed, / 255), so a test sees the crop's colour order and scaling.
FAN_BLUE_GAIN = 4.0


def fan68_grid_points():
    """A plausible upright face on 2DFAN4's 64-cell grid, iBUG 68 order (x, y)."""
    points = []
    for i in range(17):  # jaw, a half ellipse from the right ear (image left) to the left one
        t = np.pi * i / 16
        points.append((32 - 20 * np.cos(t), 30 + 24 * np.sin(t)))
    for start in (15.0, 35.0):  # brows
        points += [(start + 3.5 * k, 22 - 2 * np.sin(np.pi * k / 4)) for k in range(5)]
    points += [(32, 26 + 4 * k) for k in range(4)]  # nose bridge
    points += [(28 + 2 * k, 40 - (k == 2)) for k in range(5)]  # nostrils
    for cx in (23.0, 41.0):  # eyes: outer corner, two upper, inner corner, two lower
        points += [(cx - 4, 28), (cx - 1.5, 26.5), (cx + 1.5, 26.5), (cx + 4, 28), (cx + 1.5, 29.5), (cx - 1.5, 29.5)]
    for k in range(12):  # outer lips
        t = np.pi - 2 * np.pi * k / 12
        points.append((32 + 9 * np.cos(t), 46 - 4 * np.sin(t)))
    for k in range(8):  # inner lips
        t = np.pi - 2 * np.pi * k / 8
        points.append((32 + 6 * np.cos(t), 46 - 1.5 * np.sin(t)))
    assert len(points) == FAN_POINTS
    return np.asarray(points, np.float32)


def fan68():
    """2DFAN4: input 1x3x256x256 (BGR / 255), outputs numbered like the real export:
    1x68x3 points (x, y on the 64-cell heatmap grid, confidence) and 1x68x64x64 heatmaps."""
    nodes, inits = [], []
    nodes.append(helper.make_node("GlobalAveragePool", ["input"], ["channel_means"]))
    weight = np.zeros((FAN_POINTS * 3, 3, 1, 1), np.float32)
    weight[0, 0] = FAN_BLUE_GAIN
    grid = fan68_grid_points()
    bias = np.concatenate([grid, np.ones((FAN_POINTS, 1), np.float32)], axis=1).reshape(-1)
    inits += [numpy_helper.from_array(weight, "points_w"), numpy_helper.from_array(bias, "points_b")]
    nodes.append(helper.make_node("Conv", ["channel_means", "points_w", "points_b"], ["points_map"], kernel_shape=[1, 1]))
    inits.append(numpy_helper.from_array(np.asarray([1, FAN_POINTS, 3], np.int64), "points_shape"))
    nodes.append(helper.make_node("Reshape", ["points_map", "points_shape"], ["1123"]))
    heat_w = np.zeros((FAN_POINTS, 3, 4, 4), np.float32)
    heat_b = np.full((FAN_POINTS,), FAN_HEATMAP_PEAK, np.float32)
    inits += [numpy_helper.from_array(heat_w, "heat_w"), numpy_helper.from_array(heat_b, "heat_b")]
    nodes.append(helper.make_node("Conv", ["input", "heat_w", "heat_b"], ["1124"], kernel_shape=[4, 4], strides=[4, 4]))
    return helper.make_graph(nodes, "fan68_synthetic",
                             [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 256, 256])],
                             [helper.make_tensor_value_info("1123", TensorProto.FLOAT, [1, FAN_POINTS, 3]),
                              helper.make_tensor_value_info("1124", TensorProto.FLOAT, [1, FAN_POINTS, 64, 64])],
                             inits)


ARCFACE_SIZE = 512


def arcface():
    """arcface_w600k_r50: input.1 1x3x112x112 (RGB, (x - 127.5) / 127.5), output 1x512
    under a numbered name. Entries 0, 1, 2 are the means of input channels 0, 1, 2 (red,
    green, blue); entry k >= 3 is 0.001 k."""
    nodes, inits = [], []
    nodes.append(helper.make_node("GlobalAveragePool", ["input.1"], ["channel_means"]))
    weight = np.zeros((ARCFACE_SIZE, 3, 1, 1), np.float32)
    for c in range(3):
        weight[c, c] = 1.0
    bias = np.asarray([0.0] * 3 + [0.001 * k for k in range(3, ARCFACE_SIZE)], np.float32)
    inits += [numpy_helper.from_array(weight, "embed_w"), numpy_helper.from_array(bias, "embed_b")]
    nodes.append(helper.make_node("Conv", ["channel_means", "embed_w", "embed_b"], ["embed_map"], kernel_shape=[1, 1]))
    nodes.append(helper.make_node("Flatten", ["embed_map"], ["683"], axis=1))
    return helper.make_graph(nodes, "arcface_synthetic",
                             [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [1, 3, 112, 112])],
                             [helper.make_tensor_value_info("683", TensorProto.FLOAT, [1, ARCFACE_SIZE])], inits)


INSWAPPER_SIDE = 128
HYPERSWAP_SIDE = 256


def inswapper_emap():
    """The 512x512 map from an ArcFace embedding to inswapper's latent (row j, column c)."""
    j, c = np.meshgrid(np.arange(ARCFACE_SIZE), np.arange(ARCFACE_SIZE), indexing="ij")
    return (2.0 * (j == c) + 0.0001 * ((j + 3 * c) % 11)).astype(np.float32)


IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def swapper(side, source_gain, emap_type=None, imagenet_target=False):
    """inswapper_128 (side 128, target RGB / 255), hyperswap_1a_256 (side 256, target
    RGB scaled to -1..1) or simswap_256 (`imagenet_target`: side 256, target RGB with
    ImageNet mean and std, output 0..1): target 1x3xSxS and source 1x512, output
    1x3xSxS = target (simswap: de-normalised to 0..1) + source_gain x source[c] in
    channel c (so 0 returns the target unchanged). For inswapper the emap is the last
    initializer, unused by the graph as in the real file, of `emap_type` (FLOAT or
    FLOAT16)."""
    nodes, inits = [], []
    target = "target"
    if imagenet_target:
        weight = np.zeros((3, 3, 1, 1), np.float32)
        for c in range(3):
            weight[c, c] = IMAGENET_STD[c]
        inits += [numpy_helper.from_array(weight, "denorm_w"),
                  numpy_helper.from_array(np.asarray(IMAGENET_MEAN, np.float32), "denorm_b")]
        nodes.append(helper.make_node("Conv", ["target", "denorm_w", "denorm_b"], ["target_unit"], kernel_shape=[1, 1]))
        target = "target_unit"
    pick = np.zeros((ARCFACE_SIZE, 3), np.float32)
    for c in range(3):
        pick[c, c] = source_gain
    inits.append(numpy_helper.from_array(pick, "pick"))
    nodes.append(helper.make_node("MatMul", ["source", "pick"], ["latent_rgb"]))
    inits.append(numpy_helper.from_array(np.asarray([1, 3, 1, 1], np.int64), "plane_shape"))
    nodes.append(helper.make_node("Reshape", ["latent_rgb", "plane_shape"], ["latent_pixel"]))
    spread = np.zeros((3, 3, side, side), np.float32)
    for c in range(3):
        spread[c, c] = 1.0
    inits.append(numpy_helper.from_array(spread, "spread"))
    nodes.append(helper.make_node("ConvTranspose", ["latent_pixel", "spread"], ["latent_plane"],
                                  kernel_shape=[side, side]))
    nodes.append(helper.make_node("Add", [target, "latent_plane"], ["output"]))
    if emap_type == TensorProto.FLOAT16:
        # make_tensor stores FLOAT16 values as their bits in int32_data.
        emap = inswapper_emap()
        inits.append(helper.make_tensor("emap", TensorProto.FLOAT16, emap.shape, emap.flatten().tolist()))
    elif emap_type == TensorProto.FLOAT:
        inits.append(numpy_helper.from_array(inswapper_emap(), "emap"))
    return helper.make_graph(nodes, "swapper_synthetic",
                             [helper.make_tensor_value_info("target", TensorProto.FLOAT, [1, 3, side, side]),
                              helper.make_tensor_value_info("source", TensorProto.FLOAT, [1, ARCFACE_SIZE])],
                             [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, side, side])], inits)


def crossface_matrix():
    """The 512x512 map of the synthetic crossface_simswap converter (row j, column c)."""
    j, c = np.meshgrid(np.arange(ARCFACE_SIZE), np.arange(ARCFACE_SIZE), indexing="ij")
    return (1.5 * (j == c) + 0.0002 * ((2 * j + c) % 7)).astype(np.float32)


def crossface():
    """crossface_simswap: an ArcFace embedding 1x512 in, SimSwap's 1x512 out; the
    stand-in multiplies by crossface_matrix()."""
    inits = [numpy_helper.from_array(crossface_matrix(), "convert")]
    nodes = [helper.make_node("MatMul", ["input", "convert"], ["output"])]
    return helper.make_graph(nodes, "crossface_synthetic",
                             [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, ARCFACE_SIZE])],
                             [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, ARCFACE_SIZE])], inits)


def gfpgan():
    """GFPGAN 1.4: input 1x3x512x512 (RGB, -1..1), output 1x3x512x512 (-1..1) under a
    numbered name; the stand-in negates its input (the enhanced face is the negative)."""
    weight = np.zeros((3, 3, 1, 1), np.float32)
    for c in range(3):
        weight[c, c] = -1.0
    inits = [numpy_helper.from_array(weight, "negate")]
    nodes = [helper.make_node("Conv", ["input", "negate"], ["1288"], kernel_shape=[1, 1])]
    return helper.make_graph(nodes, "gfpgan_synthetic",
                             [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 512, 512])],
                             [helper.make_tensor_value_info("1288", TensorProto.FLOAT, [1, 3, 512, 512])], inits)


def xseg():
    """XSeg occluder: input 1x256x256x3 NHWC (BGR / 255), output 1x256x256x1 under TF-style
    names; the stand-in's mask is the red channel (what is red shows, what is not is an
    occluder)."""
    pick_red = np.zeros((1, 3, 1, 1), np.float32)
    pick_red[0, 2] = 1.0
    inits = [numpy_helper.from_array(pick_red, "pick_red")]
    nodes = [
        helper.make_node("Transpose", ["in_face:0"], ["nchw"], perm=[0, 3, 1, 2]),
        helper.make_node("Conv", ["nchw", "pick_red"], ["red"], kernel_shape=[1, 1]),
        helper.make_node("Transpose", ["red"], ["out_mask:0"], perm=[0, 2, 3, 1]),
    ]
    return helper.make_graph(nodes, "xseg_synthetic",
                             [helper.make_tensor_value_info("in_face:0", TensorProto.FLOAT, [1, 256, 256, 3])],
                             [helper.make_tensor_value_info("out_mask:0", TensorProto.FLOAT, [1, 256, 256, 1])], inits)


PARSER_CLASSES = 19


def bisenet():
    """BiSeNet face parser: input `input` 1x3x512x512 (RGB, ImageNet mean/std), output
    1x19x512x512 class scores. The stand-in scores background 0, skin (1) the normalised
    red, nose (10) the normalised blue and every other class -100: a bright red pixel is
    skin, a bright blue one nose, a dark one background."""
    weight = np.zeros((PARSER_CLASSES, 3, 1, 1), np.float32)
    bias = np.full(PARSER_CLASSES, -100.0, np.float32)
    bias[0] = bias[1] = bias[10] = 0.0
    weight[1, 0] = 1.0
    weight[10, 2] = 1.0
    inits = [numpy_helper.from_array(weight, "scores_w"), numpy_helper.from_array(bias, "scores_b")]
    nodes = [helper.make_node("Conv", ["input", "scores_w", "scores_b"], ["output"], kernel_shape=[1, 1])]
    return helper.make_graph(nodes, "bisenet_synthetic",
                             [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 512, 512])],
                             [helper.make_tensor_value_info("output", TensorProto.FLOAT,
                                                            [1, PARSER_CLASSES, 512, 512])], inits)


def write(graph, path):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)], producer_name="swapline-tests")
    model.ir_version = 6
    checker.check_model(model)
    save(model, path)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    write(scrfd(), os.path.join(out, "scrfd.onnx"))
    write(yolo_face(), os.path.join(out, "yoloface_8n.onnx"))
    write(fan68(), os.path.join(out, "2dfan4.onnx"))
    write(arcface(), os.path.join(out, "arcface_w600k_r50.onnx"))
    write(swapper(INSWAPPER_SIDE, 1.0, TensorProto.FLOAT), os.path.join(out, "inswapper_128.onnx"))
    write(swapper(INSWAPPER_SIDE, 1.0, TensorProto.FLOAT16), os.path.join(out, "inswapper_128_fp16.onnx"))
    write(swapper(INSWAPPER_SIDE, 0.0, TensorProto.FLOAT), os.path.join(out, "inswapper_identity.onnx"))
    write(swapper(HYPERSWAP_SIDE, 1.0), os.path.join(out, "hyperswap_1a_256.onnx"))
    write(swapper(HYPERSWAP_SIDE, 0.0), os.path.join(out, "hyperswap_identity.onnx"))
    write(swapper(HYPERSWAP_SIDE, 1.0, imagenet_target=True), os.path.join(out, "simswap_256.onnx"))
    write(swapper(HYPERSWAP_SIDE, 0.0, imagenet_target=True), os.path.join(out, "simswap_identity.onnx"))
    write(crossface(), os.path.join(out, "crossface_simswap.onnx"))
    write(gfpgan(), os.path.join(out, "gfpgan_1.4.onnx"))
    write(xseg(), os.path.join(out, "xseg_1.onnx"))
    write(bisenet(), os.path.join(out, "bisenet_resnet_34.onnx"))
    # The grid points the network answers with (point 0's x for a black input), for the tests.
    with open(os.path.join(out, "2dfan4_points.json"), "w") as f:
        json.dump({"points": fan68_grid_points().tolist(), "blue_gain": FAN_BLUE_GAIN}, f)


if __name__ == "__main__":
    main()
