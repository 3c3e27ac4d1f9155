#include "engine/condition.h"

#include <algorithm>

namespace vigil::engine {
namespace {

using content::OpCode;

struct TempNode {
  ConditionForest::Kind kind;
  uint32_t arg = 0;
  std::vector<uint32_t> children;
};

// Subtrees deeper than this get no trigger set (their rule is then always
// evaluated, which is correct, only slower); keeps NecessaryAtoms' recursion
// bounded for adversarial programs such as a 16,000-deep NOT/AND chain.
constexpr int kMaxTriggerDepth = 200;

std::optional<Trigger> Union(std::vector<const Trigger*> parts) {
  Trigger t;
  for (const Trigger* p : parts) {
    t.atoms.insert(t.atoms.end(), p->atoms.begin(), p->atoms.end());
    t.cost += p->cost;
  }
  std::sort(t.atoms.begin(), t.atoms.end());
  t.atoms.erase(std::unique(t.atoms.begin(), t.atoms.end()), t.atoms.end());
  return t;
}

std::optional<Trigger> Necessary(const ConditionForest& forest, uint32_t id, int depth,
                                 const std::function<std::optional<Trigger>(uint32_t)>& leaf) {
  using Kind = ConditionForest::Kind;
  const auto& n = forest.node(id);
  if (depth > kMaxTriggerDepth) return std::nullopt;
  switch (n.kind) {
    case Kind::kAtom: return leaf(n.arg);
    case Kind::kAnyOf: {  // an OR of atoms
      std::vector<std::optional<Trigger>> own;
      std::vector<const Trigger*> parts;
      own.reserve(n.count);
      for (uint32_t a : forest.atoms(n)) {
        own.push_back(leaf(a));
        if (!own.back()) return std::nullopt;
        parts.push_back(&*own.back());
      }
      return Union(std::move(parts));
    }
    case Kind::kTrue:
    case Kind::kNot: return std::nullopt;
    case Kind::kFalse: return Trigger{};
    default: break;
  }
  std::vector<std::optional<Trigger>> kids;
  for (uint32_t c : forest.children(n)) kids.push_back(Necessary(forest, c, depth + 1, leaf));
  std::vector<const Trigger*> have;
  for (const auto& k : kids) {
    if (k) have.push_back(&*k);
  }
  std::sort(have.begin(), have.end(),
            [](const Trigger* a, const Trigger* b) { return a->cost < b->cost; });
  size_t need = 0;  // children whose sets must all be taken
  switch (n.kind) {
    case Kind::kAnd: need = 1; break;
    case Kind::kOr: need = n.count; break;
    case Kind::kAtLeast: need = n.count - n.arg + 1; break;
    default: return std::nullopt;
  }
  if (have.size() < need) return std::nullopt;
  have.resize(need);
  return Union(std::move(have));
}

}  // namespace

Result<uint32_t> ConditionForest::Add(std::span<const content::Instr> program,
                                      std::span<const uint32_t> atom_ids,
                                      const std::function<double(uint32_t)>& atom_cost) {
  auto refuse = [](size_t pc, std::string_view why) {
    return Error(Code::kVerifyFailed, "engine: program instruction {}: {}", pc, why);
  };
  if (program.empty() || program.size() > content::kMaxProgramLength) {
    return Error(Code::kVerifyFailed, "engine: program length {} out of range", program.size());
  }
  std::vector<TempNode> temp;
  std::vector<uint32_t> stack;
  auto pop = [&](size_t count) {
    std::vector<uint32_t> out(stack.end() - static_cast<ptrdiff_t>(count), stack.end());
    stack.resize(stack.size() - count);
    return out;
  };
  auto push = [&](TempNode n) {
    temp.push_back(std::move(n));
    stack.push_back(static_cast<uint32_t>(temp.size() - 1));
  };
  // An AND of ANDs is one AND (same for OR): splice same-kind children.
  auto combine = [&](Kind kind, std::vector<uint32_t> in) {
    TempNode n{kind, 0, {}};
    for (uint32_t c : in) {
      if (temp[c].kind == kind) {
        n.children.insert(n.children.end(), temp[c].children.begin(), temp[c].children.end());
      } else {
        n.children.push_back(c);
      }
    }
    push(std::move(n));
  };

  for (size_t pc = 0; pc < program.size(); ++pc) {
    const content::Instr& in = program[pc];
    switch (in.op) {
      case OpCode::kAtom:
        if (in.a >= atom_ids.size()) return refuse(pc, "atom index out of range");
        push({Kind::kAtom, atom_ids[in.a], {}});
        break;
      case OpCode::kTrue: push({Kind::kTrue, 0, {}}); break;
      case OpCode::kFalse: push({Kind::kFalse, 0, {}}); break;
      case OpCode::kNot: {
        if (stack.empty()) return refuse(pc, "stack underflow");
        uint32_t x = pop(1)[0];
        if (temp[x].kind == Kind::kNot) {
          stack.push_back(temp[x].children[0]);
        } else {
          push({Kind::kNot, 0, {x}});
        }
        break;
      }
      case OpCode::kAnd:
      case OpCode::kOr: {
        if (in.a < 1 || in.a > stack.size()) return refuse(pc, "operand count out of range");
        std::vector<uint32_t> kids = pop(in.a);
        if (kids.size() == 1) {
          stack.push_back(kids[0]);
        } else {
          combine(in.op == OpCode::kAnd ? Kind::kAnd : Kind::kOr, std::move(kids));
        }
        break;
      }
      case OpCode::kAtLeast: {
        if (in.a < 1 || in.a > stack.size() || in.b < 1 || in.b > in.a) {
          return refuse(pc, "operand count out of range");
        }
        std::vector<uint32_t> kids = pop(in.a);
        if (kids.size() == 1) {
          stack.push_back(kids[0]);
        } else if (in.b == 1) {
          combine(Kind::kOr, std::move(kids));
        } else if (in.b == in.a) {
          combine(Kind::kAnd, std::move(kids));
        } else {
          push({Kind::kAtLeast, in.b, std::move(kids)});
        }
        break;
      }
      default: return refuse(pc, "unknown opcode");
    }
    if (stack.size() > content::kMaxStackDepth) return refuse(pc, "stack too deep");
  }
  if (stack.size() != 1) return Error(Code::kVerifyFailed, "engine: program leaves {} values", stack.size());

  // Temp nodes were created children first, so one forward pass computes
  // costs and depths and emits only the nodes the root reaches.
  std::vector<bool> live(temp.size(), false);
  live[stack[0]] = true;
  for (size_t i = temp.size(); i-- > 0;) {
    if (!live[i]) continue;
    for (uint32_t c : temp[i].children) live[c] = true;
  }
  std::vector<uint32_t> final_id(temp.size(), 0);
  std::vector<size_t> depth(temp.size(), 0);
  for (size_t i = 0; i < temp.size(); ++i) {
    if (!live[i]) continue;
    TempNode& t = temp[i];
    Node n{t.kind, t.arg, 0, static_cast<uint32_t>(t.children.size()), 0};
    if (t.kind == Kind::kAtom) {
      n.cost = atom_cost(t.arg);
    } else {
      n.cost = 0.1;
      for (uint32_t c : t.children) {
        n.cost += nodes_[final_id[c]].cost;
        depth[i] = std::max(depth[i], depth[c] + 1);
      }
      std::stable_sort(t.children.begin(), t.children.end(), [&](uint32_t a, uint32_t b) {
        return nodes_[final_id[a]].cost < nodes_[final_id[b]].cost;
      });
      n.first = static_cast<uint32_t>(kids_.size());
      for (uint32_t c : t.children) kids_.push_back(final_id[c]);
    }
    final_id[i] = static_cast<uint32_t>(nodes_.size());
    nodes_.push_back(n);
  }
  max_depth_ = std::max(max_depth_, depth[stack[0]]);
  return final_id[stack[0]];
}

void ConditionForest::Reorder(const std::function<double(uint32_t)>& atom_cost) {
  // Children precede their parent in nodes_, so one forward pass sees every
  // child's new cost before its parent needs it. (kAnyOf leaves come after
  // their OR, but their cost is a constant set when they were made.)
  for (Node& n : nodes_) {
    if (n.kind == Kind::kAtom) {
      n.cost = atom_cost(n.arg);
      continue;
    }
    if (n.kind == Kind::kAnyOf) {
      n.cost = 0.5;  // a few binary searches, whatever the group's size
      continue;
    }
    auto kids = std::span<uint32_t>(kids_).subspan(n.first, n.count);
    n.cost = 0.1;
    for (uint32_t c : kids) n.cost += nodes_[c].cost;
    std::stable_sort(kids.begin(), kids.end(),
                     [&](uint32_t a, uint32_t b) { return nodes_[a].cost < nodes_[b].cost; });
  }
}

void ConditionForest::GroupAtoms(const std::function<bool(uint32_t)>& groupable) {
  const size_t existing = nodes_.size();
  for (size_t id = 0; id < existing; ++id) {
    if (nodes_[id].kind != Kind::kOr) continue;
    const uint32_t first = nodes_[id].first, count = nodes_[id].count;
    std::vector<uint32_t> group, rest;
    for (uint32_t i = first; i < first + count; ++i) {
      const Node& c = nodes_[kids_[i]];
      if (c.kind == Kind::kAtom && groupable(c.arg)) {
        group.push_back(c.arg);
      } else {
        rest.push_back(kids_[i]);
      }
    }
    if (group.size() < kMinGroup) continue;
    std::sort(group.begin(), group.end());
    group.erase(std::unique(group.begin(), group.end()), group.end());
    Node any{Kind::kAnyOf, 0, static_cast<uint32_t>(group_atoms_.size()),
             static_cast<uint32_t>(group.size()), 0.5};
    group_atoms_.insert(group_atoms_.end(), group.begin(), group.end());
    // The OR keeps its slice of kids_, now shorter: the group, then the rest.
    kids_[first] = static_cast<uint32_t>(nodes_.size());
    std::copy(rest.begin(), rest.end(), kids_.begin() + first + 1);
    nodes_[id].count = static_cast<uint32_t>(rest.size() + 1);
    nodes_.push_back(any);
  }
}

std::optional<Trigger> NecessaryAtoms(const ConditionForest& forest, uint32_t root,
                                      const std::function<std::optional<Trigger>(uint32_t)>& leaf) {
  return Necessary(forest, root, 0, leaf);
}

}  // namespace vigil::engine
