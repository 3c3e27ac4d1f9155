#include "sensor/metrics.h"

#include <httplib.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>

#include "sensor/config.h"

namespace vigil::sensor {
namespace {

constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

[[noreturn]] void Die(const std::string& why) {
  std::fprintf(stderr, "vigil metrics: %s\n", why.c_str());
  std::abort();
}

bool ValidName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

// Prometheus floats: Go's spelling of the specials, shortest round-trip otherwise.
std::string FormatDouble(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", v);
}

void AppendEscaped(std::string& out, std::string_view s, bool quote) {
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (quote && c == '"') {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

// `{a="x",b="y"` without the closing brace, so histograms can add `le`.
std::string LabelPrefix(const Labels& labels) {
  std::string out;
  for (const auto& [name, value] : labels) {
    out += out.empty() ? "{" : ",";
    out += name;
    out += "=\"";
    AppendEscaped(out, value, true);
    out += '"';
  }
  return out;
}

std::string CloseLabels(const std::string& prefix) { return prefix.empty() ? std::string() : prefix + "}"; }

}  // namespace

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)) {
  std::erase_if(bounds_, [](double b) { return std::isnan(b) || std::isinf(b); });
  std::sort(bounds_.begin(), bounds_.end());
  bounds_.erase(std::unique(bounds_.begin(), bounds_.end()), bounds_.end());
  buckets_ = std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1);
}

void Histogram::Observe(double v) {
  // le is inclusive: v lands in the first bucket whose bound is >= v; NaN in +Inf.
  size_t i = std::isnan(v) ? bounds_.size() : std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin();
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::cumulative() const {
  std::vector<uint64_t> out(bounds_.size() + 1);
  uint64_t total = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    total += buckets_[i].load(std::memory_order_relaxed);
    out[i] = total;
  }
  return out;
}

double Histogram::sum() const { return sum_.load(std::memory_order_relaxed); }

uint64_t Histogram::count() const { return cumulative().back(); }

struct Metrics::Impl {
  enum class Type { kCounter, kGauge, kHistogram };
  struct Series {
    Labels labels;
    std::string label_prefix;
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<Histogram> histogram;
  };
  struct Family {
    std::string name;
    std::string help;
    Type type;
    std::vector<std::unique_ptr<Series>> series;
  };

  // Registration and Render hold it; updates never do.
  mutable std::mutex mu;
  std::vector<std::unique_ptr<Family>> families;

  // Returns the series, creating it (and its family) if new; `created` says which.
  Series& Find(const std::string& name, const std::string& help, Type type, const Labels& labels, bool& created) {
    if (!ValidName(name)) Die("invalid metric name: " + name);
    for (const auto& [label, value] : labels) {
      if (!ValidName(label) || label == "le") Die("invalid label name " + label + " on " + name);
    }
    Family* family = nullptr;
    for (auto& f : families) {
      if (f->name == name) family = f.get();
    }
    if (family == nullptr) {
      families.push_back(std::make_unique<Family>(Family{name, help, type, {}}));
      family = families.back().get();
    } else if (family->type != type) {
      Die("metric registered twice with different types: " + name);
    }
    for (auto& s : family->series) {
      if (s->labels == labels) {
        created = false;
        return *s;
      }
    }
    family->series.push_back(std::make_unique<Series>(Series{labels, LabelPrefix(labels), {}, {}, {}}));
    created = true;
    return *family->series.back();
  }
};

Metrics::Metrics() : impl_(std::make_unique<Impl>()) {}
Metrics::~Metrics() = default;

Counter& Metrics::AddCounter(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard lock(impl_->mu);
  bool created = false;
  Impl::Series& s = impl_->Find(name, help, Impl::Type::kCounter, labels, created);
  if (created) s.counter = std::make_unique<Counter>();
  return *s.counter;
}

Gauge& Metrics::AddGauge(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard lock(impl_->mu);
  bool created = false;
  Impl::Series& s = impl_->Find(name, help, Impl::Type::kGauge, labels, created);
  if (created) s.gauge = std::make_unique<Gauge>();
  return *s.gauge;
}

Histogram& Metrics::AddHistogram(const std::string& name, const std::string& help, std::vector<double> bounds,
                                 const Labels& labels) {
  std::lock_guard lock(impl_->mu);
  bool created = false;
  Impl::Series& s = impl_->Find(name, help, Impl::Type::kHistogram, labels, created);
  if (created) s.histogram = std::make_unique<Histogram>(std::move(bounds));
  return *s.histogram;
}

std::string Metrics::Render() const {
  std::lock_guard lock(impl_->mu);
  std::string out;
  for (const auto& f : impl_->families) {
    out += "# HELP " + f->name + " ";
    AppendEscaped(out, f->help, false);
    out += "\n# TYPE " + f->name + " ";
    out += f->type == Impl::Type::kCounter ? "counter" : f->type == Impl::Type::kGauge ? "gauge" : "histogram";
    out += '\n';
    for (const auto& s : f->series) {
      if (s->counter) {
        out += fmt::format("{}{} {}\n", f->name, CloseLabels(s->label_prefix), s->counter->value());
      } else if (s->gauge) {
        out += fmt::format("{}{} {}\n", f->name, CloseLabels(s->label_prefix), FormatDouble(s->gauge->value()));
      } else {
        const Histogram& h = *s->histogram;
        std::vector<uint64_t> cumulative = h.cumulative();
        std::string le_prefix = s->label_prefix.empty() ? "{" : s->label_prefix + ",";
        for (size_t i = 0; i < cumulative.size(); ++i) {
          std::string le = i < h.bounds().size() ? FormatDouble(h.bounds()[i]) : "+Inf";
          out += fmt::format("{}_bucket{}le=\"{}\"}} {}\n", f->name, le_prefix, le, cumulative[i]);
        }
        out += fmt::format("{}_sum{} {}\n", f->name, CloseLabels(s->label_prefix), FormatDouble(h.sum()));
        out += fmt::format("{}_count{} {}\n", f->name, CloseLabels(s->label_prefix), cumulative.back());
      }
    }
  }
  return out;
}

// ---- MetricsServer ----

namespace {

constexpr auto kUnixRequestBudget = std::chrono::seconds(2);
constexpr size_t kMaxRequestHeadBytes = 8192;
constexpr int kHttpTimeoutSeconds = 5;

// Sends all of `data` before `deadline`; gives up silently (the client is gone or stuck).
void SendAll(int fd, std::string_view data, std::chrono::steady_clock::time_point deadline) {
  while (!data.empty()) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return;
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return;
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
}

std::string HttpResponse(int status, std::string_view reason, std::string_view content_type, std::string_view body) {
  return fmt::format("HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
                     status, reason, content_type, body.size(), body);
}

}  // namespace

struct MetricsServer::Impl {
  const Metrics* metrics = nullptr;
  std::string address;
  std::thread thread;
  // TCP
  std::unique_ptr<httplib::Server> http;
  std::atomic<bool> http_done{false};  // listen_after_bind() returned
  // unix:
  std::string unix_path;
  int listen_fd = -1;
  int wake_fd = -1;  // eventfd: written by the destructor to stop the loop

  ~Impl() {
    if (http && thread.joinable()) {
      // httplib 0.11's stop() does nothing before the accept loop has
      // started, so wait for it (or for the loop to have ended on its own).
      while (!http->is_running() && !http_done.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      http->stop();
    }
    if (wake_fd >= 0) {
      uint64_t one = 1;
      [[maybe_unused]] ssize_t n = ::write(wake_fd, &one, sizeof(one));
    }
    if (thread.joinable()) thread.join();
    if (listen_fd >= 0) {
      ::close(listen_fd);
      ::unlink(unix_path.c_str());
    }
    if (wake_fd >= 0) ::close(wake_fd);
  }

  void ServeUnix() {
    for (;;) {
      pollfd p[2] = {{listen_fd, POLLIN, 0}, {wake_fd, POLLIN, 0}};
      if (::poll(p, 2, -1) < 0) {
        if (errno == EINTR) continue;
        return;
      }
      if (p[1].revents != 0) return;
      int client = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (client < 0) continue;  // the peer gave up before we got to it, or EMFILE: try again later
      HandleUnixClient(client);
      ::close(client);
    }
  }

  // One request per connection; the whole exchange is bounded by kUnixRequestBudget.
  void HandleUnixClient(int fd) {
    auto deadline = std::chrono::steady_clock::now() + kUnixRequestBudget;
    std::string head;
    char buf[1024];
    while (head.find("\r\n\r\n") == std::string::npos && head.find("\n\n") == std::string::npos) {
      if (head.size() > kMaxRequestHeadBytes) {
        return SendAll(fd, HttpResponse(431, "Request Header Fields Too Large", "text/plain", ""), deadline);
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return;
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return;
      ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n <= 0) return;
      head.append(buf, static_cast<size_t>(n));
    }
    std::string_view line(head);
    line = line.substr(0, line.find_first_of("\r\n"));
    std::string_view method = line.substr(0, line.find(' '));
    std::string_view target = line.size() > method.size() ? line.substr(method.size() + 1) : "";
    target = target.substr(0, target.find(' '));
    std::string_view path = target.substr(0, target.find('?'));
    if (path != "/metrics") return SendAll(fd, HttpResponse(404, "Not Found", "text/plain", "not found\n"), deadline);
    if (method != "GET" && method != "HEAD") {
      return SendAll(fd, HttpResponse(405, "Method Not Allowed", "text/plain", ""), deadline);
    }
    std::string body = metrics->Render();
    std::string response = HttpResponse(200, "OK", kContentType, body);
    if (method == "HEAD") response.resize(response.size() - body.size());
    SendAll(fd, response, deadline);
  }
};

MetricsServer::MetricsServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
MetricsServer::~MetricsServer() = default;

std::string MetricsServer::address() const { return impl_->address; }

Result<std::unique_ptr<MetricsServer>> MetricsServer::Start(const std::string& listen, const Metrics& metrics) {
  Result<ListenAddress> parsed = ParseListenAddress(listen);
  if (!parsed) return Error(Code::kInvalidArgument, "metrics listen {}: {}", listen, parsed.error().message());
  auto impl = std::make_unique<Impl>();
  impl->metrics = &metrics;

  if (parsed->is_unix) {
    const std::string& path = parsed->path;
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0) {
      if (!S_ISSOCK(st.st_mode)) {
        return Error(Code::kInvalidArgument, "metrics listen {}: {} exists and is not a socket", listen, path);
      }
      ::unlink(path.c_str());  // left behind by an earlier run
    }
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.data(), path.size());  // ParseListenAddress bounded the length
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return Error(Code::kIo, "metrics listen {}: socket: {}", listen, std::strerror(errno));
    // Owner and group only: metrics say what the sensor sees and misses.
    mode_t old_mask = ::umask(0117);
    int bound = ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
    int bind_errno = errno;
    ::umask(old_mask);
    if (bound != 0 || ::listen(fd, 16) != 0) {
      int err = bound != 0 ? bind_errno : errno;
      ::close(fd);
      return Error(Code::kIo, "metrics listen {}: {}", listen, std::strerror(err));
    }
    impl->listen_fd = fd;
    impl->unix_path = path;
    impl->wake_fd = ::eventfd(0, EFD_CLOEXEC);
    if (impl->wake_fd < 0) return Error(Code::kIo, "metrics listen {}: eventfd: {}", listen, std::strerror(errno));
    impl->address = "unix:" + path;
    impl->thread = std::thread([p = impl.get()] { p->ServeUnix(); });
    return std::unique_ptr<MetricsServer>(new MetricsServer(std::move(impl)));
  }

  auto http = std::make_unique<httplib::Server>();
  http->new_task_queue = [] { return new httplib::ThreadPool(2); };
  http->set_read_timeout(kHttpTimeoutSeconds, 0);
  http->set_write_timeout(kHttpTimeoutSeconds, 0);
  http->set_keep_alive_timeout(kHttpTimeoutSeconds);
  http->set_payload_max_length(kMaxRequestHeadBytes);
  // httplib's default also sets SO_REUSEPORT, which would let a second
  // process (a second vigild) bind the same port and take half the scrapes.
  http->set_socket_options([](int sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  const Metrics* m = &metrics;
  http->Get("/metrics", [m](const httplib::Request&, httplib::Response& res) {
    res.set_content(m->Render(), kContentType);
  });
  int port = parsed->port;
  if (port == 0) {
    port = http->bind_to_any_port(parsed->host);
    if (port < 0) return Error(Code::kIo, "metrics listen {}: cannot bind", listen);
  } else if (!http->bind_to_port(parsed->host, port)) {
    return Error(Code::kIo, "metrics listen {}: cannot bind (address in use?)", listen);
  }
  bool v6 = parsed->host.find(':') != std::string::npos;
  impl->address = fmt::format("{}{}{}:{}", v6 ? "[" : "", parsed->host, v6 ? "]" : "", port);
  impl->http = std::move(http);
  // The socket is already listening: connections made before the loop starts wait in the backlog.
  impl->thread = std::thread([p = impl.get()] {
    p->http->listen_after_bind();
    p->http_done.store(true);
  });
  return std::unique_ptr<MetricsServer>(new MetricsServer(std::move(impl)));
}

}  // namespace vigil::sensor
