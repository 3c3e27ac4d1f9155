// `vigil status` and `vigil recover`: the operator's view of the on-host
// content store (sensor/content_store.h, docs/content-store.md) and its
// offline repair.
//
//   vigil status [--store /var/lib/vigil/store] [--json]
//   vigil recover --root /mnt/sysimage [--store-path var/lib/vigil/store] [--dry-run] [--force]
//
//   CLI::App app;
//   StoreCommands store = AddStoreCommands(app);
//   app.parse(argc, argv);
//   if (std::optional<int> code = store.Run()) return *code;
//
// `status` only reads. `recover` needs no network and no running daemon: it
// is for a host that cannot boot because of its content, its disk mounted
// elsewhere (a USB stick's live system, a rescue shell).
//
// Thread-safety: run from main(), one command per process.
#pragma once

#include <memory>
#include <optional>
#include <string>

namespace CLI {
class App;
}

namespace vigil::cli {

struct StatusArgs {
  std::string store = "/var/lib/vigil/store";
  bool json = false;
};
// Exit 0 (a state file that does not parse is shown, not fatal); 1 if the
// directory is not a store.
int RunStatus(const StatusArgs& args);

struct RecoverArgs {
  std::string root;                                // the mounted system image
  std::string store_path = "var/lib/vigil/store";  // inside it
  bool dry_run = false;                            // print the plan, change nothing
  bool force = false;                              // even if the store is locked
};
// Quarantines candidate and active, restores lkg into active if it loads
// (else the built-in default content), resets the crash bookkeeping in the
// state (keeps the version floor). Prints every step. Exit 0 when the store
// was repaired (or, with --dry-run, could be), 1 otherwise.
int RunRecover(const RecoverArgs& args);

// The two subcommands, registered on `app`; Run() runs the one parsed, or
// returns nullopt if neither was.
class StoreCommands {
 public:
  std::optional<int> Run() const;

 private:
  friend StoreCommands AddStoreCommands(CLI::App& app);
  // Owned by the caller's App; the args live here, so StoreCommands must
  // outlive app.parse() (keep it in main's scope).
  CLI::App* status_ = nullptr;
  CLI::App* recover_ = nullptr;
  std::unique_ptr<StatusArgs> status_args_ = std::make_unique<StatusArgs>();
  std::unique_ptr<RecoverArgs> recover_args_ = std::make_unique<RecoverArgs>();
};
StoreCommands AddStoreCommands(CLI::App& app);

}  // namespace vigil::cli
