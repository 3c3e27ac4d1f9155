// Test-only: a real HTTP server on 127.0.0.1 (an ephemeral port) in its own
// thread, serving canned responses, for fetch and agent tests. With
// `tls`, it serves HTTPS with a fresh self-signed certificate for 127.0.0.1
// (ca_file() is its PEM, to trust it).
//
//   TestHttpServer server;
//   server.Put("/manifest", text);
//   server.PutSlow("/b.vbundle", bytes, /*chunk=*/16, std::chrono::milliseconds(200));
//   Fetch(server.Url("/manifest"), options);
//
// Thread-safety: the Put*/hits methods may be called while requests are
// served. The destructor stops the server and waits for its handlers.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace httplib {
class Server;
}

namespace vigil::update::testing {

class TestHttpServer {
 public:
  explicit TestHttpServer(bool tls = false);
  ~TestHttpServer();
  TestHttpServer(const TestHttpServer&) = delete;
  TestHttpServer& operator=(const TestHttpServer&) = delete;

  int port() const { return port_; }
  // "http://127.0.0.1:<port><path>" (https with tls).
  std::string Url(const std::string& path) const;
  // The certificate as PEM (tls only), in a temp file removed by the destructor.
  const std::string& ca_file() const { return ca_file_; }

  // 200 with `body` and a Content-Length.
  void Put(const std::string& path, std::string body);
  // 200 with `body` sent `chunk` bytes at a time, sleeping `interval` before
  // each chunk; with `chunked`, as chunked transfer encoding (no Content-Length).
  void PutSlow(const std::string& path, std::string body, size_t chunk, std::chrono::milliseconds interval,
               bool chunked = false);
  // `status` with an optional Location header and no body.
  void PutStatus(const std::string& path, int status, const std::string& location = "");
  void Remove(const std::string& path);

  // Requests seen for `path` (whatever the response).
  size_t hits(const std::string& path) const;
  // Slow responses that have sent at least one chunk.
  size_t slow_started() const { return slow_started_.load(); }

 private:
  struct Route {
    int status = 200;
    std::string body;
    std::string location;
    size_t chunk = 0;  // 0 = all at once
    std::chrono::milliseconds interval{0};
    bool chunked = false;
  };

  std::string dir_;  // temp dir for the certificate and key (tls)
  std::string ca_file_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<size_t> slow_started_{0};
  mutable std::mutex mu_;
  std::map<std::string, Route> routes_;
  std::map<std::string, size_t> hits_;
};

}  // namespace vigil::update::testing
