#include "sensor/config.h"

// toml++ is compiled into this file (header-only) with exceptions off, so a
// parse error comes back as a value and nothing can throw across our API.
// Debian's libtomlplusplus.so is built with exceptions on; using the headers
// also lets the fuzzer instrument the parser itself.
#define TOML_HEADER_ONLY 1
#define TOML_EXCEPTIONS 0
#define TOML_ENABLE_FORMATTERS 0
#include <toml++/impl/preprocessor.h>
// toml++ 3.3.0 asserts (debug) or tells clang to assume (release) that a
// table header's key starts with a key character, but "[/]" reaches that
// point and is then reported as a syntax error by the code after it. Found by
// config_fuzzer (sensor/fuzz/config_corpus/regress_table_header_assert.toml).
// Turning TOML_ASSERT_ASSUME into nothing gives every build what GCC 12
// release builds (and Debian's libtomlplusplus.so) already do.
#undef TOML_ASSERT_ASSUME
#define TOML_ASSERT_ASSUME(expr) static_assert(true)
#include <toml++/toml.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>

#include "base/file.h"

namespace vigil::sensor {
namespace {

// Sections ([name] tables) the file may hold; anything else is a typo.
constexpr std::string_view kSections[] = {"sources", "content",       "sinks",  "sinks.jsonl", "metrics",
                                          "exclusions", "queues", "process_table", "daemon",  "update",
                                          "shadow",  "supervisor", "enforce"};

constexpr size_t kMaxHostNameBytes = 255;  // HOST_NAME_MAX on Linux is 64; DNS allows 255

struct Problem {
  uint32_t line;
  std::string text;
};

// Key names come from the file; keep messages one printable line each.
std::string Printable(std::string_view s) {
  std::string out;
  for (unsigned char ch : s) {
    if (ch >= 0x20 && ch < 0x7f) {
      out += static_cast<char>(ch);
    } else {
      out += fmt::format("\\x{:02x}", ch);
    }
  }
  return out;
}

class Reader {
 public:
  explicit Reader(Config& config) : config_(config) {}

  void Table(const toml::table& table, const std::string& prefix) {
    for (const auto& [key, node] : table) {
      std::string path = prefix.empty() ? std::string(key.str()) : prefix + "." + std::string(key.str());
      uint32_t line = Line(key, node);
      if (std::find(std::begin(kSections), std::end(kSections), path) != std::end(kSections)) {
        if (const toml::table* sub = node.as_table()) {
          Table(*sub, path);
        } else {
          Add(line, path, "must be a table");
        }
      } else if (prefix.empty() && node.is_table()) {
        Add(line, path, "unknown section");
      } else {
        Value(path, node, line);
      }
    }
  }

  std::vector<Problem>& problems() { return problems_; }

 private:
  static uint32_t Line(const toml::key& key, const toml::node& node) {
    if (key.source().begin.line != 0) return key.source().begin.line;
    return node.source().begin.line;
  }

  void Add(uint32_t line, std::string_view path, std::string_view reason) {
    problems_.push_back({line, fmt::format("{}: {}", Printable(path), reason)});
  }

  void Value(const std::string& path, const toml::node& node, uint32_t line) {
    Config& c = config_;
    if (path == "sources.ebpf") return Bool(path, node, line, c.ebpf);
    if (path == "sources.fanotify") return Bool(path, node, line, c.fanotify);
    if (path == "sources.fanotify_paths") return PathList(path, node, line, c.fanotify_paths);
    if (path == "sources.file_open_events") return Bool(path, node, line, c.file_open_events);
    if (path == "content.path") return String(path, node, line, c.content_path);
    if (path == "content.default_path") return String(path, node, line, c.default_content_path);
    if (path == "content.watch") return Bool(path, node, line, c.watch_content);
    if (path == "content.store") return AbsolutePathOrEmpty(path, node, line, c.store_path);
    if (path == "content.trust_root") return AbsolutePathOrEmpty(path, node, line, c.trust_root_path);
    if (path == "content.health_window_seconds") {
      return Integer(path, node, line, 1, kMaxConfigSeconds, c.health_window_seconds);
    }
    if (path == "update.manifest_url") return Url(path, node, line, c.update_manifest_url);
    if (path == "update.channel") return Channel(path, node, line, c.update_channel);
    if (path == "update.poll_seconds") return Integer(path, node, line, 1, kMaxConfigSeconds, c.update_poll_seconds);
    if (path == "update.timeout_seconds") return Integer(path, node, line, 1, 3600, c.update_timeout_seconds);
    if (path == "update.max_bundle_bytes") {
      return Integer(path, node, line, 4096, int64_t{64} << 20, c.update_max_bundle_bytes);
    }
    if (path == "update.ca_file") return AbsolutePathOrEmpty(path, node, line, c.update_ca_file);
    if (path == "shadow.seconds") return Integer(path, node, line, 0, kMaxConfigSeconds, c.shadow_seconds);
    if (path == "shadow.max_alert_ratio") return Ratio(path, node, line, c.shadow_max_alert_ratio);
    if (path == "shadow.min_alerts") return Integer(path, node, line, 0, 1'000'000'000, c.shadow_min_alerts);
    if (path == "shadow.max_mean_eval_us") {
      return Integer(path, node, line, 1, 1'000'000, c.shadow_max_mean_eval_us);
    }
    if (path == "enforce.enabled") return Bool(path, node, line, c.enforce);
    if (path == "enforce.paths") return PathList(path, node, line, c.enforce_paths);
    if (path == "enforce.exec") return Bool(path, node, line, c.enforce_exec);
    if (path == "enforce.open") return Bool(path, node, line, c.enforce_open);
    if (path == "enforce.deadline_ms") return Integer(path, node, line, 1, 1000, c.enforce_deadline_ms);
    if (path == "enforce.queue") return Integer(path, node, line, 1, 65536, c.enforce_queue);
    if (path == "enforce.verdict_cache") return Bool(path, node, line, c.enforce_verdict_cache);
    if (path == "enforce.rule_ids") return StringList(path, node, line, c.enforce_rule_ids);
    if (path == "enforce.tags") return StringList(path, node, line, c.enforce_tags);
    if (path == "enforce.never_block") return PathList(path, node, line, c.enforce_never_block);
    if (path == "supervisor.enabled") return Bool(path, node, line, c.supervisor);
    if (path == "supervisor.crash_threshold") return Integer(path, node, line, 1, 100, c.crash_threshold);
    if (path == "supervisor.crash_window_seconds") {
      return Integer(path, node, line, 1, kMaxConfigSeconds, c.crash_window_seconds);
    }
    if (path == "supervisor.heartbeat_timeout_ms") {
      return Integer(path, node, line, 200, 600'000, c.heartbeat_timeout_ms);
    }
    if (path == "sinks.stdout") return Bool(path, node, line, c.stdout_sink);
    if (path == "sinks.syslog") return Bool(path, node, line, c.syslog_sink);
    if (path == "sinks.jsonl.path") return String(path, node, line, c.jsonl_path);
    if (path == "sinks.jsonl.max_bytes") {
      return Integer(path, node, line, kMinJsonlMaxBytes, std::numeric_limits<int64_t>::max(), c.jsonl_max_bytes);
    }
    if (path == "sinks.jsonl.keep") return Integer(path, node, line, 1, kMaxJsonlKeep, c.jsonl_keep);
    if (path == "metrics.listen") return Listen(path, node, line, c.metrics_listen);
    if (path == "exclusions.paths") return PathList(path, node, line, c.exclude_paths);
    if (path == "exclusions.images") return PathList(path, node, line, c.exclude_images);
    if (path == "queues.source") return Integer(path, node, line, 1, kMaxQueueSize, c.source_queue);
    if (path == "queues.alert") return Integer(path, node, line, 1, kMaxQueueSize, c.alert_queue);
    if (path == "process_table.max") return Integer(path, node, line, 2, kMaxQueueSize, c.process_table_max);
    if (path == "daemon.record_path") return String(path, node, line, c.record_path);
    if (path == "daemon.host_name") {
      std::string host = c.host_name;
      String(path, node, line, host);
      if (host.size() > kMaxHostNameBytes) return Add(line, path, "longer than 255 bytes");
      c.host_name = std::move(host);
      return;
    }
    Add(line, path, "unknown key");
  }

  void Bool(const std::string& path, const toml::node& node, uint32_t line, bool& out) {
    if (const auto* v = node.as_boolean()) {
      out = v->get();
    } else {
      Add(line, path, "must be a boolean (true or false)");
    }
  }

  template <typename T>
  void Integer(const std::string& path, const toml::node& node, uint32_t line, int64_t min, int64_t max, T& out) {
    const auto* v = node.as_integer();
    if (!v) return Add(line, path, "must be an integer");
    int64_t n = v->get();
    if (n < min || n > max) {
      if (max == std::numeric_limits<int64_t>::max()) return Add(line, path, fmt::format("must be >= {}", min));
      return Add(line, path, fmt::format("must be between {} and {}", min, max));
    }
    out = static_cast<T>(n);
  }

  void String(const std::string& path, const toml::node& node, uint32_t line, std::string& out) {
    const auto* v = node.as_string();
    if (!v) return Add(line, path, "must be a string");
    if (CheckString(path, v->get(), line)) out = v->get();
  }

  bool CheckString(const std::string& path, const std::string& s, uint32_t line) {
    if (s.size() > kMaxConfigStringBytes) {
      Add(line, path, fmt::format("longer than {} bytes", kMaxConfigStringBytes));
      return false;
    }
    if (s.find('\0') != std::string::npos) {  // a path with a NUL would be cut short by the OS
      Add(line, path, "must not contain a NUL character");
      return false;
    }
    return true;
  }

  // Prefixes and paths compared against absolute event paths: a relative
  // entry would silently never match, so it is refused.
  void PathList(const std::string& path, const toml::node& node, uint32_t line, std::vector<std::string>& out) {
    List(path, node, line, /*absolute=*/true, out);
  }

  // Rule ids and tags: non-empty strings.
  void StringList(const std::string& path, const toml::node& node, uint32_t line, std::vector<std::string>& out) {
    List(path, node, line, /*absolute=*/false, out);
  }

  void List(const std::string& path, const toml::node& node, uint32_t line, bool absolute,
            std::vector<std::string>& out) {
    const toml::array* array = node.as_array();
    if (!array) return Add(line, path, "must be an array of strings");
    if (array->size() > kMaxConfigListEntries) {
      return Add(line, path, fmt::format("more than {} entries", kMaxConfigListEntries));
    }
    std::vector<std::string> values;
    bool ok = true;
    for (size_t i = 0; i < array->size(); ++i) {
      const toml::node& element = *array->get(i);
      std::string element_path = fmt::format("{}[{}]", path, i);
      uint32_t element_line = element.source().begin.line != 0 ? element.source().begin.line : line;
      const auto* s = element.as_string();
      if (!s) {
        Add(element_line, element_path, "must be a string");
        ok = false;
        continue;
      }
      if (!CheckString(element_path, s->get(), element_line)) {
        ok = false;
        continue;
      }
      if (absolute && (s->get().empty() || s->get()[0] != '/')) {
        Add(element_line, element_path, "must be an absolute path");
        ok = false;
        continue;
      }
      if (!absolute && s->get().empty()) {
        Add(element_line, element_path, "must not be empty");
        ok = false;
        continue;
      }
      values.push_back(s->get());
    }
    if (ok) out = std::move(values);
  }

  void AbsolutePathOrEmpty(const std::string& path, const toml::node& node, uint32_t line, std::string& out) {
    std::string value = out;
    String(path, node, line, value);
    if (!value.empty() && value[0] != '/') return Add(line, path, "must be an absolute path or \"\"");
    out = std::move(value);
  }

  void Url(const std::string& path, const toml::node& node, uint32_t line, std::string& out) {
    std::string value = out;
    String(path, node, line, value);
    if (!value.empty() && !value.starts_with("http://") && !value.starts_with("https://")) {
      return Add(line, path, "must be an http:// or https:// URL, or \"\"");
    }
    out = std::move(value);
  }

  // Channels name bundles and appear in manifests: a short word.
  void Channel(const std::string& path, const toml::node& node, uint32_t line, std::string& out) {
    std::string value = out;
    String(path, node, line, value);
    bool ok = !value.empty() && value.size() <= 64;
    for (char ch : value) ok = ok && (std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.');
    if (!ok) return Add(line, path, "must be 1 to 64 characters of [A-Za-z0-9._-]");
    out = std::move(value);
  }

  void Ratio(const std::string& path, const toml::node& node, uint32_t line, double& out) {
    double value = 0;
    if (const auto* f = node.as_floating_point()) {
      value = f->get();
    } else if (const auto* i = node.as_integer()) {
      value = static_cast<double>(i->get());
    } else {
      return Add(line, path, "must be a number");
    }
    if (!(value >= 1.0 && value <= 1e6)) return Add(line, path, "must be between 1 and 1000000");
    out = value;
  }

  void Listen(const std::string& path, const toml::node& node, uint32_t line, std::string& out) {
    std::string listen = out;
    String(path, node, line, listen);
    if (!listen.empty()) {
      auto parsed = ParseListenAddress(listen);
      if (!parsed) return Add(line, path, parsed.error().message());
    }
    out = std::move(listen);
  }

  Config& config_;
  std::vector<Problem> problems_;
};

// toml++ 3.3.0's is_non_ascii_horizontal_whitespace() reaches
// TOML_UNREACHABLE (undefined behaviour: __builtin_unreachable in release)
// for some code points, e.g. U+0456, whenever the parser asks whether one is
// whitespace: after a bare key, a value, a line-ending backslash in a
// multi-line string. Found by config_fuzzer
// (config_corpus/regress_unicode_unreachable.toml). This mirrors that
// function's branches and says whether `c` would fall through its switch.
bool HitsTomlppUnreachable(char32_t c) {
  if (c < 0xA0 || c > 0xFEFF) return false;
  uint64_t child = (static_cast<uint64_t>(c) - 0xA0) / 0x3FA;
  if ((1ull << child) & 0x7FFFFFFFFFFFF75Eull) return false;
  if (c == 0xA0 || c == 0x3000 || c == 0xFEFF) return false;
  return child != 0x05 && child != 0x07;
}

// Finds the first such code point, decoding UTF-8 leniently (overlong forms
// too) so nothing toml++'s decoder could produce slips past. Returns the
// code point and its 1-based line and column (in code points), or 0.
char32_t FindUnsafeCodePoint(std::string_view text, uint32_t& line, uint32_t& column) {
  line = 1;
  column = 1;
  for (size_t i = 0; i < text.size();) {
    auto byte = static_cast<unsigned char>(text[i]);
    size_t extra = byte >= 0xF0 && byte <= 0xF7 ? 3 : byte >= 0xE0 ? 2 : byte >= 0xC0 ? 1 : 0;
    if (byte >= 0xF8) extra = 0;
    char32_t cp = extra == 3 ? (byte & 0x07) : extra == 2 ? (byte & 0x0F) : (byte & 0x1F);
    bool complete = extra > 0;
    for (size_t k = 1; complete && k <= extra; ++k) {
      if (i + k >= text.size() || (static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) {
        complete = false;
      } else {
        cp = (cp << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3F);
      }
    }
    if (complete && HitsTomlppUnreachable(cp)) return cp;
    if (byte == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
    i += complete ? extra + 1 : 1;
  }
  return 0;
}

bool IsLoopback(const std::string& host) {
  if (host == "localhost") return true;
  in_addr v4{};
  if (::inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (::inet_pton(AF_INET6, host.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

}  // namespace

Result<ListenAddress> ParseListenAddress(std::string_view listen) {
  ListenAddress out;
  if (listen.find('\0') != std::string_view::npos) {
    return Error(Code::kInvalidArgument, "listen address contains a NUL character");
  }
  if (listen.starts_with("unix:")) {
    out.is_unix = true;
    out.path = std::string(listen.substr(5));
    if (out.path.empty() || out.path[0] != '/') {
      return Error(Code::kInvalidArgument, "unix socket path must be absolute: {}", Printable(out.path));
    }
    if (out.path.size() >= sizeof(sockaddr_un{}.sun_path)) {
      return Error(Code::kInvalidArgument, "unix socket path longer than {} bytes",
                   sizeof(sockaddr_un{}.sun_path) - 1);
    }
    return out;
  }
  size_t colon = listen.rfind(':');
  if (colon == std::string_view::npos) {
    return Error(Code::kInvalidArgument, "expected host:port or unix:/path, got {}", Printable(listen));
  }
  std::string_view host = listen.substr(0, colon);
  std::string_view port = listen.substr(colon + 1);
  if (host.starts_with('[')) {
    if (!host.ends_with(']')) return Error(Code::kInvalidArgument, "unclosed '[' in {}", Printable(listen));
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return Error(Code::kInvalidArgument, "an IPv6 address needs brackets ([::1]:PORT), got {}", Printable(listen));
  }
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || port.size() > 5 || ec != std::errc() || end != port.data() + port.size() || value > 65535) {
    return Error(Code::kInvalidArgument, "bad port in {}", Printable(listen));
  }
  out.host = std::string(host);
  out.port = static_cast<uint16_t>(value);
  if (!IsLoopback(out.host)) {
    return Error(Code::kInvalidArgument,
                 "not a loopback address: {} (metrics are served on 127.0.0.0/8, [::1], localhost or unix:/path "
                 "only)",
                 Printable(out.host));
  }
  return out;
}

Result<Config> ParseConfig(std::string_view text, std::string_view file_name) {
  if (text.size() > kMaxConfigBytes) {
    return Error(Code::kLimitExceeded, "{}: {} bytes exceeds the limit of {} bytes", file_name, text.size(),
                 kMaxConfigBytes);
  }
  uint32_t line = 0;
  uint32_t column = 0;
  if (char32_t cp = FindUnsafeCodePoint(text, line, column)) {
    return Error(Code::kInvalidArgument,
                 "{}:{}:{}: syntax: character U+{:04X} is not accepted here; write it as \\u{:04X} inside a "
                 "quoted string (toml++ 3.3.0 cannot check it safely)",
                 file_name, line, column, static_cast<uint32_t>(cp), static_cast<uint32_t>(cp));
  }
  toml::parse_result parsed = toml::parse(text, file_name);
  if (!parsed) {
    const toml::parse_error& e = parsed.error();
    return Error(Code::kInvalidArgument, "{}:{}:{}: syntax: {}", file_name, e.source().begin.line,
                 e.source().begin.column, Printable(e.description()));
  }
  Config config;
  Reader reader(config);
  reader.Table(parsed.table(), "");
  std::vector<Problem>& problems = reader.problems();
  if (problems.empty()) return config;
  std::stable_sort(problems.begin(), problems.end(),
                   [](const Problem& a, const Problem& b) { return a.line < b.line; });
  std::string message;
  for (const Problem& p : problems) {
    if (!message.empty()) message += '\n';
    message += fmt::format("{}:{}: {}", file_name, p.line, p.text);
  }
  return Error(Code::kInvalidArgument, "{}", message);
}

Result<Config> LoadConfig(const std::string& path) {
  Result<std::string> text = ReadFileBounded(path, kMaxConfigBytes);
  if (!text) return Error(text.error());
  return ParseConfig(*text, path);
}

}  // namespace vigil::sensor
