// The models folder against real files: the test models in SWAPLINE_MODELS_DIR served
// from file:// mirrors and from the Swift S3 server, truncated and damaged copies of
// them, and the `swapline models` command's exit codes.
#include "models/model_dir.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "cli/exit_codes.h"
#include "cli/cli_test_util.h"
#include "support/s3_servers.h"

namespace swapline::models {
namespace {

namespace fs = std::filesystem;
using swapline::testing::ReadFileBytes;
using swapline::testing::RunProcess;
using swapline::testing::TempDir;
using swapline::testing::WriteFileBytes;

const fs::path kModels = SWAPLINE_MODELS_DIR;
constexpr const char* kYunet = "yunet_n_320";  // yunet/yunet_n_320_320.onnx, 317,434 bytes

const ModelEntry& Entry(const char* name) {
  const ModelEntry* entry = ModelManifest::Embedded().Find(name);
  EXPECT_NE(entry, nullptr) << name;
  return *entry;
}

// A mirror folder holding `bytes` as the file of `entry`.
fs::path MirrorWith(const TempDir& dir, const std::string& mirror, const ModelEntry& entry, const std::string& bytes) {
  const fs::path root = dir.Sub(mirror);
  fs::create_directories((root / entry.file).parent_path());
  WriteFileBytes(root / entry.file, bytes);
  return root;
}

std::string FileUri(const fs::path& path) { return "file://" + path.string(); }

// A manifest of one model: `entry`'s file, size and hash under `name`, with `license`
// and `sources` of the test's choosing (no https source: tests never leave the machine).
ModelManifest ManifestOf(const ModelEntry& entry, const std::string& name, bool commercial_use,
                         const std::vector<std::string>& sources) {
  std::string list;
  for (const std::string& source : sources) list += (list.empty() ? "\"" : ",\"") + source + "\"";
  auto manifest = ModelManifest::Parse(R"({"models":[{"name":")" + name + R"(","kind":"detector","file":")" +
                                           entry.file + R"(","size":)" + std::to_string(entry.size) +
                                           R"(,"sha256":")" + entry.sha256 + R"(","license":"test","commercial_use":)" +
                                           (commercial_use ? "true" : "false") + R"(,"sources":[)" + list + "]}]}",
                                       "test manifest");
  EXPECT_TRUE(manifest.ok()) << manifest.status().ToString();
  return std::move(manifest).value();
}

TEST(ModelManifest, EmbeddedEntriesMatchTheTestModels) {
  // Every file of SHA256SUMS.tsv that the manifest names has the manifest's size and hash.
  std::ifstream sums(kModels / "SHA256SUMS.tsv");
  ASSERT_TRUE(sums) << "missing " << (kModels / "SHA256SUMS.tsv");
  int matched = 0;
  for (std::string line; std::getline(sums, line);) {
    std::istringstream fields(line);
    std::string file, size, sha256;
    fields >> file >> size >> sha256;
    for (const ModelEntry& entry : ModelManifest::Embedded().entries()) {
      if (entry.file != file) continue;
      EXPECT_EQ(std::to_string(entry.size), size) << entry.name;
      EXPECT_EQ(entry.sha256, sha256) << entry.name;
      ++matched;
    }
  }
  EXPECT_GE(matched, 9);
}

TEST(ModelManifest, RejectsEntriesThatCouldEscapeOrLie) {
  const std::string good =
      R"({"name":"m","kind":"detector","file":"m/m.onnx","size":1,"sha256":")" + std::string(64, 'a') +
      R"(","license":"MIT","commercial_use":true,"sources":["https://example.com/m.onnx"]})";
  ASSERT_TRUE(ModelManifest::Parse(R"({"models":[)" + good + "]}", "t").ok());
  const std::pair<std::string, std::string> bad[] = {
      {R"("file":"m/m.onnx")", R"("file":"../m.onnx")"},
      {R"("file":"m/m.onnx")", R"("file":"/etc/m.onnx")"},
      {R"("file":"m/m.onnx")", R"("file":".partial/m.part")"},
      {R"("size":1)", R"("size":0)"},
      {std::string(64, 'a'), std::string(63, 'a')},
      {R"("kind":"detector")", R"("kind":"toaster")"},
      {R"("https://example.com/m.onnx")", R"("http://example.com/m.onnx")"},
      {R"("commercial_use":true)", R"("commercial_use":"yes")"},
      {R"("license":"MIT")", R"("license":"MIT","licence":"MIT")"},
      {R"("size":1)", R"("size":1,"input_size":0)"},
      {R"("size":1)", R"("size":1,"input_size":-640)"},
      {R"("size":1)", R"("size":1,"architecture":640)"},
  };
  for (const auto& [from, to] : bad) {
    std::string entry = good;
    entry.replace(entry.find(from), from.size(), to);
    const auto parsed = ModelManifest::Parse(R"({"models":[)" + entry + "]}", "t");
    EXPECT_EQ(parsed.status().code(), Code::kInvalidArgument) << to;
  }
  EXPECT_EQ(ModelManifest::Parse(R"({"models":[)" + good + "," + good + "]}", "t").status().code(),
            Code::kInvalidArgument);
  // The embedded square-input detectors say their family and input side.
  const ModelEntry* yunet = ModelManifest::Embedded().Find("yunet_s_640");
  ASSERT_NE(yunet, nullptr);
  EXPECT_EQ(yunet->architecture, "yunet");
  EXPECT_EQ(yunet->input_size, 640);
  EXPECT_EQ(ModelManifest::Embedded().Find("blazeface_back")->input_size, 256);
}

TEST(ModelDir, PullsFromAMirrorAndResolvesTheVerifiedFile) {
  TempDir dir("swapline_models");
  ModelDir models(dir / "models", ModelManifest::Embedded());
  EXPECT_EQ(models.Resolve(kYunet, {}).status().code(), Code::kFailedPrecondition);
  PullOptions options;
  options.mirrors = {FileUri(kModels)};
  auto path = models.Pull(kYunet, options);
  ASSERT_TRUE(path.ok()) << path.status().ToString();
  EXPECT_EQ(*path, dir / "models" / Entry(kYunet).file);
  EXPECT_EQ(ReadFileBytes(*path), ReadFileBytes(kModels / Entry(kYunet).file));
  EXPECT_FALSE(fs::exists(dir / "models" / ".partial" / (std::string(kYunet) + ".part")));
  auto resolved = models.Resolve(kYunet, {});
  ASSERT_TRUE(resolved.ok()) << resolved.status().ToString();
  EXPECT_EQ(*resolved, *path);
  EXPECT_EQ(models.Inspect(Entry(kYunet), true).state, ModelState::kInstalled);
  EXPECT_EQ(models.Resolve("no_such_model", {}).status().code(), Code::kFailedPrecondition);
  ASSERT_TRUE(models.Remove(kYunet).ok());
  EXPECT_FALSE(fs::exists(*path));
  EXPECT_EQ(models.Inspect(Entry(kYunet), false).state, ModelState::kMissing);
}

TEST(ModelDir, ResumesACutDownloadFromWhereItStopped) {
  TempDir dir("swapline_models");
  const ModelEntry& entry = Entry(kYunet);
  const std::string bytes = ReadFileBytes(kModels / entry.file);
  const fs::path cut = MirrorWith(dir, "cut", entry, bytes.substr(0, bytes.size() / 2));
  ModelDir models(dir / "models", ModelManifest::Embedded());
  PullOptions options;
  options.mirrors = {FileUri(cut)};
  const auto first = models.Pull(kYunet, options);
  EXPECT_EQ(first.status().code(), Code::kUnavailable) << first.status().ToString();
  EXPECT_NE(first.status().message().find("the next pull resumes"), std::string::npos);
  EXPECT_EQ(models.Inspect(entry, false).state, ModelState::kPartial);
  EXPECT_EQ(models.Inspect(entry, false).bytes, bytes.size() / 2);
  EXPECT_FALSE(fs::exists(dir / "models" / entry.file));

  std::uint64_t first_report = 0;
  options.mirrors = {FileUri(kModels)};
  options.progress = [&](std::uint64_t done, std::uint64_t) {
    if (first_report == 0) first_report = done;
  };
  const auto second = models.Pull(kYunet, options);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_GT(first_report, bytes.size() / 2);  // the bytes already there were not fetched again
  EXPECT_EQ(ReadFileBytes(*second), bytes);
}

TEST(ModelDir, DamagedSourcesNeverBecomeVisibleAndTheNextSourceIsTried) {
  TempDir dir("swapline_models");
  const ModelEntry& entry = Entry(kYunet);
  std::string bytes = ReadFileBytes(kModels / entry.file);
  std::string damaged = bytes;
  damaged[damaged.size() / 3] ^= 0x5a;
  const ModelManifest offline = ManifestOf(entry, kYunet, true, {});
  ModelDir models(dir / "models", offline);
  PullOptions options;
  options.mirrors = {FileUri(MirrorWith(dir, "damaged", entry, damaged))};
  const auto refused = models.Pull(kYunet, options);
  EXPECT_EQ(refused.status().code(), Code::kUnsupportedInput) << refused.status().ToString();
  EXPECT_NE(refused.status().message().find("sha256"), std::string::npos);
  EXPECT_EQ(models.Inspect(entry, false).state, ModelState::kMissing);  // nothing visible, no partial kept

  options.mirrors = {FileUri(MirrorWith(dir, "longer", entry, bytes + "trailing bytes")), FileUri(kModels)};
  const auto pulled = models.Pull(kYunet, options);
  ASSERT_TRUE(pulled.ok()) << pulled.status().ToString();
  EXPECT_EQ(ReadFileBytes(*pulled), bytes);

  // Damage on disk is found by Resolve (in a new process: a fresh ModelDir) and verify.
  std::string on_disk = bytes;
  on_disk[10] ^= 1;
  WriteFileBytes(*pulled, on_disk);
  ModelDir reopened(dir / "models", offline);
  const auto resolved = reopened.Resolve(kYunet, {});
  EXPECT_EQ(resolved.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(resolved.status().message().find("corrupt"), std::string::npos) << resolved.status().ToString();
  EXPECT_EQ(reopened.Inspect(entry, true).state, ModelState::kCorrupt);
  // A pull replaces the damaged file.
  ASSERT_TRUE(reopened.Pull(kYunet, options).ok());
  EXPECT_EQ(ReadFileBytes(*pulled), bytes);
}

TEST(ModelDir, NonCommercialModelsNeedAnExplicitAcceptance) {
  TempDir dir("swapline_models");
  const ModelEntry& mmod = Entry("mmod");
  const ModelManifest manifest = ManifestOf(mmod, "nc_model", false, {FileUri(kModels / mmod.file)});
  ModelDir models(dir / "models", manifest);
  PullOptions options;
  const auto refused = models.Pull("nc_model", options);
  EXPECT_EQ(refused.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("--accept-license nc_model"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir / "models" / mmod.file));
  options.accepted_licenses = {"nc_model"};
  ASSERT_TRUE(models.Pull("nc_model", options).ok());
  EXPECT_EQ(models.Resolve("nc_model", {}).status().code(), Code::kFailedPrecondition);
  EXPECT_TRUE(models.Resolve("nc_model", {"nc_model"}).ok());
  // The embedded manifest marks dlib's 68-point model (Debian's libdlib-data) so.
  EXPECT_FALSE(Entry("dlib_68").commercial_use);
}

TEST(ModelDir, PullsAndResumesFromAnS3Mirror) {
  auto server = swapline::testing::SwiftServer::Start();
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  auto bucket = (*server)->OpenBucketForProcesses("models");
  ASSERT_TRUE(bucket.ok()) << bucket.status().ToString();
  const ModelEntry& entry = Entry(kYunet);
  const std::string bytes = ReadFileBytes(kModels / entry.file);
  ASSERT_TRUE((*bucket)->PutFile("mirror/" + entry.file, kModels / entry.file, {}).ok());

  TempDir dir("swapline_models");
  const ModelManifest offline = ManifestOf(entry, kYunet, true, {});
  ModelDir models(dir / "models", offline);
  // A partial download of the first third: the pull asks S3 for the rest only.
  fs::create_directories(dir / "models" / ".partial");
  WriteFileBytes(dir / "models" / ".partial" / (std::string(kYunet) + ".part"), bytes.substr(0, bytes.size() / 3));
  PullOptions options;
  options.mirrors = {"s3://models/mirror/"};
  options.s3.endpoint_url = (*server)->endpoint();
  std::uint64_t first_report = 0;
  options.progress = [&](std::uint64_t done, std::uint64_t) {
    if (first_report == 0) first_report = done;
  };
  const auto pulled = models.Pull(kYunet, options);
  ASSERT_TRUE(pulled.ok()) << pulled.status().ToString();
  EXPECT_GT(first_report, bytes.size() / 3);
  EXPECT_EQ(ReadFileBytes(*pulled), bytes);

  // A mirror without the file: NotFound naming the object, nothing visible.
  ASSERT_TRUE(models.Remove(kYunet).ok());
  options.mirrors = {"s3://models/elsewhere"};
  const auto missing = models.Pull(kYunet, options);
  EXPECT_EQ(missing.status().code(), Code::kNotFound) << missing.status().ToString();
  EXPECT_EQ(models.Inspect(entry, false).state, ModelState::kMissing);
}

TEST(ModelsCommand, ExitCodesSayWhatIsWrong) {
  TempDir dir("swapline_models");
  const std::string folder = (dir / "models").string();
  auto run = [&](std::vector<std::string> args) {
    args.insert(args.begin(), "models");
    args.insert(args.begin() + 2, {"--models-dir", folder});
    return RunProcess(SWAPLINE_BINARY, args, dir.path(), 120);
  };
  EXPECT_EQ(run({"pull", "no_such_model", "--quiet"}).exit_code, cli::kExitMissingModel);
  EXPECT_EQ(run({"pull", "blazeface_front", "--quiet"}).exit_code, cli::kExitMissingModel);  // no source
  EXPECT_EQ(run({"path", kYunet}).exit_code, cli::kExitMissingModel);
  const auto pulled = run({"pull", "--from", FileUri(kModels), kYunet, "mmod", "--quiet"});
  ASSERT_EQ(pulled.exit_code, 0) << pulled.err;
  EXPECT_NE(pulled.out.find("mmod " + folder), std::string::npos) << pulled.out;
  const auto path = run({"path", kYunet});
  ASSERT_EQ(path.exit_code, 0) << path.err;
  EXPECT_EQ(path.out, (dir / "models" / Entry(kYunet).file).string() + "\n");
  EXPECT_EQ(run({"verify"}).exit_code, 0);
  EXPECT_EQ(run({"verify", "face_mesh"}).exit_code, cli::kExitMissingModel);
  std::string bytes = ReadFileBytes(dir / "models" / Entry("mmod").file);
  bytes[100] ^= 1;
  WriteFileBytes(dir / "models" / Entry("mmod").file, bytes);
  const auto verified = run({"verify"});
  EXPECT_EQ(verified.exit_code, cli::kExitMissingModel);
  EXPECT_NE(verified.out.find("mmod: corrupt (sha256"), std::string::npos) << verified.out;
  EXPECT_EQ(run({"rm", "mmod"}).exit_code, 0);
  EXPECT_EQ(run({"verify"}).exit_code, 0);
  const auto list = run({"list"});
  EXPECT_NE(list.out.find("yunet_n_320      detector        0.3 MB  installed"), std::string::npos) << list.out;
}

}  // namespace
}  // namespace swapline::models

namespace swapline::models {
namespace {

TEST(ModelsCommand, SwapDetectsWithANamedModelFromTheFolder) {
  TempDir dir("swapline_models");
  const std::string folder = (dir / "models").string();
  const std::string photos = SWAPLINE_TESTDATA_DIR "/photos/";
  const std::vector<std::string> swap = {"swap", "-s", photos + "grace_hopper_usn_portrait.jpg", "-t",
                                         photos + "obama_biden_blue_room_2010_two_faces.jpg", "-o",
                                         (dir / "out.jpg").string(), "--models-dir", folder,
                                         "--face-detector-model", "yunet"};
  auto with = [](std::vector<std::string> args, std::initializer_list<std::string> more) {
    args.insert(args.end(), more);
    return args;
  };
  const auto missing = RunProcess(SWAPLINE_BINARY, swap, dir / "missing", 120);
  EXPECT_EQ(missing.exit_code, cli::kExitMissingModel) << missing.err;
  EXPECT_NE(missing.err.find("swapline models pull yunet_s_640"), std::string::npos) << missing.err;
  EXPECT_FALSE(fs::exists(dir / "out.jpg"));
  EXPECT_EQ(RunProcess(SWAPLINE_BINARY, with(swap, {"--face-detector-size", "480"}), dir / "size", 120).exit_code,
            cli::kExitUsage);
  ASSERT_EQ(RunProcess(SWAPLINE_BINARY,
                       {"models", "pull", "--models-dir", folder, "--quiet", "--from", FileUri(kModels), "yunet_s_640",
                        "yunet_s_320"},
                       dir / "pull", 120)
                .exit_code,
            0);
  for (const char* size : {"640", "320x320"}) {
    const auto swapped = RunProcess(SWAPLINE_BINARY, with(swap, {"--face-detector-size", size}), dir / size, 300);
    ASSERT_EQ(swapped.exit_code, 0) << swapped.err;
    EXPECT_NE(swapped.err.find("swapped 2 of 2 target face(s)"), std::string::npos) << size << ": " << swapped.err;
    EXPECT_TRUE(fs::exists(dir / "out.jpg"));
  }
}

}  // namespace
}  // namespace swapline::models
