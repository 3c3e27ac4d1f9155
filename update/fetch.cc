#include "update/fetch.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include <httplib.h>

#include "update/url.h"

namespace vigil::update {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds kWatchdogTick{20};

enum class Abort { kNone, kSize, kDeadline, kCancelled };

struct Hop {
  std::string body;
  std::string location;  // set on a redirect
};

std::string Describe(httplib::Error e) {
  switch (e) {
    case httplib::Error::Connection:
      return "cannot connect";
    case httplib::Error::ConnectionTimeout:
      return "connect timed out";
    case httplib::Error::Read:
      return "read failed (timeout, or the connection closed early)";
    case httplib::Error::Write:
      return "write failed";
    case httplib::Error::SSLConnection:
      return "TLS handshake failed";
    case httplib::Error::SSLLoadingCerts:
      return "cannot load the CA certificates";
    case httplib::Error::SSLServerVerification:
      return "server certificate verification failed";
    default:
      return httplib::to_string(e);
  }
}

bool IsRedirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

// One request, no redirect following. `what` is "GET <original url>" (plus
// the redirect target) for messages.
Result<Hop> FetchOnce(const std::string& url, const std::string& what, const FetchOptions& options,
                      Clock::time_point start, Clock::time_point deadline, const FetchCanceller* cancel) {
  Result<ParsedUrl> u = ParseHttpUrl(url);
  if (!u) return Error(u.error().code(), "{}: {}", what, u.error().message());
  auto now = Clock::now();
  if (now >= deadline) {
    return Error(Code::kIo, "{}: deadline of {} ms passed before the request", what, options.timeout.count());
  }
  auto left = std::chrono::duration_cast<milliseconds>(deadline - now);

  httplib::Client client(u->scheme + "://" + u->authority);
  if (!client.is_valid()) return Error(Code::kInvalidArgument, "{}: the HTTP client refused the URL", what);
  auto bounded = [&](milliseconds m) { return std::max(milliseconds(1), std::min(m, left)); };
  client.set_connection_timeout(bounded(options.connect_timeout));
  client.set_read_timeout(bounded(options.read_timeout));
  client.set_write_timeout(bounded(options.read_timeout));
  client.set_keep_alive(false);
  client.set_follow_location(false);  // followed here, bounded, never to another client we cannot stop
  client.set_decompress(false);       // the bytes hashed are the bytes served
  client.set_url_encode(false);       // ParseHttpUrl admitted only printable ASCII
  if (u->scheme == "https") {
    client.enable_server_certificate_verification(true);
    if (!options.ca_file.empty()) client.set_ca_cert_path(options.ca_file);
  }

  std::atomic<Abort> abort{Abort::kNone};
  // Written by the thread running Get() (in the handlers), read after it.
  Hop hop;
  int status = 0;
  uint64_t content_length = 0;
  bool has_content_length = false;

  // The watchdog enforces the deadline and cancellation while Get() blocks:
  // stop() shuts the socket down, which wakes a blocked read. It repeats the
  // stop() because one that lands before the socket is connected is a no-op.
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  std::thread watchdog([&] {
    std::unique_lock<std::mutex> lock(mu);
    while (!cv.wait_for(lock, kWatchdogTick, [&] { return done; })) {
      Abort why = Abort::kNone;
      if (cancel != nullptr && cancel->cancelled()) {
        why = Abort::kCancelled;
      } else if (Clock::now() >= deadline) {
        why = Abort::kDeadline;
      }
      if (why == Abort::kNone) continue;
      Abort expected = Abort::kNone;
      abort.compare_exchange_strong(expected, why);
      lock.unlock();
      client.stop();
      lock.lock();
    }
  });

  httplib::Headers headers = {{"User-Agent", options.user_agent}, {"Accept", "*/*"}};
  auto on_response = [&](const httplib::Response& res) {
    if (abort.load() != Abort::kNone) return false;
    status = res.status;
    if (IsRedirect(status) && res.has_header("Location")) {
      hop.location = res.get_header_value("Location");
      return false;
    }
    if (status != 200) return false;
    if (res.has_header("Content-Length")) {
      std::string v = res.get_header_value("Content-Length");
      has_content_length = !v.empty() && v.size() <= 19 && v.find_first_not_of("0123456789") == std::string::npos;
      if (has_content_length) content_length = std::stoull(v);
      if (has_content_length && content_length > options.max_bytes) {
        Abort expected = Abort::kNone;
        abort.compare_exchange_strong(expected, Abort::kSize);
        return false;
      }
      if (has_content_length) hop.body.reserve(content_length);
    }
    return true;
  };
  auto on_data = [&](const char* data, size_t len) {
    if (abort.load() != Abort::kNone) return false;
    if (len > options.max_bytes - hop.body.size()) {
      Abort expected = Abort::kNone;
      abort.compare_exchange_strong(expected, Abort::kSize);
      return false;
    }
    if (Clock::now() >= deadline) {
      Abort expected = Abort::kNone;
      abort.compare_exchange_strong(expected, Abort::kDeadline);
      return false;
    }
    hop.body.append(data, len);
    return true;
  };
  httplib::Result res = client.Get(u->path, headers, on_response, on_data);
  {
    std::lock_guard<std::mutex> lock(mu);
    done = true;
  }
  cv.notify_all();
  watchdog.join();

  auto elapsed = std::chrono::duration_cast<milliseconds>(Clock::now() - start).count();
  switch (abort.load()) {
    case Abort::kSize:
      if (has_content_length && content_length > options.max_bytes) {
        return Error(Code::kLimitExceeded, "{}: Content-Length {} exceeds the limit of {} bytes", what, content_length,
                     options.max_bytes);
      }
      return Error(Code::kLimitExceeded, "{}: body exceeds the limit of {} bytes; transfer aborted", what,
                   options.max_bytes);
    case Abort::kDeadline:
      return Error(Code::kIo, "{}: deadline of {} ms passed after {} ms ({} bytes received); transfer aborted", what,
                   options.timeout.count(), elapsed, hop.body.size());
    case Abort::kCancelled:
      return Error(Code::kIo, "{}: cancelled", what);
    case Abort::kNone:
      break;
  }
  if (!hop.location.empty()) return hop;
  if (status != 0 && status != 200) {
    if (IsRedirect(status)) return Error(Code::kIo, "{}: HTTP {} without a Location header", what, status);
    return Error(status == 404 || status == 410 ? Code::kNotFound : Code::kIo, "{}: HTTP {}", what, status);
  }
  if (!res) return Error(Code::kIo, "{}: {} after {} ms", what, Describe(res.error()), elapsed);
  if (res->status != 200) return Error(Code::kIo, "{}: HTTP {}", what, res->status);
  if (has_content_length && hop.body.size() != content_length) {
    return Error(Code::kIo, "{}: {} bytes received, Content-Length said {}", what, hop.body.size(), content_length);
  }
  return hop;
}

}  // namespace

void FetchCanceller::Cancel() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_ = true;
  }
  cv_.notify_all();
}

void FetchCanceller::Reset() {
  std::lock_guard<std::mutex> lock(mu_);
  cancelled_ = false;
}

bool FetchCanceller::cancelled() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cancelled_;
}

bool FetchCanceller::WaitUntil(std::chrono::steady_clock::time_point deadline) const {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_until(lock, deadline, [&] { return cancelled_; });
}

Result<std::string> Fetch(const std::string& url, const FetchOptions& options, const FetchCanceller* cancel) {
  std::string what = "GET " + url;
  if (cancel != nullptr && cancel->cancelled()) return Error(Code::kIo, "{}: cancelled", what);
  if (!options.ca_file.empty() && ::access(options.ca_file.c_str(), R_OK) != 0) {
    return Error(Code::kInvalidArgument, "{}: CA file {} is not readable", what, options.ca_file);
  }
  auto start = Clock::now();
  auto deadline = start + options.timeout;
  std::string current = url;
  for (int redirects = 0;; ++redirects) {
    std::string label = current == url ? what : what + " (redirected to " + current + ")";
    Result<Hop> hop = FetchOnce(current, label, options, start, deadline, cancel);
    if (!hop) return Error(hop.error());
    if (hop->location.empty()) return std::move(hop->body);
    if (redirects == options.max_redirects) {
      return Error(Code::kIo, "{}: more than {} redirects", what, options.max_redirects);
    }
    Result<std::string> next = ResolveUrl(current, hop->location);
    if (!next) return Error(Code::kIo, "{}: bad redirect: {}", label, next.error().message());
    if (current.starts_with("https://") && !next->starts_with("https://")) {
      return Error(Code::kIo, "{}: refusing a redirect from https to {}", label, *next);
    }
    current = *next;
  }
}

}  // namespace vigil::update
