#include "base/line_reader.h"

#include <unistd.h>

#include <gtest/gtest.h>

namespace vigil {
namespace {

// Feeds `data` through a pipe in a child-free way: write then close.
std::vector<std::pair<LineReader::Next, std::string>> ReadAll(const std::string& data, size_t max) {
  char path[] = "/tmp/vigil_line_reader_XXXXXX";
  int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
  lseek(fd, 0, SEEK_SET);
  unlink(path);
  LineReader r(fd, max);
  std::vector<std::pair<LineReader::Next, std::string>> out;
  std::string_view line;
  for (;;) {
    auto n = r.Read(&line);
    if (n == LineReader::Next::kEof) break;
    out.emplace_back(n, n == LineReader::Next::kLine ? std::string(line) : "");
    EXPECT_EQ(r.line_number(), out.size());
  }
  close(fd);
  return out;
}

TEST(LineReaderTest, SplitsLinesAndKeepsLastWithoutNewline) {
  auto lines = ReadAll("a\nbb\n\nccc", 16);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0].second, "a");
  EXPECT_EQ(lines[1].second, "bb");
  EXPECT_EQ(lines[2].second, "");
  EXPECT_EQ(lines[3].second, "ccc");
}

TEST(LineReaderTest, SkipsOverlongLinesAndResynchronises) {
  std::string big(100000, 'x');
  auto lines = ReadAll("ok1\n" + big + "\nok2\n" + big, 1000);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0].second, "ok1");
  EXPECT_EQ(lines[1].first, LineReader::Next::kTooLong);
  EXPECT_EQ(lines[2].second, "ok2");
  EXPECT_EQ(lines[3].first, LineReader::Next::kTooLong);
}

TEST(LineReaderTest, LinesLongerThanTheInitialBufferAreWhole) {
  std::string mid(200000, 'y');
  auto lines = ReadAll(mid + "\nz\n", 1 << 20);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].second, mid);
  EXPECT_EQ(lines[1].second, "z");
}

TEST(LineReaderTest, ExactlyMaxIsAccepted) {
  std::string exact(64, 'q');
  auto lines = ReadAll(exact + "\n" + exact + "q\n", 64);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].second, exact);
  EXPECT_EQ(lines[1].first, LineReader::Next::kTooLong);
}

}  // namespace
}  // namespace vigil
