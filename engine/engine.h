// The engine: evaluates a verified ruleset against events.
//
//   Result<std::shared_ptr<const Engine>> e = Engine::Create(ruleset, Schema::Builtin());
//   auto scratch = (*e)->NewScratch();            // one per thread
//   for (uint32_t rule : (*e)->Evaluate(event, *scratch)) alert((*e)->rule(rule));
//
// Thread-safety: an Engine is immutable after Create() and shared by threads
// through shared_ptr<const Engine> (the snapshot that reloads swap
// atomically). A Scratch belongs to one thread at a time. Evaluate() does no
// heap allocation.
//
// How an event is evaluated (details in engine.cc):
//   1. Rules are indexed by event type; only the event's type is looked at.
//   2. Each rule's condition has a prefilter (condition.h NecessaryAtoms): a
//      set of literals at least one of which must hold for the rule to match,
//      e.g. the Image|endswith list of its selection (AND picks its rarest
//      child's set, OR unites its children's, NOT has none). A glob
//      contributes its longest literal run, a case-sensitive regex the
//      literals RE2's FilteredRE2 proves every match contains. Literals
//      shorter than 2 bytes are never used. The prefilter literals of all
//      rules of the type are in one Hyperscan database (literal_index.h) and
//      the event's fields are scanned once, in one buffer. Rules whose
//      literals hit become candidates; rules without a set (e.g. only `not`,
//      only numbers) are candidates for every event of their type.
//   3. A candidate's condition runs as a short-circuit tree (condition.h),
//      cheapest child first; atoms the scan did not settle (literals outside
//      the prefilter, globs, regexes, CIDRs, numbers, ...) are computed when
//      first needed and memoized for the event (epoch-stamped, so nothing is
//      cleared between events), so an atom shared by many rules is computed
//      at most once per event.
//
// Semantics are those of content/ir.h. Choices that file leaves open:
//   - An absent field never matches a text, glob, regex, CIDR or number
//     test, even a test against "" (kEquals "" matches a present empty
//     field). kNull holds for an absent or empty field.
//   - kAnyField means "some field of type kString holds": the atom is tested
//     against each kString field of the event type and is true if any
//     passes. Integer, IP and boolean fields are not searched.
//   - kCased affects kEquals/kContains/kStartsWith/kEndsWith/kGlob/kFieldRef;
//     regexes follow kRegexI/kRegexM/kRegexS only.
//   - Regexes run in RE2's default UTF-8 mode; kRegexI folds case the way
//     RE2 does (Unicode), everything else folds ASCII only.
//   - kCidr: an address only lies in a network of its own family
//     (an IPv4-mapped IPv6 text is IPv6). A CIDR without "/n" is one host.
//   - A glob's trailing lone '\' matches a literal '\'.
//   - Regex matching uses RE2's lazy DFA, which builds its state cache (within
//     the regex's memory budget, kMaxRegexProgramBytes) as it meets new
//     input; that cache is the one allocation that can happen inside
//     Evaluate(), amortized to none once warm.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "base/status.h"
#include "content/ir.h"
#include "schema/event.h"

namespace vigil::engine {

class Engine {
 public:
  // Per-thread working memory for Evaluate(), sized for one Engine when
  // NewScratch() made it: every per-event array is allocated here, up front.
  class Scratch {
   public:
    ~Scratch();
    Scratch(const Scratch&) = delete;
    Scratch& operator=(const Scratch&) = delete;

   private:
    friend class Engine;
    struct State;
    explicit Scratch(std::unique_ptr<State> state);
    std::unique_ptr<State> state_;
  };

  // Builds the matchers for `ruleset`. The ruleset must have passed
  // content::Verify() against `schema`; Create() re-checks every field index
  // against the schema anyway and refuses (kVerifyFailed) rather than read
  // out of bounds. The engine keeps its own copy of the ruleset and schema.
  static Result<std::shared_ptr<const Engine>> Create(const content::Ruleset& ruleset,
                                                      const Schema& schema);
  ~Engine();

  // Like any allocation, throws std::bad_alloc when memory is exhausted
  // (Create() already proved Hyperscan can allocate scratch for this engine).
  std::unique_ptr<Scratch> NewScratch() const;

  // Indices (into rules()) of the rules that match `event`, ascending. The
  // span stays valid until the next Evaluate() with the same scratch. An
  // event whose type or field count does not match the schema matches
  // nothing, and so does any event evaluated with a scratch that another
  // Engine made.
  std::span<const uint32_t> Evaluate(const EventView& event, Scratch& scratch) const;

  const content::RulesetInfo& info() const;
  std::span<const content::Rule> rules() const;
  const content::Rule& rule(uint32_t index) const { return rules()[index]; }
  const Schema& schema() const;

  // What Create() built, for `vigil content inspect` and benchmarks.
  struct Stats {
    size_t rules = 0;
    size_t atoms = 0;            // distinct atoms over all event types
    size_t literal_patterns = 0; // distinct literals in the Hyperscan databases
    size_t always_evaluated = 0; // rules without a prefilter set
    size_t scanned_fields = 0;   // fields the literal scans cover, over all event types
  };
  Stats stats() const;

 private:
  struct Impl;
  explicit Engine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil::engine
