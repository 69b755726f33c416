#include "core/atomic_file.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

namespace swapline {
namespace {

namespace fs = std::filesystem;

class AtomicFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("swapline-atomic-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  static std::string Slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
  }
  std::size_t EntryCount() const {
    return static_cast<std::size_t>(std::distance(fs::directory_iterator(dir_), {}));
  }

  fs::path dir_;
};

std::span<const std::uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

TEST_F(AtomicFileTest, WritesWholeFile) {
  ASSERT_TRUE(WriteFileAtomically(dir_ / "out.bin", Bytes("hello")).ok());
  EXPECT_EQ(Slurp(dir_ / "out.bin"), "hello");
  EXPECT_EQ(EntryCount(), 1u);
}

TEST_F(AtomicFileTest, ReplacesExistingOnlyOnCommit) {
  ASSERT_TRUE(WriteFileAtomically(dir_ / "out.bin", Bytes("old")).ok());
  {
    auto file = AtomicFile::Create(dir_ / "out.bin");
    ASSERT_TRUE(file.ok());
    ASSERT_TRUE(file->Append(Bytes("new but unfinished")).ok());
    EXPECT_EQ(Slurp(dir_ / "out.bin"), "old");
    // Dropped without Commit: the temporary disappears, the old file stays.
  }
  EXPECT_EQ(Slurp(dir_ / "out.bin"), "old");
  EXPECT_EQ(EntryCount(), 1u);
}

TEST_F(AtomicFileTest, MissingFolderIsOutputNotWritable) {
  Status s = WriteFileAtomically(dir_ / "missing" / "out.bin", Bytes("x"));
  EXPECT_EQ(s.code(), Code::kOutputNotWritable);
  EXPECT_NE(s.message().find("does not exist"), std::string::npos) << s.message();
}

TEST_F(AtomicFileTest, FolderAsDestinationIsRefused) {
  EXPECT_EQ(WriteFileAtomically(dir_, Bytes("x")).code(), Code::kOutputNotWritable);
}

}  // namespace
}  // namespace swapline
