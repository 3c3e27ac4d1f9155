// Bounded HTTP(S) GET for the update agent: a size bound enforced while the
// body arrives, an overall deadline, bounded redirects, certificate
// verification, and cancellation from another thread.
//
//   FetchOptions o;
//   o.max_bytes = 64 << 10;
//   o.timeout = std::chrono::seconds(60);
//   FetchCanceller cancel;                   // another thread may call cancel.Cancel()
//   Result<std::string> body = Fetch("https://cdn.example/vigil/stable/manifest", o, &cancel);
//   if (!body) LogWarning("{}", body.error().ToString());  // names the URL and the reason
//
// Errors (each message starts with "GET <url>: "):
//   kInvalidArgument  the URL is not http:// or https://, has user info, or
//                     the CA file is unreadable
//   kLimitExceeded    the body (or its Content-Length) is above max_bytes;
//                     the transfer is aborted as soon as that is known
//   kNotFound         HTTP 404 or 410
//   kIo               anything else: DNS, connect, TLS, a certificate that
//                     does not verify, HTTP status other than 200, too many
//                     redirects, a read timeout, the overall deadline,
//                     cancellation ("cancelled")
// Time bounds: connect and each read are bounded by connect_timeout and
// read_timeout, and the whole transfer (every redirect included) by
// `timeout`, which a watchdog enforces even while a read is blocked.
// Known limit: name resolution (getaddrinfo) and the TCP connect are not
// interruptible; they are bounded by connect_timeout (and by the system
// resolver's own timeout), so a deadline or Cancel() that falls inside them
// takes effect when they return.
//
// Thread-safety: Fetch() may run on several threads at once; a
// FetchCanceller may be shared and is thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <string>

#include "base/status.h"

namespace vigil::update {

struct FetchOptions {
  size_t max_bytes = 64 << 20;
  std::chrono::milliseconds timeout{60'000};          // the whole transfer, redirects included
  std::chrono::milliseconds connect_timeout{10'000};  // capped by what is left of `timeout`
  std::chrono::milliseconds read_timeout{30'000};     // longest silence; capped likewise
  int max_redirects = 3;                              // 301/302/303/307/308 followed; never from https to http
  std::string ca_file;                                // PEM CA bundle for https; "" = the system's store
  std::string user_agent = "vigil-update/1";
};

// Cancels the fetches that use it: Cancel() makes current ones fail within
// about 20 ms of their next chance (see the header comment for the connect
// phase) and later ones fail at once, until Reset().
class FetchCanceller {
 public:
  void Cancel();
  void Reset();
  bool cancelled() const;

  // Waits until Cancel() or `deadline`; true if cancelled.
  bool WaitUntil(std::chrono::steady_clock::time_point deadline) const;

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  bool cancelled_ = false;
};

Result<std::string> Fetch(const std::string& url, const FetchOptions& options, const FetchCanceller* cancel = nullptr);

}  // namespace vigil::update
