#include "content/lower.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <re2/re2.h>

#include "content/condition_parser.h"
#include "content/verifier.h"

namespace vigil::content {
namespace {

// A condition may reference a selection many times; each reference copies
// its expression. Refusing trees past this size keeps memory bounded long
// before the program length bound could be checked.
constexpr size_t kMaxExprNodes = 4 * kMaxProgramLength;
// and/or nodes wider than this are split, so a selection with hundreds of
// values does not need hundreds of stack slots (kMaxStackDepth).
constexpr size_t kMaxArity = 64;

// ---------------------------------------------------------------------------
// Boolean expression over candidate atoms, before it becomes a program.

struct Expr {
  enum class Kind : uint8_t { kAtom, kAnd, kOr, kNot, kAtLeast };
  Kind kind = Kind::kAtom;
  uint32_t atom = 0;      // kAtom: index in the rule's candidate atom pool
  uint32_t at_least = 0;  // kAtLeast
  std::vector<Expr> children;
};

Expr Leaf(uint32_t atom) {
  Expr e;
  e.atom = atom;
  return e;
}

Expr Not(Expr child) {
  Expr e;
  e.kind = Expr::Kind::kNot;
  e.children.push_back(std::move(child));
  return e;
}

// and/or of `children`; a single child stands for itself.
Expr Combine(Expr::Kind kind, std::vector<Expr> children) {
  if (children.size() == 1) return std::move(children[0]);
  Expr e;
  e.kind = kind;
  e.children = std::move(children);
  return e;
}

// ---------------------------------------------------------------------------
// Sigma strings: bytes where each byte is a literal or a wildcard.

struct SChar {
  char c;
  bool wild;  // c is '*' (any run) or '?' (one byte)
};
using SString = std::vector<SChar>;

// Sigma escaping: \* \? \\ are literal; a backslash before anything else is
// itself literal. Unescaped * and ? are wildcards.
SString ParseSigmaString(std::string_view text) {
  SString out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\\' && i + 1 < text.size() && (text[i + 1] == '*' || text[i + 1] == '?' || text[i + 1] == '\\')) {
      out.push_back({text[++i], false});
    } else {
      out.push_back({c, c == '*' || c == '?'});
    }
  }
  return out;
}

bool HasWildcard(const SString& s) {
  return std::any_of(s.begin(), s.end(), [](const SChar& ch) { return ch.wild; });
}

std::string Literal(const SString& s, size_t begin, size_t end) {
  std::string out;
  for (size_t i = begin; i < end; ++i) out.push_back(s[i].c);
  return out;
}

bool IsStar(const SChar& ch) { return ch.wild && ch.c == '*'; }

struct Match {
  AtomOp op;
  std::string value;
};

// The cheapest operator that means the same as the glob `s`.
Match Simplify(SString s) {
  // "**" matches what "*" matches.
  s.erase(std::unique(s.begin(), s.end(), [](const SChar& a, const SChar& b) { return IsStar(a) && IsStar(b); }),
          s.end());
  if (!HasWildcard(s)) return {AtomOp::kEquals, Literal(s, 0, s.size())};
  if (s.size() == 1 && IsStar(s[0])) return {AtomOp::kExists, ""};
  size_t first_wild = 0, wild_count = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i].wild) {
      if (wild_count++ == 0) first_wild = i;
    }
  }
  bool lead = IsStar(s.front()), trail = IsStar(s.back());
  if (lead && trail && wild_count == 2) return {AtomOp::kContains, Literal(s, 1, s.size() - 1)};
  if (trail && wild_count == 1) return {AtomOp::kStartsWith, Literal(s, 0, s.size() - 1)};
  if (lead && wild_count == 1 && first_wild == 0) return {AtomOp::kEndsWith, Literal(s, 1, s.size())};
  std::string glob;
  for (const SChar& ch : s) {
    if (!ch.wild && (ch.c == '*' || ch.c == '?' || ch.c == '\\')) glob.push_back('\\');
    glob.push_back(ch.c);
  }
  return {AtomOp::kGlob, std::move(glob)};
}

SString WithLeadingStar(SString s) {
  if (s.empty() || !IsStar(s.front())) s.insert(s.begin(), {'*', true});
  return s;
}
SString WithTrailingStar(SString s) {
  if (s.empty() || !IsStar(s.back())) s.push_back({'*', true});
  return s;
}

std::string Base64(std::string_view data) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    uint32_t v = (uint8_t(data[i]) << 16) | (uint8_t(data[i + 1]) << 8) | uint8_t(data[i + 2]);
    for (int shift : {18, 12, 6, 0}) out.push_back(kAlphabet[(v >> shift) & 63]);
  }
  if (i + 1 == data.size()) {
    uint32_t v = uint8_t(data[i]) << 16;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out += "==";
  } else if (i + 2 == data.size()) {
    uint32_t v = (uint8_t(data[i]) << 16) | (uint8_t(data[i + 1]) << 8);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back('=');
  }
  return out;
}

SString LiteralString(std::string_view text) {
  SString out;
  for (char c : text) out.push_back({c, false});
  return out;
}

// pySigma's base64offset: the value may sit at any of three byte offsets in
// the encoded data, so encode it after 0, 1 and 2 filler bytes and cut the
// characters that depend on the unknown neighbours.
std::vector<SString> Base64OffsetVariants(std::string_view data) {
  static constexpr size_t kStart[3] = {0, 2, 3};
  static constexpr size_t kEndCut[3] = {0, 3, 2};  // characters dropped at the end
  std::vector<SString> out;
  for (size_t i = 0; i < 3; ++i) {
    std::string encoded = Base64(std::string(i, ' ') + std::string(data));
    size_t cut = kEndCut[(data.size() + i) % 3];
    size_t begin = std::min(kStart[i], encoded.size());
    size_t end = encoded.size() >= cut ? encoded.size() - cut : 0;
    out.push_back(LiteralString(end > begin ? std::string_view(encoded).substr(begin, end - begin) : ""));
  }
  return out;
}

bool IsAsciiWord(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// Positions pySigma's windash expands: a literal '-' or '/' that starts a
// word (regex \B[-/]\b: no word character before, a word character after).
// Wildcards separate the literal parts, as in pySigma.
std::vector<size_t> WindashPositions(const SString& s) {
  std::vector<size_t> out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i].wild || (s[i].c != '-' && s[i].c != '/')) continue;
    bool word_before = i > 0 && !s[i - 1].wild && IsAsciiWord(s[i - 1].c);
    bool word_after = i + 1 < s.size() && !s[i + 1].wild && IsAsciiWord(s[i + 1].c);
    if (!word_before && word_after) out.push_back(i);
  }
  return out;
}

constexpr std::string_view kDashes[] = {"-", "/", "\u2013", "\u2014", "\u2015"};

// Every combination of the five dash forms at each position.
std::vector<SString> WindashVariants(const SString& s, const std::vector<size_t>& positions) {
  std::vector<SString> out;
  std::vector<size_t> choice(positions.size(), 0);
  while (true) {
    SString v;
    size_t next = 0;
    for (size_t i = 0; i < s.size(); ++i) {
      if (next < positions.size() && positions[next] == i) {
        for (char c : kDashes[choice[next]]) v.push_back({c, false});
        ++next;
      } else {
        v.push_back(s[i]);
      }
    }
    out.push_back(std::move(v));
    size_t k = 0;
    while (k < choice.size() && ++choice[k] == std::size(kDashes)) choice[k++] = 0;
    if (k == choice.size()) break;
  }
  return out;
}

// ---------------------------------------------------------------------------
// Modifiers.

enum class Mod {
  kContains, kStartsWith, kEndsWith, kAll, kBase64, kBase64Offset, kWindash, kRe, kReI, kReM, kReS,
  kCidr, kExists, kCased, kFieldRef, kLt, kLte, kGt, kGte,
};

struct ModifierName {
  std::string_view name;
  Mod mod;
};
constexpr ModifierName kModifiers[] = {
    {"contains", Mod::kContains}, {"startswith", Mod::kStartsWith}, {"endswith", Mod::kEndsWith},
    {"all", Mod::kAll},           {"base64", Mod::kBase64},         {"base64offset", Mod::kBase64Offset},
    {"windash", Mod::kWindash},   {"re", Mod::kRe},                 {"i", Mod::kReI},
    {"ignorecase", Mod::kReI},    {"m", Mod::kReM},                 {"multiline", Mod::kReM},
    {"s", Mod::kReS},             {"dotall", Mod::kReS},            {"cidr", Mod::kCidr},
    {"exists", Mod::kExists},     {"cased", Mod::kCased},           {"fieldref", Mod::kFieldRef},
    {"lt", Mod::kLt},             {"lte", Mod::kLte},               {"gt", Mod::kGt},
    {"gte", Mod::kGte},
};
// Sigma modifiers vigil knows and deliberately does not implement.
constexpr std::string_view kUnsupportedModifiers[] = {
    "wide", "utf16le", "utf16be", "utf16", "expand", "minute", "hour", "day", "week", "month", "year",
};

// The modifiers of one field, sorted into what they decide.
struct Modifiers {
  std::vector<Mod> transforms;  // contains/startswith/endswith/base64/base64offset/windash, in order
  bool all = false;
  bool cased = false;
  uint8_t regex_flags = 0;
  // At most one "kind": regex, cidr, exists, fieldref or a comparison.
  std::optional<Mod> kind;
};

bool IsWildcardMod(Mod m) { return m == Mod::kContains || m == Mod::kStartsWith || m == Mod::kEndsWith; }

std::string_view ModName(Mod m) {
  for (const auto& entry : kModifiers) {
    if (entry.mod == m) return entry.name;
  }
  return "?";
}

// ---------------------------------------------------------------------------

bool ParseInt64(std::string_view text, int64_t& out) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && ptr == text.data() + text.size() && !text.empty();
}

// "10.0.0.0/8", "fe80::/10"; a bare address is a single host. Returns the
// canonical text (with a prefix length) or nullopt. The syntax is the
// verifier's (CheckCidr).
std::optional<std::string> ParseCidr(std::string_view text) {
  std::string cidr(text);
  if (text.find('/') == std::string_view::npos) {
    unsigned char buf[16];
    cidr += inet_pton(AF_INET, cidr.c_str(), buf) == 1 ? "/32" : "/128";
  }
  std::string why;
  if (!CheckCidr(cidr, why)) return std::nullopt;
  return cidr;
}

std::optional<Level> ParseLevel(std::string_view text) {
  for (Level l : {Level::kInformational, Level::kLow, Level::kMedium, Level::kHigh, Level::kCritical}) {
    if (text == LevelName(l)) return l;
  }
  return std::nullopt;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// Glob over selection names: only '*' is special, as in pySigma.
bool NameMatches(std::string_view pattern, std::string_view name) {
  size_t p = 0, n = 0, star = std::string_view::npos, mark = 0;
  while (n < name.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = n;
    } else if (p < pattern.size() && pattern[p] == name[n]) {
      ++p;
      ++n;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      n = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

std::string Quoted(std::string_view s) {
  constexpr size_t kShown = 60;
  return s.size() <= kShown ? fmt::format("'{}'", s) : fmt::format("'{}...'", s.substr(0, kShown));
}

// ---------------------------------------------------------------------------

class Lowerer {
 public:
  Lowerer(const SigmaRule& src, const Schema& schema, Diagnostics& diags)
      : src_(src), schema_(schema), diags_(diags), errors_before_(diags.error_count()) {}

  LowerResult Run() {
    LowerResult result;
    if (!MapLogsource()) {
      result.outcome = LowerOutcome::kSkipped;
      return result;
    }
    Rule& rule = result.rule;
    rule.id = src_.id;
    rule.title = src_.title;
    rule.status = src_.status;
    rule.tags = src_.tags;
    rule.source = fmt::format("{}:{}", src_.file, src_.line);
    rule.event_type = type_;
    rule.event_type_name = schema_.event_type(type_).name;
    rule.level = LowerLevel();
    rule.block = LowerAction();
    if (src_.timeframe) {
      diags_.Error(DiagCode::kUnsupportedFeature, At(src_.timeframe->line),
                   "'timeframe' belongs to aggregations and correlations, which are not supported");
    }

    for (const SigmaSelection& sel : src_.selections) selections_.push_back(LowerSelection(sel));

    std::vector<Expr> alternatives;
    for (const SigmaText& cond : src_.conditions) {
      std::optional<CondNode> tree = ParseCondition(cond.text, diags_, At(cond.line));
      if (!tree) continue;
      std::optional<Expr> e = Resolve(*tree, cond.line);
      if (e) alternatives.push_back(std::move(*e));
    }
    if (diags_.error_count() != errors_before_ || alternatives.empty()) {
      if (diags_.error_count() == errors_before_) {
        diags_.Error(DiagCode::kMissingKey, At(src_.detection_line), "the rule has no usable condition");
      }
      return result;
    }
    Expr root = Normalize(Combine(Expr::Kind::kOr, std::move(alternatives)));
    if (!Emit(root, rule)) return result;
    result.outcome = LowerOutcome::kCompiled;
    return result;
  }

 private:
  Location At(int line) const { return {src_.file, line, src_.id}; }

  bool MapLogsource() {
    auto skip = [&](std::string why) {
      diags_.Warning(DiagCode::kUnsupportedLogsource, At(src_.logsource_line),
                     fmt::format("rule skipped: {}", why));
      return false;
    };
    if (!src_.product || src_.product->text != "linux") {
      return skip(src_.product ? fmt::format("logsource product '{}' is not linux", src_.product->text)
                               : std::string("logsource has no product (vigil supplies product: linux)"));
    }
    if (src_.service) {
      return skip(fmt::format("logsource service '{}' is a log vigil does not read; vigil supplies events "
                              "by category",
                              src_.service->text));
    }
    if (!src_.category) return skip("logsource has no category");
    std::optional<EventTypeId> type = schema_.FindEventType(src_.category->text);
    if (!type) {
      std::string known;
      for (const auto& t : schema_.event_types()) known += (known.empty() ? "" : ", ") + t.name;
      return skip(fmt::format("logsource category '{}' is not an event type vigil supplies ({})",
                              src_.category->text, known));
    }
    type_ = *type;
    return true;
  }

  Level LowerLevel() {
    if (!src_.level) {
      diags_.Warning(DiagCode::kMissingKey, At(src_.line), "the rule has no 'level'; using medium");
      return Level::kMedium;
    }
    std::optional<Level> level = ParseLevel(src_.level->text);
    if (!level) {
      diags_.Warning(DiagCode::kBadValue, At(src_.level->line),
                     fmt::format("unknown level {}; using medium", Quoted(src_.level->text)));
      return Level::kMedium;
    }
    return *level;
  }

  // `vigil: {action: ...}`. An unknown action is an error, not a default:
  // a rule meant to block must not quietly only alert, nor the reverse. Whether
  // the rule can block at all is the verifier's decision (CheckBlockingRule).
  bool LowerAction() {
    if (!src_.action) return false;
    if (src_.action->text == "alert") return false;
    if (src_.action->text == "block") return true;
    diags_.Error(DiagCode::kBadValue, At(src_.action->line),
                 fmt::format("unknown vigil.action {} (alert or block)", Quoted(src_.action->text)));
    return false;
  }

  // --- atoms ---------------------------------------------------------------

  // Adds `atom` to the candidate pool (deduplicated); nullopt when the pool
  // is full, reported once.
  std::optional<uint32_t> Intern(Atom atom, int line) {
    std::string key = fmt::format("{}|{}|{}|{}|{}|", static_cast<int>(atom.op), atom.flags, atom.field, atom.number,
                                  atom.ref_field);
    key += atom.value;
    auto it = interned_.find(key);
    if (it != interned_.end()) return it->second;
    if (pool_.size() >= kMaxAtomsPerRule) {
      if (!pool_full_reported_) {
        diags_.Error(DiagCode::kTooComplex, At(line),
                     fmt::format("the rule needs more than {} distinct tests (atoms)", kMaxAtomsPerRule));
        pool_full_reported_ = true;
      }
      return std::nullopt;
    }
    uint32_t index = static_cast<uint32_t>(pool_.size());
    pool_.push_back(std::move(atom));
    interned_.emplace(std::move(key), index);
    return index;
  }

  Atom FieldAtom(FieldIndex field, AtomOp op) const {
    Atom a;
    a.op = op;
    a.field = field;
    a.field_name = field == kAnyField ? "" : schema_.event_type(type_).fields[field].name;
    return a;
  }

  // --- selections ----------------------------------------------------------

  std::optional<Expr> LowerSelection(const SigmaSelection& sel) {
    if (sel.kind == SigmaSelection::Kind::kKeywords) return LowerKeywords(sel);
    if (sel.maps.empty()) {
      diags_.Error(DiagCode::kEmptySelection, At(sel.line), fmt::format("selection '{}' is empty", sel.name));
      return std::nullopt;
    }
    std::vector<Expr> alternatives;
    bool ok = true;
    for (const SigmaMap& map : sel.maps) {
      if (map.fields.empty()) {
        diags_.Error(DiagCode::kEmptySelection, At(map.line),
                     fmt::format("selection '{}' has an empty map", sel.name));
        ok = false;
        continue;
      }
      std::vector<Expr> conjuncts;
      for (const SigmaFieldSpec& spec : map.fields) {
        std::optional<Expr> e = LowerField(sel.name, spec);
        if (!e) {
          ok = false;
          continue;
        }
        conjuncts.push_back(std::move(*e));
      }
      if (ok) alternatives.push_back(Combine(Expr::Kind::kAnd, std::move(conjuncts)));
    }
    if (!ok) return std::nullopt;
    return Combine(Expr::Kind::kOr, std::move(alternatives));
  }

  std::optional<Expr> LowerKeywords(const SigmaSelection& sel) {
    if (sel.keywords.empty()) {
      diags_.Error(DiagCode::kEmptySelection, At(sel.line), fmt::format("selection '{}' is empty", sel.name));
      return std::nullopt;
    }
    std::vector<Expr> alternatives;
    for (const SigmaScalar& v : sel.keywords) {
      if (v.is_null) {
        diags_.Error(DiagCode::kBadValue, At(v.line),
                     fmt::format("selection '{}': null is not a keyword", sel.name));
        return std::nullopt;
      }
      if (!CheckLength(v)) return std::nullopt;
      Match m = Simplify(WithTrailingStar(WithLeadingStar(ParseSigmaString(v.text))));
      if (m.op == AtomOp::kExists) {
        diags_.Error(DiagCode::kBadValue, At(v.line),
                     fmt::format("selection '{}': keyword {} matches every event", sel.name, Quoted(v.text)));
        return std::nullopt;
      }
      Atom a = FieldAtom(kAnyField, m.op);
      a.value = std::move(m.value);
      std::optional<uint32_t> index = Intern(std::move(a), v.line);
      if (!index) return std::nullopt;
      alternatives.push_back(Leaf(*index));
    }
    return Combine(Expr::Kind::kOr, std::move(alternatives));
  }

  bool CheckLength(const SigmaScalar& v) {
    if (v.text.size() <= kMaxValueBytes) return true;
    diags_.Error(DiagCode::kValueTooLong, At(v.line),
                 fmt::format("value of {} bytes (limit {}): {}", v.text.size(), kMaxValueBytes, Quoted(v.text)));
    return false;
  }

  std::optional<FieldIndex> ResolveField(std::string_view name, int line, std::string_view context) {
    if (std::optional<FieldIndex> f = schema_.FindField(type_, name)) return f;
    const EventTypeDef& type = schema_.event_type(type_);
    std::string hint;
    for (const FieldDef& f : type.fields) {
      if (EqualsIgnoreCase(f.name, name)) hint = fmt::format("; did you mean '{}'?", f.name);
    }
    if (hint.empty()) {
      std::string elsewhere;
      for (const EventTypeDef& other : schema_.event_types()) {
        for (const FieldDef& f : other.fields) {
          if (f.name == name) elsewhere += (elsewhere.empty() ? "" : ", ") + other.name;
        }
      }
      if (!elsewhere.empty()) hint = fmt::format("; it exists in {}", elsewhere);
    }
    diags_.Error(DiagCode::kUnknownField, At(line),
                 fmt::format("rule '{}' ({}): {}field {} is not supplied by event type {}{}", src_.title, src_.file,
                             context, Quoted(name), type.name, hint));
    return std::nullopt;
  }

  std::optional<Modifiers> ParseModifiers(std::string_view field, std::string_view list, int line) {
    Modifiers mods;
    std::vector<Mod> seen;
    bool ok = true;
    auto conflict = [&](std::string why) {
      diags_.Error(DiagCode::kModifierConflict, At(line), fmt::format("field '{}': {}", field, why));
      ok = false;
    };
    while (!list.empty()) {
      size_t bar = list.find('|');
      std::string_view name = list.substr(0, bar);
      list = bar == std::string_view::npos ? std::string_view() : list.substr(bar + 1);
      const ModifierName* entry = nullptr;
      for (const auto& m : kModifiers) {
        if (m.name == name) entry = &m;
      }
      if (!entry) {
        bool known = std::find(std::begin(kUnsupportedModifiers), std::end(kUnsupportedModifiers), name) !=
                     std::end(kUnsupportedModifiers);
        if (known) {
          diags_.Error(DiagCode::kUnsupportedFeature, At(line),
                       fmt::format("field '{}': modifier '{}' is not supported", field, name));
        } else {
          diags_.Error(DiagCode::kUnknownModifier, At(line),
                       fmt::format("field '{}': unknown modifier {}", field, Quoted(name)));
        }
        ok = false;
        continue;
      }
      Mod m = entry->mod;
      if (std::find(seen.begin(), seen.end(), m) != seen.end()) {
        conflict(fmt::format("modifier '{}' given twice", name));
        continue;
      }
      seen.push_back(m);
      switch (m) {
        case Mod::kAll: mods.all = true; break;
        case Mod::kCased: mods.cased = true; break;
        case Mod::kReI: mods.regex_flags |= kRegexI; break;
        case Mod::kReM: mods.regex_flags |= kRegexM; break;
        case Mod::kReS: mods.regex_flags |= kRegexS; break;
        case Mod::kContains:
        case Mod::kStartsWith:
        case Mod::kEndsWith:
        case Mod::kBase64:
        case Mod::kBase64Offset:
        case Mod::kWindash: mods.transforms.push_back(m); break;
        default:
          if (mods.kind) {
            conflict(fmt::format("'{}' and '{}' cannot be combined", ModName(*mods.kind), name));
          } else {
            mods.kind = m;
          }
      }
    }
    if (!ok) return std::nullopt;
    if (mods.regex_flags != 0 && mods.kind != Mod::kRe) conflict("regex flags (i, m, s) need 're'");
    if (mods.kind && !mods.transforms.empty()) {
      conflict(fmt::format("'{}' cannot be combined with '{}'", ModName(*mods.kind), ModName(mods.transforms[0])));
    }
    if (mods.cased && mods.kind) conflict(fmt::format("'cased' does not apply to '{}'", ModName(*mods.kind)));
    if (std::count_if(mods.transforms.begin(), mods.transforms.end(), IsWildcardMod) > 1) {
      conflict("only one of contains, startswith, endswith may be given");
    }
    auto has = [&](Mod m) { return std::find(mods.transforms.begin(), mods.transforms.end(), m) != mods.transforms.end(); };
    if (has(Mod::kBase64) && has(Mod::kBase64Offset)) conflict("base64 and base64offset cannot be combined");
    if (!ok) return std::nullopt;
    return mods;
  }

  std::optional<Expr> LowerField(const std::string& selection, const SigmaFieldSpec& spec) {
    std::string_view key = spec.key;
    size_t bar = key.find('|');
    std::string_view name = key.substr(0, bar);
    std::string_view modifier_list = bar == std::string_view::npos ? std::string_view() : key.substr(bar + 1);
    if (name.empty()) {
      diags_.Error(DiagCode::kBadValue, At(spec.line),
                   fmt::format("selection '{}': key {} has no field name", selection, Quoted(key)));
      return std::nullopt;
    }
    std::optional<FieldIndex> field = ResolveField(name, spec.line, fmt::format("selection '{}': ", selection));
    std::optional<Modifiers> mods = ParseModifiers(name, modifier_list, spec.line);
    if (!field || !mods) return std::nullopt;
    if (spec.values.empty()) {
      diags_.Error(DiagCode::kEmptySelection, At(spec.line),
                   fmt::format("selection '{}': field '{}' has an empty list of values", selection, name));
      return std::nullopt;
    }
    if (!CheckType(*field, *mods, spec.line)) return std::nullopt;
    if (mods->kind == Mod::kExists) return LowerExists(*field, spec);

    std::vector<Expr> per_value;
    for (const SigmaScalar& v : spec.values) {
      if (!CheckLength(v)) return std::nullopt;
      std::optional<Expr> e = LowerValue(*field, *mods, v);
      if (!e) return std::nullopt;
      per_value.push_back(std::move(*e));
    }
    return Combine(mods->all ? Expr::Kind::kAnd : Expr::Kind::kOr, std::move(per_value));
  }

  bool CheckType(FieldIndex field, const Modifiers& mods, int line) {
    const FieldDef& def = schema_.event_type(type_).fields[field];
    auto mismatch = [&](std::string_view mod, FieldType wanted) {
      diags_.Error(DiagCode::kTypeMismatch, At(line),
                   fmt::format("'{}' needs an {} field; '{}' is {}", mod, FieldTypeName(wanted), def.name,
                               FieldTypeName(def.type)));
      return false;
    };
    if (!mods.kind) return true;
    switch (*mods.kind) {
      case Mod::kCidr:
        return def.type == FieldType::kIp || mismatch("cidr", FieldType::kIp);
      case Mod::kLt:
      case Mod::kLte:
      case Mod::kGt:
      case Mod::kGte:
        return def.type == FieldType::kInteger || mismatch(ModName(*mods.kind), FieldType::kInteger);
      default:
        return true;
    }
  }

  std::optional<Expr> LowerExists(FieldIndex field, const SigmaFieldSpec& spec) {
    const SigmaScalar& v = spec.values[0];
    bool value;
    if (spec.values.size() == 1 && !v.is_null && EqualsIgnoreCase(v.text, "true")) {
      value = true;
    } else if (spec.values.size() == 1 && !v.is_null && EqualsIgnoreCase(v.text, "false")) {
      value = false;
    } else {
      diags_.Error(DiagCode::kBadValue, At(spec.line), "'exists' takes one value, true or false");
      return std::nullopt;
    }
    std::optional<uint32_t> index = Intern(FieldAtom(field, AtomOp::kExists), spec.line);
    if (!index) return std::nullopt;
    return value ? Leaf(*index) : Not(Leaf(*index));
  }

  std::optional<Expr> AtomExpr(Atom atom, int line) {
    std::optional<uint32_t> index = Intern(std::move(atom), line);
    if (!index) return std::nullopt;
    return Leaf(*index);
  }

  std::optional<Expr> LowerValue(FieldIndex field, const Modifiers& mods, const SigmaScalar& v) {
    const FieldDef& def = schema_.event_type(type_).fields[field];
    if (v.is_null) {
      if (mods.kind || !mods.transforms.empty()) {
        diags_.Error(DiagCode::kBadValue, At(v.line),
                     fmt::format("field '{}': null cannot be used with modifiers", def.name));
        return std::nullopt;
      }
      return AtomExpr(FieldAtom(field, AtomOp::kNull), v.line);
    }
    if (mods.kind) {
      switch (*mods.kind) {
        case Mod::kRe: return LowerRegex(field, mods, v);
        case Mod::kCidr: return LowerCidr(field, v);
        case Mod::kFieldRef: return LowerFieldRef(field, v);
        case Mod::kLt: return LowerCompare(field, AtomOp::kNumLt, v);
        case Mod::kLte: return LowerCompare(field, AtomOp::kNumLte, v);
        case Mod::kGt: return LowerCompare(field, AtomOp::kNumGt, v);
        case Mod::kGte: return LowerCompare(field, AtomOp::kNumGte, v);
        default: break;
      }
    }
    int64_t number;
    if (def.type == FieldType::kInteger && mods.transforms.empty() && ParseInt64(v.text, number)) {
      Atom a = FieldAtom(field, AtomOp::kNumEq);
      a.number = number;
      return AtomExpr(std::move(a), v.line);
    }
    std::optional<std::vector<SString>> variants = ApplyTransforms(def.name, mods, v);
    if (!variants) return std::nullopt;
    std::vector<Expr> alternatives;
    for (SString& s : *variants) {
      Match m = Simplify(std::move(s));
      if (m.value.size() > kMaxValueBytes) {
        diags_.Error(DiagCode::kValueTooLong, At(v.line),
                     fmt::format("field '{}': after modifiers the value is {} bytes (limit {})", def.name,
                                 m.value.size(), kMaxValueBytes));
        return std::nullopt;
      }
      Atom a = FieldAtom(field, m.op);
      a.value = std::move(m.value);
      if (mods.cased && m.op != AtomOp::kExists) a.flags |= kCased;
      std::optional<Expr> e = AtomExpr(std::move(a), v.line);
      if (!e) return std::nullopt;
      alternatives.push_back(std::move(*e));
    }
    return Combine(Expr::Kind::kOr, std::move(alternatives));
  }

  // Applies contains/startswith/endswith/base64/base64offset/windash in the
  // order written, as pySigma does; the result is one or more alternatives.
  std::optional<std::vector<SString>> ApplyTransforms(std::string_view field, const Modifiers& mods,
                                                      const SigmaScalar& v) {
    std::vector<SString> values{ParseSigmaString(v.text)};
    bool implicit_contains = false;
    for (Mod m : mods.transforms) {
      std::vector<SString> next;
      for (SString& s : values) {
        switch (m) {
          case Mod::kContains: next.push_back(WithTrailingStar(WithLeadingStar(std::move(s)))); break;
          case Mod::kStartsWith: next.push_back(WithTrailingStar(std::move(s))); break;
          case Mod::kEndsWith: next.push_back(WithLeadingStar(std::move(s))); break;
          case Mod::kBase64:
          case Mod::kBase64Offset:
            if (HasWildcard(s)) {
              diags_.Error(HasWildcard(ParseSigmaString(v.text)) ? DiagCode::kBadValue : DiagCode::kModifierConflict,
                           At(v.line),
                           fmt::format("field '{}': {} of a value with wildcards (put contains/startswith/endswith "
                                       "after {})",
                                       field, ModName(m), ModName(m)));
              return std::nullopt;
            }
            if (m == Mod::kBase64) {
              next.push_back(LiteralString(Base64(Literal(s, 0, s.size()))));
            } else {
              for (SString& variant : Base64OffsetVariants(Literal(s, 0, s.size()))) next.push_back(std::move(variant));
              implicit_contains = true;
            }
            break;
          case Mod::kWindash: {
            std::vector<size_t> positions = WindashPositions(s);
            double combinations = 1;
            for (size_t i = 0; i < positions.size() && combinations <= kMaxAtomsPerRule; ++i) combinations *= 5;
            if (combinations + next.size() > kMaxAtomsPerRule) {
              diags_.Error(DiagCode::kTooComplex, At(v.line),
                           fmt::format("field '{}': windash expands {} into more than {} variants", field,
                                       Quoted(v.text), kMaxAtomsPerRule));
              return std::nullopt;
            }
            for (SString& variant : WindashVariants(s, positions)) next.push_back(std::move(variant));
            break;
          }
          default: break;
        }
      }
      values = std::move(next);
    }
    // base64offset pieces are fragments of a longer encoding: they can only
    // ever match as substrings, so without an explicit contains they get one.
    if (implicit_contains && std::none_of(mods.transforms.begin(), mods.transforms.end(), IsWildcardMod)) {
      for (SString& s : values) s = WithTrailingStar(WithLeadingStar(std::move(s)));
    }
    return values;
  }

  std::optional<Expr> LowerRegex(FieldIndex field, const Modifiers& mods, const SigmaScalar& v) {
    RE2::Options options;
    options.set_log_errors(false);
    options.set_max_mem(kMaxRegexProgramBytes);
    options.set_case_sensitive((mods.regex_flags & kRegexI) == 0);
    options.set_dot_nl((mods.regex_flags & kRegexS) != 0);
    std::string pattern = (mods.regex_flags & kRegexM) ? "(?m)" + v.text : v.text;
    RE2 re(pattern, options);
    if (!re.ok()) {
      diags_.Error(DiagCode::kBadRegex, At(v.line),
                   fmt::format("field '{}': regex {} is refused by RE2: {}", schema_.event_type(type_).fields[field].name,
                               Quoted(v.text), re.error()));
      return std::nullopt;
    }
    Atom a = FieldAtom(field, AtomOp::kRegex);
    a.value = v.text;
    a.flags = mods.regex_flags;
    return AtomExpr(std::move(a), v.line);
  }

  std::optional<Expr> LowerCidr(FieldIndex field, const SigmaScalar& v) {
    std::optional<std::string> cidr = ParseCidr(v.text);
    if (!cidr) {
      diags_.Error(DiagCode::kBadCidr, At(v.line), fmt::format("{} is not an IPv4 or IPv6 network", Quoted(v.text)));
      return std::nullopt;
    }
    Atom a = FieldAtom(field, AtomOp::kCidr);
    a.value = std::move(*cidr);
    return AtomExpr(std::move(a), v.line);
  }

  std::optional<Expr> LowerFieldRef(FieldIndex field, const SigmaScalar& v) {
    std::optional<FieldIndex> ref = ResolveField(v.text, v.line, "fieldref: ");
    if (!ref) return std::nullopt;
    const auto& fields = schema_.event_type(type_).fields;
    if (fields[*ref].type != fields[field].type) {
      diags_.Error(DiagCode::kTypeMismatch, At(v.line),
                   fmt::format("fieldref compares '{}' ({}) with '{}' ({})", fields[field].name,
                               FieldTypeName(fields[field].type), fields[*ref].name, FieldTypeName(fields[*ref].type)));
      return std::nullopt;
    }
    Atom a = FieldAtom(field, AtomOp::kFieldRef);
    a.ref_field = *ref;
    a.ref_field_name = fields[*ref].name;
    return AtomExpr(std::move(a), v.line);
  }

  std::optional<Expr> LowerCompare(FieldIndex field, AtomOp op, const SigmaScalar& v) {
    Atom a = FieldAtom(field, op);
    if (!ParseInt64(v.text, a.number)) {
      diags_.Error(DiagCode::kBadNumber, At(v.line),
                   fmt::format("{} is not a signed 64-bit integer", Quoted(v.text)));
      return std::nullopt;
    }
    return AtomExpr(std::move(a), v.line);
  }

  // --- condition -----------------------------------------------------------

  // Copies `e`, charging its nodes to the rule's expression budget.
  std::optional<Expr> Charge(const Expr& e, int line) {
    size_t nodes = CountNodes(e);
    if (nodes > kMaxExprNodes - expr_nodes_) {
      if (!budget_reported_) {
        diags_.Error(DiagCode::kTooComplex, At(line),
                     fmt::format("the condition expands to more than {} nodes", kMaxExprNodes));
        budget_reported_ = true;
      }
      return std::nullopt;
    }
    expr_nodes_ += nodes;
    return e;
  }
  static size_t CountNodes(const Expr& e) {
    size_t n = 1;
    for (const Expr& c : e.children) n += CountNodes(c);
    return n;
  }

  // The selections a quantifier names, in detection order.
  std::vector<size_t> MatchSelections(const CondNode& node) const {
    std::vector<size_t> out;
    for (size_t i = 0; i < src_.selections.size(); ++i) {
      const std::string& name = src_.selections[i].name;
      // pySigma leaves names starting with '_' out of `them` and patterns
      // (helpers meant to be referenced by name); a pattern that itself starts
      // with '_' asks for them explicitly.
      bool helper = !name.empty() && name[0] == '_' && (node.name.empty() || node.name[0] != '_');
      if (!helper && (node.name.empty() || NameMatches(node.name, name))) out.push_back(i);
    }
    return out;
  }

  std::optional<Expr> Resolve(const CondNode& node, int line) {
    switch (node.kind) {
      case CondNode::Kind::kIdentifier: {
        for (size_t i = 0; i < src_.selections.size(); ++i) {
          if (src_.selections[i].name != node.name) continue;
          if (!selections_[i]) return std::nullopt;  // its error is already reported
          return Charge(*selections_[i], line);
        }
        std::string known;
        for (const auto& s : src_.selections) known += (known.empty() ? "" : ", ") + s.name;
        diags_.Error(DiagCode::kUndefinedIdentifier, At(line),
                     fmt::format("condition names {} but the detection defines only: {}", Quoted(node.name),
                                 known.empty() ? "(nothing)" : known));
        return std::nullopt;
      }
      case CondNode::Kind::kOf: {
        std::vector<size_t> matched = MatchSelections(node);
        std::string what = node.name.empty() ? std::string("them") : Quoted(node.name);
        if (matched.empty()) {
          diags_.Error(DiagCode::kNoMatchingSelection, At(line),
                       fmt::format("condition: {} matches no selection", what));
          return std::nullopt;
        }
        if (!node.all && node.count > matched.size()) {
          diags_.Error(DiagCode::kNoMatchingSelection, At(line),
                       fmt::format("condition: '{} of {}' can never be true: it matches only {} selection(s)",
                                   node.count, what, matched.size()));
          return std::nullopt;
        }
        std::vector<Expr> children;
        bool ok = true;
        for (size_t i : matched) {
          if (!selections_[i]) {
            ok = false;
            continue;
          }
          std::optional<Expr> e = Charge(*selections_[i], line);
          if (!e) return std::nullopt;
          children.push_back(std::move(*e));
        }
        if (!ok) return std::nullopt;
        if (node.all || node.count == children.size()) return Combine(Expr::Kind::kAnd, std::move(children));
        if (node.count == 1) return Combine(Expr::Kind::kOr, std::move(children));
        Expr e;
        e.kind = Expr::Kind::kAtLeast;
        e.at_least = node.count;
        e.children = std::move(children);
        return e;
      }
      case CondNode::Kind::kNot: {
        std::optional<Expr> child = Resolve(node.children.at(0), line);
        if (!child) return std::nullopt;
        return Not(std::move(*child));
      }
      case CondNode::Kind::kAnd:
      case CondNode::Kind::kOr: {
        std::vector<Expr> children;
        bool ok = true;
        for (const CondNode& c : node.children) {
          std::optional<Expr> e = Resolve(c, line);  // resolve all, to report every error
          if (e) {
            children.push_back(std::move(*e));
          } else {
            ok = false;
          }
        }
        if (!ok) return std::nullopt;
        return Combine(node.kind == CondNode::Kind::kAnd ? Expr::Kind::kAnd : Expr::Kind::kOr, std::move(children));
      }
    }
    return std::nullopt;
  }

  // --- program -------------------------------------------------------------

  // Flattens nested and/or of the same kind and splits nodes wider than
  // kMaxArity into balanced groups.
  static Expr Normalize(Expr e) {
    for (Expr& c : e.children) c = Normalize(std::move(c));
    if (e.kind != Expr::Kind::kAnd && e.kind != Expr::Kind::kOr) return e;
    std::vector<Expr> flat;
    for (Expr& c : e.children) {
      if (c.kind == e.kind) {
        for (Expr& g : c.children) flat.push_back(std::move(g));
      } else {
        flat.push_back(std::move(c));
      }
    }
    while (flat.size() > kMaxArity) {
      std::vector<Expr> grouped;
      for (size_t i = 0; i < flat.size(); i += kMaxArity) {
        size_t end = std::min(flat.size(), i + kMaxArity);
        std::vector<Expr> group(std::make_move_iterator(flat.begin() + i), std::make_move_iterator(flat.begin() + end));
        grouped.push_back(Combine(e.kind, std::move(group)));
      }
      flat = std::move(grouped);
    }
    return Combine(e.kind, std::move(flat));
  }

  void EmitExpr(const Expr& e, Rule& rule, std::vector<int64_t>& remap) {
    switch (e.kind) {
      case Expr::Kind::kAtom: {
        if (remap[e.atom] < 0) {
          remap[e.atom] = static_cast<int64_t>(rule.atoms.size());
          rule.atoms.push_back(pool_[e.atom]);
        }
        rule.program.push_back({OpCode::kAtom, static_cast<uint32_t>(remap[e.atom]), 0});
        return;
      }
      case Expr::Kind::kNot:
        EmitExpr(e.children[0], rule, remap);
        rule.program.push_back({OpCode::kNot, 0, 0});
        return;
      case Expr::Kind::kAnd:
      case Expr::Kind::kOr:
      case Expr::Kind::kAtLeast: {
        for (const Expr& c : e.children) EmitExpr(c, rule, remap);
        OpCode op = e.kind == Expr::Kind::kAnd ? OpCode::kAnd : e.kind == Expr::Kind::kOr ? OpCode::kOr : OpCode::kAtLeast;
        rule.program.push_back({op, static_cast<uint32_t>(e.children.size()), e.at_least});
        return;
      }
    }
  }

  bool Emit(const Expr& root, Rule& rule) {
    std::vector<int64_t> remap(pool_.size(), -1);
    EmitExpr(root, rule, remap);
    size_t depth = 0, max_depth = 0;
    for (const Instr& in : rule.program) {
      if (in.op == OpCode::kAtom) {
        max_depth = std::max(max_depth, ++depth);
      } else if (in.op != OpCode::kNot) {
        depth -= in.a - 1;
      }
    }
    int line = src_.conditions.empty() ? src_.detection_line : src_.conditions[0].line;
    if (rule.program.size() > kMaxProgramLength) {
      diags_.Error(DiagCode::kTooComplex, At(line),
                   fmt::format("the condition compiles to {} instructions (limit {})", rule.program.size(),
                               kMaxProgramLength));
      return false;
    }
    if (max_depth > kMaxStackDepth) {
      diags_.Error(DiagCode::kTooComplex, At(line),
                   fmt::format("the condition needs {} stack slots (limit {})", max_depth, kMaxStackDepth));
      return false;
    }
    return true;
  }

  const SigmaRule& src_;
  const Schema& schema_;
  Diagnostics& diags_;
  const size_t errors_before_;
  EventTypeId type_ = 0;
  std::vector<std::optional<Expr>> selections_;  // parallel to src_.selections; nullopt = refused
  std::vector<Atom> pool_;
  std::map<std::string, uint32_t> interned_;
  bool pool_full_reported_ = false;
  size_t expr_nodes_ = 0;
  bool budget_reported_ = false;
};

}  // namespace

LowerResult LowerRule(const SigmaRule& rule, const Schema& schema, Diagnostics& diags) {
  return Lowerer(rule, schema, diags).Run();
}

}  // namespace vigil::content
