// The update agent: polls a signed manifest, fetches the bundle it names,
// checks everything, and hands over only fully verified content.
// Protocol and refusals in docs/manifest.md ("The update agent").
//
//   UpdateAgent::Callbacks cb;
//   cb.current_version = [&] { return std::max(state.version_floor, state.active_version); };
//   cb.deliver = [&](const Manifest& m, std::string bundle) {
//     return store.WriteSlot(Slot::kCandidate, bundle);   // then start shadow evaluation
//   };
//   UpdateAgentOptions o;
//   o.manifest_url = "https://cdn.example/vigil/stable/manifest";
//   Result<std::unique_ptr<UpdateAgent>> agent =
//       UpdateAgent::Create(o, *LoadTrustRoot("/etc/vigil/trust.root"), Schema::Builtin(), cb);
//   (*agent)->Start();                  // polls on its own thread
//   UpdateAgentStats s = (*agent)->stats();   // for /metrics
//   (*agent)->Stop();                   // prompt: wakes a sleeping poll, aborts a transfer
//
// One poll, in order; the first failure ends it:
//   1. GET the manifest (at most max_manifest_bytes, `timeout`);
//   2. VerifyManifest: structure, k-of-n signatures, expiry;
//   3. its channel must equal options.channel;
//   4. its content version against current_version(): equal = nothing to do,
//      lower = "downgrade from vN to vM", higher = go on;
//   5. a version whose bundle (same version and hash) was already refused for
//      its content is not fetched again;
//   6. GET the bundle (at most min(manifest bundle-size, max_bundle_bytes));
//   7. its size and BLAKE2b-256 must equal the manifest's;
//   8. VerifyBundleSignatures against the trust root;
//   9. the bundle header's channel and content version must equal the
//      manifest's (both are signed; a disagreement is a publishing error);
//  10. content::LoadBundleBytes: structure, checksum, Verify() against the
//      schema, expiry;
//  11. deliver(manifest, bytes). Only here does content leave the agent.
// After a poll that failed (network, refusal, deliver error) the next one
// waits a backoff drawn with full jitter (update/backoff.h) instead of
// poll_interval; a poll that succeeds (nothing to do, or delivered) resets it.
// A bundle refused for its content (steps 8-10) is remembered by version and
// hash and not fetched again; a newer version, or the same version with other
// bytes, is tried. Size and hash mismatches are not remembered: they describe
// a transfer or a mirror, not the content, and may heal.
//
// Ownership and threads: the agent owns one thread (between Start and Stop)
// and copies its options and trust root; `schema` must outlive it. The
// callbacks run on the agent's thread (or PollOnce's caller) and must not
// call Stop(). Stop() returns within ~100 ms, also during a transfer, except
// while a TCP connect or DNS lookup is pending (bounded by connect_timeout,
// update/fetch.h). stats() is safe from any thread. PollOnce() is for tests
// and tools; calls are serialized with the agent's own polls.
#pragma once

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/status.h"
#include "schema/schema.h"
#include "update/backoff.h"
#include "update/fetch.h"
#include "update/manifest.h"
#include "update/trust_root.h"

namespace vigil::update {

struct UpdateAgentOptions {
  std::string manifest_url;  // http:// or https://
  std::string channel = "stable";
  std::chrono::milliseconds poll_interval{300'000};
  double poll_jitter = 0.2;  // each regular wait is poll_interval +- this fraction (uniform)
  size_t max_manifest_bytes = kMaxManifestBytes;  // 64 KiB
  size_t max_bundle_bytes = 64 << 20;             // also capped by the manifest's bundle-size
  std::chrono::milliseconds timeout{60'000};      // one download, start to end
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds backoff_min{10'000};
  std::chrono::milliseconds backoff_max{3'600'000};
  double backoff_factor = 2.0;
  std::string ca_file;                // "" = the system's CA store
  uint64_t rng_seed = 0;              // backoff and poll jitter; 0 = random
  std::function<int64_t()> now_unix;  // clock for expiry checks; empty = time(nullptr)
};

// Why a poll refused what it was offered. Stable names (RefusalName) are the
// `reason` label of the worker's metrics.
enum class Refusal {
  kMalformed,  // the manifest does not parse
  kSignature,  // manifest or bundle signatures (incl. a bundle whose framing or checksum is broken)
  kExpired,    // the manifest is past its expiry
  kDowngrade,  // the manifest's version is below the host's
  kChannel,    // the manifest is for another channel than the host follows
  kMismatch,   // the bundle header's channel or version differs from the manifest's
  kHash,       // the bundle's BLAKE2b differs from the manifest's
  kSize,       // the bundle's size differs from the manifest's or exceeds max_bundle_bytes
  kVerify,     // content::LoadBundleBytes refused it (structure, verifier, expiry)
};
inline constexpr size_t kRefusalKinds = 9;
std::string_view RefusalName(Refusal r);  // "malformed", "signature", "expired", "downgrade", "channel",
                                          // "mismatch", "hash", "size", "verify"

struct UpdateAgentStats {
  uint64_t polls = 0;
  uint64_t fetch_failures = 0;                     // manifest or bundle transfer failed (network, HTTP, timeout)
  std::array<uint64_t, kRefusalKinds> refusals{};  // indexed by Refusal
  uint64_t skipped_known_bad = 0;                  // polls that saw an already refused bundle and did not fetch it
  uint64_t deliver_failures = 0;                   // deliver() returned an error
  uint64_t accepted = 0;                           // bundles delivered
  uint64_t last_accepted_version = 0;
  uint32_t consecutive_failures = 0;
  int64_t next_wait_ms = 0;       // what the polling thread waits after the last poll
  int64_t last_success_unix = 0;  // last poll that ended well (nothing to do, or delivered)
  int64_t last_failure_unix = 0;
  std::string last_error;  // the last failure's message; kept after later successes

  uint64_t refused(Refusal r) const { return refusals[static_cast<size_t>(r)]; }
};

class UpdateAgent {
 public:
  struct Callbacks {
    // The highest of the host's version floor and its active version.
    std::function<uint64_t()> current_version;
    // Called only with fully verified content (steps 1-10 above). An error is
    // counted (deliver_failures), backed off and retried at the next poll.
    std::function<Status(const Manifest&, std::string bundle)> deliver;
  };

  // Refuses (kInvalidArgument) a manifest URL that is not http(s), a channel
  // a manifest could not carry, bounds of zero or above the formats' limits,
  // a trust root that MakeTrustRoot would refuse, and missing callbacks.
  static Result<std::unique_ptr<UpdateAgent>> Create(UpdateAgentOptions options, TrustRoot trust_root,
                                                     const Schema& schema, Callbacks callbacks);
  ~UpdateAgent();  // Stop()s
  UpdateAgent(const UpdateAgent&) = delete;
  UpdateAgent& operator=(const UpdateAgent&) = delete;

  // Starts the polling thread (the first poll at once). No-op if running.
  void Start();
  // Stops and joins the thread; aborts a transfer in progress. Idempotent.
  void Stop();

  // One poll, steps 1-11. Ok: nothing to do, or content delivered. Otherwise
  // the reason, also counted in stats() and kept as last_error; the backoff
  // advances (or resets on Ok) exactly as for the polling thread's polls.
  Status PollOnce();

  UpdateAgentStats stats() const;

 private:
  UpdateAgent(UpdateAgentOptions options, TrustRoot trust_root, const Schema& schema, Callbacks callbacks);

  struct Outcome;
  Outcome Poll();
  void Run();
  void Record(const Outcome& outcome);
  Result<std::string> Get(const std::string& url, size_t max_bytes);
  int64_t Now() const;
  const std::string* RefusedBefore(uint64_t version, const Digest& hash) const;
  void RememberRefused(uint64_t version, const Digest& hash, const std::string& reason);

  const UpdateAgentOptions options_;
  const TrustRoot trust_root_;
  const Schema& schema_;
  const Callbacks callbacks_;

  FetchCanceller cancel_;  // Stop() cancels transfers through it
  std::mutex poll_mu_;     // serializes polls (thread and PollOnce)
  // Bundles refused for their content, newest last, at most kMaxRemembered.
  struct Refused {
    uint64_t version;
    Digest hash;
    std::string reason;
  };
  static constexpr size_t kMaxRemembered = 16;
  std::vector<Refused> refused_;  // guarded by poll_mu_

  mutable std::mutex mu_;  // guards the members below
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
  UpdateAgentStats stats_;
  Backoff backoff_;
  std::chrono::milliseconds next_wait_{0};
};

}  // namespace vigil::update
