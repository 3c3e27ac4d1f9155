#include "content/pretty.h"

#include <fmt/format.h>

namespace vigil::content {
namespace {

// A C-like string literal: quotes and backslashes escaped, bytes outside
// printable ASCII as \xHH, so the output is one line of plain ASCII.
std::string QuoteString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    unsigned char b = static_cast<unsigned char>(c);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (b < 0x20 || b >= 0x7f) {
          out += fmt::format("\\x{:02x}", b);
        } else {
          out.push_back(c);
        }
    }
  }
  out += '"';
  return out;
}

std::string_view TextOpName(AtomOp op) {
  switch (op) {
    case AtomOp::kEquals: return "==";
    case AtomOp::kContains: return "contains";
    case AtomOp::kStartsWith: return "startswith";
    case AtomOp::kEndsWith: return "endswith";
    case AtomOp::kGlob: return "glob";
    default: return "";
  }
}

std::string_view NumOpName(AtomOp op) {
  switch (op) {
    case AtomOp::kNumEq: return "==";
    case AtomOp::kNumLt: return "<";
    case AtomOp::kNumLte: return "<=";
    case AtomOp::kNumGt: return ">";
    case AtomOp::kNumGte: return ">=";
    default: return "";
  }
}

// Precedence of a printed subexpression: atoms and quantifiers bind
// tightest, then not, and, or.
enum Prec { kPrecOr = 1, kPrecAnd = 2, kPrecNot = 3, kPrecAtom = 4 };

struct Printed {
  std::string text;
  Prec prec;
};

}  // namespace

std::string PrettyAtom(const Atom& atom) {
  const std::string field = atom.field == kAnyField ? std::string("*") : atom.field_name;
  const std::string_view cased_suffix = (atom.flags & kCased) != 0 ? "_cased" : "";
  switch (atom.op) {
    case AtomOp::kEquals:
    case AtomOp::kContains:
    case AtomOp::kStartsWith:
    case AtomOp::kEndsWith:
    case AtomOp::kGlob:
      return fmt::format("{} {}{} {}", field, TextOpName(atom.op), cased_suffix, QuoteString(atom.value));
    case AtomOp::kRegex: {
      std::string flags;
      if (atom.flags & kRegexI) flags += 'i';
      if (atom.flags & kRegexM) flags += 'm';
      if (atom.flags & kRegexS) flags += 's';
      return fmt::format("{} re{}{} {}", field, flags.empty() ? "" : "_", flags, QuoteString(atom.value));
    }
    case AtomOp::kCidr:
      return fmt::format("{} cidr {}", field, QuoteString(atom.value));
    case AtomOp::kNumEq:
    case AtomOp::kNumLt:
    case AtomOp::kNumLte:
    case AtomOp::kNumGt:
    case AtomOp::kNumGte:
      return fmt::format("{} {} {}", field, NumOpName(atom.op), atom.number);
    case AtomOp::kExists:
      return fmt::format("exists({})", field);
    case AtomOp::kNull:
      return fmt::format("null({})", field);
    case AtomOp::kFieldRef:
      return fmt::format("{} == field({})", field, atom.ref_field_name);
  }
  return fmt::format("<invalid atom op {}>", static_cast<int>(atom.op));
}

std::string PrettyCondition(const Rule& rule) {
  constexpr std::string_view kInvalid = "<invalid program>";
  std::vector<Printed> stack;
  for (const Instr& in : rule.program) {
    switch (in.op) {
      case OpCode::kAtom:
        if (in.a >= rule.atoms.size()) return std::string(kInvalid);
        stack.push_back({PrettyAtom(rule.atoms[in.a]), kPrecAtom});
        break;
      case OpCode::kTrue:
      case OpCode::kFalse:
        stack.push_back({in.op == OpCode::kTrue ? "true" : "false", kPrecAtom});
        break;
      case OpCode::kNot: {
        if (stack.empty()) return std::string(kInvalid);
        Printed& x = stack.back();
        x.text = x.prec < kPrecNot ? fmt::format("not ({})", x.text) : fmt::format("not {}", x.text);
        x.prec = kPrecNot;
        break;
      }
      case OpCode::kAnd:
      case OpCode::kOr:
      case OpCode::kAtLeast: {
        if (in.a < 1 || in.a > stack.size()) return std::string(kInvalid);
        if (in.op != OpCode::kAtLeast && in.a < 2) return std::string(kInvalid);
        if (in.op == OpCode::kAtLeast && (in.b < 1 || in.b > in.a)) return std::string(kInvalid);
        const size_t first = stack.size() - in.a;
        std::string text;
        if (in.op == OpCode::kAtLeast) {
          text = fmt::format("{} of (", in.b);
          for (size_t i = first; i < stack.size(); ++i) {
            if (i > first) text += ", ";
            text += stack[i].text;
          }
          text += ')';
        } else {
          const Prec prec = in.op == OpCode::kAnd ? kPrecAnd : kPrecOr;
          const std::string_view sep = in.op == OpCode::kAnd ? " and " : " or ";
          for (size_t i = first; i < stack.size(); ++i) {
            if (i > first) text += sep;
            // and/or nested in itself needs no parentheses: both are associative.
            text += stack[i].prec < prec ? fmt::format("({})", stack[i].text) : stack[i].text;
          }
        }
        stack.resize(first);
        if (in.op == OpCode::kAtLeast) {
          stack.push_back({std::move(text), kPrecAtom});
        } else {
          stack.push_back({std::move(text), in.op == OpCode::kAnd ? kPrecAnd : kPrecOr});
        }
        break;
      }
      default:
        return std::string(kInvalid);
    }
  }
  if (stack.size() != 1) return std::string(kInvalid);
  return std::move(stack[0].text);
}

}  // namespace vigil::content
