#include "sensor/metrics.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmath>
#include <limits>
#include <thread>

namespace vigil::sensor {
namespace {

TEST(Metrics, RenderGolden) {
  Metrics m;
  Counter& exec = m.AddCounter("vigil_events_total", "Events by type", {{"type", "exec"}});
  Counter& open = m.AddCounter("vigil_events_total", "ignored: the first help wins", {{"type", "open"}});
  Gauge& degraded = m.AddGauge("vigil_degraded", "1 when running on fallback content\nsee docs\\alerts");
  Gauge& odd = m.AddGauge("vigil_label_escape", "Escapes", {{"path", "C:\\dir \"x\"\nnext"}});
  Histogram& lat = m.AddHistogram("vigil_eval_seconds", "Evaluation latency", {1e-4, 1e-6, 1e-5, 1e-5},
                                  {{"worker", "0"}});
  exec.Add(3);
  open.Add();
  degraded.Set(1);
  odd.Set(-0.5);
  lat.Observe(1e-6);  // le is inclusive
  lat.Observe(3e-6);
  lat.Observe(5e-5);
  lat.Observe(1.0);
  EXPECT_EQ(&m.AddCounter("vigil_events_total", "", {{"type", "exec"}}), &exec);
  EXPECT_EQ(m.Render(),
            "# HELP vigil_events_total Events by type\n"
            "# TYPE vigil_events_total counter\n"
            "vigil_events_total{type=\"exec\"} 3\n"
            "vigil_events_total{type=\"open\"} 1\n"
            "# HELP vigil_degraded 1 when running on fallback content\\nsee docs\\\\alerts\n"
            "# TYPE vigil_degraded gauge\n"
            "vigil_degraded 1\n"
            "# HELP vigil_label_escape Escapes\n"
            "# TYPE vigil_label_escape gauge\n"
            "vigil_label_escape{path=\"C:\\\\dir \\\"x\\\"\\nnext\"} -0.5\n"
            "# HELP vigil_eval_seconds Evaluation latency\n"
            "# TYPE vigil_eval_seconds histogram\n"
            "vigil_eval_seconds_bucket{worker=\"0\",le=\"1e-06\"} 1\n"
            "vigil_eval_seconds_bucket{worker=\"0\",le=\"1e-05\"} 2\n"
            "vigil_eval_seconds_bucket{worker=\"0\",le=\"0.0001\"} 3\n"
            "vigil_eval_seconds_bucket{worker=\"0\",le=\"+Inf\"} 4\n"
            "vigil_eval_seconds_sum{worker=\"0\"} 1.000054\n"
            "vigil_eval_seconds_count{worker=\"0\"} 4\n");
}

TEST(Metrics, HistogramWithoutLabelsAndSpecialValues) {
  Metrics m;
  Histogram& h = m.AddHistogram("h", "H", {1, 2});
  h.Observe(std::numeric_limits<double>::quiet_NaN());
  Gauge& g = m.AddGauge("g", "G");
  g.Set(std::numeric_limits<double>::infinity());
  EXPECT_EQ(m.Render(),
            "# HELP h H\n# TYPE h histogram\n"
            "h_bucket{le=\"1\"} 0\nh_bucket{le=\"2\"} 0\nh_bucket{le=\"+Inf\"} 1\n"
            "h_sum NaN\nh_count 1\n"
            "# HELP g G\n# TYPE g gauge\ng +Inf\n");
}

TEST(Metrics, ConcurrentUpdatesAreExact) {
  Metrics m;
  Counter& c = m.AddCounter("c_total", "C");
  Histogram& h = m.AddHistogram("h", "H", {0.5});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100000; ++i) {
        c.Add();
        h.Observe(i % 2 ? 1.0 : 0.0);
      }
    });
  }
  std::thread renderer([&] {
    for (int i = 0; i < 50; ++i) (void)m.Render();
  });
  for (auto& t : threads) t.join();
  renderer.join();
  EXPECT_EQ(c.value(), 400000u);
  EXPECT_EQ(h.count(), 400000u);
  EXPECT_EQ(h.cumulative()[0], 200000u);
  EXPECT_EQ(h.sum(), 200000.0);
}

TEST(MetricsDeath, BadNamesAndTypeClashesAbort) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        Metrics m;
        m.AddCounter("9bad", "x");
      },
      "invalid metric name");
  EXPECT_DEATH(
      {
        Metrics m;
        m.AddCounter("x", "x");
        m.AddGauge("x", "x");
      },
      "different types");
}

TEST(MetricsServer, RefusesNonLoopback) {
  Metrics m;
  for (const char* listen : {"0.0.0.0:9464", "10.1.2.3:1", "[::]:9464", "example.com:80"}) {
    auto s = MetricsServer::Start(listen, m);
    ASSERT_FALSE(s) << listen;
    EXPECT_EQ(s.error().code(), Code::kInvalidArgument);
    EXPECT_NE(s.error().message().find("not a loopback address"), std::string::npos) << s.error().message();
  }
  auto s = MetricsServer::Start("0.0.0.0:9464", m);
  EXPECT_EQ(s.error().message(),
            "metrics listen 0.0.0.0:9464: not a loopback address: 0.0.0.0 (metrics are served on 127.0.0.0/8, "
            "[::1], localhost or unix:/path only)");
}

TEST(MetricsServer, ServesOverTcp) {
  Metrics m;
  m.AddCounter("vigil_up_total", "Up").Add(7);
  auto s = MetricsServer::Start("127.0.0.1:0", m);
  ASSERT_TRUE(s) << s.error().ToString();
  std::string address = (*s)->address();
  ASSERT_TRUE(address.starts_with("127.0.0.1:")) << address;
  int port = std::stoi(address.substr(10));
  ASSERT_GT(port, 0);

  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(2, 0);
  client.set_read_timeout(2, 0);
  auto res = client.Get("/metrics");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(res->body, m.Render());
  EXPECT_NE(res->body.find("vigil_up_total 7\n"), std::string::npos);
  auto missing = client.Get("/");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);

  // The port is taken while the server runs, and free again after.
  auto clash = MetricsServer::Start(address, m);
  ASSERT_FALSE(clash);
  EXPECT_EQ(clash.error().code(), Code::kIo);
  s->reset();
  auto again = MetricsServer::Start(address, m);
  EXPECT_TRUE(again) << again.error().ToString();
}

TEST(MetricsServer, StartStopQuickly) {
  Metrics m;
  for (int i = 0; i < 20; ++i) {
    auto s = MetricsServer::Start("127.0.0.1:0", m);
    ASSERT_TRUE(s);
  }
}

// A raw HTTP exchange over a unix socket, bounded by socket timeouts.
std::string UnixExchange(const std::string& path, const std::string& request) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  EXPECT_GE(fd, 0);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size())) {
    char buf[4096];
    ssize_t n;
    while ((n = ::recv(fd, buf, sizeof(buf), 0)) > 0) out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

TEST(MetricsServer, ServesOverUnixSocket) {
  Metrics m;
  m.AddGauge("vigil_degraded", "Degraded").Set(0);
  std::string path = "/tmp/vigil_metrics_test." + std::to_string(::getpid()) + ".sock";
  auto s = MetricsServer::Start("unix:" + path, m);
  ASSERT_TRUE(s) << s.error().ToString();
  EXPECT_EQ((*s)->address(), "unix:" + path);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);

  std::string body = m.Render();
  EXPECT_EQ(UnixExchange(path, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: " +
                std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
  EXPECT_TRUE(UnixExchange(path, "GET /nope HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404 "));
  EXPECT_TRUE(UnixExchange(path, "POST /metrics HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 405 "));
  EXPECT_TRUE(UnixExchange(path, std::string(9000, 'A')).starts_with("HTTP/1.1 431 "));
  // A client that never finishes its request is dropped after the budget and
  // does not wedge the server.
  int idle = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
  ASSERT_EQ(::connect(idle, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  EXPECT_TRUE(UnixExchange(path, "GET /metrics HTTP/1.0\r\n\r\n").starts_with("HTTP/1.1 200 "));
  ::close(idle);

  s->reset();
  EXPECT_NE(::access(path.c_str(), F_OK), 0) << "socket file should be unlinked";
}

TEST(MetricsServer, UnixReplacesStaleSocketRefusesOtherFiles) {
  Metrics m;
  std::string path = "/tmp/vigil_metrics_test_stale." + std::to_string(::getpid()) + ".sock";
  {
    auto s = MetricsServer::Start("unix:" + path, m);
    ASSERT_TRUE(s);
    // Simulate a crash: the file stays behind when nobody unlinks it.
    ASSERT_EQ(::link(path.c_str(), (path + ".keep").c_str()), 0);
  }
  ASSERT_EQ(::rename((path + ".keep").c_str(), path.c_str()), 0);
  auto s = MetricsServer::Start("unix:" + path, m);
  EXPECT_TRUE(s) << s.error().ToString();
  s->reset();

  std::string plain = "/tmp/vigil_metrics_test_plain." + std::to_string(::getpid());
  FILE* f = std::fopen(plain.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fclose(f);
  auto refused = MetricsServer::Start("unix:" + plain, m);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message().find("exists and is not a socket"), std::string::npos);
  ::unlink(plain.c_str());
}

}  // namespace
}  // namespace vigil::sensor
