// Live tests of EbpfSource against the running kernel: real processes, real
// sockets, real programs attached. Each waits for its events with a deadline
// and reaps every child it starts. Skipped (with the reason) where eBPF cannot
// run: not root, or no kernel BTF.
#include "sources/ebpf/ebpf_source.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace vigil::sources {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kEventDeadline = std::chrono::seconds(10);

// An owned copy of a RawEvent: the source's strings die with the handler call.
struct Seen {
  RawKind kind;
  uint64_t time_ns;
  int32_t pid, ppid;
  uint32_t uid, gid;
  int64_t exit_code;
  std::string image, command_line, cwd;
  bool command_line_truncated;
  uint8_t family, protocol;
  std::array<uint8_t, 16> dst_addr, src_addr;
  uint16_t dst_port, src_port;
  int32_t result;
};

Seen Copy(const RawEvent& e) {
  return Seen{e.kind, e.time_ns, e.pid, e.ppid, e.uid, e.gid, e.exit_code,
              std::string(e.image), std::string(e.command_line), std::string(e.cwd),
              e.command_line_truncated, e.family, e.protocol, e.dst_addr, e.src_addr,
              e.dst_port, e.src_port, e.result};
}

std::string SkipReason() {
  if (geteuid() != 0) return "eBPF tests need root";
  if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) return "no kernel BTF at /sys/kernel/btf/vmlinux";
  return "";
}

#define SKIP_UNLESS_EBPF()                                   \
  do {                                                       \
    if (std::string why = SkipReason(); !why.empty()) GTEST_SKIP() << why; \
  } while (0)

// Polls until every predicate has matched some event, or the deadline.
// Returns everything seen, so callers can also assert on absences.
std::vector<Seen> PollUntil(EbpfSource& src, std::vector<std::function<bool(const Seen&)>> wanted) {
  std::vector<Seen> seen;
  std::vector<bool> found(wanted.size(), false);
  size_t remaining = wanted.size();
  auto deadline = Clock::now() + kEventDeadline;
  while (remaining > 0 && Clock::now() < deadline) {
    auto polled = src.Poll(100, [&](const RawEvent& e) {
      seen.push_back(Copy(e));
      for (size_t i = 0; i < wanted.size(); ++i) {
        if (!found[i] && wanted[i](seen.back())) {
          found[i] = true;
          --remaining;
        }
      }
    });
    EXPECT_TRUE(polled.has_value()) << polled.error().ToString();
    if (!polled) break;
  }
  for (size_t i = 0; i < wanted.size(); ++i) EXPECT_TRUE(found[i]) << "expected event #" << i << " not seen";
  return seen;
}

const Seen* Find(const std::vector<Seen>& seen, RawKind kind, pid_t pid) {
  for (const Seen& s : seen) {
    if (s.kind == kind && s.pid == pid) return &s;
  }
  return nullptr;
}

// Runs `body` in a child (which must end in _exit or exec); returns its pid.
pid_t Spawn(const std::function<void()>& body) {
  pid_t pid = fork();
  if (pid == 0) {
    body();
    _exit(127);
  }
  return pid;
}

int Reap(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/vigil-ebpf-XXXXXX";
    char* dir = mkdtemp(tmpl);
    EXPECT_NE(dir, nullptr);
    char real[PATH_MAX];
    path_ = dir != nullptr && realpath(dir, real) != nullptr ? real : "";
  }
  ~TempDir() { rmdir(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

testing::AssertionResult Started(EbpfSource& src) {
  Status s = src.Start();
  if (s.ok()) return testing::AssertionSuccess();
  return testing::AssertionFailure() << s.ToString();
}

TEST(EbpfSourceTest, ExecForkExitOfARealProgram) {
  SKIP_UNLESS_EBPF();
  EbpfOptions options;
  options.exclude_self = false;  // the fork's actor is this test
  EbpfSource src(options);
  ASSERT_TRUE(Started(src));
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());

  // A thread is not a process: it must produce neither fork nor exit events.
  pid_t thread_tid = 0;
  std::thread([&] { thread_tid = static_cast<pid_t>(syscall(SYS_gettid)); }).join();

  pid_t child = Spawn([&] {
    if (chdir(dir.path().c_str()) != 0) _exit(126);
    execl("/bin/true", "true", "--vigil-marker", "two words", static_cast<char*>(nullptr));
  });
  ASSERT_GT(child, 0);
  int status = Reap(child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;

  auto seen = PollUntil(src, {
      [&](const Seen& s) { return s.kind == RawKind::kFork && s.pid == child; },
      [&](const Seen& s) { return s.kind == RawKind::kExec && s.pid == child; },
      [&](const Seen& s) { return s.kind == RawKind::kExit && s.pid == child; },
  });
  const Seen* fork_event = Find(seen, RawKind::kFork, child);
  ASSERT_NE(fork_event, nullptr);
  EXPECT_EQ(fork_event->ppid, getpid());

  const Seen* exec = Find(seen, RawKind::kExec, child);
  ASSERT_NE(exec, nullptr);
  EXPECT_EQ(exec->ppid, getpid());
  EXPECT_EQ(exec->image, "/bin/true");
  EXPECT_EQ(exec->command_line, "true --vigil-marker two words");
  EXPECT_FALSE(exec->command_line_truncated);
  EXPECT_EQ(exec->cwd, dir.path());
  EXPECT_EQ(exec->uid, getuid());
  EXPECT_EQ(exec->gid, getgid());
  auto now_ns = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
  EXPECT_LT(now_ns - exec->time_ns, 30'000'000'000ull) << "timestamp not CLOCK_REALTIME";

  const Seen* exit_event = Find(seen, RawKind::kExit, child);
  ASSERT_NE(exit_event, nullptr);
  EXPECT_EQ(exit_event->exit_code, 0);

  EXPECT_EQ(Find(seen, RawKind::kFork, thread_tid), nullptr);
  EXPECT_EQ(Find(seen, RawKind::kExit, thread_tid), nullptr);
  EXPECT_EQ(src.counters().lost, 0u);
  EXPECT_EQ(src.counters().errors, 0u);
}

TEST(EbpfSourceTest, ExitCodesAndSignals) {
  SKIP_UNLESS_EBPF();
  EbpfSource src;
  ASSERT_TRUE(Started(src));
  pid_t seven = Spawn([] { execl("/bin/sh", "sh", "-c", "exit 7", static_cast<char*>(nullptr)); });
  pid_t killed = Spawn([] { raise(SIGKILL); });
  ASSERT_GT(seven, 0);
  ASSERT_GT(killed, 0);
  Reap(seven);
  Reap(killed);
  auto seen = PollUntil(src, {
      [&](const Seen& s) { return s.kind == RawKind::kExit && s.pid == seven; },
      [&](const Seen& s) { return s.kind == RawKind::kExit && s.pid == killed; },
  });
  const Seen* e7 = Find(seen, RawKind::kExit, seven);
  const Seen* e9 = Find(seen, RawKind::kExit, killed);
  ASSERT_NE(e7, nullptr);
  ASSERT_NE(e9, nullptr);
  EXPECT_EQ(e7->exit_code, 7);
  EXPECT_EQ(e9->exit_code, -SIGKILL);
}

TEST(EbpfSourceTest, RelativeImageIsResolvedAgainstCwd) {
  SKIP_UNLESS_EBPF();
  EbpfSource src;
  ASSERT_TRUE(Started(src));
  char real[PATH_MAX];
  ASSERT_NE(realpath("/bin", real), nullptr);  // /bin may be a symlink to /usr/bin
  pid_t child = Spawn([] {
    if (chdir("/bin") != 0) _exit(126);
    execl("./true", "true", static_cast<char*>(nullptr));
  });
  ASSERT_GT(child, 0);
  Reap(child);
  auto seen = PollUntil(src, {[&](const Seen& s) { return s.kind == RawKind::kExec && s.pid == child; }});
  const Seen* exec = Find(seen, RawKind::kExec, child);
  ASSERT_NE(exec, nullptr);
  EXPECT_EQ(exec->cwd, real);
  EXPECT_EQ(exec->image, std::string(real) + "/true");
}

TEST(EbpfSourceTest, LongArgvIsBoundedAndMarkedTruncated) {
  SKIP_UNLESS_EBPF();
  EbpfSource src;
  ASSERT_TRUE(Started(src));
  std::string big(6000, 'x');
  pid_t child = Spawn([&] { execl("/bin/true", "true", big.c_str(), static_cast<char*>(nullptr)); });
  ASSERT_GT(child, 0);
  Reap(child);
  auto seen = PollUntil(src, {[&](const Seen& s) { return s.kind == RawKind::kExec && s.pid == child; }});
  const Seen* exec = Find(seen, RawKind::kExec, child);
  ASSERT_NE(exec, nullptr);
  EXPECT_TRUE(exec->command_line_truncated);
  EXPECT_EQ(exec->command_line.size(), 4096u);
  EXPECT_EQ(exec->command_line.substr(0, 7), "true xx");
}

// A loopback listener on an ephemeral port; family AF_INET or AF_INET6.
struct Listener {
  int fd = -1;
  uint16_t port = 0;
  explicit Listener(int family) {
    fd = socket(family, SOCK_STREAM, 0);
    sockaddr_storage ss{};
    socklen_t len = 0;
    if (family == AF_INET) {
      auto* a = reinterpret_cast<sockaddr_in*>(&ss);
      a->sin_family = AF_INET;
      a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      len = sizeof(*a);
    } else {
      auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
      a->sin6_family = AF_INET6;
      a->sin6_addr = in6addr_loopback;
      len = sizeof(*a);
    }
    if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || listen(fd, 8) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
      close(fd);
      fd = -1;
      return;
    }
    port = ntohs(family == AF_INET ? reinterpret_cast<sockaddr_in*>(&ss)->sin_port
                                   : reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  }
  ~Listener() {
    if (fd >= 0) close(fd);
  }
};

// connect()s to loopback:port; returns the client's local port, 0 on failure.
uint16_t ConnectLoopback(int family, uint16_t port, int* err) {
  int fd = socket(family, SOCK_STREAM, 0);
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a->sin_port = htons(port);
    len = sizeof(*a);
  } else {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_addr = in6addr_loopback;
    a->sin6_port = htons(port);
    len = sizeof(*a);
  }
  *err = connect(fd, reinterpret_cast<sockaddr*>(&ss), len) == 0 ? 0 : errno;
  sockaddr_storage local{};
  socklen_t local_len = sizeof(local);
  uint16_t local_port = 0;
  if (*err == 0 && getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len) == 0) {
    local_port = ntohs(family == AF_INET ? reinterpret_cast<sockaddr_in*>(&local)->sin_port
                                         : reinterpret_cast<sockaddr_in6*>(&local)->sin6_port);
  }
  close(fd);
  return local_port;
}

void CheckConnect(int family) {
  EbpfOptions options;
  options.exclude_self = false;  // this test is the actor
  EbpfSource src(options);
  ASSERT_TRUE(Started(src));
  Listener listener(family);
  if (listener.fd < 0) GTEST_SKIP() << "no loopback for family " << family;
  Listener closed(family);  // bound, then closed: a port nobody listens on
  uint16_t closed_port = closed.port;
  close(closed.fd);
  closed.fd = -1;

  int err = 0;
  uint16_t local_port = ConnectLoopback(family, listener.port, &err);
  ASSERT_EQ(err, 0) << strerror(err);
  int refused = 0;
  ConnectLoopback(family, closed_port, &refused);
  ASSERT_EQ(refused, ECONNREFUSED);

  auto is_connect_to = [&](uint16_t port) {
    return [&, port](const Seen& s) {
      return s.kind == RawKind::kConnect && s.pid == getpid() && s.dst_port == port;
    };
  };
  auto seen = PollUntil(src, {is_connect_to(listener.port), is_connect_to(closed_port)});
  std::array<uint8_t, 16> loopback{};
  if (family == AF_INET) {
    loopback[0] = 127;
    loopback[3] = 1;
  } else {
    loopback[15] = 1;
  }
  for (const Seen& s : seen) {
    if (s.kind != RawKind::kConnect || s.pid != getpid()) continue;
    EXPECT_EQ(s.family, family);
    EXPECT_EQ(s.protocol, IPPROTO_TCP);
    EXPECT_EQ(s.dst_addr, loopback);
    if (s.dst_port == listener.port) {
      EXPECT_EQ(s.result, 0);
      EXPECT_EQ(s.src_port, local_port);
      EXPECT_EQ(s.src_addr, loopback);
    } else if (s.dst_port == closed_port) {
      EXPECT_EQ(s.result, -ECONNREFUSED);
    }
  }
}

TEST(EbpfSourceTest, ConnectIpv4) {
  SKIP_UNLESS_EBPF();
  CheckConnect(AF_INET);
}

TEST(EbpfSourceTest, ConnectIpv6) {
  SKIP_UNLESS_EBPF();
  CheckConnect(AF_INET6);
}

TEST(EbpfSourceTest, ExcludesItsOwnProcess) {
  SKIP_UNLESS_EBPF();
  EbpfSource src;  // exclude_self defaults to true
  ASSERT_TRUE(Started(src));
  Listener listener(AF_INET);
  ASSERT_GE(listener.fd, 0);
  int err = 0;
  ConnectLoopback(AF_INET, listener.port, &err);  // ours: must not be reported
  ASSERT_EQ(err, 0);
  pid_t child = Spawn([&] {  // not ours: must be reported
    int child_err = 0;
    ConnectLoopback(AF_INET, listener.port, &child_err);
    _exit(child_err);
  });
  ASSERT_GT(child, 0);
  Reap(child);
  auto seen = PollUntil(src, {
      [&](const Seen& s) { return s.kind == RawKind::kConnect && s.pid == child; },
      [&](const Seen& s) { return s.kind == RawKind::kExit && s.pid == child; },
  });
  for (const Seen& s : seen) {
    EXPECT_NE(s.pid, getpid()) << "event of kind " << static_cast<int>(s.kind) << " from the sensor itself";
  }
  EXPECT_EQ(Find(seen, RawKind::kFork, child), nullptr) << "a fork by the sensor itself was reported";
}

// Link ids whose program is one of `prog_ids`.
std::set<uint32_t> LinksOf(const std::vector<uint32_t>& prog_ids) {
  std::set<uint32_t> links;
  uint32_t id = 0;
  while (bpf_link_get_next_id(id, &id) == 0) {
    int fd = bpf_link_get_fd_by_id(id);
    if (fd < 0) continue;
    bpf_link_info info{};
    uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0) {
      for (uint32_t p : prog_ids) {
        if (info.prog_id == p) links.insert(id);
      }
    }
    close(fd);
  }
  return links;
}

size_t LiveProgramCount(const std::vector<uint32_t>& prog_ids) {
  size_t live = 0;
  for (uint32_t id : prog_ids) {
    int fd = bpf_prog_get_fd_by_id(id);
    if (fd >= 0) {
      ++live;
      close(fd);
    }
  }
  return live;
}

TEST(EbpfSourceTest, StopDetachesEverything) {
  SKIP_UNLESS_EBPF();
  EbpfSource src;
  ASSERT_TRUE(Started(src));
  std::vector<uint32_t> ids = src.program_ids();
  ASSERT_EQ(ids.size(), 5u);
  EXPECT_EQ(LiveProgramCount(ids), 5u);
  EXPECT_EQ(LinksOf(ids).size(), 5u);

  src.Stop();
  EXPECT_TRUE(src.program_ids().empty());
  src.Stop();  // idempotent
  // Programs are freed after an RCU grace period; wait for it, bounded.
  auto deadline = Clock::now() + std::chrono::seconds(10);
  while ((LiveProgramCount(ids) != 0 || !LinksOf(ids).empty()) && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(LiveProgramCount(ids), 0u);
  EXPECT_TRUE(LinksOf(ids).empty());

  auto polled = src.Poll(0, [](const RawEvent&) {});
  ASSERT_FALSE(polled.has_value());
  EXPECT_EQ(polled.error().code(), Code::kInvalidArgument);
}

TEST(EbpfSourceTest, ReportsLostEventsWhenTheRingIsFull) {
  SKIP_UNLESS_EBPF();
  EbpfOptions options;
  options.ring_bytes = 4096;  // room for a handful of exec records
  EbpfSource src(options);
  ASSERT_TRUE(Started(src));
  // Nobody polls while 200 programs run, so the ring must overflow.
  for (int i = 0; i < 200; ++i) {
    pid_t child = Spawn([] { execl("/bin/true", "true", static_cast<char*>(nullptr)); });
    ASSERT_GT(child, 0);
    Reap(child);
  }
  size_t delivered = 0;
  for (int i = 0; i < 20; ++i) {
    auto n = src.Poll(10, [](const RawEvent&) {});
    ASSERT_TRUE(n.has_value());
    delivered += *n;
  }
  SourceCounters c = src.counters();
  EXPECT_GT(delivered, 0u);
  EXPECT_EQ(c.received, delivered);
  // 200 execs and 200 exits were attempted (the forks are this test's own,
  // hence excluded), and few fit; every one is either received or lost.
  EXPECT_GE(c.received + c.lost, 400u);
  EXPECT_GT(c.lost, 0u);
}

TEST(EbpfSourceTest, ErrorsNameWhatIsMissing) {
  SKIP_UNLESS_EBPF();
  EbpfOptions options;
  options.btf_path = "/nonexistent/vmlinux";
  EbpfSource no_btf(options);
  Status s = no_btf.Start();
  EXPECT_EQ(s.code(), Code::kUnsupported);
  EXPECT_EQ(s.message(), "kernel BTF missing at /nonexistent/vmlinux");

  EbpfSource twice;
  ASSERT_TRUE(Started(twice));
  EXPECT_EQ(twice.Start().code(), Code::kInvalidArgument);

  // Without CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN (dropped in a child).
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t child = Spawn([&] {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct caps[2]{};
    syscall(SYS_capget, &header, caps);
    for (int cap : {CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN}) caps[cap / 32].effective &= ~(1u << (cap % 32));
    if (syscall(SYS_capset, &header, caps) != 0) _exit(3);
    EbpfSource unprivileged;
    Status st = unprivileged.Start();
    std::string msg = st.message();
    ssize_t w = write(fds[1], msg.data(), msg.size());
    _exit(w == static_cast<ssize_t>(msg.size()) && st.code() == Code::kInvalidArgument ? 0 : 1);
  });
  close(fds[1]);
  char buf[256] = {};
  ssize_t n = read(fds[0], buf, sizeof(buf) - 1);
  close(fds[0]);
  int status = Reap(child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(std::string(buf, n > 0 ? static_cast<size_t>(n) : 0), "eBPF needs root or CAP_BPF+CAP_PERFMON");
}

}  // namespace
}  // namespace vigil::sources
