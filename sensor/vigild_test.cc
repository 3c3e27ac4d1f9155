// Live tests of vigild as a user runs it: a real daemon process on a test
// config, real commands, alerts read back from its JSON-lines sink.
//
// Safety: fanotify marks only a tmpfs this test mounts under its own temp dir
// (never the root file system); vigild is always stopped (SIGTERM, then
// SIGKILL after a deadline) and the tmpfs unmounted in TearDown; every wait
// has a deadline and ctest bounds each test. Needs root, eBPF and fanotify:
// skipped with the reason otherwise.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

std::string Slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteText(const fs::path& p, const std::string& text) { std::ofstream(p, std::ios::binary) << text; }

bool WaitFor(const std::function<bool()>& done, std::chrono::milliseconds budget) {
  auto deadline = Clock::now() + budget;
  while (Clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return done();
}

int Sh(const std::string& cmd) {
  int status = std::system(("timeout 30 " + cmd).c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Test rules: each matches one thing the tests do, inside the test's tree.
std::string TestRules(const std::string& root, int port) {
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

class VigildTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (fanotify, eBPF)";
    const char* bin = std::getenv("VIGIL_BIN_DIR");
    ASSERT_NE(bin, nullptr) << "run through ctest";
    bin_ = bin;
    ASSERT_TRUE(fs::exists(bin_ + "/vigild"));
    char tmpl[] = "/tmp/vigild_test_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    root_ = dir_ + "/fs";
    fs::create_directories(root_);
    if (::mount("tmpfs", root_.c_str(), "tmpfs", 0, "size=64m,mode=0755") != 0) {
      GTEST_SKIP() << "cannot mount a tmpfs: " << std::strerror(errno);
    }
    mounted_ = true;
    fs::create_directories(root_ + "/watched");
    listener_ = OpenListener(&port_);
    ASSERT_GE(listener_, 0);
  }

  void TearDown() override {
    StopVigild();
    if (listener_ >= 0) ::close(listener_);
    if (mounted_ && ::umount2(root_.c_str(), 0) != 0) ::umount2(root_.c_str(), MNT_DETACH);
    if (!dir_.empty()) fs::remove_all(dir_);
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

  // Compiles `rules` (plus the default content if asked) into `out`.
  void Build(const std::string& out, const std::string& rules_text, bool with_default, int version) {
    fs::create_directories(dir_ + "/rules");
    WriteText(dir_ + "/rules/test.yml", rules_text);
    std::string inputs = dir_ + "/rules/test.yml";
    if (with_default) inputs += " " + std::string(std::getenv("VIGIL_SOURCE_DIR")) + "/rules/default";
    ASSERT_EQ(Sh(bin_ + "/vigil content build --strict --content-version " + std::to_string(version) + " " + inputs +
                 " -o " + out + " 2>" + dir_ + "/build.log"),
              0)
        << Slurp(dir_ + "/build.log");
  }

  std::string Config(bool ebpf, uint32_t source_queue = 65536) {
    std::ostringstream c;
    c << "[sources]\nebpf = " << (ebpf ? "true" : "false") << "\nfanotify = true\nfanotify_paths = [\"" << root_
      << "\"]\n"
      << "[content]\npath = \"" << dir_ << "/content.vbundle\"\n"
      << "[sinks]\nstdout = false\n[sinks.jsonl]\npath = \"" << dir_ << "/alerts.jsonl\"\n"
      << "[metrics]\nlisten = \"unix:" << dir_ << "/metrics.sock\"\n"
      << "[queues]\nsource = " << source_queue << "\n";
    return c.str();
  }

  void StartVigild(const std::string& config_text) {
    WriteText(dir_ + "/vigild.toml", config_text);
    pid_ = ::fork();
    if (pid_ == 0) {
      int out = ::open((dir_ + "/stdout").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int err = ::open((dir_ + "/stderr").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(out, 1);
      ::dup2(err, 2);
      std::string vigild = bin_ + "/vigild";
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

TEST_F(VigildTest, RealCommandsRaiseAlertsWithProcessContext) {
  Build(dir_ + "/content.vbundle", TestRules(root_, port_), /*with_default=*/true, 100);
  StartVigild(Config(/*ebpf=*/true));
  EXPECT_NE(Log().find("sources ebpf, fanotify;"), std::string::npos) << Log();

  // 1. A script executed from a temp dir (the tmpfs lives under /tmp).
  WriteText(root_ + "/run.sh", "#!/bin/sh\necho hello >/dev/null\n");
  ::chmod((root_ + "/run.sh").c_str(), 0755);
  // "; true" keeps bash from exec'ing the script in place, so bash is its parent.
  ASSERT_EQ(Sh("/bin/bash -c 'cd " + root_ + " && ./run.sh first-arg; true'"), 0);
  json exec = WaitAlert("7e57d000-0000-4000-8000-000000000003",
                        [&](const json& e) { return e.value("Image", "") == root_ + "/run.sh"; });
  ASSERT_FALSE(exec.is_null()) << Log() << Slurp(dir_ + "/alerts.jsonl");
  EXPECT_EQ(exec["event"]["event"], "process_creation");
  EXPECT_NE(exec["event"].value("CommandLine", "").find("first-arg"), std::string::npos) << exec.dump();
  EXPECT_EQ(exec["event"].value("CurrentDirectory", ""), root_) << exec.dump();
  EXPECT_EQ(exec["event"].value("User", ""), "root") << exec.dump();
  EXPECT_EQ(exec["event"].value("ParentImage", ""), "/bin/bash") << exec.dump();  // as exec'd, unresolved
  EXPECT_NE(exec["event"].value("ParentCommandLine", "").find("./run.sh first-arg; true"), std::string::npos)
      << exec.dump();
  for (const char* key : {"time", "host", "content_version", "rule_id", "rule_title", "level", "tags", "event"}) {
    EXPECT_TRUE(exec.contains(key)) << key << " missing: " << exec.dump();
  }
  EXPECT_EQ(exec["content_version"], 100);
  // The default content sees it too: an executable run from under /tmp.
  bool default_rule_fired = false;
  for (auto& a : Alerts()) {
    if (a["event"].value("Image", "") == root_ + "/run.sh" && a["rule_id"] != "7e57d000-0000-4000-8000-000000000003")
      default_rule_fired = true;
  }
  EXPECT_TRUE(default_rule_fired) << Slurp(dir_ + "/alerts.jsonl");

  // 2. A curl | sh style pipeline against a local file.
  WriteText(root_ + "/payload.sh", "echo payload >/dev/null\n");
  ASSERT_EQ(Sh("/bin/bash -c 'cat " + root_ + "/payload.sh | sh'"), 0);
  if (fs::exists("/usr/bin/curl")) {
    ASSERT_EQ(Sh("/bin/bash -c 'curl -s file://" + root_ + "/payload.sh | sh'"), 0);
    bool piped = WaitFor(
        [&] {
          for (auto& a : Alerts()) {
            std::string cl = a["event"].value("CommandLine", "");
            // The default rule "Remote Content Piped Straight Into a Shell".
            if (cl.find("curl -s file://" + root_) != std::string::npos && a["rule_id"] == "28c81625-f546-4faa-9eb6-40804ffe6062")
              return true;
          }
          return false;
        },
        std::chrono::seconds(20));
    EXPECT_TRUE(piped) << Slurp(dir_ + "/alerts.jsonl");
  }

  // 3. A write under the watched directory, by a child process.
  ASSERT_EQ(Sh("/bin/sh -c 'echo data > " + root_ + "/watched/out.txt'"), 0);
  json write = WaitAlert("7e57d000-0000-4000-8000-000000000001",
                         [&](const json& e) { return e.value("TargetFilename", "") == root_ + "/watched/out.txt"; });
  ASSERT_FALSE(write.is_null()) << Log() << Slurp(dir_ + "/alerts.jsonl");
  EXPECT_EQ(write["event"]["event"], "file_change");
  // The exec path as given (eBPF reports it unresolved; docs/ebpf-source.md).
  EXPECT_EQ(write["event"].value("Image", ""), "/bin/sh") << write.dump();
  EXPECT_NE(write["event"].value("CommandLine", "").find("echo data >"), std::string::npos) << write.dump();

  // 4. A connect to the loopback listener.
  int c = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port_));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ::close(c);
  json conn = WaitAlert("7e57d000-0000-4000-8000-000000000002",
                        [&](const json& e) { return e.value("DestinationPort", 0) == port_; });
  ASSERT_FALSE(conn.is_null()) << Log() << Slurp(dir_ + "/alerts.jsonl");
  EXPECT_EQ(conn["event"].value("DestinationIp", ""), "127.0.0.1");
  EXPECT_EQ(conn["event"].value("ProcessId", 0), static_cast<int>(::getpid()));

  // Metrics: alerts by rule, events by type, the degraded flag.
  std::string metrics = Metrics();
  EXPECT_NE(metrics.find("vigil_rule_alerts_total{rule_id=\"7e57d000-0000-4000-8000-000000000002\"} 1"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("vigil_events_total{type=\"network_connection\"}"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("vigil_degraded 0"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("vigil_eval_seconds_bucket"), std::string::npos) << metrics;

  EXPECT_EQ(StopVigild(), 0) << Log();
  EXPECT_NE(Log().find("stopped:"), std::string::npos) << Log();
}

TEST_F(VigildTest, ReloadSwapsContentAndABadBundleKeepsTheOld) {
  Build(dir_ + "/content.vbundle", TestRules(root_, port_), false, 200);
  StartVigild(Config(/*ebpf=*/true));
  std::atomic<bool> flowing{true};
  std::atomic<int> writes{0};
  std::thread writer([&] {
    while (flowing) {
      WriteText(root_ + "/watched/f" + std::to_string(writes++ % 50), "x");
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  auto has_version = [&](int v) {
    for (auto& a : Alerts()) {
      if (a["content_version"] == v) return true;
    }
    return false;
  };
  // Our own writes are excluded (the test is not vigild), so they alert.
  EXPECT_TRUE(WaitFor([&] { return has_version(200); }, std::chrono::seconds(20))) << Log();

  // A new version, installed by rename as an operator would.
  Build(dir_ + "/next.vbundle", TestRules(root_, port_), false, 201);
  fs::rename(dir_ + "/next.vbundle", dir_ + "/content.vbundle");
  EXPECT_TRUE(WaitFor([&] { return has_version(201); }, std::chrono::seconds(20))) << Log();
  EXPECT_NE(Log().find("content reload: "), std::string::npos) << Log();

  // A bad bundle: refused, the old content keeps raising alerts.
  WriteText(dir_ + "/bad.vbundle", "VIGILBND this is not a bundle");
  fs::rename(dir_ + "/bad.vbundle", dir_ + "/content.vbundle");
  ASSERT_TRUE(WaitFor([&] { return Log().find("refused, keeping the running content") != std::string::npos; },
                      std::chrono::seconds(20)))
      << Log();
  size_t before = Alerts().size();
  EXPECT_TRUE(WaitFor([&] { return Alerts().size() > before + 10; }, std::chrono::seconds(20)));
  EXPECT_EQ(Alerts().back()["content_version"], 201);
  // SIGHUP reloads too (and refuses the same bad file again).
  ::kill(pid_, SIGHUP);
  flowing = false;
  writer.join();
  EXPECT_EQ(StopVigild(), 0) << Log();
}

// Parses "<source>: received R lost L errors E;" and the raw queue figures
// from vigild's final log line.
struct FinalCounts {
  uint64_t received = 0, lost = 0, pushed = 0, dropped = 0, evaluated = 0;
};
bool ParseFinal(const std::string& log, const std::string& source, FinalCounts* c) {
  size_t at = log.find("stopped:");
  if (at == std::string::npos) return false;
  std::string tail = log.substr(at);
  unsigned long long r, l, e, p, d, v;
  std::string fmt_src = " " + source + ": received %llu lost %llu errors %llu;";
  size_t s = tail.find(" " + source + ": ");
  size_t q = tail.find("raw queue: ");
  if (s == std::string::npos || q == std::string::npos) return false;
  if (std::sscanf(tail.c_str() + s, fmt_src.c_str(), &r, &l, &e) != 3) return false;
  if (std::sscanf(tail.c_str() + q, "raw queue: pushed %llu dropped %llu evaluated %llu", &p, &d, &v) != 3)
    return false;
  *c = {r, l, p, d, v};
  return true;
}

TEST_F(VigildTest, DropAccountingIsExactUnderAFlood) {
  Build(dir_ + "/content.vbundle", TestRules(root_, port_), false, 300);
  // No eBPF (so only this tree's file events exist) and a one-slot queue.
  fs::create_directories(root_ + "/flood");  // before vigild: only the flood itself is seen
  StartVigild(Config(/*ebpf=*/false, /*source_queue=*/1));
  // symlink() makes exactly one FAN_CREATE each and never merges: N events.
  constexpr int kFlood = 8000;  // below fanotify's 16384-event kernel queue
  pid_t child = ::fork();
  if (child == 0) {
    for (int i = 0; i < kFlood; ++i) {
      if (::symlink("target", (root_ + "/flood/l" + std::to_string(i)).c_str()) != 0) ::_exit(1);
    }
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  std::this_thread::sleep_for(std::chrono::seconds(2));  // let the source read everything
  EXPECT_EQ(StopVigild(), 0) << Log();
  FinalCounts c;
  ASSERT_TRUE(ParseFinal(Log(), "fanotify", &c)) << Log();
  EXPECT_EQ(c.lost, 0u) << Log();
  EXPECT_EQ(c.received, static_cast<uint64_t>(kFlood)) << Log();
  EXPECT_EQ(c.pushed + c.dropped, c.received) << Log();
  EXPECT_EQ(c.evaluated, c.pushed) << Log();
  EXPECT_GT(c.dropped, 0u) << "the flood never filled the one-slot queue; the test proves nothing\n" << Log();
}

TEST_F(VigildTest, DegradedModeWithoutEbpfStillSeesExecs) {
  Build(dir_ + "/content.vbundle", TestRules(root_, port_), false, 400);
  StartVigild(Config(/*ebpf=*/false));
  EXPECT_NE(Log().find("DEGRADED MODE"), std::string::npos) << Log();
  ASSERT_EQ(Sh("cp /bin/sleep " + root_ + "/sleeper"), 0);
  ASSERT_EQ(Sh(root_ + "/sleeper 0.3"), 0);
  json exec = WaitAlert("7e57d000-0000-4000-8000-000000000003",
                        [&](const json& e) { return e.value("Image", "") == root_ + "/sleeper"; });
  ASSERT_FALSE(exec.is_null()) << Log() << Slurp(dir_ + "/alerts.jsonl");
  EXPECT_EQ(exec["event"]["event"], "process_creation");
  EXPECT_NE(exec["event"].value("CommandLine", "").find("0.3"), std::string::npos) << exec.dump();
  EXPECT_EQ(StopVigild(), 0) << Log();
}

TEST_F(VigildTest, BadContentStartsOnDefaultContentLoudly) {
  WriteText(dir_ + "/content.vbundle", "garbage");
  StartVigild(Config(/*ebpf=*/true));
  std::string log = Log();
  EXPECT_NE(log.find("FALLING BACK TO DEFAULT CONTENT"), std::string::npos) << log;
  EXPECT_EQ(StopVigild(), 0) << Log();
}

TEST_F(VigildTest, BadConfigNamesFileLineAndKey) {
  WriteText(dir_ + "/vigild.toml", "[sources]\nebpf = true\nfanotfy = true\n");
  std::string cmd = bin_ + "/vigild --config " + dir_ + "/vigild.toml 2>" + dir_ + "/err";
  int status = std::system(("timeout 20 " + cmd).c_str());
  EXPECT_EQ(WEXITSTATUS(status), 2);
  std::string err = Slurp(dir_ + "/err");
  EXPECT_NE(err.find("vigild.toml:3"), std::string::npos) << err;
  EXPECT_NE(err.find("fanotfy"), std::string::npos) << err;
}

}  // namespace
