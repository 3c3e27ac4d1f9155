// vigild: the vigil sensor daemon. Runs in the foreground; alerts to stdout
// unless configured otherwise. See docs/vigild.md and docs/config.md.
#include <csignal>
#include <cstdio>
#include <pthread.h>
#include <thread>

#include <CLI/CLI.hpp>

#include "base/log.h"
#include "sensor/config.h"
#include "sensor/daemon.h"

int main(int argc, char** argv) {
  using namespace vigil;
  SetLogProgramName("vigild");
  CLI::App app{"vigild: the vigil EDR sensor"};
  std::string config_path, content, alerts, record;
  app.add_option("--config", config_path, "Configuration file (TOML); defaults apply without one");
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

  Result<std::unique_ptr<sensor::Daemon>> daemon = sensor::Daemon::Create(std::move(config));
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
