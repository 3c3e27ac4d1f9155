// The July 2024 failure, replayed against vigil: content built for an event
// type with 21 fields, loaded by a sensor whose event type has 20. There, the
// content validator checked the template against its own declaration of 21
// fields and the interpreter read input field 21 from a 20-entry array. Here
// the bundle must be refused before anything runs, with diagnostics naming the
// rule and the field.
//
// Why two layers, the schema hash and the per-field check:
//  - The hash covers the whole canonical schema text (every type, field
//    index, name and type), so any drift is caught up front, including drift
//    in fields no rule uses yet. With an honest compiler, a matching hash
//    implies every field reference also matches: a case the hash passes but
//    the field check refuses cannot arise from correct tools.
//  - But the hash is only a claim the content makes about itself. A compiler
//    bug, a hand-made or hostile bundle can claim the sensor's hash and still
//    name field 20 of a 20-field type. The per-field check does not believe
//    the claim: it compares every index with the sensor's own table, which is
//    what actually keeps the engine's reads in bounds (HashClaimIsNotTrusted
//    below). And when the hash does differ, the per-rule diagnostics say which
//    rule and which field would have broken, which is what an operator needs.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "content/bundle.h"

namespace vigil::content {
namespace {

constexpr char kRuleId[] = "c0ffee00-2024-0719-0000-000000000291";  // the channel file's name, more or less

// process_creation with `n` string fields Field1..Field<n>; the last one
// renamed to `last_name` when given.
Schema ProcessSchema(size_t n, std::string last_name = "") {
  std::vector<FieldDef> fields;
  for (size_t i = 1; i <= n; ++i) fields.push_back({"Field" + std::to_string(i), FieldType::kString});
  if (!last_name.empty()) fields.back().name = last_name;
  auto s = Schema::Create(1, {{"process_creation", fields}});
  EXPECT_TRUE(s) << s.error().ToString();
  return *s;
}

// Content compiled against `built_for`: one rule with a real criterion in
// field index 20 ("Field21"), and one that only uses field 0.
Ruleset Content(const Schema& built_for) {
  Ruleset rs;
  rs.info.schema_version = built_for.version();
  rs.info.schema_hash = built_for.hash();
  rs.info.content_version = 291;

  Rule wildcard_only;
  wildcard_only.id = "rule-uses-field-1";
  wildcard_only.event_type = 0;
  wildcard_only.event_type_name = "process_creation";
  Atom a;
  a.op = AtomOp::kContains;
  a.field = 0;
  a.field_name = "Field1";
  a.value = "pipe";
  wildcard_only.atoms = {a};
  wildcard_only.program = {{OpCode::kAtom, 0, 0}};

  Rule field21 = wildcard_only;
  field21.id = kRuleId;
  Atom b;
  b.op = AtomOp::kStartsWith;
  b.field = 20;
  b.field_name = "Field21";
  b.value = "\\\\.\\pipe\\";
  field21.atoms = {a, b};
  field21.program = {{OpCode::kAtom, 0, 0}, {OpCode::kAtom, 1, 0}, {OpCode::kAnd, 2, 0}};

  rs.rules = {wildcard_only, field21};
  return rs;
}

std::vector<const Diagnostic*> WithCode(const Diagnostics& d, DiagCode code) {
  std::vector<const Diagnostic*> out;
  for (const auto& x : d.list()) {
    if (x.code == code && x.severity == Severity::kError) out.push_back(&x);
  }
  return out;
}

TEST(FieldCountRegressionTest, ContentFor21FieldsIsLoadableWhereThereAre21) {
  Schema s21 = ProcessSchema(21);
  Diagnostics d;
  auto rs = ReadBundle(WriteBundle(Content(s21)), s21, d, {"channel-291.vbundle"});
  ASSERT_TRUE(rs) << d.ToText();
  EXPECT_EQ(*rs, Content(s21));
}

TEST(FieldCountRegressionTest, ContentFor21FieldsIsRefusedWhereThereAre20) {
  Schema s21 = ProcessSchema(21);
  Schema s20 = ProcessSchema(20);
  ASSERT_NE(s21.hash(), s20.hash());
  std::string bytes = WriteBundle(Content(s21));

  Diagnostics d;
  auto rs = ReadBundle(bytes, s20, d, {"channel-291.vbundle"});
  ASSERT_FALSE(rs) << "a bundle naming field 21 loaded into a sensor with 20 fields";
  EXPECT_EQ(rs.error().code(), Code::kVerifyFailed);

  auto hash = WithCode(d, DiagCode::kVerifySchemaHash);
  ASSERT_EQ(hash.size(), 1u) << d.ToText();
  EXPECT_NE(hash[0]->message.find(HashToHex(s21.hash())), std::string::npos);
  EXPECT_NE(hash[0]->message.find(HashToHex(s20.hash())), std::string::npos);

  // Exactly the offending rule and field are named, not the harmless rule.
  auto field = WithCode(d, DiagCode::kVerifyField);
  ASSERT_EQ(field.size(), 1u) << d.ToText();
  EXPECT_EQ(field[0]->where.rule_id, kRuleId);
  EXPECT_EQ(field[0]->where.file, "channel-291.vbundle");
  EXPECT_EQ(field[0]->message, std::string("rule ") + kRuleId +
                                   ": atom 1: field index 20 (Field21) is outside process_creation, which has 20 fields");
  EXPECT_EQ(d.error_count(), 2u) << d.ToText();
}

TEST(FieldCountRegressionTest, SameIndexDifferentNameIsRefused) {
  Schema s21 = ProcessSchema(21);
  Schema renamed = ProcessSchema(21, "ImpersonatedPipe");
  Diagnostics d;
  auto rs = ReadBundle(WriteBundle(Content(s21)), renamed, d, {"channel-291.vbundle"});
  ASSERT_FALSE(rs);
  EXPECT_EQ(WithCode(d, DiagCode::kVerifySchemaHash).size(), 1u) << d.ToText();
  EXPECT_TRUE(WithCode(d, DiagCode::kVerifyField).empty()) << d.ToText();
  auto name = WithCode(d, DiagCode::kVerifyFieldName);
  ASSERT_EQ(name.size(), 1u) << d.ToText();
  EXPECT_EQ(name[0]->where.rule_id, kRuleId);
  EXPECT_NE(name[0]->message.find("'Field21' in the rule but 'ImpersonatedPipe'"), std::string::npos)
      << name[0]->message;
}

// A bundle that claims the sensor's own schema hash (a compiler bug, or a
// forged file) but references field 20 of 20: the hash layer passes, the
// field layer refuses.
TEST(FieldCountRegressionTest, HashClaimIsNotTrusted) {
  Schema s20 = ProcessSchema(20);
  Ruleset lying = Content(ProcessSchema(21));
  lying.info.schema_hash = s20.hash();
  Diagnostics d;
  auto rs = ReadBundle(WriteBundle(lying), s20, d, {"channel-291.vbundle"});
  ASSERT_FALSE(rs);
  EXPECT_TRUE(WithCode(d, DiagCode::kVerifySchemaHash).empty()) << d.ToText();
  auto field = WithCode(d, DiagCode::kVerifyField);
  ASSERT_EQ(field.size(), 1u) << d.ToText();
  EXPECT_EQ(field[0]->where.rule_id, kRuleId);
  EXPECT_NE(rs.error().message().find("field index 20 (Field21)"), std::string::npos) << rs.error().message();
}

}  // namespace
}  // namespace vigil::content
