#include "core/atomic_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <iterator>

// Counts the process's umask calls (this definition takes the place of libc's). The
// mask is process-wide: changing it even for a moment gives the files other threads
// create meanwhile its mode.
std::atomic<int> umask_calls{0};
extern "C" mode_t umask(mode_t mask) noexcept {
  ++umask_calls;
  return static_cast<mode_t>(::syscall(SYS_umask, mask));
}

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

TEST_F(AtomicFileTest, ModeFollowsTheUmaskWithoutChangingIt) {
  const mode_t old = ::umask(027);
  umask_calls = 0;
  const Status written = WriteFileAtomically(dir_ / "out.bin", Bytes("x"));
  const int calls = umask_calls;
  ::umask(old);
  ASSERT_TRUE(written.ok()) << written.ToString();
  EXPECT_EQ(calls, 0);
  struct stat st {};
  ASSERT_EQ(::stat((dir_ / "out.bin").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
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
