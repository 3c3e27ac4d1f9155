// Fetch against a real HTTP server on 127.0.0.1 (update/testing/http_server.h).
#include "update/fetch.h"

#include <future>
#include <thread>

#include <gtest/gtest.h>

#include "update/testing/http_server.h"

namespace vigil::update {
namespace {

using std::chrono::milliseconds;
using testing::TestHttpServer;
using Clock = std::chrono::steady_clock;

FetchOptions Opts(size_t max_bytes = 1 << 20, milliseconds timeout = milliseconds(5000)) {
  FetchOptions o;
  o.max_bytes = max_bytes;
  o.timeout = timeout;
  o.connect_timeout = milliseconds(2000);
  o.read_timeout = milliseconds(5000);
  return o;
}

void ExpectError(const Result<std::string>& r, Code code, const std::string& message) {
  ASSERT_FALSE(r) << "fetched " << r->size() << " bytes";
  EXPECT_EQ(r.error().code(), code) << r.error().ToString();
  EXPECT_NE(r.error().message().find(message), std::string::npos) << r.error().message() << "\nwant: " << message;
}

TEST(FetchTest, GetsTheBody) {
  TestHttpServer server;
  std::string body(100'000, 'b');
  body[5] = '\0';  // binary safe
  server.Put("/x", body);
  auto r = Fetch(server.Url("/x"), Opts());
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(*r, body);
  server.PutSlow("/chunked", body, 4096, milliseconds(0), /*chunked=*/true);
  auto c = Fetch(server.Url("/chunked"), Opts());
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(*c, body);
}

TEST(FetchTest, ExactlyMaxBytesIsAccepted) {
  TestHttpServer server;
  server.Put("/x", std::string(1000, 'x'));
  EXPECT_TRUE(Fetch(server.Url("/x"), Opts(1000)));
  ExpectError(Fetch(server.Url("/x"), Opts(999)), Code::kLimitExceeded,
              "GET " + server.Url("/x") + ": Content-Length 1000 exceeds the limit of 999 bytes");
}

TEST(FetchTest, BodyAboveTheBoundIsAbortedWhileStreaming) {
  TestHttpServer server;
  // Chunked: no Content-Length to refuse up front; 10 MB would follow.
  server.PutSlow("/big", std::string(10 << 20, 'x'), 64 << 10, milliseconds(0), /*chunked=*/true);
  ExpectError(Fetch(server.Url("/big"), Opts(100'000)), Code::kLimitExceeded,
              "body exceeds the limit of 100000 bytes; transfer aborted");
}

TEST(FetchTest, HttpErrorsNameTheStatus) {
  TestHttpServer server;
  ExpectError(Fetch(server.Url("/missing"), Opts()), Code::kNotFound, "GET " + server.Url("/missing") + ": HTTP 404");
  server.PutStatus("/boom", 503);
  ExpectError(Fetch(server.Url("/boom"), Opts()), Code::kIo, ": HTTP 503");
}

TEST(FetchTest, RedirectsAreFollowedAndBounded) {
  TestHttpServer server;
  server.Put("/final", "done");
  server.PutStatus("/r1", 302, "/final");
  server.PutStatus("/r2", 301, server.Url("/r1"));
  server.PutStatus("/rel/r3", 307, "r1x");
  server.PutStatus("/rel/r1x", 308, "/final");
  auto r = Fetch(server.Url("/r2"), Opts());
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(*r, "done");
  EXPECT_EQ(*Fetch(server.Url("/rel/r3"), Opts()), "done");

  server.PutStatus("/loop", 302, "/loop");
  ExpectError(Fetch(server.Url("/loop"), Opts()), Code::kIo, "more than 3 redirects");
  EXPECT_EQ(server.hits("/loop"), 4u);
  FetchOptions none = Opts();
  none.max_redirects = 0;
  ExpectError(Fetch(server.Url("/r1"), none), Code::kIo, "more than 0 redirects");
  server.PutStatus("/nowhere", 302);
  ExpectError(Fetch(server.Url("/nowhere"), Opts()), Code::kIo, "HTTP 302 without a Location header");
  server.PutStatus("/ftp", 302, "ftp://h/x");
  ExpectError(Fetch(server.Url("/ftp"), Opts()), Code::kIo, "bad redirect");
}

TEST(FetchTest, DeadlineAbortsASlowTransfer) {
  TestHttpServer server;
  // 1 byte every 100 ms: each read is quick, the whole would take 100 s.
  server.PutSlow("/slow", std::string(1000, 's'), 1, milliseconds(100));
  auto start = Clock::now();
  auto r = Fetch(server.Url("/slow"), Opts(1 << 20, milliseconds(700)));
  auto took = Clock::now() - start;
  ExpectError(r, Code::kIo, "deadline of 700 ms passed");
  EXPECT_LT(took, milliseconds(1500));
  EXPECT_GE(took, milliseconds(650));
}

TEST(FetchTest, DeadlineAbortsASilentServer) {
  TestHttpServer server;
  server.PutSlow("/silent", "x", 1, milliseconds(60'000));  // headers, then nothing for a minute
  auto start = Clock::now();
  auto r = Fetch(server.Url("/silent"), Opts(1 << 20, milliseconds(500)));
  EXPECT_FALSE(r);
  EXPECT_LT(Clock::now() - start, milliseconds(1500));
}

TEST(FetchTest, CancelAbortsPromptly) {
  TestHttpServer server;
  server.PutSlow("/slow", std::string(1000, 's'), 1, milliseconds(200));
  FetchCanceller cancel;
  auto fut = std::async(std::launch::async,
                        [&] { return Fetch(server.Url("/slow"), Opts(1 << 20, milliseconds(60'000)), &cancel); });
  while (server.slow_started() == 0) std::this_thread::sleep_for(milliseconds(5));
  auto start = Clock::now();
  cancel.Cancel();
  Result<std::string> r = fut.get();
  auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
  EXPECT_LT(took, milliseconds(150)) << took.count() << " ms";
  ExpectError(r, Code::kIo, ": cancelled");
  // A cancelled canceller refuses new fetches until Reset().
  server.Put("/x", "x");
  ExpectError(Fetch(server.Url("/x"), Opts(), &cancel), Code::kIo, "cancelled");
  cancel.Reset();
  EXPECT_TRUE(Fetch(server.Url("/x"), Opts(), &cancel));
}

TEST(FetchTest, ConnectionRefusedAndBadUrls) {
  int port;
  {
    TestHttpServer server;
    port = server.port();
  }  // closed: nothing listens there now
  ExpectError(Fetch("http://127.0.0.1:" + std::to_string(port) + "/x", Opts()), Code::kIo, "cannot connect");
  ExpectError(Fetch("file:///etc/passwd", Opts()), Code::kInvalidArgument, "only http:// and https://");
  ExpectError(Fetch("http://u@h/x", Opts()), Code::kInvalidArgument, "user info");
}

TEST(FetchTest, HttpsVerifiesCertificates) {
  TestHttpServer tls(/*tls=*/true);
  tls.Put("/x", "secret");
  // Not in the system's CA store: refused.
  auto untrusted = Fetch(tls.Url("/x"), Opts());
  ASSERT_FALSE(untrusted);
  EXPECT_EQ(untrusted.error().code(), Code::kIo);
  EXPECT_NE(untrusted.error().message().find("server certificate verification failed"), std::string::npos)
      << untrusted.error().message();
  // Trusted through ca_file: fetched.
  FetchOptions o = Opts();
  o.ca_file = tls.ca_file();
  auto trusted = Fetch(tls.Url("/x"), o);
  ASSERT_TRUE(trusted) << trusted.error().ToString();
  EXPECT_EQ(*trusted, "secret");
  // The certificate names 127.0.0.1, not localhost: a name mismatch is refused.
  auto wrong_name = Fetch("https://localhost:" + std::to_string(tls.port()) + "/x", o);
  EXPECT_FALSE(wrong_name);
  // https -> http redirects are refused.
  TestHttpServer plain;
  plain.Put("/x", "x");
  tls.PutStatus("/down", 302, plain.Url("/x"));
  auto down = Fetch(tls.Url("/down"), o);
  ASSERT_FALSE(down);
  EXPECT_NE(down.error().message().find("refusing a redirect from https to " + plain.Url("/x")), std::string::npos)
      << down.error().message();
  EXPECT_EQ(plain.hits("/x"), 0u);
  // https to a plain HTTP server fails the handshake.
  auto no_tls = Fetch("https://127.0.0.1:" + std::to_string(plain.port()) + "/x", o);
  EXPECT_FALSE(no_tls);
  o.ca_file = "/nonexistent/ca.pem";
  ExpectError(Fetch(tls.Url("/x"), o), Code::kInvalidArgument, "CA file /nonexistent/ca.pem is not readable");
}

}  // namespace
}  // namespace vigil::update
