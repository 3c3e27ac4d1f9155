#include "engine/testing/reference_evaluator.h"

#include <arpa/inet.h>
#include <re2/re2.h>

#include <cctype>
#include <functional>

namespace vigil::engine::testing {
namespace {

using content::AtomOp;

std::string Lower(std::string_view s) {
  std::string out;
  for (char c : s) out.push_back((c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c);
  return out;
}

std::string RegexKey(const content::Atom& a) {
  std::string flags;
  if (a.flags & content::kRegexI) flags += 'i';
  if (a.flags & content::kRegexM) flags += 'm';
  if (a.flags & content::kRegexS) flags += 's';
  return flags.empty() ? a.value : "(?" + flags + ")" + a.value;
}

// Glob by definition: '*' tries every split, '?' takes one byte, '\' quotes
// the next byte (a final lone '\' is itself). Memoized on (pattern pos, text pos).
bool GlobMatch(const std::string& pattern, const std::string& text) {
  const size_t m = pattern.size(), n = text.size();
  std::vector<signed char> memo((m + 1) * (n + 1), -1);
  std::function<bool(size_t, size_t)> match = [&](size_t i, size_t j) -> bool {
    signed char& slot = memo[i * (n + 1) + j];
    if (slot != -1) return slot;
    bool r;
    if (i == m) {
      r = j == n;
    } else if (pattern[i] == '*') {
      r = match(i + 1, j) || (j < n && match(i, j + 1));
    } else if (pattern[i] == '?') {
      r = j < n && match(i + 1, j + 1);
    } else if (pattern[i] == '\\' && i + 1 < m) {
      r = j < n && text[j] == pattern[i + 1] && match(i + 2, j + 1);
    } else {
      r = j < n && text[j] == pattern[i] && match(i + 1, j + 1);
    }
    slot = r;
    return r;
  };
  return match(0, 0);
}

struct Network {
  int family = 0;
  unsigned char bytes[16] = {};
  int bits = 0;
};

bool ParseIp(const std::string& s, int& family, unsigned char* out) {
  family = s.find(':') != std::string::npos ? AF_INET6 : AF_INET;
  return inet_pton(family, s.c_str(), out) == 1;
}

bool InNetwork(const std::string& cidr, const std::string& address) {
  Network net;
  std::string addr = cidr;
  size_t slash = cidr.find('/');
  int bits = -1;
  if (slash != std::string::npos) {
    addr = cidr.substr(0, slash);
    std::string len = cidr.substr(slash + 1);
    if (len.empty() || len.size() > 3) return false;
    for (char c : len) {
      if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    }
    bits = std::stoi(len);
  }
  if (!ParseIp(addr, net.family, net.bytes)) return false;
  const int max_bits = net.family == AF_INET6 ? 128 : 32;
  if (bits == -1) bits = max_bits;
  if (bits > max_bits) return false;
  int family = 0;
  unsigned char a[16] = {};
  if (!ParseIp(address, family, a) || family != net.family) return false;
  for (int i = 0; i < bits; ++i) {
    int byte = i / 8, bit = 7 - i % 8;
    if (((a[byte] >> bit) & 1) != ((net.bytes[byte] >> bit) & 1)) return false;
  }
  return true;
}

}  // namespace

ReferenceEvaluator::ReferenceEvaluator(const content::Ruleset& ruleset, const Schema& schema)
    : ruleset_(ruleset), schema_(schema) {
  for (const auto& rule : ruleset_.rules) {
    for (const auto& atom : rule.atoms) {
      if (atom.op != AtomOp::kRegex) continue;
      std::string key = RegexKey(atom);
      if (regexes_.count(key)) continue;
      RE2::Options o;
      o.set_log_errors(false);
      o.set_max_mem(content::kMaxRegexProgramBytes);
      regexes_.emplace(key, std::make_unique<RE2>(key, o));
    }
  }
}

ReferenceEvaluator::~ReferenceEvaluator() = default;

std::vector<uint32_t> ReferenceEvaluator::Evaluate(const EventView& event) const {
  std::vector<uint32_t> out;
  if (event.type >= schema_.event_types().size() ||
      event.fields.size() != schema_.event_type(event.type).fields.size()) {
    return out;
  }
  for (uint32_t i = 0; i < ruleset_.rules.size(); ++i) {
    const auto& rule = ruleset_.rules[i];
    if (rule.event_type == event.type && RuleMatches(rule, event)) out.push_back(i);
  }
  return out;
}

bool ReferenceEvaluator::RuleMatches(const content::Rule& rule, const EventView& event) const {
  std::vector<bool> stack;
  auto pop = [&] {
    bool v = stack.back();
    stack.pop_back();
    return v;
  };
  for (const auto& in : rule.program) {
    switch (in.op) {
      case content::OpCode::kAtom: stack.push_back(AtomHolds(rule.atoms.at(in.a), event)); break;
      case content::OpCode::kNot: stack.push_back(!pop()); break;
      case content::OpCode::kAnd: {
        bool all = true;
        for (uint32_t k = 0; k < in.a; ++k) all = pop() && all;
        stack.push_back(all);
        break;
      }
      case content::OpCode::kOr: {
        bool any = false;
        for (uint32_t k = 0; k < in.a; ++k) any = pop() || any;
        stack.push_back(any);
        break;
      }
      case content::OpCode::kAtLeast: {
        uint32_t count = 0;
        for (uint32_t k = 0; k < in.a; ++k) count += pop();
        stack.push_back(count >= in.b);
        break;
      }
      case content::OpCode::kTrue: stack.push_back(true); break;
      case content::OpCode::kFalse: stack.push_back(false); break;
    }
  }
  return stack.size() == 1 && stack.back();
}

bool ReferenceEvaluator::AtomHolds(const content::Atom& atom, const EventView& event) const {
  if (atom.field != content::kAnyField) return AtomHoldsOn(atom, event, atom.field);
  const auto& fields = schema_.event_type(event.type).fields;
  for (size_t f = 0; f < fields.size(); ++f) {
    if (fields[f].type == FieldType::kString && AtomHoldsOn(atom, event, static_cast<FieldIndex>(f))) {
      return true;
    }
  }
  return false;
}

bool ReferenceEvaluator::AtomHoldsOn(const content::Atom& atom, const EventView& event,
                                     FieldIndex field) const {
  const FieldValue& v = event.fields[field];
  if (atom.op == AtomOp::kNull) return !v.present || v.text.empty();
  if (!v.present) return false;
  const bool cased = atom.flags & content::kCased;
  const std::string text = cased ? std::string(v.text) : Lower(v.text);
  const std::string value = cased ? atom.value : Lower(atom.value);
  switch (atom.op) {
    case AtomOp::kEquals: return text == value;
    case AtomOp::kContains: return text.find(value) != std::string::npos;
    case AtomOp::kStartsWith: return text.size() >= value.size() && text.compare(0, value.size(), value) == 0;
    case AtomOp::kEndsWith:
      return text.size() >= value.size() &&
             text.compare(text.size() - value.size(), value.size(), value) == 0;
    case AtomOp::kGlob: return GlobMatch(value, text);
    case AtomOp::kRegex: {
      auto it = regexes_.find(RegexKey(atom));
      return it != regexes_.end() && it->second->ok() && RE2::PartialMatch(std::string(v.text), *it->second);
    }
    case AtomOp::kCidr: return InNetwork(atom.value, std::string(v.text));
    case AtomOp::kNumEq: return v.has_number && v.number == atom.number;
    case AtomOp::kNumLt: return v.has_number && v.number < atom.number;
    case AtomOp::kNumLte: return v.has_number && v.number <= atom.number;
    case AtomOp::kNumGt: return v.has_number && v.number > atom.number;
    case AtomOp::kNumGte: return v.has_number && v.number >= atom.number;
    case AtomOp::kExists: return true;
    case AtomOp::kFieldRef: {
      const FieldValue& r = event.fields[atom.ref_field];
      if (!r.present) return false;
      return cased ? v.text == r.text : Lower(v.text) == Lower(r.text);
    }
    case AtomOp::kNull: break;
  }
  return false;
}

}  // namespace vigil::engine::testing
