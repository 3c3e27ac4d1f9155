#include "content/diagnostic.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace vigil::content {

std::string_view DiagCodeSlug(DiagCode code) {
  switch (code) {
#define VIGIL_DIAG_SLUG(name, num, slug) \
  case DiagCode::name: return slug;
    VIGIL_DIAG_CODES(VIGIL_DIAG_SLUG)
#undef VIGIL_DIAG_SLUG
  }
  return "unknown";
}

std::string DiagCodeString(DiagCode code) { return fmt::format("VG{}", static_cast<int>(code)); }

void Diagnostics::Add(Severity severity, DiagCode code, Location where, std::string message) {
  if (severity == Severity::kError) ++errors_;
  if (list_.size() >= kMaxDiagnostics) {
    ++dropped_;
    return;
  }
  list_.push_back({severity, code, std::move(where), std::move(message)});
}

bool Diagnostics::HasCode(DiagCode code) const {
  for (const auto& d : list_) {
    if (d.code == code) return true;
  }
  return false;
}

static std::string_view SeverityName(Severity s) {
  switch (s) {
    case Severity::kError: return "error";
    case Severity::kWarning: return "warning";
    case Severity::kNote: return "note";
  }
  return "error";
}

std::string Diagnostics::Format(const Diagnostic& d) {
  std::string where = d.where.file.empty() ? std::string("<input>") : d.where.file;
  if (d.where.line > 0) where += fmt::format(":{}", d.where.line);
  std::string rule = d.where.rule_id.empty() ? "" : fmt::format(" [rule {}]", d.where.rule_id);
  return fmt::format("{}: {} {} {}{}: {}", where, SeverityName(d.severity), DiagCodeString(d.code),
                     DiagCodeSlug(d.code), rule, d.message);
}

std::string Diagnostics::ToText() const {
  std::string out;
  for (const auto& d : list_) {
    out += Format(d);
    out += '\n';
  }
  if (dropped_ > 0) out += fmt::format("({} more diagnostics not shown)\n", dropped_);
  return out;
}

std::string Diagnostics::ToJson() const {
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& d : list_) {
    arr.push_back({{"severity", SeverityName(d.severity)},
                   {"code", DiagCodeString(d.code)},
                   {"slug", DiagCodeSlug(d.code)},
                   {"file", d.where.file},
                   {"line", d.where.line},
                   {"rule_id", d.where.rule_id},
                   {"message", d.message}});
  }
  // Rule files are user input: replace invalid UTF-8 rather than throw.
  return arr.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace vigil::content
