// fake_worker: a stand-in for vigild's worker in supervisor_test. It speaks
// the worker protocol (sensor/worker_protocol.h) and walks the content levels
// like the real worker (path, active, lkg, default, builtin; then a candidate
// beside what runs), reading only the store's state and which slots exist,
// and misbehaves on cue. Test-only: built into build/tests, never installed.
//
//   fake_worker --log FILE [--control FILE] [--store DIR] --heartbeat-fd 3 [--skip-levels a,b]
//
// The control file is read at every start; each line is a directive,
// optionally prefixed "@N " to apply only to the N-th start (counted from the
// "start" lines in the log):
//   crash-load LEVEL        abort() right after "trying LEVEL V"
//   crash-run LEVEL MS      abort() MS after "running LEVEL V"
//   hang LEVEL MS           stop heartbeats (and everything) MS after running LEVEL
//   exit LEVEL CODE         exit(CODE) after running LEVEL
//   path-version N          offer the path level (an explicit bundle) at version N
//   default-version N       offer the default level at version N
//   garbage                 write malformed protocol lines at start
//   no-heartbeat            never send "hb"
//   hb-ms N                 heartbeat interval (default 100)
//   ignore-term             ignore SIGTERM
//
// The log gets one line per event, "<CLOCK_MONOTONIC ms> <pid> <event>":
//   start fds=0,1,2,3 skip=lkg args=...   running LEVEL V   hang   hup   term
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fmt/format.h>

#include "base/file.h"
#include "sensor/content_store.h"
#include "sensor/store_fs.h"
#include "sensor/worker_protocol.h"

namespace {

using namespace vigil;
using namespace vigil::sensor;

std::atomic<bool> g_term{false};
std::atomic<bool> g_hup{false};

int64_t MonoMs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

std::string g_log_path;

void Log(const std::string& event) {
  const std::string line = fmt::format("{} {} {}\n", MonoMs(), ::getpid(), event);
  const int fd = ::open(g_log_path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return;
  ssize_t ignored = ::write(fd, line.data(), line.size());
  (void)ignored;
  ::close(fd);
}

// Open descriptors, before this program opens any of its own.
std::string OpenFds() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return "?";
  std::vector<int> fds;
  const int own = ::dirfd(dir);
  while (dirent* e = ::readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    const int fd = std::atoi(e->d_name);
    if (fd != own) fds.push_back(fd);
  }
  ::closedir(dir);
  std::sort(fds.begin(), fds.end());
  std::string out;
  for (int fd : fds) out += (out.empty() ? "" : ",") + std::to_string(fd);
  return out;
}

struct Control {
  std::vector<std::string> crash_load;
  std::vector<std::pair<std::string, int>> crash_run, hang, exit_code;
  std::optional<uint64_t> path_version, default_version;
  bool garbage = false, no_heartbeat = false, ignore_term = false;
  int hb_ms = 100;

  bool CrashLoad(std::string_view level) const {
    return std::find(crash_load.begin(), crash_load.end(), level) != crash_load.end();
  }
  static std::optional<int> Find(const std::vector<std::pair<std::string, int>>& v, std::string_view level) {
    for (const auto& [l, n] : v) {
      if (l == level) return n;
    }
    return std::nullopt;
  }
};

Control ReadControl(const std::string& path, int start_number) {
  Control c;
  if (path.empty()) return c;
  Result<std::string> text = ReadFileBounded(path, 1 << 16);
  if (!text) return c;
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string key;
    words >> key;
    if (!key.empty() && key[0] == '@') {
      if (std::atoi(key.c_str() + 1) != start_number) continue;
      words >> key;
    }
    std::string level;
    int n = 0;
    if (key == "crash-load") {
      words >> level;
      c.crash_load.push_back(level);
    } else if (key == "crash-run") {
      words >> level >> n;
      c.crash_run.emplace_back(level, n);
    } else if (key == "hang") {
      words >> level >> n;
      c.hang.emplace_back(level, n);
    } else if (key == "exit") {
      words >> level >> n;
      c.exit_code.emplace_back(level, n);
    } else if (key == "path-version") {
      uint64_t v = 0;
      words >> v;
      c.path_version = v;
    } else if (key == "default-version") {
      uint64_t v = 0;
      words >> v;
      c.default_version = v;
    } else if (key == "garbage") {
      c.garbage = true;
    } else if (key == "no-heartbeat") {
      c.no_heartbeat = true;
    } else if (key == "ignore-term") {
      c.ignore_term = true;
    } else if (key == "hb-ms") {
      words >> c.hb_ms;
    }
  }
  return c;
}

int CountStarts() {
  Result<std::string> text = ReadFileBounded(g_log_path, 1 << 24);
  if (!text) return 0;
  int n = 0;
  for (size_t at = 0; (at = text->find(" start ", at)) != std::string::npos; ++at) ++n;
  return n;
}

void RawWrite(int fd, std::string_view bytes) {
  ssize_t ignored = ::write(fd, bytes.data(), bytes.size());
  (void)ignored;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string fds = OpenFds();
  rlimit no_core{0, 0};
  ::setrlimit(RLIMIT_CORE, &no_core);  // abort() quickly, without a core file
  ::signal(SIGPIPE, SIG_IGN);

  std::string control_path, store_root, skip_arg, hb_arg, args;
  const std::pair<std::string_view, std::string*> flags[] = {{"--log", &g_log_path},
                                                             {"--control", &control_path},
                                                             {"--store", &store_root},
                                                             {kHeartbeatFdFlag, &hb_arg},
                                                             {kSkipLevelsFlag, &skip_arg}};
  for (int i = 1; i < argc; ++i) {
    args += fmt::format("{}{}", i > 1 ? " " : "", argv[i]);
    for (const auto& [flag, value] : flags) {
      if (flag == argv[i] && i + 1 < argc) *value = argv[i + 1];
    }
  }
  const int hb_fd = hb_arg.empty() ? -1 : std::atoi(hb_arg.c_str());
  if (g_log_path.empty()) return 2;
  const int start_number = CountStarts() + 1;
  Log(fmt::format("start fds={} skip={} args={}", fds, skip_arg.empty() ? "-" : skip_arg, args));
  const Control control = ReadControl(control_path, start_number);

  struct sigaction sa {};
  sa.sa_handler = [](int sig) { (sig == SIGHUP ? g_hup : g_term).store(true); };
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGHUP, &sa, nullptr);
  if (control.ignore_term) {
    ::signal(SIGTERM, SIG_IGN);
  } else {
    ::sigaction(SIGTERM, &sa, nullptr);
  }

  std::optional<WorkerChannel> channel;
  if (hb_fd >= 0) {
    Result<WorkerChannel> ch = WorkerChannel::Adopt(hb_fd);
    if (!ch) {
      Log("bad heartbeat fd: " + ch.error().ToString());
      return 3;
    }
    channel = std::move(*ch);
  }
  auto send = [&](const WorkerMessage& m) {
    if (channel) (void)channel->Send(m);
  };
  if (control.garbage && hb_fd >= 0) {
    const int fd = channel->fd();
    RawWrite(fd, "bogus\n");
    RawWrite(fd, std::string(300, 'x') + "\n");
    RawWrite(fd, std::string("\0\xff\x01", 3) + "\n");
    RawWrite(fd, "trying nowhere 1\nrunning active -3\ndegraded 7\n hb\nhb \n");
    RawWrite(fd, std::string(5000, 'y'));  // an overlong line, ended below
    RawWrite(fd, "\nhb\n");
  }

  // The level chain, like the real worker's.
  std::vector<ContentLevel> skip;
  if (Result<std::vector<ContentLevel>> s = ParseContentLevelList(skip_arg)) skip = *s;
  std::optional<ContentStore> store;
  StoreState state;
  if (!store_root.empty()) {
    if (Result<ContentStore> s = ContentStore::OpenReadOnly(PosixStoreFs(), store_root)) {
      store = std::move(*s);
      if (Result<StoreState> st = store->ReadState()) state = *st;
    }
  }
  for (const std::string& name : state.skipped_levels) {
    if (Result<ContentLevel> l = ParseContentLevel(name)) skip.push_back(*l);
  }
  auto skipped = [&](ContentLevel l) { return std::find(skip.begin(), skip.end(), l) != skip.end(); };
  struct Offer {
    ContentLevel level;
    uint64_t version;
  };
  std::vector<Offer> chain;
  if (control.path_version) chain.push_back({ContentLevel::kPath, *control.path_version});
  if (store && store->HasSlot(Slot::kActive)) chain.push_back({ContentLevel::kActive, state.active_version});
  if (store && store->HasSlot(Slot::kLkg)) chain.push_back({ContentLevel::kLkg, state.lkg_version});
  if (control.default_version) chain.push_back({ContentLevel::kDefault, *control.default_version});
  chain.push_back({ContentLevel::kBuiltin, 0});

  Offer running{ContentLevel::kBuiltin, 0};
  for (const Offer& o : chain) {
    if (o.level != ContentLevel::kBuiltin && skipped(o.level)) continue;
    send(WorkerMessage::Trying(o.level, o.version));
    if (control.CrashLoad(ContentLevelName(o.level))) std::abort();
    running = o;
    break;
  }
  send(WorkerMessage::Running(running.level, running.version));
  Log(fmt::format("running {} {}", ContentLevelName(running.level), running.version));
  if (store && store->HasSlot(Slot::kCandidate) && !skipped(ContentLevel::kCandidate)) {
    send(WorkerMessage::Trying(ContentLevel::kCandidate, state.candidate_version));
    if (control.CrashLoad("candidate")) std::abort();
    Log(fmt::format("shadow candidate {}", state.candidate_version));
  }

  const std::string level(ContentLevelName(running.level));
  const int64_t running_at = MonoMs();
  const std::optional<int> crash_after = Control::Find(control.crash_run, level);
  const std::optional<int> hang_after = Control::Find(control.hang, level);
  const std::optional<int> exit_code = Control::Find(control.exit_code, level);
  if (exit_code) {
    Log(fmt::format("exit {}", *exit_code));
    return *exit_code;
  }
  for (;;) {
    if (g_term.load()) {
      Log("term");
      return 0;
    }
    if (g_hup.exchange(false)) Log("hup");
    const int64_t ran = MonoMs() - running_at;
    if (crash_after && ran >= *crash_after) std::abort();
    if (hang_after && ran >= *hang_after) {
      if (!control.no_heartbeat) send(WorkerMessage::Heartbeat());  // the last one: "hang" times the silence
      Log("hang");
      for (;;) ::pause();  // no heartbeats, ever; SIGTERM's flag is never looked at
    }
    if (!control.no_heartbeat) send(WorkerMessage::Heartbeat());
    std::this_thread::sleep_for(std::chrono::milliseconds(control.hb_ms));
  }
}
