// Rule conditions as the engine runs them: each rule's postfix program
// (content/ir.h OpCode) rebuilt as an n-ary tree that is evaluated with
// short-circuiting, cheapest child first, so an expensive atom (a regex) is
// only computed when the rest of the condition cannot decide the rule.
//
//   ConditionForest forest;
//   Result<uint32_t> root = forest.Add(rule.program, atom_ids, cost_of_atom);
//   forest.Finish();
//   forest.GroupAtoms(settled_by_scan);                   // optional, see there
//   bool m = forest.Evaluate(*root, frames, value_of_atom, any_of_atoms);
//   std::optional<Trigger> t = NecessaryAtoms(forest, *root, trigger_of_atom);
//
// The rewrite keeps the meaning: AND/OR are associative and commutative
// (nested ones are flattened, children reordered), NOT NOT x is x,
// at-least-1 is OR and at-least-all is AND. Atoms are pure functions of the
// event, so evaluation order cannot change a result.
//
// Thread-safety: immutable after Finish(); Evaluate() is const and uses only
// the caller's frames.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

#include "base/status.h"
#include "content/ir.h"

namespace vigil::engine {

class ConditionForest {
 public:
  // kAnyOf is a leaf made by GroupAtoms(): "one of atoms(node) holds".
  enum class Kind : uint8_t { kAtom, kTrue, kFalse, kNot, kAnd, kOr, kAtLeast, kAnyOf };
  struct Node {
    Kind kind;
    uint32_t arg;    // kAtom: atom id; kAtLeast: how many children must hold
    uint32_t first;  // children: kids_[first, first + count); kAnyOf: group_atoms_
    uint32_t count;
    double cost;     // estimated cost of evaluating this subtree
  };
  struct Frame {
    uint32_t node;
    uint32_t next;   // index of the child being evaluated
    uint32_t trues;  // kAtLeast: children that held so far
  };

  // Adds one rule. `atom_ids` maps the rule's atom indices to the caller's
  // atom ids; `atom_cost` estimates evaluating one of those. Re-checks what
  // the verifier guarantees (opcodes, operand counts, atom indices, stack
  // bounds) and refuses with kVerifyFailed: a bad program must not be run.
  Result<uint32_t> Add(std::span<const content::Instr> program, std::span<const uint32_t> atom_ids,
                       const std::function<double(uint32_t)>& atom_cost);

  // Recomputes every subtree's cost with a new estimate of atom costs and
  // puts each node's children back in cheapest-first order. The engine calls
  // it once it knows which atoms the literal scan settles (cost ~0).
  void Reorder(const std::function<double(uint32_t)>& atom_cost);

  // Replaces, in every OR, the atom children for which `groupable` holds (at
  // least kMinGroup of them) by one kAnyOf leaf listing them, sorted. A long
  // OR of literals (SigmaHQ lists 50 Image|endswith values) then costs one
  // call instead of a step per child: the engine answers kAnyOf from the
  // event's few literal hits. Call Reorder() afterwards.
  static constexpr size_t kMinGroup = 4;
  void GroupAtoms(const std::function<bool(uint32_t)>& groupable);
  std::span<const uint32_t> atoms(const Node& any_of) const {
    return std::span<const uint32_t>(group_atoms_).subspan(any_of.first, any_of.count);
  }

  const Node& node(uint32_t id) const { return nodes_[id]; }
  std::span<const uint32_t> children(const Node& n) const {
    return std::span<const uint32_t>(kids_).subspan(n.first, n.count);
  }
  // Frames Evaluate() needs for any root added so far.
  size_t max_depth() const { return max_depth_; }

  // `frames` must hold max_depth() entries. `atom(id)` returns an atom's
  // value, `any_of(span of ids)` whether any of those atoms holds.
  template <typename AtomFn, typename AnyOfFn>
  bool Evaluate(uint32_t root, Frame* frames, AtomFn&& atom, AnyOfFn&& any_of) const;

 private:
  std::vector<Node> nodes_;
  std::vector<uint32_t> kids_;
  std::vector<uint32_t> group_atoms_;
  size_t max_depth_ = 0;
};

// The prefilter's view of a subtree: a set of atoms at least one of which is
// true whenever the subtree is true, with its estimated cost (the expected
// number of events that would trigger it, lower is better).
struct Trigger {
  std::vector<uint32_t> atoms;  // sorted, distinct
  double cost = 0;
};

// The best necessary trigger set for `root`, or nullopt when there is none
// (the rule must then be evaluated on every event of its type). `leaf(atom)`
// gives an atom's own trigger set (nullopt for atoms the index cannot see).
//   AND -> the child with the cheapest set; OR -> union when every child has
//   one; at-least-k-of-n -> union of the n-k+1 cheapest; NOT, true -> none;
//   false -> the empty set (never true).
std::optional<Trigger> NecessaryAtoms(const ConditionForest& forest, uint32_t root,
                                      const std::function<std::optional<Trigger>(uint32_t)>& leaf);

template <typename AtomFn, typename AnyOfFn>
bool ConditionForest::Evaluate(uint32_t root, Frame* frames, AtomFn&& atom, AnyOfFn&& any_of) const {
  // The node being evaluated and its progress live in locals; a frame is
  // written only when descending into an inner child.
  const Node* n = &nodes_[root];
  switch (n->kind) {
    case Kind::kAtom: return atom(n->arg);
    case Kind::kAnyOf: return any_of(atoms(*n));
    case Kind::kTrue: return true;
    case Kind::kFalse: return false;
    default: break;
  }
  uint32_t node = root, next = 0, trues = 0;
  size_t depth = 0;
  for (;;) {
    const uint32_t child = kids_[n->first + next];
    const Node& c = nodes_[child];
    bool value;
    switch (c.kind) {
      case Kind::kAtom: value = atom(c.arg); break;
      case Kind::kAnyOf: value = any_of(atoms(c)); break;
      case Kind::kTrue: value = true; break;
      case Kind::kFalse: value = false; break;
      default:
        frames[depth++] = Frame{node, next, trues};
        node = child;
        n = &c;
        next = 0;
        trues = 0;
        continue;
    }
    // Feed the child's value to its parent; a decided parent feeds its own
    // parent in turn, until some node needs its next child.
    for (;;) {
      bool decided = true;
      switch (n->kind) {
        case Kind::kNot: value = !value; break;
        case Kind::kAnd: decided = !value || ++next == n->count; break;
        case Kind::kOr: decided = value || ++next == n->count; break;
        case Kind::kAtLeast:
          trues += value;
          ++next;
          if (trues >= n->arg) {
            value = true;
          } else if (trues + (n->count - next) < n->arg) {
            value = false;
          } else {
            decided = false;
          }
          break;
        default: break;  // leaves are never parents
      }
      if (!decided) break;
      if (depth == 0) return value;
      const Frame& f = frames[--depth];
      node = f.node;
      next = f.next;
      trues = f.trues;
      n = &nodes_[node];
    }
  }
}

}  // namespace vigil::engine
