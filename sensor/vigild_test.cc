// Live tests of vigild as a user runs it: a real daemon process on a test
// config, real commands, alerts read back from its JSON-lines sink.
//
// Safety: see sensor/testing/live_daemon.h (fanotify marks only a tmpfs the
// fixture mounts; vigild always stopped; every wait has a deadline).
#include <atomic>
#include <cstdio>
#include <thread>

#include "sensor/testing/live_daemon.h"

namespace {

namespace fs = std::filesystem;
using namespace vigil::testing;

class VigildTest : public LiveDaemonTest {};

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
  EXPECT_NE(log.find("FALLING BACK to default content"), std::string::npos) << log;
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
