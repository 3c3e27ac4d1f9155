#include "engine/engine.h"

#include <hs/hs.h>
#include <re2/filtered_re2.h>
#include <re2/re2.h>

#include <algorithm>
#include <new>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/condition.h"
#include "engine/literal_index.h"
#include "engine/text_match.h"

namespace vigil::engine {
namespace {

using content::Atom;
using content::AtomOp;
using content::kAnyField;

// Scanned fields up to this many bytes in total are scanned in one pass; a
// larger event is scanned field by field (see LiteralIndex::Scan).
constexpr size_t kScanBufferBytes = 32 * 1024;

// Literals shorter than this are never used as prefilter triggers: they hit
// almost every event, so the callbacks would cost more than evaluating the
// rule outright.
constexpr size_t kMinTriggerBytes = 2;

// A rule's atom after Create(): operands parsed once, text folded once.
struct CompiledAtom {
  AtomOp op = AtomOp::kEquals;
  uint8_t flags = 0;
  FieldIndex field = 0;
  FieldIndex ref_field = 0;
  int64_t number = 0;
  std::string value;  // folded unless kCased
  std::optional<Glob> glob;
  std::unique_ptr<RE2> regex;
  std::optional<Cidr> cidr;
  bool indexed = false;  // its truth comes from the literal index scan

  bool cased() const { return flags & content::kCased; }
};

bool IsLiteralOp(AtomOp op) {
  return op == AtomOp::kEquals || op == AtomOp::kContains || op == AtomOp::kStartsWith ||
         op == AtomOp::kEndsWith;
}

Anchor AnchorOf(AtomOp op) {
  switch (op) {
    case AtomOp::kEquals: return Anchor::kWhole;
    case AtomOp::kStartsWith: return Anchor::kPrefix;
    case AtomOp::kEndsWith: return Anchor::kSuffix;
    default: return Anchor::kNone;
  }
}

bool EvalOnValue(const CompiledAtom& a, const FieldValue& v, const EventView& event) {
  if (a.op == AtomOp::kNull) return !v.present || v.text.empty();
  if (!v.present) return false;
  const std::string_view t = v.text;
  switch (a.op) {
    case AtomOp::kEquals: return a.cased() ? t == a.value : EqualsFold(t, a.value);
    case AtomOp::kContains:
      return a.cased() ? t.find(a.value) != std::string_view::npos : ContainsFold(t, a.value);
    case AtomOp::kStartsWith: return a.cased() ? t.starts_with(a.value) : StartsWithFold(t, a.value);
    case AtomOp::kEndsWith: return a.cased() ? t.ends_with(a.value) : EndsWithFold(t, a.value);
    case AtomOp::kGlob: return a.glob->Matches(t);
    case AtomOp::kRegex:
      return a.regex->Match(re2::StringPiece(t.data(), t.size()), 0, t.size(), RE2::UNANCHORED,
                            nullptr, 0);
    case AtomOp::kCidr: return a.cidr->Contains(t);
    case AtomOp::kNumEq: return v.has_number && v.number == a.number;
    case AtomOp::kNumLt: return v.has_number && v.number < a.number;
    case AtomOp::kNumLte: return v.has_number && v.number <= a.number;
    case AtomOp::kNumGt: return v.has_number && v.number > a.number;
    case AtomOp::kNumGte: return v.has_number && v.number >= a.number;
    case AtomOp::kExists: return true;
    case AtomOp::kFieldRef: {
      const FieldValue& r = event.fields[a.ref_field];
      return r.present && (a.cased() ? t == r.text : EqualsIgnoringCase(t, r.text));
    }
    case AtomOp::kNull: break;  // handled above
  }
  return false;
}

// Relative cost of computing an atom directly; orders condition children.
double AtomCost(const CompiledAtom& a) {
  double per_field = 1;
  switch (a.op) {
    case AtomOp::kGlob: per_field = 4; break;
    case AtomOp::kRegex: per_field = 30; break;
    case AtomOp::kCidr: per_field = 5; break;
    case AtomOp::kEquals:
    case AtomOp::kContains:
    case AtomOp::kStartsWith:
    case AtomOp::kEndsWith: per_field = 2; break;
    default: break;
  }
  return a.field == kAnyField ? per_field * 8 : per_field;
}

// Expected fraction of events on which a literal holds, from its length,
// anchoring and field alone: a crude model, but enough to prefer "/ncat"
// anchored at the end of Image over "-e" anywhere in CommandLine, and never
// to pick Initiated == "true" (a boolean field holds one of two values).
double LiteralRate(size_t length, Anchor anchor, bool any_field, FieldType field_type) {
  static constexpr double kByLength[] = {1, 1, 0.3, 0.1, 0.03, 0.015, 0.01, 0.005, 0.003};
  if (field_type == FieldType::kBoolean) return 0.5;
  double p = kByLength[std::min<size_t>(length, std::size(kByLength) - 1)];
  if (anchor == Anchor::kWhole) p *= 0.2;
  if (anchor == Anchor::kPrefix || anchor == Anchor::kSuffix) p *= 0.5;
  return any_field ? std::min(1.0, p * 6) : p;
}

RE2::Options RegexOptions(uint8_t flags) {
  RE2::Options o;
  o.set_log_errors(false);
  o.set_max_mem(content::kMaxRegexProgramBytes);
  o.set_case_sensitive(!(flags & content::kRegexI));
  o.set_dot_nl(flags & content::kRegexS);
  return o;
}

std::string RegexPattern(const std::string& value, uint8_t flags) {
  // RE2 has no multi-line option outside POSIX mode; the inline flag is it.
  return (flags & content::kRegexM) ? "(?m)" + value : value;
}

// True when the pattern may turn on case folding inline ("(?i)", "(?i:").
bool HasInlineCaseFold(std::string_view pattern) {
  for (size_t p = pattern.find("(?"); p != std::string_view::npos; p = pattern.find("(?", p + 1)) {
    for (size_t i = p + 2; i < pattern.size(); ++i) {
      char c = pattern[i];
      if (c == 'i') return true;
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-')) break;
    }
  }
  return false;
}

// Literals (lowercase) at least one of which every match of the regex
// contains, from RE2's own prefilter analysis; nullopt when the regex has no
// such set. Only for case-sensitive regexes: under (?i) RE2 folds Unicode
// (e.g. KELVIN SIGN matches 'k'), which an ASCII-caseless literal would miss.
std::optional<std::vector<std::string>> RegexTriggerLiterals(const std::string& pattern,
                                                             uint8_t flags) {
  if ((flags & content::kRegexI) || HasInlineCaseFold(pattern)) return std::nullopt;
  re2::FilteredRE2 filter(static_cast<int>(kMinTriggerBytes));
  int id = 0;
  if (filter.Add(pattern, RegexOptions(flags), &id) != RE2::NoError) return std::nullopt;
  std::vector<std::string> literals;
  filter.Compile(&literals);
  // With no literal present the filter must rule the regex out; otherwise it
  // is unfiltered (matches without any of them).
  std::vector<int> none, potential;
  filter.AllPotentials(none, &potential);
  if (literals.empty() || !potential.empty()) return std::nullopt;
  for (const std::string& l : literals) {
    if (l.size() < kMinTriggerBytes) return std::nullopt;
    for (unsigned char c : l) {
      if (c >= 0x80) return std::nullopt;
    }
  }
  return literals;
}

struct TypePlan {
  std::vector<uint32_t> rule_ids;  // local rule -> index in the ruleset, ascending
  std::vector<uint32_t> roots;     // local rule -> its condition tree
  std::vector<CompiledAtom> atoms;
  std::vector<FieldIndex> string_fields;
  ConditionForest forest;
  std::optional<LiteralIndex> index;
  std::vector<uint32_t> trigger_begin;  // by atom, +1 sentinel: rules it makes candidates
  std::vector<uint32_t> trigger_rules;
  std::vector<uint32_t> always;  // local rules evaluated for every event
};

// Out of line so the condition loop that calls it on a memo miss stays small.
[[gnu::noinline]] bool EvalAtom(const TypePlan& plan, const CompiledAtom& a, const EventView& event) {
  if (a.field != kAnyField) return EvalOnValue(a, event.fields[a.field], event);
  for (FieldIndex f : plan.string_fields) {
    if (EvalOnValue(a, event.fields[f], event)) return true;
  }
  return false;
}

// Builds one event type's plan: deduplicated atoms, condition trees,
// prefilter triggers and the literal index.
class PlanBuilder {
 public:
  PlanBuilder(const Schema& schema, EventTypeId type) : type_(schema.event_type(type)) {
    for (size_t f = 0; f < type_.fields.size(); ++f) {
      if (type_.fields[f].type == FieldType::kString) {
        plan_.string_fields.push_back(static_cast<FieldIndex>(f));
      }
    }
  }

  Status AddRule(const content::Rule& rule, uint32_t rule_index) {
    if (rule.atoms.size() > content::kMaxAtomsPerRule) {
      return Status(Code::kVerifyFailed,
                    fmt::format("engine: rule {} ({}): {} atoms", rule_index, rule.id, rule.atoms.size()));
    }
    std::vector<uint32_t> ids;
    for (size_t i = 0; i < rule.atoms.size(); ++i) {
      Result<uint32_t> id = Intern(rule.atoms[i]);
      if (!id) {
        return Status(id.error().code(), fmt::format("engine: rule {} ({}) atom {}: {}", rule_index,
                                                     rule.id, i, id.error().message()));
      }
      ids.push_back(*id);
    }
    Result<uint32_t> root =
        plan_.forest.Add(rule.program, ids, [&](uint32_t a) { return AtomCost(plan_.atoms[a]); });
    if (!root) {
      return Status(root.error().code(),
                    fmt::format("rule {} ({}): {}", rule_index, rule.id, root.error().message()));
    }
    plan_.rule_ids.push_back(rule_index);
    plan_.roots.push_back(*root);
    return Status::Ok();
  }

  Result<TypePlan> Finish() && {
    const size_t n_rules = plan_.rule_ids.size();
    std::vector<std::vector<uint32_t>> triggered_by;  // by atom
    for (uint32_t r = 0; r < n_rules; ++r) {
      std::optional<Trigger> t = NecessaryAtoms(plan_.forest, plan_.roots[r],
                                                [&](uint32_t a) { return LeafTrigger(a); });
      if (!t) {
        plan_.always.push_back(r);
        continue;
      }
      for (uint32_t a : t->atoms) {
        if (triggered_by.size() <= a) triggered_by.resize(a + 1);
        triggered_by[a].push_back(r);
      }
    }
    // Every trigger atom is settled by the scan; derived atoms were appended
    // while computing triggers, so size the tables only now.
    triggered_by.resize(plan_.atoms.size());
    LiteralIndex::Builder literals(type_);
    plan_.trigger_begin.push_back(0);
    for (uint32_t a = 0; a < plan_.atoms.size(); ++a) {
      if (!triggered_by[a].empty()) {
        CompiledAtom& atom = plan_.atoms[a];
        atom.indexed = true;
        literals.Add({a, atom.field, AnchorOf(atom.op), original_value_[a], atom.cased()});
      }
      plan_.trigger_rules.insert(plan_.trigger_rules.end(), triggered_by[a].begin(),
                                 triggered_by[a].end());
      plan_.trigger_begin.push_back(static_cast<uint32_t>(plan_.trigger_rules.size()));
    }
    plan_.forest.GroupAtoms([&](uint32_t a) { return plan_.atoms[a].indexed; });
    plan_.forest.Reorder([&](uint32_t a) { return plan_.atoms[a].indexed ? 0.0 : AtomCost(plan_.atoms[a]); });
    if (!literals.empty()) {
      Result<LiteralIndex> index = std::move(literals).Build();
      if (!index) return Error(index.error());
      plan_.index.emplace(std::move(*index));
    }
    return std::move(plan_);
  }

 private:
  // Dedupes an atom by its meaning and compiles it; refuses (kVerifyFailed)
  // anything that would read outside the event or cannot be compiled.
  Result<uint32_t> Intern(const Atom& atom) {
    const size_t n_fields = type_.fields.size();
    if (static_cast<uint8_t>(atom.op) >= content::kAtomOpCount) {
      return Error(Code::kVerifyFailed, "unknown operator {}", static_cast<int>(atom.op));
    }
    if (atom.field != kAnyField && atom.field >= n_fields) {
      return Error(Code::kVerifyFailed, "field index {} out of range (event type {} has {} fields)",
                   atom.field, type_.name, n_fields);
    }
    if (atom.op == AtomOp::kFieldRef && atom.ref_field >= n_fields) {
      return Error(Code::kVerifyFailed, "referenced field index {} out of range (event type {} has {} fields)",
                   atom.ref_field, type_.name, n_fields);
    }
    if (atom.value.size() > content::kMaxValueBytes) {
      return Error(Code::kVerifyFailed, "operand of {} bytes", atom.value.size());
    }
    const uint8_t flags = atom.flags & content::kAtomFlagsMask;
    std::string key = fmt::format("{}:{}:{}:{}:{}:", static_cast<int>(atom.op), flags, atom.field,
                                  atom.op == AtomOp::kFieldRef ? atom.ref_field : 0, atom.number);
    key += atom.value;
    if (auto it = by_key_.find(key); it != by_key_.end()) return it->second;

    CompiledAtom c;
    c.op = atom.op;
    c.flags = flags;
    c.field = atom.field;
    c.ref_field = atom.op == AtomOp::kFieldRef ? atom.ref_field : 0;
    c.number = atom.number;
    c.value = c.cased() ? atom.value : FoldAscii(atom.value);
    switch (atom.op) {
      case AtomOp::kGlob: c.glob = Glob::Compile(atom.value, c.cased()); break;
      case AtomOp::kRegex: {
        auto re = std::make_unique<RE2>(RegexPattern(atom.value, flags), RegexOptions(flags));
        if (!re->ok()) return Error(Code::kVerifyFailed, "regex refused by RE2: {}", re->error());
        c.regex = std::move(re);
        break;
      }
      case AtomOp::kCidr:
        c.cidr = Cidr::Parse(atom.value);
        if (!c.cidr) return Error(Code::kVerifyFailed, "bad network '{}'", atom.value);
        break;
      default: break;
    }
    return Append(std::move(key), std::move(c), atom.value);
  }

  uint32_t Append(std::string key, CompiledAtom c, std::string original) {
    const auto id = static_cast<uint32_t>(plan_.atoms.size());
    plan_.atoms.push_back(std::move(c));
    original_value_.push_back(std::move(original));
    by_key_.emplace(std::move(key), id);
    return id;
  }

  // A literal the prefilter may search for: kContains on `field`, interned
  // like a rule's atom so identical literals share one pattern.
  uint32_t DerivedLiteral(FieldIndex field, const std::string& value, bool cased) {
    Atom a;
    a.op = AtomOp::kContains;
    a.flags = cased ? content::kCased : 0;
    a.field = field;
    a.value = value;
    // Cannot fail: the field was validated with the atom it derives from.
    return *Intern(a);
  }

  std::optional<Trigger> LeafTrigger(uint32_t id) {
    if (auto it = leaf_memo_.find(id); it != leaf_memo_.end()) return it->second;
    std::optional<Trigger> t = ComputeLeafTrigger(id);
    leaf_memo_.emplace(id, t);
    return t;
  }

  std::optional<Trigger> ComputeLeafTrigger(uint32_t id) {
    const CompiledAtom& a = plan_.atoms[id];
    const bool any = a.field == kAnyField;
    const FieldType type = any ? FieldType::kString : type_.fields[a.field].type;
    if (IsLiteralOp(a.op)) {
      if (a.value.size() < kMinTriggerBytes) return std::nullopt;
      return Trigger{{id}, LiteralRate(a.value.size(), AnchorOf(a.op), any, type)};
    }
    if (a.op == AtomOp::kGlob) {
      const std::string lit = a.glob->longest_literal();
      if (lit.size() < kMinTriggerBytes) return std::nullopt;
      const FieldIndex field = a.field;
      const bool cased = a.cased();
      uint32_t d = DerivedLiteral(field, lit, cased);  // may reallocate plan_.atoms
      return Trigger{{d}, LiteralRate(lit.size(), Anchor::kNone, any, type)};
    }
    if (a.op == AtomOp::kRegex) {
      auto literals = RegexTriggerLiterals(RegexPattern(original_value_[id], a.flags), a.flags);
      if (!literals) return std::nullopt;
      const FieldIndex field = a.field;
      Trigger t;
      for (const std::string& l : *literals) {
        t.atoms.push_back(DerivedLiteral(field, l, false));
        t.cost += LiteralRate(l.size(), Anchor::kNone, any, type);
      }
      std::sort(t.atoms.begin(), t.atoms.end());
      t.atoms.erase(std::unique(t.atoms.begin(), t.atoms.end()), t.atoms.end());
      return t;
    }
    return std::nullopt;
  }

  const EventTypeDef& type_;
  TypePlan plan_;
  std::vector<std::string> original_value_;  // by atom: the operand as written
  std::unordered_map<std::string, uint32_t> by_key_;
  std::unordered_map<uint32_t, std::optional<Trigger>> leaf_memo_;
};

}  // namespace

struct Engine::Impl {
  Impl(const content::Ruleset& rs, const Schema& s) : schema(s), info(rs.info), rules(rs.rules) {}
  Schema schema;
  content::RulesetInfo info;
  std::vector<content::Rule> rules;
  std::vector<TypePlan> types;  // by EventTypeId
  size_t max_atoms = 0;
  size_t max_rules = 0;
  size_t max_depth = 0;
  hs_scratch_t* prototype = nullptr;  // cloned by NewScratch()

  ~Impl() {
    if (prototype) hs_free_scratch(prototype);
  }
};

struct Engine::Scratch::State {
  const Engine::Impl* owner = nullptr;
  hs_scratch_t* hs = nullptr;
  uint32_t epoch = 0;
  // Per atom: 2 * epoch + value once known for the current event. Stale
  // epochs mean "unknown", so nothing is cleared between events.
  std::vector<uint32_t> atom_state;
  std::vector<uint32_t> rule_stamp;  // per local rule: epoch it was last evaluated
  std::vector<uint32_t> hits;
  std::vector<uint32_t> matches;
  std::vector<ConditionForest::Frame> frames;
  std::unique_ptr<char[]> buffer;

  ~State() {
    if (hs) hs_free_scratch(hs);
  }

  uint32_t NextEpoch() {
    if (++epoch >= (1u << 31)) {  // 2 * epoch + 1 must fit in 32 bits
      std::fill(atom_state.begin(), atom_state.end(), 0);
      std::fill(rule_stamp.begin(), rule_stamp.end(), 0);
      epoch = 1;
    }
    return epoch;
  }
};

Engine::Scratch::Scratch(std::unique_ptr<State> state) : state_(std::move(state)) {}
Engine::Scratch::~Scratch() = default;

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Engine::~Engine() = default;

Result<std::shared_ptr<const Engine>> Engine::Create(const content::Ruleset& ruleset,
                                                     const Schema& schema) {
  if (ruleset.rules.size() > content::kMaxRules) {
    return Error(Code::kVerifyFailed, "engine: {} rules (limit {})", ruleset.rules.size(),
                 content::kMaxRules);
  }
  auto impl = std::make_unique<Impl>(ruleset, schema);
  const size_t n_types = schema.event_types().size();
  std::vector<PlanBuilder> builders;
  builders.reserve(n_types);
  for (size_t t = 0; t < n_types; ++t) builders.emplace_back(schema, static_cast<EventTypeId>(t));
  for (size_t i = 0; i < ruleset.rules.size(); ++i) {
    const content::Rule& rule = ruleset.rules[i];
    if (rule.event_type >= n_types) {
      return Error(Code::kVerifyFailed, "engine: rule {} ({}): event type {} out of range ({} types)",
                   i, rule.id, rule.event_type, n_types);
    }
    Status s = builders[rule.event_type].AddRule(rule, static_cast<uint32_t>(i));
    if (!s.ok()) return Error(std::move(s));
  }
  for (PlanBuilder& b : builders) {
    Result<TypePlan> plan = std::move(b).Finish();
    if (!plan) return Error(plan.error());
    impl->types.push_back(std::move(*plan));
  }
  for (const TypePlan& p : impl->types) {
    impl->max_atoms = std::max(impl->max_atoms, p.atoms.size());
    impl->max_rules = std::max(impl->max_rules, p.rule_ids.size());
    impl->max_depth = std::max(impl->max_depth, p.forest.max_depth());
    if (p.index) {
      Status s = p.index->AllocScratch(&impl->prototype);
      if (!s.ok()) return Error(std::move(s));
    }
  }
  return std::shared_ptr<const Engine>(new Engine(std::move(impl)));
}

std::unique_ptr<Engine::Scratch> Engine::NewScratch() const {
  auto s = std::make_unique<Scratch::State>();
  s->owner = impl_.get();
  if (impl_->prototype && hs_clone_scratch(impl_->prototype, &s->hs) != HS_SUCCESS) {
    throw std::bad_alloc();
  }
  s->atom_state.assign(impl_->max_atoms, 0);
  s->rule_stamp.assign(impl_->max_rules, 0);
  s->hits.assign(impl_->max_atoms, 0);
  s->matches.assign(impl_->max_rules, 0);
  s->frames.assign(impl_->max_depth + 1, {});
  s->buffer = std::make_unique<char[]>(kScanBufferBytes);
  return std::unique_ptr<Scratch>(new Scratch(std::move(s)));
}

std::span<const uint32_t> Engine::Evaluate(const EventView& event, Scratch& scratch) const {
  Scratch::State& s = *scratch.state_;
  const Impl& im = *impl_;
  if (s.owner != &im || event.type >= im.types.size() ||
      event.fields.size() != im.schema.event_type(event.type).fields.size()) {
    return {};
  }
  const TypePlan& plan = im.types[event.type];
  if (plan.rule_ids.empty()) return {};

  const uint32_t epoch = s.NextEpoch();
  const uint32_t true_mark = 2 * epoch + 1;
  uint32_t* const state = s.atom_state.data();
  HitSink sink{state, true_mark, s.hits.data(), 0};
  if (plan.index) plan.index->Scan(event, s.hs, s.buffer.get(), kScanBufferBytes, sink);

  auto atom_value = [&](uint32_t a) -> bool {
    const uint32_t st = state[a];
    if (st >> 1 == epoch) return st & 1;
    const CompiledAtom& atom = plan.atoms[a];
    if (atom.indexed) return false;  // the scan would have marked it
    const bool v = EvalAtom(plan, atom, event);
    state[a] = 2 * epoch + v;
    return v;
  };
  // Grouped atoms are all settled by the scan: one of them holds exactly
  // when one of the event's (few) hits is in the sorted group.
  auto any_of = [&](std::span<const uint32_t> group) {
    for (uint32_t h = 0; h < sink.hit_count; ++h) {
      if (std::binary_search(group.begin(), group.end(), s.hits[h])) return true;
    }
    return false;
  };
  uint32_t n_matches = 0;
  auto evaluate = [&](uint32_t local) {
    if (plan.forest.Evaluate(plan.roots[local], s.frames.data(), atom_value, any_of)) {
      s.matches[n_matches++] = plan.rule_ids[local];
    }
  };
  for (uint32_t local : plan.always) evaluate(local);
  for (uint32_t h = 0; h < sink.hit_count; ++h) {
    const uint32_t a = s.hits[h];
    for (uint32_t i = plan.trigger_begin[a], end = plan.trigger_begin[a + 1]; i < end; ++i) {
      const uint32_t local = plan.trigger_rules[i];
      if (s.rule_stamp[local] == epoch) continue;
      s.rule_stamp[local] = epoch;
      evaluate(local);
    }
  }
  std::sort(s.matches.begin(), s.matches.begin() + n_matches);
  return std::span<const uint32_t>(s.matches.data(), n_matches);
}

const content::RulesetInfo& Engine::info() const { return impl_->info; }
std::span<const content::Rule> Engine::rules() const { return impl_->rules; }
const Schema& Engine::schema() const { return impl_->schema; }

Engine::Stats Engine::stats() const {
  Stats st;
  st.rules = impl_->rules.size();
  for (const TypePlan& p : impl_->types) {
    st.atoms += p.atoms.size();
    st.literal_patterns += p.index ? p.index->patterns() : 0;
    st.scanned_fields += p.index ? p.index->scanned_fields() : 0;
    st.always_evaluated += p.always.size();
  }
  return st;
}

}  // namespace vigil::engine
