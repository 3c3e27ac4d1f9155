// Diagnostics are data: every problem the compiler, the bundle reader or the
// verifier finds is recorded with a stable code, where it was found and why;
// all of them are collected, not just the first.
//
//   Diagnostics diags;
//   diags.Error(DiagCode::kUnknownField, {file, line, rule_id}, "field 'Foo' ...");
//   if (diags.has_errors()) ...
//   std::cout << diags.ToJson();
//
// Thread-safety: not thread-safe; one Diagnostics per compilation.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::content {

// X(enumerator, numeric code, slug). Numbers are stable; never reuse one.
#define VIGIL_DIAG_CODES(X)                                                             \
  /* reading rule files */                                                              \
  X(kIo, 100, "io")                                                                     \
  X(kFileTooLarge, 101, "file-too-large")                                               \
  X(kYamlSyntax, 102, "yaml-syntax")                                                    \
  X(kYamlTooComplex, 103, "yaml-too-complex")                                           \
  X(kNotARule, 104, "not-a-rule")                                                       \
  X(kMissingKey, 105, "missing-key")                                                    \
  X(kBadValue, 106, "bad-value")                                                        \
  X(kDuplicateRuleId, 107, "duplicate-rule-id")                                         \
  X(kUnsupportedLogsource, 108, "unsupported-logsource")                                \
  X(kUnsupportedFeature, 109, "unsupported-feature")                                    \
  X(kNoRules, 110, "no-rules")                                                          \
  /* detection section */                                                               \
  X(kUnknownField, 200, "unknown-field")                                                \
  X(kUnknownModifier, 201, "unknown-modifier")                                          \
  X(kModifierConflict, 202, "modifier-conflict")                                        \
  X(kBadRegex, 203, "bad-regex")                                                        \
  X(kBadCidr, 204, "bad-cidr")                                                          \
  X(kBadNumber, 205, "bad-number")                                                      \
  X(kEmptySelection, 206, "empty-selection")                                            \
  X(kTypeMismatch, 207, "type-mismatch")                                                \
  X(kValueTooLong, 208, "value-too-long")                                               \
  X(kTooComplex, 209, "too-complex")                                                    \
  /* condition */                                                                       \
  X(kConditionSyntax, 300, "condition-syntax")                                          \
  X(kUndefinedIdentifier, 301, "undefined-identifier")                                  \
  X(kNoMatchingSelection, 302, "no-matching-selection")                                 \
  /* bundle reader */                                                                   \
  X(kBundleTruncated, 400, "bundle-truncated")                                          \
  X(kBundleMagic, 401, "bundle-magic")                                                  \
  X(kBundleVersion, 402, "bundle-version")                                              \
  X(kBundleChecksum, 403, "bundle-checksum")                                            \
  X(kBundleBounds, 404, "bundle-bounds")                                                \
  X(kBundleLimit, 405, "bundle-limit")                                                  \
  X(kBundleEncoding, 406, "bundle-encoding")                                            \
  /* verifier */                                                                        \
  X(kVerifySchemaHash, 500, "schema-hash-mismatch")                                     \
  X(kVerifyEventType, 501, "event-type-out-of-range")                                   \
  X(kVerifyField, 502, "field-out-of-range")                                            \
  X(kVerifyFieldName, 503, "field-name-mismatch")                                       \
  X(kVerifyOperandType, 504, "operand-type-mismatch")                                   \
  X(kVerifyRegex, 505, "regex-refused")                                                 \
  X(kVerifyValue, 506, "bad-operand")                                                   \
  X(kVerifyProgram, 507, "bad-program")                                                 \
  X(kVerifyLimit, 508, "limit-exceeded")                                                \
  X(kVerifyDuplicateId, 509, "duplicate-rule-id")                                       \
  X(kVerifyText, 510, "bad-text")                                                       \
  X(kVerifyBlockEventType, 511, "block-event-type")                                     \
  X(kVerifyBlockField, 512, "block-field-unknown")

enum class DiagCode : uint16_t {
#define VIGIL_DIAG_ENUM(name, num, slug) name = num,
  VIGIL_DIAG_CODES(VIGIL_DIAG_ENUM)
#undef VIGIL_DIAG_ENUM
};

// "VG203" and "bad-regex" for DiagCode::kBadRegex.
std::string DiagCodeString(DiagCode code);
std::string_view DiagCodeSlug(DiagCode code);

enum class Severity : uint8_t { kError, kWarning, kNote };

struct Location {
  std::string file;     // source file or bundle path; may be empty
  int line = 0;         // 1-based; 0 = unknown
  std::string rule_id;  // may be empty
};

struct Diagnostic {
  Severity severity = Severity::kError;
  DiagCode code = DiagCode::kBadValue;
  Location where;
  std::string message;
};

class Diagnostics {
 public:
  // A cap so hostile input cannot make the list itself unbounded.
  static constexpr size_t kMaxDiagnostics = 10'000;

  void Add(Severity severity, DiagCode code, Location where, std::string message);
  void Error(DiagCode code, Location where, std::string message) {
    Add(Severity::kError, code, std::move(where), std::move(message));
  }
  void Warning(DiagCode code, Location where, std::string message) {
    Add(Severity::kWarning, code, std::move(where), std::move(message));
  }

  const std::vector<Diagnostic>& list() const { return list_; }
  size_t error_count() const { return errors_; }
  bool has_errors() const { return errors_ > 0; }
  size_t dropped() const { return dropped_; }
  bool HasCode(DiagCode code) const;

  // "rules/x.yml:12: error VG200 unknown-field [rule 1234-...]: field 'Foo' ..."
  static std::string Format(const Diagnostic& d);
  std::string ToText() const;
  // A JSON array of {severity, code, slug, file, line, rule_id, message}.
  std::string ToJson() const;

 private:
  std::vector<Diagnostic> list_;
  size_t errors_ = 0;
  size_t dropped_ = 0;
};

}  // namespace vigil::content
