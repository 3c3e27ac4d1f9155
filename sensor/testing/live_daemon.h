// Test support for live tests of vigild: a fixture that owns a temp dir with a
// tmpfs mounted in it (the only tree the daemon's fanotify marks may cover),
// a loopback listener, and a vigild process started on a test config, plus
// the small helpers those tests share.
//
//   class MyTest : public vigil::testing::LiveDaemonTest {};
//   TEST_F(MyTest, X) {
//     Build(dir_ + "/content.vbundle", rules, /*with_default=*/false, 7);
//     StartVigild(Config(/*ebpf=*/true));
//     ...; json a = WaitAlert(rule_id, pred);
//   }
//
// Safety: fanotify marks only the tmpfs this fixture mounts (never the root
// file system); vigild is always stopped (SIGTERM, then SIGKILL after 15 s)
// and the tmpfs unmounted in TearDown; every wait has a deadline and ctest
// bounds each test. Needs root: skipped with the reason otherwise.
//
// Thread-safety: gtest fixture, one test thread.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace vigil::testing {

namespace live_fs = std::filesystem;
using LiveClock = std::chrono::steady_clock;
using json = nlohmann::json;

inline std::string Slurp(const live_fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void WriteText(const live_fs::path& p, const std::string& text) {
  std::ofstream(p, std::ios::binary) << text;
}

inline bool WaitFor(const std::function<bool()>& done, std::chrono::milliseconds budget) {
  auto deadline = LiveClock::now() + budget;
  while (LiveClock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return done();
}

// A shell command bounded by 30 s; its exit code, or -1.
inline int Sh(const std::string& cmd) {
  int status = std::system(("timeout 30 " + cmd).c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Test rules: each matches one thing the tests do, inside the test's tree.
inline std::string TestRules(const std::string& root, int port) {
  return "title: vigild test - write under watched dir\n"
         "id: 7e57d000-0000-4000-8000-000000000001\n"
         "level: medium\n"
         "logsource: {product: linux, category: file_change}\n"
         "detection:\n"
         "  selection:\n"
         "    TargetFilename|startswith: '" + root + "/watched/'\n"
         "  condition: selection\n"
         "---\n"
         "title: vigild test - connect to the test listener\n"
         "id: 7e57d000-0000-4000-8000-000000000002\n"
         "level: high\n"
         "logsource: {product: linux, category: network_connection}\n"
         "detection:\n"
         "  selection:\n"
         "    DestinationIp: 127.0.0.1\n"
         "    DestinationPort: " + std::to_string(port) + "\n"
         "  condition: selection\n"
         "---\n"
         "title: vigild test - program run from the test tree\n"
         "id: 7e57d000-0000-4000-8000-000000000003\n"
         "level: low\n"
         "logsource: {product: linux, category: process_creation}\n"
         "detection:\n"
         "  selection:\n"
         "    Image|startswith: '" + root + "/'\n"
         "  condition: selection\n";
}

// fanotify marks, held by any process on the machine, on the filesystem that
// holds `path`: the "fanotify ... sdev:<hex> ..." lines of every fdinfo of
// every fanotify group (filesystem and inode marks; sdev is the kernel's
// dev_t, major << 20 | minor). Other tests may hold groups of their own at the
// same time; only marks on this test's own tmpfs count.
inline int CountFanotifyMarksOn(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return -1;
  const unsigned long sdev = (static_cast<unsigned long>(major(st.st_dev)) << 20) | minor(st.st_dev);
  char want[32];
  std::snprintf(want, sizeof(want), " sdev:%lx ", sdev);
  // Processes come and go while we look: every step takes an error_code.
  int marks = 0;
  const live_fs::directory_iterator end;
  std::error_code ec;
  for (live_fs::directory_iterator proc("/proc", ec); !ec && proc != end; proc.increment(ec)) {
    const std::string name = proc->path().filename();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::error_code fd_ec;
    for (live_fs::directory_iterator fd(proc->path() / "fd", fd_ec); !fd_ec && fd != end; fd.increment(fd_ec)) {
      std::error_code link_ec;
      if (live_fs::read_symlink(fd->path(), link_ec) != "anon_inode:[fanotify]") continue;
      std::ifstream info(proc->path() / "fdinfo" / fd->path().filename());
      for (std::string line; std::getline(info, line);) {
        if (line.starts_with("fanotify ") && (line + " ").find(want) != std::string::npos) ++marks;
      }
    }
  }
  return marks;
}

class LiveDaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (fanotify, eBPF)";
    const char* bin = std::getenv("VIGIL_BIN_DIR");
    ASSERT_NE(bin, nullptr) << "run through ctest";
    bin_ = bin;
    ASSERT_TRUE(live_fs::exists(bin_ + "/vigild"));
    char tmpl[] = "/tmp/vigild_test_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    root_ = dir_ + "/fs";
    live_fs::create_directories(root_);
    if (::mount("tmpfs", root_.c_str(), "tmpfs", 0, "size=64m,mode=0755") != 0) {
      GTEST_SKIP() << "cannot mount a tmpfs: " << std::strerror(errno);
    }
    mounted_ = true;
    live_fs::create_directories(root_ + "/watched");
    listener_ = OpenListener(&port_);
    ASSERT_GE(listener_, 0);
  }

  void TearDown() override {
    StopVigild();
    if (listener_ >= 0) ::close(listener_);
    if (mounted_ && ::umount2(root_.c_str(), 0) != 0) ::umount2(root_.c_str(), MNT_DETACH);
    if (!dir_.empty()) live_fs::remove_all(dir_);
  }

  static int OpenListener(int* port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 16) != 0) return -1;
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    *port = ntohs(a.sin_port);
    return fd;
  }

  // Compiles `rules_text` (plus the default content if asked) into `out`.
  void Build(const std::string& out, const std::string& rules_text, bool with_default, int version,
             const std::string& extra_flags = "") {
    live_fs::create_directories(dir_ + "/rules");
    WriteText(dir_ + "/rules/test.yml", rules_text);
    std::string inputs = dir_ + "/rules/test.yml";
    if (with_default) inputs += " " + std::string(std::getenv("VIGIL_SOURCE_DIR")) + "/rules/default";
    ASSERT_EQ(Sh(bin_ + "/vigil content build --strict --content-version " + std::to_string(version) + " " +
                 extra_flags + " " + inputs + " -o " + out + " 2>" + dir_ + "/build.log"),
              0)
        << Slurp(dir_ + "/build.log");
  }

  // A config on the test's tree, alerts to dir_/alerts.jsonl, metrics on a
  // unix socket, the content store in dir_/store.
  std::string Config(bool ebpf, uint32_t source_queue = 65536, bool with_path = true) {
    std::ostringstream c;
    c << "[sources]\nebpf = " << (ebpf ? "true" : "false") << "\nfanotify = true\nfanotify_paths = [\"" << root_
      << "\"]\n"
      << "[content]\n";
    if (with_path) c << "path = \"" << dir_ << "/content.vbundle\"\n";
    c << "store = \"" << dir_ << "/store\"\n"
      << "trust_root = \"" << dir_ << "/trust.root\"\n"
      << "[sinks]\nstdout = false\n[sinks.jsonl]\npath = \"" << dir_ << "/alerts.jsonl\"\n"
      << "[metrics]\nlisten = \"unix:" << dir_ << "/metrics.sock\"\n"
      << "[queues]\nsource = " << source_queue << "\n";
    return c.str();
  }

  // Starts `binary` (default vigild) on `config_text`; waits for the
  // worker's "running: " line.
  void StartVigild(const std::string& config_text, const std::string& binary = "vigild") {
    WriteText(dir_ + "/vigild.toml", config_text);
    // Truncated here, not in the child: the wait below must not see the last run's log.
    WriteText(dir_ + "/stderr", "");
    pid_ = ::fork();
    if (pid_ == 0) {
      int out = ::open((dir_ + "/stdout").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int err = ::open((dir_ + "/stderr").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      ::dup2(out, 1);
      ::dup2(err, 2);
      std::string vigild = bin_ + "/" + binary;
      std::string cfg = dir_ + "/vigild.toml";
      ::execl(vigild.c_str(), vigild.c_str(), "--config", cfg.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ASSERT_GT(pid_, 0);
    ASSERT_TRUE(WaitFor([&] { return Log().find("running: ") != std::string::npos || !Alive(); },
                        std::chrono::seconds(30)))
        << Log();
    ASSERT_TRUE(Alive()) << "vigild exited:\n" << Log();
  }

  bool Alive() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      exit_status_ = status;
      pid_ = -1;
      return false;
    }
    return true;
  }

  // SIGTERM, then SIGKILL after 15 s: a hung daemon cannot hang the test.
  int StopVigild() {
    if (pid_ <= 0) return exit_status_;
    ::kill(pid_, SIGTERM);
    if (!WaitFor([&] { return !Alive(); }, std::chrono::seconds(15))) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &exit_status_, 0);
      pid_ = -1;
      ADD_FAILURE() << "vigild did not stop within 15 s of SIGTERM";
    }
    return exit_status_;
  }

  std::string Log() { return Slurp(dir_ + "/stderr"); }

  // The worker of a supervised vigild: the supervisor's only child.
  pid_t WorkerPid() {
    std::string children = Slurp("/proc/" + std::to_string(pid_) + "/task/" + std::to_string(pid_) + "/children");
    return children.empty() ? -1 : static_cast<pid_t>(std::atoi(children.c_str()));
  }

  // GET /metrics over the daemon's unix socket.
  std::string Metrics() {
    std::string out = dir_ + "/metrics.txt";
    Sh("curl -s --unix-socket " + dir_ + "/metrics.sock http://localhost/metrics -o " + out);
    return Slurp(out);
  }

  std::vector<json> Alerts() {
    std::vector<json> out;
    std::istringstream in(Slurp(dir_ + "/alerts.jsonl"));
    std::string line;
    while (std::getline(in, line)) {
      json j = json::parse(line, nullptr, false);
      EXPECT_FALSE(j.is_discarded()) << "not JSON: " << line;
      if (!j.is_discarded()) out.push_back(std::move(j));
    }
    return out;
  }

  // The first alert of `rule_id` whose event satisfies `pred`, waiting for it.
  json WaitAlert(const std::string& rule_id, const std::function<bool(const json&)>& pred,
                 std::chrono::seconds budget = std::chrono::seconds(20)) {
    json found;
    WaitFor(
        [&] {
          for (auto& a : Alerts()) {
            if (a.value("rule_id", "") == rule_id && pred(a["event"])) {
              found = a;
              return true;
            }
          }
          return false;
        },
        budget);
    return found;
  }

  std::string bin_, dir_, root_;
  bool mounted_ = false;
  int listener_ = -1;
  int port_ = 0;
  pid_t pid_ = -1;
  int exit_status_ = 0;
};

}  // namespace vigil::testing
