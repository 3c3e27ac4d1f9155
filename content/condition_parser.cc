// The Sigma condition grammar vigil accepts (EBNF). Keywords are lowercase,
// as in the Sigma specification and pySigma.
//
//   condition  = or_expr ;
//   or_expr    = and_expr { "or" and_expr } ;
//   and_expr   = unary { "and" unary } ;
//   unary      = "not" unary | primary ;
//   primary    = "(" or_expr ")" | quantified | identifier ;
//   quantified = quantifier "of" ( "them" | pattern ) ;
//   quantifier = "any" | "all" | number ;          (* "any" = "1"; number >= 1 *)
//   identifier = word ;                             (* a detection key *)
//   pattern    = word ;                             (* may contain "*" *)
//   word       = wchar { wchar } ;
//   wchar      = letter | digit | "_" | "-" | "." | "*" ;
//   number     = digit { digit } ;
//
// Precedence: not > and > or; and/or are associative, so `a and b and c` is
// one node with three children. Whitespace separates tokens. A quantifier
// word is a keyword only when "of" follows it, so a selection may be named
// `all` or `1`. "and", "or", "not" and "of" are reserved.
//
// Refused: the pipe of aggregations (`... | count() by x > 5`) and `near`
// (kUnsupportedFeature: vigil has no correlation across events yet), text
// longer than kMaxConditionBytes and nesting of parentheses and `not` deeper
// than kMaxConditionDepth (kTooComplex).
#include "content/condition_parser.h"

#include <charconv>

#include <fmt/format.h>

namespace vigil::content {
namespace {

bool IsWordChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
         c == '.' || c == '*';
}
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

struct Token {
  enum class Kind { kWord, kOpen, kClose, kPipe, kEnd, kBad };
  Kind kind = Kind::kEnd;
  std::string_view text;
  size_t offset = 0;
};

class Parser {
 public:
  Parser(std::string_view text, Diagnostics& diags, const Location& where)
      : text_(text), diags_(diags), where_(where) {}

  std::optional<CondNode> Parse() {
    std::optional<CondNode> node = OrExpr();
    if (!node) return std::nullopt;
    Token t = Peek();
    if (t.kind != Token::Kind::kEnd) return Fail(t, "expected 'and', 'or' or the end of the condition");
    return node;
  }

 private:
  // Returns the next token without consuming it.
  Token Peek() {
    size_t p = pos_;
    while (p < text_.size() && IsSpace(text_[p])) ++p;
    Token t;
    t.offset = p;
    if (p >= text_.size()) return t;
    char c = text_[p];
    if (c == '(') {
      t.kind = Token::Kind::kOpen;
      t.text = text_.substr(p, 1);
    } else if (c == ')') {
      t.kind = Token::Kind::kClose;
      t.text = text_.substr(p, 1);
    } else if (c == '|') {
      t.kind = Token::Kind::kPipe;
      t.text = text_.substr(p, 1);
    } else if (IsWordChar(c)) {
      size_t end = p;
      while (end < text_.size() && IsWordChar(text_[end])) ++end;
      t.kind = Token::Kind::kWord;
      t.text = text_.substr(p, end - p);
    } else {
      t.kind = Token::Kind::kBad;
      t.text = text_.substr(p, 1);
    }
    return t;
  }
  void Consume(const Token& t) { pos_ = t.offset + t.text.size(); }
  static bool IsWord(const Token& t, std::string_view w) { return t.kind == Token::Kind::kWord && t.text == w; }

  std::nullopt_t Fail(const Token& t, std::string_view what) {
    if (t.kind == Token::Kind::kPipe) {
      diags_.Error(DiagCode::kUnsupportedFeature, where_,
                   fmt::format("condition: aggregations ('| count() ...') are not supported (offset {})", t.offset));
    } else if (IsWord(t, "near")) {
      diags_.Error(DiagCode::kUnsupportedFeature, where_,
                   fmt::format("condition: 'near' is not supported (offset {})", t.offset));
    } else {
      std::string found = t.kind == Token::Kind::kEnd ? std::string("the end") : fmt::format("'{}'", t.text);
      if (t.kind == Token::Kind::kBad) {
        unsigned char b = static_cast<unsigned char>(t.text[0]);
        found = b >= 0x20 && b < 0x7f ? fmt::format("character '{}'", t.text) : fmt::format("byte 0x{:02x}", b);
      }
      diags_.Error(DiagCode::kConditionSyntax, where_,
                   fmt::format("condition: {} at offset {}, found {}: {}", what, t.offset, found, Snippet(t.offset)));
    }
    return std::nullopt;
  }

  // The condition around `offset`, short enough for one diagnostic line.
  std::string Snippet(size_t offset) const {
    constexpr size_t kContext = 30;
    size_t begin = offset > kContext ? offset - kContext : 0;
    size_t end = std::min(text_.size(), offset + kContext);
    std::string out;
    if (begin > 0) out += "...";
    for (size_t i = begin; i < end; ++i) {
      unsigned char c = static_cast<unsigned char>(text_[i]);
      if (i == offset) out += ">>";
      out += c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '?';
    }
    if (offset >= end) out += ">>";
    if (end < text_.size()) out += "...";
    return out;
  }

  bool Enter(const Token& t) {
    if (++depth_ > kMaxConditionDepth) {
      diags_.Error(DiagCode::kTooComplex, where_,
                   fmt::format("condition: nesting of parentheses and 'not' deeper than {} (offset {})",
                               kMaxConditionDepth, t.offset));
      return false;
    }
    return true;
  }

  std::optional<CondNode> Chain(CondNode::Kind kind, std::string_view keyword,
                                std::optional<CondNode> (Parser::*operand)()) {
    size_t offset = Peek().offset;
    std::optional<CondNode> first = (this->*operand)();
    if (!first) return std::nullopt;
    if (!IsWord(Peek(), keyword)) return first;
    CondNode node;
    node.kind = kind;
    node.offset = offset;
    node.children.push_back(std::move(*first));
    while (IsWord(Peek(), keyword)) {
      Consume(Peek());
      std::optional<CondNode> next = (this->*operand)();
      if (!next) return std::nullopt;
      node.children.push_back(std::move(*next));
    }
    return node;
  }
  std::optional<CondNode> OrExpr() { return Chain(CondNode::Kind::kOr, "or", &Parser::AndExpr); }
  std::optional<CondNode> AndExpr() { return Chain(CondNode::Kind::kAnd, "and", &Parser::Unary); }

  std::optional<CondNode> Unary() {
    Token t = Peek();
    if (!IsWord(t, "not")) return Primary();
    Consume(t);
    if (!Enter(t)) return std::nullopt;
    std::optional<CondNode> child = Unary();
    --depth_;
    if (!child) return std::nullopt;
    CondNode node;
    node.kind = CondNode::Kind::kNot;
    node.offset = t.offset;
    node.children.push_back(std::move(*child));
    return node;
  }

  std::optional<CondNode> Primary() {
    Token t = Peek();
    if (t.kind == Token::Kind::kOpen) {
      Consume(t);
      if (!Enter(t)) return std::nullopt;
      std::optional<CondNode> inner = OrExpr();
      --depth_;
      if (!inner) return std::nullopt;
      Token close = Peek();
      if (close.kind != Token::Kind::kClose) return Fail(close, "expected ')' or an operator");
      Consume(close);
      return inner;
    }
    if (t.kind != Token::Kind::kWord || IsWord(t, "and") || IsWord(t, "or") || IsWord(t, "of") ||
        IsWord(t, "near")) {
      return Fail(t, "expected a selection name, 'not', '(' or 'N of'");
    }
    Consume(t);
    if (IsWord(Peek(), "of")) return Quantified(t);
    if (t.text.find('*') != std::string_view::npos) {
      return Fail(t, "a wildcard name needs a quantifier ('1 of', 'all of')");
    }
    CondNode node;
    node.kind = CondNode::Kind::kIdentifier;
    node.name = std::string(t.text);
    node.offset = t.offset;
    return node;
  }

  std::optional<CondNode> Quantified(const Token& quantifier) {
    CondNode node;
    node.kind = CondNode::Kind::kOf;
    node.offset = quantifier.offset;
    if (quantifier.text == "all") {
      node.all = true;
    } else if (quantifier.text == "any") {
      node.count = 1;
    } else {
      const char* begin = quantifier.text.data();
      const char* end = begin + quantifier.text.size();
      auto [ptr, ec] = std::from_chars(begin, end, node.count);
      if (ec != std::errc() || ptr != end || node.count == 0) {
        return Fail(quantifier, "expected 'any', 'all' or a number from 1 before 'of'");
      }
    }
    Consume(Peek());  // "of"
    Token target = Peek();
    if (target.kind != Token::Kind::kWord || IsWord(target, "and") || IsWord(target, "or") ||
        IsWord(target, "not") || IsWord(target, "of")) {
      return Fail(target, "expected 'them' or a selection name pattern after 'of'");
    }
    Consume(target);
    if (target.text != "them") node.name = std::string(target.text);
    return node;
  }

  std::string_view text_;
  Diagnostics& diags_;
  const Location& where_;
  size_t pos_ = 0;
  size_t depth_ = 0;
};

// Whether `child` must be parenthesized under `parent` to parse back to the
// same tree: and/or under not, or under and, and same-kind nesting (which
// the parser would otherwise flatten).
bool NeedsParens(CondNode::Kind parent, const CondNode& child) {
  bool child_binary = child.kind == CondNode::Kind::kAnd || child.kind == CondNode::Kind::kOr;
  if (!child_binary) return false;
  if (parent == CondNode::Kind::kNot) return true;
  if (parent == child.kind) return true;
  return parent == CondNode::Kind::kAnd && child.kind == CondNode::Kind::kOr;
}

void Print(const CondNode& node, std::string& out) {
  auto child = [&](const CondNode& c) {
    bool parens = NeedsParens(node.kind, c);
    if (parens) out += '(';
    Print(c, out);
    if (parens) out += ')';
  };
  switch (node.kind) {
    case CondNode::Kind::kIdentifier:
      out += node.name;
      return;
    case CondNode::Kind::kOf:
      out += node.all ? std::string("all") : std::to_string(node.count);
      out += " of ";
      out += node.name.empty() ? std::string("them") : node.name;
      return;
    case CondNode::Kind::kNot:
      out += "not ";
      if (!node.children.empty()) child(node.children[0]);
      return;
    case CondNode::Kind::kAnd:
    case CondNode::Kind::kOr:
      for (size_t i = 0; i < node.children.size(); ++i) {
        if (i > 0) out += node.kind == CondNode::Kind::kAnd ? " and " : " or ";
        child(node.children[i]);
      }
      return;
  }
}

}  // namespace

std::optional<CondNode> ParseCondition(std::string_view text, Diagnostics& diags, const Location& where) {
  if (text.size() > kMaxConditionBytes) {
    diags.Error(DiagCode::kTooComplex, where,
                fmt::format("condition: {} bytes (limit {})", text.size(), kMaxConditionBytes));
    return std::nullopt;
  }
  return Parser(text, diags, where).Parse();
}

std::string CondNodeToString(const CondNode& node) {
  std::string out;
  Print(node, out);
  return out;
}

}  // namespace vigil::content
