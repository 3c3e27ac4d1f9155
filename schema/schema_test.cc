#include "schema/schema.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

namespace vigil {
namespace {

TEST(SchemaTest, BuiltinHasSigmaCategoriesAndFields) {
  const Schema& s = Schema::Builtin();
  for (const char* name : {"process_creation", "process_termination", "file_event", "file_change",
                           "file_rename", "file_delete", "network_connection"}) {
    EXPECT_TRUE(s.FindEventType(name).has_value()) << name;
  }
  auto pc = *s.FindEventType("process_creation");
  for (const char* f : {"Image", "CommandLine", "ParentImage", "ParentCommandLine", "User",
                        "CurrentDirectory", "ProcessId", "ParentProcessId", "LogonId"}) {
    EXPECT_TRUE(s.FindField(pc, f).has_value()) << f;
  }
  EXPECT_FALSE(s.FindField(pc, "TargetFilename").has_value());
  EXPECT_FALSE(s.FindField(pc, "commandline").has_value()) << "names are case-sensitive";
  auto net = *s.FindEventType("network_connection");
  EXPECT_EQ(s.event_type(net).fields[*s.FindField(net, "DestinationIp")].type, FieldType::kIp);
}

TEST(SchemaTest, HashChangesWithAnyField) {
  auto a = Schema::Create(1, {{"t", {{"A", FieldType::kString}, {"B", FieldType::kString}}}});
  auto b = Schema::Create(1, {{"t", {{"A", FieldType::kString}}}});
  auto c = Schema::Create(1, {{"t", {{"A", FieldType::kString}, {"B", FieldType::kInteger}}}});
  auto d = Schema::Create(2, {{"t", {{"A", FieldType::kString}, {"B", FieldType::kString}}}});
  ASSERT_TRUE(a && b && c && d);
  EXPECT_NE(a->hash(), b->hash());
  EXPECT_NE(a->hash(), c->hash());
  EXPECT_NE(a->hash(), d->hash());
  auto a2 = Schema::Create(1, {{"t", {{"A", FieldType::kString}, {"B", FieldType::kString}}}});
  EXPECT_EQ(a->hash(), a2->hash());
}

TEST(SchemaTest, CreateRefusesBadTables) {
  EXPECT_FALSE(Schema::Create(1, {}));
  EXPECT_FALSE(Schema::Create(1, {{"t", {}}}));
  EXPECT_FALSE(Schema::Create(1, {{"t", {{"A", FieldType::kString}, {"A", FieldType::kString}}}}));
  EXPECT_FALSE(Schema::Create(1, {{"t", {{"A", FieldType::kString}}}, {"t", {{"B", FieldType::kString}}}}));
  std::vector<FieldDef> many;
  for (size_t i = 0; i <= kMaxFieldsPerType; ++i) many.push_back({"F" + std::to_string(i), FieldType::kString});
  EXPECT_EQ(Schema::Create(1, {{"t", many}}).error().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace vigil

namespace vigil {
namespace {

// docs/schema.md carries the canonical text and hash; they must match the code.
TEST(SchemaTest, DocumentationMatchesTheCode) {
  const char* src = std::getenv("VIGIL_SOURCE_DIR");
  ASSERT_NE(src, nullptr) << "run through ctest";
  std::ifstream in(std::string(src) + "/docs/schema.md");
  ASSERT_TRUE(in) << "docs/schema.md missing";
  std::stringstream ss;
  ss << in.rdbuf();
  std::string doc = ss.str();
  const std::string marker = "## Canonical text (version 1)\n\n```\n";
  size_t begin = doc.find(marker);
  ASSERT_NE(begin, std::string::npos);
  begin += marker.size();
  size_t end = doc.find("```", begin);
  ASSERT_NE(end, std::string::npos);
  EXPECT_EQ(doc.substr(begin, end - begin), Schema::Builtin().CanonicalText());
  EXPECT_NE(doc.find(HashToHex(Schema::Builtin().hash())), std::string::npos);
}

}  // namespace
}  // namespace vigil
