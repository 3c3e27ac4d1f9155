// Fuzzes the whole compiler front end: bytes -> Compiler::AddFile -> Finish.
// Beyond "no crash, no leak, no hang", it checks the compiler's promises:
// every document is accounted for once, and whatever Finish returns passes
// the verifier and pretty-prints.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "content/compiler.h"
#include "content/pretty.h"
#include "content/verifier.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vigil::content;
  const vigil::Schema& schema = vigil::Schema::Builtin();
  Compiler compiler(schema);
  compiler.AddFile(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.yml");
  Ruleset rs = compiler.Finish({});

  const CompileStats& s = compiler.stats();
  if (s.rules_seen != s.rules_compiled + s.rules_skipped + s.rules_refused) std::abort();
  if (rs.rules.size() != s.rules_compiled) std::abort();
  Diagnostics check;
  if (!Verify(rs, schema, check, {})) std::abort();
  for (const Rule& rule : rs.rules) {
    if (PrettyCondition(rule) == "<invalid program>") std::abort();
  }
  (void)compiler.diagnostics().ToJson();  // rule text in messages may be any bytes
  return 0;
}
