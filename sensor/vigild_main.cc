// vigild: the vigil sensor daemon. Runs in the foreground; alerts to stdout
// unless configured otherwise. See docs/vigild.md and docs/config.md.
#include <sys/prctl.h>

#include <limits.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <cstdio>
#include <pthread.h>
#include <optional>
#include <thread>

#include <CLI/CLI.hpp>

#include "base/log.h"
#include "sensor/config.h"
#include "sensor/daemon.h"
#include "sensor/supervisor.h"
#include "sensor/worker_protocol.h"

int main(int argc, char** argv) {
  using namespace vigil;
  SetLogProgramName("vigild");
  CLI::App app{"vigild: the vigil EDR sensor"};
  std::string config_path, content, alerts, record, skip_levels;
  bool worker = false, no_supervisor = false;
  int heartbeat_fd = -1;
  app.add_option("--config", config_path, "Configuration file (TOML); defaults apply without one");
  app.add_flag("--no-supervisor", no_supervisor, "Run as one process, without the supervisor (supervisor.enabled = false)");
  // Set by the supervisor when it starts its worker (docs/supervisor.md).
  app.add_flag("--worker", worker)->group("");
  app.add_option(std::string(sensor::kHeartbeatFdFlag), heartbeat_fd)->group("");
  app.add_option(std::string(sensor::kSkipLevelsFlag), skip_levels)->group("");
  app.add_option("--content", content, "Content bundle to load (overrides content.path)");
  app.add_option("--alerts", alerts, "Alerts as JSON lines to PATH, or - for stdout");
  app.add_option("--record", record, "Write every event as replay JSON lines to FILE");
  app.set_version_flag("--version", "vigild 0.1.0");
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }

  sensor::Config config;
  if (!config_path.empty()) {
    Result<sensor::Config> loaded = sensor::LoadConfig(config_path);
    if (!loaded) {
      LogError("configuration: {}", loaded.error().message());
      return 2;
    }
    config = std::move(*loaded);
  }
  if (!content.empty()) config.content_path = content;
  if (alerts == "-") {
    config.stdout_sink = true;
    config.jsonl_path.clear();
  } else if (!alerts.empty()) {
    config.stdout_sink = false;
    config.jsonl_path = alerts;
  }
  if (!record.empty()) config.record_path = record;
  if (!worker && !no_supervisor && config.supervisor) {
    // Supervisor: the worker is this binary again, with the same arguments.
    Result<sensor::SignalSource> signals = sensor::SignalSource::FromProcessSignals();
    if (!signals) {
      LogError("cannot start: {}", signals.error().ToString());
      return 1;
    }
    char exe[PATH_MAX];
    ssize_t n = ::readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0) {
      LogError("cannot start: /proc/self/exe: {}", std::strerror(errno));
      return 1;
    }
    sensor::SupervisorOptions opt;
    opt.worker_argv = {std::string(exe, static_cast<size_t>(n)), "--worker"};
    for (int i = 1; i < argc; ++i) opt.worker_argv.emplace_back(argv[i]);
    opt.store_root = config.store_path;
    opt.crash_threshold = static_cast<int>(config.crash_threshold);
    opt.crash_window = std::chrono::seconds(config.crash_window_seconds);
    opt.heartbeat_timeout = std::chrono::milliseconds(config.heartbeat_timeout_ms);
    return sensor::RunSupervisor(opt, *signals);
  }
  if (::geteuid() != 0) {
    LogWarning("not running as root: fanotify needs CAP_SYS_ADMIN and eBPF needs CAP_BPF+CAP_PERFMON");
  }

  // Signals go to one thread; every other thread blocks them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  sensor::DaemonOptions options;
  options.standalone = !worker;
  // Never blocked when enforcing: this binary, the CLI beside it, the config.
  char self_exe[PATH_MAX];
  if (ssize_t n = ::readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1); n > 0) {
    std::string self(self_exe, static_cast<size_t>(n));
    options.enforce_never_block.push_back(self);
    if (size_t slash = self.rfind('/'); slash != std::string::npos) {
      options.enforce_never_block.push_back(self.substr(0, slash + 1) + "vigil");
    }
  }
  if (!config_path.empty()) options.enforce_never_block.push_back(config_path);
  if (worker) options.enforce_allowed_pids.push_back(static_cast<int32_t>(::getppid()));  // the supervisor
  std::optional<sensor::WorkerChannel> channel;
  if (worker) {
    // Die with the supervisor: a worker must never outlive the process that
    // would restart or stop it. (The supervisor also sets this between fork
    // and exec; repeating it here costs nothing.)
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (heartbeat_fd >= 0) {
      Result<sensor::WorkerChannel> ch = sensor::WorkerChannel::Adopt(heartbeat_fd);
      if (!ch) {
        LogError("worker: {}", ch.error().ToString());
        return 2;
      }
      channel = std::move(*ch);
      options.report = [&channel](const std::string& line) { (void)channel->SendLine(line); };
    }
    Result<std::vector<sensor::ContentLevel>> skipped = sensor::ParseContentLevelList(skip_levels);
    if (!skipped) {
      LogError("worker: {}: {}", sensor::kSkipLevelsFlag, skipped.error().message());
      return 2;
    }
    for (sensor::ContentLevel l : *skipped) options.skip_levels.emplace_back(sensor::ContentLevelName(l));
  }

  Result<std::unique_ptr<sensor::Daemon>> daemon = sensor::Daemon::Create(std::move(config), std::move(options));
  if (!daemon) {
    LogError("cannot start: {}", daemon.error().ToString());
    return 1;
  }
  sensor::Daemon& d = **daemon;
  std::thread signals([&d, set] {
    for (;;) {
      int sig = 0;
      if (sigwait(&set, &sig) != 0) continue;
      if (sig == SIGHUP) {
        d.RequestReload();
        continue;
      }
      d.RequestStop();
      return;
    }
  });
  Status s = d.Run();
  if (!s.ok()) {
    LogError("cannot run: {}", s.ToString());
    // Run() failed before the signal thread had anything to stop: wake it.
    pthread_kill(signals.native_handle(), SIGTERM);
  }
  signals.join();
  return s.ok() ? 0 : 1;
}
