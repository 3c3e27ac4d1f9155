// Fuzzes the condition parser, then lowers what it accepts against a fixed
// detection. Checks: the printed form parses back to the same tree, and a
// condition that lowers to a rule yields a rule the verifier accepts.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "content/condition_parser.h"
#include "content/lower.h"
#include "content/verifier.h"

namespace {

using namespace vigil::content;

// A detection with selections the fuzzer can name: a, b, sel_1..sel_3, _h.
SigmaRule FixedRule(std::string condition) {
  SigmaRule rule;
  rule.file = "fuzz.yml";
  rule.line = 1;
  rule.id = "fuzz";
  rule.title = "fuzz";
  rule.level = SigmaText{"low", 1};
  rule.product = SigmaText{"linux", 1};
  rule.category = SigmaText{"process_creation", 1};
  const char* names[] = {"a", "b", "sel_1", "sel_2", "sel_3", "_h"};
  for (int i = 0; i < 6; ++i) {
    SigmaSelection sel;
    sel.name = names[i];
    sel.line = 2 + i;
    SigmaMap map;
    SigmaFieldSpec spec;
    spec.key = i % 2 ? "CommandLine|contains" : "Image|endswith";
    spec.values.push_back(SigmaScalar{std::string("v") + names[i], false, false, sel.line});
    map.fields.push_back(std::move(spec));
    sel.maps.push_back(std::move(map));
    rule.selections.push_back(std::move(sel));
  }
  rule.conditions.push_back({std::move(condition), 9});
  return rule;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  Diagnostics diags;
  const Location where{"fuzz.yml", 9, "fuzz"};
  std::optional<CondNode> node = ParseCondition(text, diags, where);
  if (!node) {
    if (!diags.has_errors()) std::abort();  // a refusal always says why
    return 0;
  }
  const std::string printed = CondNodeToString(*node);
  Diagnostics again;
  std::optional<CondNode> reparsed = ParseCondition(printed, again, where);
  if (!reparsed || CondNodeToString(*reparsed) != printed) std::abort();

  Diagnostics lowered_diags;
  LowerResult lowered = LowerRule(FixedRule(std::string(text)), vigil::Schema::Builtin(), lowered_diags);
  if (lowered.outcome == LowerOutcome::kCompiled) {
    Diagnostics check;
    if (!VerifyRule(lowered.rule, vigil::Schema::Builtin(), check, where)) std::abort();
  } else if (!lowered_diags.has_errors()) {
    std::abort();
  }
  return 0;
}
