#include "content/pretty.h"

#include <gtest/gtest.h>

namespace vigil::content {
namespace {

Atom MakeAtom(AtomOp op, std::string field, std::string value = "", uint8_t flags = 0) {
  Atom a;
  a.op = op;
  a.field = 1;
  a.field_name = std::move(field);
  a.value = std::move(value);
  a.flags = flags;
  return a;
}

TEST(PrettyAtom, EveryOperator) {
  EXPECT_EQ(PrettyAtom(MakeAtom(AtomOp::kEquals, "User", "root")), R"(User == "root")");
  EXPECT_EQ(PrettyAtom(MakeAtom(AtomOp::kEquals, "User", "root", kCased)), R"(User ==_cased "root")");
  EXPECT_EQ(PrettyAtom(MakeAtom(AtomOp::kContains, "CommandLine", "curl", kCased)),
            R"(CommandLine contains_cased "curl")");
  EXPECT_EQ(PrettyAtom(MakeAtom(AtomOp::kStartsWith, "Image", "/tmp/")), R"(Image startswith "/tmp/")");
  EXPECT_EQ(PrettyAtom(MakeAtom(AtomOp::kEndsWith, "Image", "/bash")), R"(Image endswith "/bash")");
  EXPECT_EQ(PrettyAtom(MakeAtom(AtomOp::kGlob, "Image", "/usr/*/python?")), R"(Image glob "/usr/*/python?")");
  EXPECT_EQ(PrettyAtom(MakeAtom(AtomOp::kRegex, "CommandLine", "\\s-O\\s")), R"(CommandLine re "\\s-O\\s")");
  EXPECT_EQ(PrettyAtom(MakeAtom(AtomOp::kRegex, "CommandLine", "x", kRegexI | kRegexS)), R"(CommandLine re_is "x")");
  EXPECT_EQ(PrettyAtom(MakeAtom(AtomOp::kCidr, "DestinationIp", "10.0.0.0/8")), R"(DestinationIp cidr "10.0.0.0/8")");
  Atom num = MakeAtom(AtomOp::kNumEq, "LogonId");
  EXPECT_EQ(PrettyAtom(num), "LogonId == 0");
  num.number = -3;
  num.op = AtomOp::kNumLt;
  EXPECT_EQ(PrettyAtom(num), "LogonId < -3");
  num.op = AtomOp::kNumLte;
  EXPECT_EQ(PrettyAtom(num), "LogonId <= -3");
  num.op = AtomOp::kNumGt;
  EXPECT_EQ(PrettyAtom(num), "LogonId > -3");
  num.op = AtomOp::kNumGte;
  EXPECT_EQ(PrettyAtom(num), "LogonId >= -3");
  EXPECT_EQ(PrettyAtom(MakeAtom(AtomOp::kExists, "User")), "exists(User)");
  EXPECT_EQ(PrettyAtom(MakeAtom(AtomOp::kNull, "User")), "null(User)");
  Atom ref = MakeAtom(AtomOp::kFieldRef, "Image");
  ref.ref_field_name = "ParentImage";
  EXPECT_EQ(PrettyAtom(ref), "Image == field(ParentImage)");
  Atom any = MakeAtom(AtomOp::kContains, "", "wget");
  any.field = kAnyField;
  EXPECT_EQ(PrettyAtom(any), R"(* contains "wget")");
  EXPECT_EQ(PrettyAtom(MakeAtom(static_cast<AtomOp>(99), "X")), "<invalid atom op 99>");
}

TEST(PrettyAtom, EscapesStrings) {
  EXPECT_EQ(PrettyAtom(MakeAtom(AtomOp::kEquals, "CommandLine", "say \"hi\"\\n\n\t\x01\xe2\x80\x93")),
            R"(CommandLine == "say \"hi\"\\n\n\t\x01\xe2\x80\x93")");
}

// A rule with atoms a0..a3 (printed as their names) and `program`.
Rule WithProgram(std::vector<Instr> program) {
  Rule r;
  for (const char* name : {"a", "b", "c", "d"}) r.atoms.push_back(MakeAtom(AtomOp::kExists, name));
  r.program = std::move(program);
  return r;
}
constexpr Instr A(uint32_t i) { return {OpCode::kAtom, i, 0}; }
constexpr Instr And(uint32_t n) { return {OpCode::kAnd, n, 0}; }
constexpr Instr Or(uint32_t n) { return {OpCode::kOr, n, 0}; }
constexpr Instr NotI() { return {OpCode::kNot, 0, 0}; }

TEST(PrettyCondition, MinimalParentheses) {
  EXPECT_EQ(PrettyCondition(WithProgram({A(0)})), "exists(a)");
  EXPECT_EQ(PrettyCondition(WithProgram({A(0), A(1), Or(2), A(2), And(2)})), "(exists(a) or exists(b)) and exists(c)");
  EXPECT_EQ(PrettyCondition(WithProgram({A(0), A(1), And(2), A(2), Or(2)})), "exists(a) and exists(b) or exists(c)");
  EXPECT_EQ(PrettyCondition(WithProgram({A(0), A(1), And(2), NotI()})), "not (exists(a) and exists(b))");
  EXPECT_EQ(PrettyCondition(WithProgram({A(0), NotI(), NotI()})), "not not exists(a)");
  EXPECT_EQ(PrettyCondition(WithProgram({A(0), A(1), Or(2), A(2), A(3), Or(2), Or(2)})),
            "exists(a) or exists(b) or exists(c) or exists(d)");
  EXPECT_EQ(PrettyCondition(WithProgram({A(0), NotI(), A(1), And(2)})), "not exists(a) and exists(b)");
  EXPECT_EQ(PrettyCondition(WithProgram({A(0), A(1), A(2), Or(2), {OpCode::kAtLeast, 2, 2}, A(3), And(2)})),
            "2 of (exists(a), exists(b) or exists(c)) and exists(d)");
  EXPECT_EQ(PrettyCondition(WithProgram({{OpCode::kTrue, 0, 0}, {OpCode::kFalse, 0, 0}, Or(2)})), "true or false");
}

TEST(PrettyCondition, InvalidPrograms) {
  const std::string bad = "<invalid program>";
  EXPECT_EQ(PrettyCondition(WithProgram({})), bad);
  EXPECT_EQ(PrettyCondition(WithProgram({A(9)})), bad);
  EXPECT_EQ(PrettyCondition(WithProgram({NotI()})), bad);
  EXPECT_EQ(PrettyCondition(WithProgram({A(0), And(2)})), bad);
  EXPECT_EQ(PrettyCondition(WithProgram({A(0), A(1), And(1)})), bad);
  EXPECT_EQ(PrettyCondition(WithProgram({A(0), A(1)})), bad);
  EXPECT_EQ(PrettyCondition(WithProgram({A(0), A(1), {OpCode::kAtLeast, 2, 3}})), bad);
  EXPECT_EQ(PrettyCondition(WithProgram({{static_cast<OpCode>(42), 0, 0}})), bad);
}

}  // namespace
}  // namespace vigil::content
