// A slow, obviously correct evaluator of compiled rules: the oracle the
// engine is compared with (engine_differential_test) and the baseline its
// benchmark reports. Linked only into tests and benchmarks.
//
//   ReferenceEvaluator ref(ruleset, Schema::Builtin());
//   std::vector<uint32_t> hits = ref.Evaluate(event);   // ascending rule indices
//
// Every atom is computed directly from content/ir.h (and the choices listed
// in engine/engine.h) with no index, no prefilter and no memo across atoms:
// lowercase copies for case folding, a memoized recursive glob, inet_pton
// and a bit-by-bit compare for CIDRs, RE2 for regexes, and a
// std::vector<bool> stack for the program.
//
// Thread-safety: immutable after construction; Evaluate() is const.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "content/ir.h"
#include "schema/event.h"

namespace re2 {
class RE2;
}

namespace vigil::engine::testing {

class ReferenceEvaluator {
 public:
  ReferenceEvaluator(const content::Ruleset& ruleset, const Schema& schema);
  ~ReferenceEvaluator();

  // Rules (indices into the ruleset) that match, ascending. Nothing for an
  // event whose type or field count does not fit the schema.
  std::vector<uint32_t> Evaluate(const EventView& event) const;

  bool RuleMatches(const content::Rule& rule, const EventView& event) const;
  bool AtomHolds(const content::Atom& atom, const EventView& event) const;

 private:
  bool AtomHoldsOn(const content::Atom& atom, const EventView& event, FieldIndex field) const;

  content::Ruleset ruleset_;
  Schema schema_;
  std::map<std::string, std::unique_ptr<re2::RE2>> regexes_;  // by flags + pattern
};

}  // namespace vigil::engine::testing
