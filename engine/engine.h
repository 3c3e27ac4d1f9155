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
  class Scratch;

  // Builds the matchers for `ruleset`. The ruleset must have passed
  // content::Verify() against `schema`; Create() re-checks every field index
  // against the schema anyway and refuses (kVerifyFailed) rather than read
  // out of bounds.
  static Result<std::shared_ptr<const Engine>> Create(const content::Ruleset& ruleset,
                                                      const Schema& schema);
  ~Engine();

  std::unique_ptr<Scratch> NewScratch() const;

  // Indices (into rules()) of the rules that match `event`, ascending. The
  // span stays valid until the next Evaluate() with the same scratch. An
  // event whose type or field count does not match the schema matches nothing.
  std::span<const uint32_t> Evaluate(const EventView& event, Scratch& scratch) const;

  const content::RulesetInfo& info() const;
  std::span<const content::Rule> rules() const;
  const Schema& schema() const;

 private:
  struct Impl;
  explicit Engine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil::engine
