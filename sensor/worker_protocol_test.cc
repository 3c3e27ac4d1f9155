#include "sensor/worker_protocol.h"

#include <atomic>
#include <csignal>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

namespace vigil::sensor {
namespace {

TEST(WorkerProtocolTest, FormatAndParseRoundTripEveryMessage) {
  std::vector<WorkerMessage> all = {WorkerMessage::Heartbeat(), WorkerMessage::Degraded(true),
                                    WorkerMessage::Degraded(false)};
  for (ContentLevel level : kAllContentLevels) {
    for (uint64_t version : {uint64_t{0}, uint64_t{7}, UINT64_MAX}) {
      all.push_back(WorkerMessage::Trying(level, version));
      all.push_back(WorkerMessage::Running(level, version));
    }
  }
  for (const WorkerMessage& m : all) {
    const std::string line = FormatWorkerMessage(m);
    EXPECT_LT(line.size(), kMaxProtocolLine);
    Result<WorkerMessage> back = ParseWorkerMessage(line);
    ASSERT_TRUE(back) << line << ": " << back.error().ToString();
    EXPECT_EQ(*back, m) << line;
  }
  EXPECT_EQ(FormatWorkerMessage(WorkerMessage::Trying(ContentLevel::kActive, 7)), "trying active 7");
  EXPECT_EQ(FormatWorkerMessage(WorkerMessage::Running(ContentLevel::kLkg, 18446744073709551615u)),
            "running lkg 18446744073709551615");
  EXPECT_EQ(FormatWorkerMessage(WorkerMessage::Degraded(true)), "degraded 1");
  EXPECT_EQ(FormatWorkerMessage(WorkerMessage::Heartbeat()), "hb");
}

TEST(WorkerProtocolTest, RefusesEveryMalformedLineWithTheReason) {
  struct Case {
    std::string line;
    Code code;
    std::string says;
  };
  const std::vector<Case> cases = {
      {"", Code::kInvalidArgument, "empty line or stray space"},
      {" hb", Code::kInvalidArgument, "stray space"},
      {"hb ", Code::kInvalidArgument, "stray space"},
      {"hb x", Code::kInvalidArgument, "hb takes no arguments"},
      {"HB", Code::kInvalidArgument, "unknown message"},
      {"heartbeat", Code::kInvalidArgument, "unknown message"},
      {"trying", Code::kInvalidArgument, "trying takes a level and a version"},
      {"trying active", Code::kInvalidArgument, "trying takes a level and a version"},
      {"running active 7 8", Code::kInvalidArgument, "running takes a level and a version"},
      {"running  active 7", Code::kInvalidArgument, "stray space"},
      {"trying bogus 7", Code::kInvalidArgument, "unknown content level \"bogus\""},
      {"trying Active 7", Code::kInvalidArgument, "unknown content level"},
      {"trying active -1", Code::kInvalidArgument, "bad version \"-1\""},
      {"trying active +1", Code::kInvalidArgument, "bad version"},
      {"trying active 07", Code::kInvalidArgument, "bad version \"07\""},
      {"trying active 1e3", Code::kInvalidArgument, "bad version"},
      {"trying active 18446744073709551616", Code::kInvalidArgument, "bad version"},  // 2^64
      {"trying active 99999999999999999999", Code::kInvalidArgument, "bad version"},
      {"trying active 123456789012345678901", Code::kInvalidArgument, "bad version"},  // 21 digits
      {"degraded", Code::kInvalidArgument, "degraded takes 0 or 1"},
      {"degraded 2", Code::kInvalidArgument, "degraded takes 0 or 1"},
      {"degraded 1 1", Code::kInvalidArgument, "degraded takes 0 or 1"},
      {"a b c d e", Code::kInvalidArgument, "too many words"},
      {"hb\r", Code::kInvalidArgument, "byte 0x0d at offset 2 is not printable ASCII"},
      {std::string("h\0b", 3), Code::kInvalidArgument, "byte 0x00 at offset 1"},
      {"trying active \xc3\xa9", Code::kInvalidArgument, "byte 0xc3"},
      {"hb\t", Code::kInvalidArgument, "byte 0x09"},
      {std::string(kMaxProtocolLine, 'x'), Code::kLimitExceeded, "line of 256 bytes (at most 255"},
  };
  for (const Case& c : cases) {
    Result<WorkerMessage> m = ParseWorkerMessage(c.line);
    ASSERT_FALSE(m) << "accepted: " << c.line;
    EXPECT_EQ(m.error().code(), c.code) << c.line << ": " << m.error().ToString();
    EXPECT_NE(m.error().message().find(c.says), std::string::npos) << c.line << ": " << m.error().message();
    EXPECT_NE(m.error().message().find("worker protocol"), std::string::npos) << m.error().message();
  }
}

TEST(WorkerProtocolTest, ErrorQuotesTheLineEscapedAndCut) {
  const std::string line = "bogus \"quoted\" \x01 " + std::string(200, 'y');
  Result<WorkerMessage> m = ParseWorkerMessage(line);
  ASSERT_FALSE(m);
  const std::string& msg = m.error().message();
  EXPECT_NE(msg.find("\\x22quoted\\x22"), std::string::npos) << msg;
  EXPECT_NE(msg.find("\"..."), std::string::npos) << msg;  // cut at 64 bytes
  EXPECT_LT(msg.size(), 200u) << msg;
}

TEST(WorkerProtocolTest, AcceptsTheLongestLegalLine) {
  // 255 bytes before the newline is the bound: not refused for its length.
  Result<WorkerMessage> m = ParseWorkerMessage(std::string(kMaxProtocolLine - 1, 'x'));
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code(), Code::kInvalidArgument);
}

std::vector<Result<WorkerMessage>> FeedAll(ProtocolParser& p, std::string_view bytes, size_t chunk) {
  std::vector<Result<WorkerMessage>> out;
  for (size_t i = 0; i < bytes.size(); i += chunk) {
    for (auto& r : p.Feed(bytes.substr(i, chunk))) out.push_back(std::move(r));
  }
  return out;
}

TEST(ProtocolParserTest, SplitsLinesWhateverTheChunking) {
  const std::string stream = "hb\ntrying active 7\nbogus\nrunning active 7\ndegraded 1\nhb\n";
  for (size_t chunk : {size_t{1}, size_t{2}, size_t{3}, size_t{7}, size_t{4096}}) {
    ProtocolParser p;
    auto out = FeedAll(p, stream, chunk);
    ASSERT_EQ(out.size(), 6u) << "chunk " << chunk;
    EXPECT_EQ(*out[0], WorkerMessage::Heartbeat());
    EXPECT_EQ(*out[1], WorkerMessage::Trying(ContentLevel::kActive, 7));
    ASSERT_FALSE(out[2]);
    EXPECT_EQ(out[2].error().code(), Code::kInvalidArgument);
    EXPECT_EQ(*out[3], WorkerMessage::Running(ContentLevel::kActive, 7));
    EXPECT_EQ(*out[4], WorkerMessage::Degraded(true));
    EXPECT_EQ(*out[5], WorkerMessage::Heartbeat());
    EXPECT_EQ(p.lines(), 6u);
    EXPECT_FALSE(p.Finish());
  }
}

TEST(ProtocolParserTest, OverlongLineIsReportedOnceThenSkippedToItsNewline) {
  for (size_t chunk : {size_t{1}, size_t{100}, size_t{100000}}) {
    ProtocolParser p;
    const std::string stream = "hb\n" + std::string(10000, 'z') + "\nrunning lkg 3\n";
    auto out = FeedAll(p, stream, chunk);
    ASSERT_EQ(out.size(), 3u) << "chunk " << chunk;
    EXPECT_TRUE(out[0]);
    ASSERT_FALSE(out[1]);
    EXPECT_EQ(out[1].error().code(), Code::kLimitExceeded);
    EXPECT_NE(out[1].error().message().find("line 2 longer than 256 bytes"), std::string::npos)
        << out[1].error().message();
    ASSERT_TRUE(out[2]);
    EXPECT_EQ(*out[2], WorkerMessage::Running(ContentLevel::kLkg, 3));
  }
}

TEST(ProtocolParserTest, BoundaryOfTheLineLimit) {
  ProtocolParser p;
  // 255 bytes + newline = 256: within the bound (refused for its content only).
  auto out = p.Feed(std::string(kMaxProtocolLine - 1, 'a') + "\n");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].error().code(), Code::kInvalidArgument);
  // 256 bytes + newline: too long.
  out = p.Feed(std::string(kMaxProtocolLine, 'a') + "\nhb\n");
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].error().code(), Code::kLimitExceeded);
  EXPECT_TRUE(out[1]);
}

TEST(ProtocolParserTest, UnterminatedLastLineIsReportedAtFinish) {
  ProtocolParser p;
  EXPECT_TRUE(p.Feed("hb\ntrying act").size() == 1);
  std::optional<Status> tail = p.Finish();
  ASSERT_TRUE(tail);
  EXPECT_NE(tail->message().find("last line has no newline: \"trying act\""), std::string::npos) << tail->message();
  EXPECT_FALSE(p.Finish());  // reported once
}

TEST(ProtocolParserTest, BinaryGarbageNeverStopsTheParser) {
  ProtocolParser p;
  std::string garbage;
  for (int i = 0; i < 5000; ++i) garbage += static_cast<char>((i * 7919) & 0xff);
  (void)p.Feed(garbage);
  (void)p.Feed("\n");
  auto out = p.Feed("hb\n");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0]);
}

TEST(ContentLevelTest, NamesListsAndErrors) {
  for (ContentLevel level : kAllContentLevels) {
    EXPECT_EQ(*ParseContentLevel(ContentLevelName(level)), level);
  }
  Result<ContentLevel> bad = ParseContentLevel("lkgg");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("unknown content level \"lkgg\" (expected path, candidate"), std::string::npos);

  EXPECT_TRUE(ParseContentLevelList("")->empty());
  auto two = ParseContentLevelList("lkg,default");
  ASSERT_TRUE(two);
  EXPECT_EQ(*two, (std::vector<ContentLevel>{ContentLevel::kLkg, ContentLevel::kDefault}));
  EXPECT_EQ(FormatContentLevelList(*two), "lkg,default");
  EXPECT_EQ(ParseContentLevelList("lkg,lkg").error().message(), "content level lkg listed twice");
  EXPECT_FALSE(ParseContentLevelList("lkg,,default"));
  EXPECT_FALSE(ParseContentLevelList("lkg,"));
  EXPECT_FALSE(ParseContentLevelList(" lkg"));
}

struct Pipe {
  int r = -1, w = -1;
  Pipe() {
    int fds[2];
    EXPECT_EQ(::pipe(fds), 0);
    r = fds[0];
    w = fds[1];
  }
  ~Pipe() {
    if (r >= 0) ::close(r);
    if (w >= 0) ::close(w);
  }
  std::string ReadAvailable() const {
    ::fcntl(r, F_SETFL, ::fcntl(r, F_GETFL) | O_NONBLOCK);
    std::string out;
    char buf[4096];
    for (ssize_t n; (n = ::read(r, buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
    return out;
  }
};

TEST(WorkerChannelTest, SendsLinesTheParserReads) {
  Pipe p;
  Result<WorkerChannel> ch = WorkerChannel::Adopt(std::exchange(p.w, -1));
  ASSERT_TRUE(ch) << ch.error().ToString();
  EXPECT_TRUE(::fcntl(ch->fd(), F_GETFL) & O_NONBLOCK);
  EXPECT_TRUE(::fcntl(ch->fd(), F_GETFD) & FD_CLOEXEC);
  EXPECT_TRUE(ch->Send(WorkerMessage::Trying(ContentLevel::kActive, 9)).ok());
  EXPECT_TRUE(ch->SendLine("running active 9").ok());
  EXPECT_TRUE(ch->Send(WorkerMessage::Heartbeat()).ok());
  Status bad = ch->SendLine("running active nine");
  EXPECT_EQ(bad.code(), Code::kInvalidArgument);
  EXPECT_EQ(ch->SendLine("hb\nhb").code(), Code::kInvalidArgument);  // one line only
  EXPECT_EQ(p.ReadAvailable(), "trying active 9\nrunning active 9\nhb\n");
  EXPECT_EQ(ch->sent(), 3u);
  EXPECT_EQ(ch->dropped(), 0u);
}

TEST(WorkerChannelTest, AdoptRefusesWhatIsNotAWritablePipe) {
  EXPECT_NE(WorkerChannel::Adopt(-1).error().message().find("is not open"), std::string::npos);
  EXPECT_NE(WorkerChannel::Adopt(999).error().message().find("heartbeat fd 999 is not open"), std::string::npos);
  Pipe p;
  EXPECT_NE(WorkerChannel::Adopt(p.r).error().message().find("not open for writing"), std::string::npos);
  const int file = ::open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(file, 0);
  EXPECT_NE(WorkerChannel::Adopt(file).error().message().find("is not a pipe"), std::string::npos);
  ::close(file);
}

TEST(WorkerChannelTest, FullPipeDropsInsteadOfBlocking) {
  Pipe p;
  Result<WorkerChannel> ch = WorkerChannel::Adopt(std::exchange(p.w, -1));
  ASSERT_TRUE(ch);
  // Nobody reads: the pipe fills (64 KiB by default), then sends drop.
  int full_at = -1;
  for (int i = 0; i < 100000; ++i) {
    Status s = ch->Send(WorkerMessage::Heartbeat());
    if (!s.ok()) {
      EXPECT_EQ(s.code(), Code::kLimitExceeded);
      EXPECT_EQ(s.message(), "supervisor pipe full: dropped \"hb\"");
      full_at = i;
      break;
    }
  }
  ASSERT_GT(full_at, 1000);
  EXPECT_EQ(ch->Send(WorkerMessage::Trying(ContentLevel::kLkg, 1)).code(), Code::kLimitExceeded);
  EXPECT_EQ(ch->dropped(), 2u);
  EXPECT_EQ(ch->sent(), static_cast<uint64_t>(full_at));
  // Once the supervisor reads, sends go through again.
  EXPECT_FALSE(p.ReadAvailable().empty());
  EXPECT_TRUE(ch->Send(WorkerMessage::Heartbeat()).ok());
}

TEST(WorkerChannelTest, GoneSupervisorIsNeitherAnErrorNorASignal) {
  // SIGPIPE at its default action would kill this test process.
  struct sigaction old {};
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  ASSERT_EQ(::sigaction(SIGPIPE, &dfl, &old), 0);
  {
    Pipe p;
    Result<WorkerChannel> ch = WorkerChannel::Adopt(std::exchange(p.w, -1));
    ASSERT_TRUE(ch);
    ::close(std::exchange(p.r, -1));
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(ch->Send(WorkerMessage::Heartbeat()).ok());
    EXPECT_EQ(ch->dropped(), 3u);
    sigset_t pending;
    sigemptyset(&pending);
    sigpending(&pending);
    EXPECT_FALSE(sigismember(&pending, SIGPIPE)) << "a SIGPIPE was left pending";
  }
  ::sigaction(SIGPIPE, &old, nullptr);
}

TEST(WorkerChannelTest, ConcurrentSendersNeverInterleave) {
  Pipe p;
  Result<WorkerChannel> ch = WorkerChannel::Adopt(std::exchange(p.w, -1));
  ASSERT_TRUE(ch);
  std::atomic<bool> done{false};
  std::string received;
  std::thread reader([&] {
    char buf[4096];
    for (;;) {
      ssize_t n = ::read(p.r, buf, sizeof buf);
      if (n > 0) {
        received.append(buf, static_cast<size_t>(n));
      } else if (done.load()) {
        break;
      }
    }
  });
  {
    WorkerChannel channel = std::move(*ch);
    std::vector<std::thread> senders;
    for (int t = 0; t < 4; ++t) {
      senders.emplace_back([&channel, t] {
        for (int i = 0; i < 2000; ++i) {
          const auto version = static_cast<uint64_t>(t * 100000 + i);
          while (!channel.Send(WorkerMessage::Running(ContentLevel::kActive, version)).ok()) {
            std::this_thread::yield();
          }
        }
      });
    }
    for (auto& s : senders) s.join();
  }  // closes the write end: the reader sees EOF
  done = true;
  reader.join();
  ProtocolParser parser;
  auto lines = parser.Feed(received);
  ASSERT_EQ(lines.size(), 8000u);
  for (auto& l : lines) ASSERT_TRUE(l) << l.error().ToString();
  EXPECT_FALSE(parser.Finish());
}

}  // namespace
}  // namespace vigil::sensor
