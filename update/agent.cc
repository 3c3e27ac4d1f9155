#include "update/agent.h"

#include <ctime>
#include <optional>

#include "content/bundle.h"
#include "content/bundle_file.h"
#include "update/bundle_signature.h"
#include "update/text_format.h"
#include "update/url.h"

namespace vigil::update {

std::string_view RefusalName(Refusal r) {
  switch (r) {
    case Refusal::kMalformed:
      return "malformed";
    case Refusal::kSignature:
      return "signature";
    case Refusal::kExpired:
      return "expired";
    case Refusal::kDowngrade:
      return "downgrade";
    case Refusal::kChannel:
      return "channel";
    case Refusal::kMismatch:
      return "mismatch";
    case Refusal::kHash:
      return "hash";
    case Refusal::kSize:
      return "size";
    case Refusal::kVerify:
      return "verify";
  }
  return "unknown";
}

// What one poll did, for the counters.
struct UpdateAgent::Outcome {
  Status status;                   // Ok: nothing to do, or delivered
  std::optional<Refusal> refusal;  // set when content was refused
  bool fetch_failure = false;
  bool skipped_known_bad = false;
  bool deliver_failure = false;
  bool delivered = false;
  bool cancelled = false;  // Stop() aborted a transfer: not a failure of the poll
  uint64_t version = 0;

  static Outcome Ok() { return {}; }
  static Outcome Refuse(Refusal r, Status s) {
    Outcome o;
    o.refusal = r;
    o.status = std::move(s);
    return o;
  }
  static Outcome FetchFailed(Status s, bool cancelled) {
    Outcome o;
    o.fetch_failure = true;
    o.cancelled = cancelled;
    o.status = std::move(s);
    return o;
  }
};

Result<std::unique_ptr<UpdateAgent>> UpdateAgent::Create(UpdateAgentOptions options, TrustRoot trust_root,
                                                         const Schema& schema, Callbacks callbacks) {
  if (Result<ParsedUrl> u = ParseHttpUrl(options.manifest_url); !u) {
    return Error(Code::kInvalidArgument, "update agent: manifest_url: {}", u.error().message());
  }
  if (!IsValidChannel(options.channel)) {
    return Error(Code::kInvalidArgument,
                 "update agent: channel \"{}\" is not a valid channel name (1..{} of [A-Za-z0-9._-])", options.channel,
                 kMaxChannelBytes);
  }
  if (options.max_manifest_bytes == 0 || options.max_manifest_bytes > kMaxManifestBytes) {
    return Error(Code::kInvalidArgument, "update agent: max_manifest_bytes must be 1..{}", kMaxManifestBytes);
  }
  if (options.max_bundle_bytes == 0 || options.max_bundle_bytes > content::kMaxBundleBytes) {
    return Error(Code::kInvalidArgument, "update agent: max_bundle_bytes must be 1..{}", content::kMaxBundleBytes);
  }
  using std::chrono::milliseconds;
  if (options.poll_interval <= milliseconds(0) || options.timeout <= milliseconds(0) ||
      options.connect_timeout <= milliseconds(0) || options.backoff_min <= milliseconds(0) ||
      options.backoff_max < options.backoff_min || !(options.backoff_factor >= 1.0)) {
    return Error(Code::kInvalidArgument,
                 "update agent: poll_interval, timeout, connect_timeout and backoff_min must be positive, "
                 "backoff_max >= backoff_min and backoff_factor >= 1");
  }
  if (Result<TrustRoot> r = MakeTrustRoot(trust_root.threshold, trust_root.keys); !r) {
    return Error(Code::kInvalidArgument, "update agent: trust root: {}", r.error().message());
  }
  if (!callbacks.current_version || !callbacks.deliver) {
    return Error(Code::kInvalidArgument, "update agent: current_version and deliver callbacks are required");
  }
  return std::unique_ptr<UpdateAgent>(
      new UpdateAgent(std::move(options), std::move(trust_root), schema, std::move(callbacks)));
}

UpdateAgent::UpdateAgent(UpdateAgentOptions options, TrustRoot trust_root, const Schema& schema, Callbacks callbacks)
    : options_(std::move(options)),
      trust_root_(std::move(trust_root)),
      schema_(schema),
      callbacks_(std::move(callbacks)),
      backoff_({options_.backoff_min, options_.backoff_max, options_.backoff_factor}, options_.rng_seed),
      next_wait_(options_.poll_interval) {}

UpdateAgent::~UpdateAgent() { Stop(); }

void UpdateAgent::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  cancel_.Reset();
  thread_ = std::thread([this] { Run(); });
}

void UpdateAgent::Stop() {
  std::thread thread;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!thread_.joinable()) return;
    stopping_ = true;
    thread = std::move(thread_);
  }
  wake_.notify_all();
  cancel_.Cancel();
  thread.join();
  cancel_.Reset();
}

void UpdateAgent::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    lock.unlock();
    (void)PollOnce();  // counted and logged through stats()
    lock.lock();
    wake_.wait_for(lock, next_wait_, [this] { return stopping_; });
  }
}

UpdateAgentStats UpdateAgent::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

int64_t UpdateAgent::Now() const {
  return options_.now_unix ? options_.now_unix() : static_cast<int64_t>(std::time(nullptr));
}

Status UpdateAgent::PollOnce() {
  std::lock_guard<std::mutex> poll_lock(poll_mu_);
  Outcome outcome = Poll();
  Record(outcome);
  return outcome.status;
}

void UpdateAgent::Record(const Outcome& o) {
  if (o.cancelled) return;
  std::lock_guard<std::mutex> lock(mu_);
  ++stats_.polls;
  if (o.status.ok()) {
    backoff_.Reset();
    next_wait_ = backoff_.Spread(options_.poll_interval, options_.poll_jitter);
    stats_.consecutive_failures = 0;
    stats_.last_success_unix = Now();
    if (o.delivered) {
      ++stats_.accepted;
      stats_.last_accepted_version = o.version;
    }
  } else {
    next_wait_ = backoff_.Next();
    ++stats_.consecutive_failures;
    stats_.last_failure_unix = Now();
    stats_.last_error = o.status.ToString();
    if (o.refusal) ++stats_.refusals[static_cast<size_t>(*o.refusal)];
    if (o.fetch_failure) ++stats_.fetch_failures;
    if (o.skipped_known_bad) ++stats_.skipped_known_bad;
    if (o.deliver_failure) ++stats_.deliver_failures;
  }
  stats_.next_wait_ms = next_wait_.count();
}

Result<std::string> UpdateAgent::Get(const std::string& url, size_t max_bytes) {
  FetchOptions fo;
  fo.max_bytes = max_bytes;
  fo.timeout = options_.timeout;
  fo.connect_timeout = options_.connect_timeout;
  fo.read_timeout = options_.timeout;
  fo.ca_file = options_.ca_file;
  return Fetch(url, fo, &cancel_);
}

const std::string* UpdateAgent::RefusedBefore(uint64_t version, const Digest& hash) const {
  for (const Refused& r : refused_) {
    if (r.version == version && r.hash == hash) return &r.reason;
  }
  return nullptr;
}

void UpdateAgent::RememberRefused(uint64_t version, const Digest& hash, const std::string& reason) {
  if (RefusedBefore(version, hash) != nullptr) return;
  if (refused_.size() == kMaxRemembered) refused_.erase(refused_.begin());
  refused_.push_back({version, hash, reason});
}

UpdateAgent::Outcome UpdateAgent::Poll() {
  const std::string& manifest_url = options_.manifest_url;
  // 1. The manifest.
  Result<std::string> text = Get(manifest_url, options_.max_manifest_bytes);
  if (!text) {
    if (text.error().code() == Code::kLimitExceeded) return Outcome::Refuse(Refusal::kMalformed, text.error());
    return Outcome::FetchFailed(text.error(), cancel_.cancelled());
  }
  // 2. Structure, signatures, expiry.
  Result<Manifest> m = ParseManifest(*text, manifest_url);
  if (!m) return Outcome::Refuse(Refusal::kMalformed, m.error());
  if (Status s = CheckManifestSignatures(*text, *m, trust_root_); !s.ok()) {
    return Outcome::Refuse(Refusal::kSignature, Status(s.code(), fmt::format("{}: {}", manifest_url, s.message())));
  }
  int64_t now = Now();
  if (Status s = CheckManifestFresh(*m, now); !s.ok()) {
    return Outcome::Refuse(Refusal::kExpired, Status(s.code(), fmt::format("{}: {}", manifest_url, s.message())));
  }
  // 3. Channel.
  if (m->channel != options_.channel) {
    return Outcome::Refuse(
        Refusal::kChannel,
        Status(Code::kVerifyFailed, fmt::format("{}: manifest is for channel \"{}\"; this host follows \"{}\"",
                                                manifest_url, m->channel, options_.channel)));
  }
  // 4. Version.
  uint64_t current = callbacks_.current_version();
  if (m->content_version == current) return Outcome::Ok();
  if (m->content_version < current) {
    return Outcome::Refuse(Refusal::kDowngrade,
                           Status(Code::kVerifyFailed, fmt::format("{}: downgrade from v{} to v{} refused",
                                                                   manifest_url, current, m->content_version)));
  }
  std::string version = fmt::format("v{}", m->content_version);
  // 5. Already refused for its content?
  if (const std::string* why = RefusedBefore(m->content_version, m->bundle_blake2b)) {
    Outcome o;
    o.skipped_known_bad = true;
    o.status =
        Status(Code::kVerifyFailed, fmt::format("{} was refused before and is not fetched again ({})", version, *why));
    return o;
  }
  // 6. The bundle, bounded by what the manifest announced.
  if (m->bundle_size > options_.max_bundle_bytes) {
    return Outcome::Refuse(
        Refusal::kSize,
        Status(Code::kLimitExceeded, fmt::format("{}: the manifest announces a bundle of {} bytes; the limit is {}",
                                                 version, m->bundle_size, options_.max_bundle_bytes)));
  }
  Result<std::string> bundle_url = ResolveBundleUrl(manifest_url, m->bundle_url);
  if (!bundle_url) return Outcome::Refuse(Refusal::kMalformed, bundle_url.error());
  Result<std::string> bundle = Get(*bundle_url, static_cast<size_t>(m->bundle_size));
  if (!bundle) {
    if (bundle.error().code() == Code::kLimitExceeded) {
      return Outcome::Refuse(
          Refusal::kSize,
          Status(Code::kLimitExceeded, fmt::format("{}: larger than the {} bytes the manifest announced: {}", version,
                                                   m->bundle_size, bundle.error().message())));
    }
    return Outcome::FetchFailed(bundle.error(), cancel_.cancelled());
  }
  // 7. Exactly the bytes the manifest describes.
  if (bundle->size() != m->bundle_size) {
    return Outcome::Refuse(
        Refusal::kSize, Status(Code::kVerifyFailed, fmt::format("{} from {}: {} bytes; the manifest says {}", version,
                                                                *bundle_url, bundle->size(), m->bundle_size)));
  }
  Digest hash = Blake2b256(*bundle);
  if (hash != m->bundle_blake2b) {
    return Outcome::Refuse(
        Refusal::kHash, Status(Code::kVerifyFailed, fmt::format("{} from {}: BLAKE2b {} differs from the manifest's {}",
                                                                version, *bundle_url, DigestToHex(hash).substr(0, 16),
                                                                DigestToHex(m->bundle_blake2b).substr(0, 16))));
  }
  auto refuse_content = [&](Refusal r, Status s) {
    RememberRefused(m->content_version, hash, s.message());
    return Outcome::Refuse(r, std::move(s));
  };
  // 8. The bundle's own signatures.
  if (Status s = VerifyBundleSignatures(*bundle, trust_root_); !s.ok()) {
    return refuse_content(Refusal::kSignature,
                          Status(s.code(), fmt::format("{} from {}: {}", version, *bundle_url, s.message())));
  }
  // 9. The bundle is what the manifest says it is.
  Result<BundleIdentity> id = ReadBundleIdentity(*bundle);
  if (!id) return refuse_content(Refusal::kSignature, id.error());
  if (id->channel != m->channel || id->content_version != m->content_version) {
    return refuse_content(
        Refusal::kMismatch,
        Status(Code::kVerifyFailed,
               fmt::format("{} from {}: the bundle header says channel \"{}\" v{}; the manifest says "
                           "channel \"{}\" v{}",
                           version, *bundle_url, id->channel, id->content_version, m->channel, m->content_version)));
  }
  // 10. The content: structure, checksum, verifier against this sensor's schema, expiry.
  content::Diagnostics diags;
  Result<content::Ruleset> rs = content::LoadBundleBytes(*bundle, *bundle_url, schema_, diags, now);
  if (!rs) {
    std::string detail;
    size_t shown = 0;
    for (const content::Diagnostic& d : diags.list()) {
      if (d.severity != content::Severity::kError) continue;
      if (++shown > 5) {
        detail += fmt::format("; and {} more", diags.error_count() - 5);
        break;
      }
      detail += "; " + content::Diagnostics::Format(d);
    }
    return refuse_content(Refusal::kVerify,
                          Status(rs.error().code(), fmt::format("{}: {}{}", version, rs.error().message(), detail)));
  }
  // 11. Hand over.
  if (Status s = callbacks_.deliver(*m, std::move(*bundle)); !s.ok()) {
    Outcome o;
    o.deliver_failure = true;
    o.status = Status(s.code(), fmt::format("{}: delivery failed: {}", version, s.message()));
    return o;
  }
  Outcome o;
  o.delivered = true;
  o.version = m->content_version;
  return o;
}

}  // namespace vigil::update
