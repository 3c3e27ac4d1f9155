#include "update/testing/http_server.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include <httplib.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace vigil::update::testing {
namespace {

// A self-signed P-256 certificate for 127.0.0.1 (CN and IP SAN), valid from
// an hour ago for a day, written as PEM to dir/cert.pem and dir/key.pem.
void WriteSelfSignedCert(const std::string& dir) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  if (key == nullptr || cert == nullptr) std::abort();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), 86400);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("127.0.0.1"), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  for (const char* ext : {"subjectAltName=IP:127.0.0.1", "basicConstraints=critical,CA:TRUE"}) {
    std::string e(ext);
    size_t eq = e.find('=');
    X509_EXTENSION* x = X509V3_EXT_conf(nullptr, &ctx, e.substr(0, eq).c_str(), e.substr(eq + 1).c_str());
    if (x == nullptr) std::abort();
    X509_add_ext(cert, x, -1);
    X509_EXTENSION_free(x);
  }
  if (X509_sign(cert, key, EVP_sha256()) == 0) std::abort();
  FILE* f = std::fopen((dir + "/cert.pem").c_str(), "w");
  if (f == nullptr || PEM_write_X509(f, cert) != 1) std::abort();
  std::fclose(f);
  f = std::fopen((dir + "/key.pem").c_str(), "w");
  if (f == nullptr || PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr) != 1) std::abort();
  std::fclose(f);
  X509_free(cert);
  EVP_PKEY_free(key);
}

std::unique_ptr<httplib::Server> MakeServer(bool tls, std::string& dir, std::string& ca_file) {
  if (!tls) return std::make_unique<httplib::Server>();
  char tmpl[] = "/tmp/vigil_test_tls_XXXXXX";
  if (mkdtemp(tmpl) == nullptr) std::abort();
  dir = tmpl;
  WriteSelfSignedCert(dir);
  ca_file = dir + "/cert.pem";
  auto server = std::make_unique<httplib::SSLServer>(ca_file.c_str(), (dir + "/key.pem").c_str());
  if (!server->is_valid()) std::abort();
  return server;
}

}  // namespace

TestHttpServer::TestHttpServer(bool tls) : server_(MakeServer(tls, dir_, ca_file_)) {
  server_->Get(".*", [this](const httplib::Request& req, httplib::Response& res) {
    Route route;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++hits_[req.path];
      auto it = routes_.find(req.path);
      if (it == routes_.end()) {
        res.status = 404;
        return;
      }
      route = it->second;
    }
    res.status = route.status;
    if (!route.location.empty()) res.set_header("Location", route.location);
    if (route.status != 200) return;
    if (route.chunk == 0) {
      res.set_content(route.body, "application/octet-stream");
      return;
    }
    auto body = std::make_shared<std::string>(std::move(route.body));
    auto started = std::make_shared<bool>(false);
    auto send = [this, body, started, route](size_t offset, httplib::DataSink& sink) {
      if (offset >= body->size()) {
        sink.done();
        return true;
      }
      // Sleep in short steps so that stopping the server is prompt.
      auto until = std::chrono::steady_clock::now() + route.interval;
      while (std::chrono::steady_clock::now() < until) {
        if (stopping_.load()) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      size_t n = std::min(route.chunk, body->size() - offset);
      if (!sink.write(body->data() + offset, n)) return false;
      if (!*started) {
        *started = true;
        ++slow_started_;
      }
      return true;
    };
    if (route.chunked) {
      res.set_chunked_content_provider("application/octet-stream",
                                       [send](size_t offset, httplib::DataSink& sink) { return send(offset, sink); });
    } else {
      res.set_content_provider(body->size(), "application/octet-stream",
                               [send](size_t offset, size_t, httplib::DataSink& sink) { return send(offset, sink); });
    }
  });
  port_ = server_->bind_to_any_port("127.0.0.1");
  if (port_ <= 0) std::abort();
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  while (!server_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

TestHttpServer::~TestHttpServer() {
  stopping_ = true;
  server_->stop();
  thread_.join();
  if (!dir_.empty()) std::filesystem::remove_all(dir_);
}

std::string TestHttpServer::Url(const std::string& path) const {
  return (ca_file_.empty() ? "http://127.0.0.1:" : "https://127.0.0.1:") + std::to_string(port_) + path;
}

void TestHttpServer::Put(const std::string& path, std::string body) {
  std::lock_guard<std::mutex> lock(mu_);
  routes_[path] = Route{200, std::move(body)};
}

void TestHttpServer::PutSlow(const std::string& path, std::string body, size_t chunk,
                             std::chrono::milliseconds interval, bool chunked) {
  std::lock_guard<std::mutex> lock(mu_);
  Route r;
  r.body = std::move(body);
  r.chunk = chunk == 0 ? 1 : chunk;
  r.interval = interval;
  r.chunked = chunked;
  routes_[path] = std::move(r);
}

void TestHttpServer::PutStatus(const std::string& path, int status, const std::string& location) {
  std::lock_guard<std::mutex> lock(mu_);
  Route r;
  r.status = status;
  r.location = location;
  routes_[path] = std::move(r);
}

void TestHttpServer::Remove(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  routes_.erase(path);
}

size_t TestHttpServer::hits(const std::string& path) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = hits_.find(path);
  return it == hits_.end() ? 0 : it->second;
}

}  // namespace vigil::update::testing
