// Metrics in the Prometheus text exposition format, served over HTTP on a
// loopback address or a unix socket (never a public interface: the address
// is checked).
//
//   Metrics m;
//   Counter& ev = m.AddCounter("vigil_events_total", "Events by type", {{"type", "exec"}});
//   ev.Add(1);
//   Histogram& lat = m.AddHistogram("vigil_eval_seconds", "Evaluation latency", {1e-6, 1e-5, 1e-4});
//   lat.Observe(3e-6);
//   m.SetGauge("vigil_degraded", "1 when ...", {}, 1.0);
//   auto server = MetricsServer::Start("127.0.0.1:9464", m);  // GET /metrics
//
// Names and label names must match [a-zA-Z_:][a-zA-Z0-9_:]* and one name has
// one type: breaking either is a programming error and aborts at startup.
// Label values and help texts may hold anything; Render() escapes them.
//
// The unix: transport is vigil's own (Debian 12's cpp-httplib 0.11 cannot
// listen on a unix socket): one connection at a time, HTTP/1.0-style
// "Connection: close", 2 s per request. TCP uses cpp-httplib with two worker
// threads and 5 s read/write timeouts.
//
// Thread-safety: registration (Add*) from any thread (a mutex, it is rare);
// updates (Add, Observe, Set) from any thread, lock-free; Render() from any
// thread. MetricsServer: create and destroy from one thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"

namespace vigil::sensor {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void Add(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  void Set(uint64_t v) { value_.store(v, std::memory_order_relaxed); }  // mirror of an external counter
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Buckets are the upper bounds, sorted and deduplicated here (+Inf is
// implicit). count() is derived from the buckets so _count always equals the
// +Inf bucket; _sum may trail them by an in-flight Observe().
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double v);
  // Cumulative counts per bound (+Inf last), sum, count.
  std::vector<uint64_t> cumulative() const;
  double sum() const;
  uint64_t count() const;
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds_.size() + 1, not cumulative
  std::atomic<double> sum_{0};
};

class Metrics {
 public:
  Metrics();
  ~Metrics();
  // The returned references stay valid for the life of Metrics. Adding the
  // same name+labels twice returns the existing one.
  Counter& AddCounter(const std::string& name, const std::string& help, const Labels& labels = {});
  Gauge& AddGauge(const std::string& name, const std::string& help, const Labels& labels = {});
  Histogram& AddHistogram(const std::string& name, const std::string& help, std::vector<double> bounds,
                          const Labels& labels = {});
  // The exposition text (text/plain; version=0.0.4): families in
  // registration order, each with HELP and TYPE once, series in order.
  std::string Render() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class MetricsServer {
 public:
  // "127.0.0.1:PORT", "[::1]:PORT", "localhost:PORT" or "unix:/path" (see
  // ParseListenAddress in sensor/config.h). Refuses non-loopback addresses
  // (kInvalidArgument) and reports bind failures (kIo). Serves GET /metrics
  // on its own thread; `metrics` must outlive the server. A stale socket
  // file at a unix: path is replaced; any other file there is refused.
  static Result<std::unique_ptr<MetricsServer>> Start(const std::string& listen, const Metrics& metrics);
  ~MetricsServer();  // stops the thread, closes (and unlinks a unix socket)
  std::string address() const;  // the bound address (port resolved if 0 was asked)

 private:
  struct Impl;
  explicit MetricsServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil::sensor
