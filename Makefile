# swapline — one Makefile for a fresh Debian 12 machine.
#   make demo    install what building and swapping need, build the binary, swap a test face into a test photo
#   make test    install everything (also the test servers and chromium), build, run every test
#   make bench   build and print the benchmarks
#   make deps    install the Debian packages (does nothing when all are present)
#   make deps-demo  only those `make demo` needs
#   make build   configure and build into ./build
#   make asan    build with ASan/UBSan into ./build-asan and run the tests
#   make tsan    build with TSan into ./build-tsan and run the concurrent tests
#   make fuzz    build the fuzz targets with clang's libFuzzer into ./build-fuzz and run each

BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
TESTDATA ?= $(abspath ../shared/testdata)
DEMO_OUT ?= demo-out

# Debian packages. DEPS_BUILD: building and swapping (all `make demo` installs;
# CMake's configure step needs GoogleTest too). DEPS_TEST: the test servers, tools
# and browser the tests start.
DEPS_BUILD := build-essential cmake pkg-config libopencv-dev libdlib-dev libdlib-data \
  libblas-dev liblapack-dev libjpeg-dev libpng-dev libsqlite3-dev \
  libspdlog-dev libfmt-dev nlohmann-json3-dev libcli11-dev zlib1g-dev \
  libavformat-dev libavcodec-dev libswscale-dev libswresample-dev libavutil-dev \
  libcurl4-openssl-dev libssl-dev libpugixml-dev \
  libsqlitecpp-dev libhiredis-dev libcpp-httplib-dev libtomlplusplus-dev prometheus-cpp-dev libboost1.81-dev libmicrohttpd-dev \
  libgtest-dev libgmock-dev
DEPS_TEST := libbenchmark-dev python3-onnx ffmpeg swift swift-proxy swift-account swift-container swift-object memcached curl awscli \
  radosgw ceph-mon ceph-osd redis-server apache2-utils chromium
# The deployment checks (deploy/): manifests, schemas, alert rules. Debian's npm only
# where none is on the PATH: a Node.js installed on its own brings npm and conflicts with it.
DEPS_DEPLOY := kubectl yamllint prometheus nodejs $(if $(shell command -v npm),,npm)
DEPS := $(DEPS_BUILD) $(DEPS_TEST) $(DEPS_DEPLOY)
# Only for `make fuzz`: clang and its libFuzzer runtime.
DEPS_FUZZ := clang-14 libclang-rt-14-dev

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: deps deps-demo build test demo bench asan tsan fuzz clean

deps: PACKAGES = $(DEPS)
deps-demo: PACKAGES = $(DEPS_BUILD)
deps deps-demo:
	@missing=$$(for p in $(PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed$$' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing: $$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# BUILD_TARGET: one target only (the demo builds just the binary, not the tests).
build:
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DSWAPLINE_TESTDATA_DIR=$(TESTDATA) $(CMAKE_EXTRA) >/dev/null
	cmake --build $(BUILD_DIR) -j $(JOBS) $(if $(BUILD_TARGET),--target $(BUILD_TARGET))

test: deps build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

demo: deps-demo
	$(MAKE) build BUILD_TARGET=swapline
	@mkdir -p $(DEMO_OUT)
	$(BUILD_DIR)/swapline swap \
	  -s $(TESTDATA)/photos/grace_hopper_usn_portrait.jpg \
	  -t $(TESTDATA)/photos/eileen_collins_nasa_portrait.png \
	  -o $(DEMO_OUT)/swapped.png
	@echo "demo output: $(abspath $(DEMO_OUT)/swapped.png)"
	@echo "next: a video with '$(BUILD_DIR)/swapline swap -s $(TESTDATA)/photos/grace_hopper_usn_portrait.jpg -t $(TESTDATA)/videos/b_two_faces_side_by_side_1280x720_30fps_3s.mp4 -o $(DEMO_OUT)/swapped.mp4', or the web page: '$(BUILD_DIR)/swapline serve', then open http://127.0.0.1:8080/"

bench: build
	$(BUILD_DIR)/swapline bench image --testdata $(TESTDATA)
	$(BUILD_DIR)/swapline bench video --testdata $(TESTDATA)
	$(BUILD_DIR)/swapline-bench store
	$(BUILD_DIR)/swapline-bench queue
	$(BUILD_DIR)/swapline-bench api
	$(BUILD_DIR)/swapline-bench http-front

# Any report fails its test: ASan and UBSan (-fno-sanitize-recover) end the process,
# LeakSanitizer makes it exit non-zero; the swapline processes the tests start inherit this.
ASAN_ENV := ASAN_OPTIONS="detect_leaks=1 check_initialization_order=1" \
  UBSAN_OPTIONS="print_stacktrace=1 halt_on_error=1"
asan: deps
	$(MAKE) build BUILD_DIR=build-asan BUILD_TYPE=Debug CMAKE_EXTRA="-DSWAPLINE_SANITIZE=ON $(CMAKE_EXTRA)"
	cd build-asan && $(ASAN_ENV) ctest --output-on-failure -j $(JOBS)

# The tests whose code runs on several threads: queues (both backends), workers (the
# service end-to-end tests run TSan-built swapline processes), the frame pipeline.
TSAN_TESTS ?= QueueTest|FrameRunnerTest|E2eTest|ClusterE2eTest
TSAN_TARGETS := swapline job_test pipeline_test service_e2e_test service_cluster_test
tsan: deps
	cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSWAPLINE_TSAN=ON -DSWAPLINE_TEST_TIME_SCALE=8 \
	  -DSWAPLINE_TESTDATA_DIR=$(TESTDATA) $(CMAKE_EXTRA) >/dev/null
	cmake --build build-tsan -j $(JOBS) --target $(TSAN_TARGETS)
	cd build-tsan && TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$(CURDIR)/tests/sanitizers/tsan.supp" \
	  ctest --output-on-failure -j $(JOBS) -R '$(TSAN_TESTS)'

# FUZZ_SECONDS per target; new inputs stay in build-fuzz (fuzz/run.sh), the kept
# corpus is fuzz/corpus. Findings make the target fail.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= job_spec s3_xml s3_events uri image video api onnx_initializer
fuzz:
	$(MAKE) deps DEPS="$(DEPS) $(DEPS_FUZZ)"
	cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang-14 \
	  -DCMAKE_CXX_COMPILER=clang++-14 -DSWAPLINE_FUZZ=ON -DSWAPLINE_WERROR=OFF \
	  -DSWAPLINE_TESTDATA_DIR=$(TESTDATA) $(CMAKE_EXTRA) >/dev/null
	cmake --build build-fuzz -j $(JOBS) --target $(addprefix fuzz_,$(FUZZ_TARGETS))
	fuzz/run.sh build-fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

clean:
	rm -rf $(BUILD_DIR) build-asan build-tsan build-fuzz

# Container image (deploy/docker/, deploy/README.md): podman state under .podman/.
#   make image         build localhost/swapline:latest (installs podman & co. when missing)
#   make test-deploy   the image rehearsed with podman (swap in and out of it, serve, drain)
DEPS_IMAGE := podman buildah debootstrap runc catatonit slirp4netns uidmap
IMAGE ?= localhost/swapline:latest

.PHONY: image test-deploy
image:
	@$(MAKE) --no-print-directory deps DEPS="$(DEPS_IMAGE)"
	@nice -n 10 deploy/docker/build-image.sh $(IMAGE) "$(DEPS_BUILD)"

test-deploy: deps build image
	tests/deploy/rehearsal.sh $(IMAGE) $(BUILD_DIR) $(TESTDATA)
