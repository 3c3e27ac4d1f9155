// The decision-time table against the schema: every field it names exists,
// and every field of a blocking event type is decided one way or the other,
// so a field added to the schema fails here until someone says whether it is
// known at the permission check.
#include "content/decision_fields.h"

#include <set>
#include <string>

#include <gtest/gtest.h>

#include "schema/schema.h"

namespace vigil::content {
namespace {

TEST(DecisionFields, ExactlyExecAndOpenCanBlock) {
  std::set<std::string> types;
  for (const DecisionFields& d : DecisionFieldTable()) types.insert(std::string(d.event_type));
  EXPECT_EQ(types, (std::set<std::string>{"process_creation", "file_access"}));
  ASSERT_NE(FindDecisionFields("process_creation"), nullptr);
  EXPECT_EQ(FindDecisionFields("process_creation")->decided_at, "FAN_OPEN_EXEC_PERM");
  EXPECT_EQ(FindDecisionFields("process_creation")->target_field, "Image");
  ASSERT_NE(FindDecisionFields("file_access"), nullptr);
  EXPECT_EQ(FindDecisionFields("file_access")->decided_at, "FAN_OPEN_PERM");
  EXPECT_EQ(FindDecisionFields("file_access")->target_field, "TargetFilename");
  for (const char* type : {"process_termination", "file_event", "file_change", "file_rename", "file_delete",
                           "network_connection", "no_such_type", ""}) {
    EXPECT_EQ(FindDecisionFields(type), nullptr) << type;
  }
}

TEST(DecisionFields, ExecKnowsEverythingButTheNewCommandLine) {
  const DecisionFields& exec = *FindDecisionFields("process_creation");
  EXPECT_FALSE(exec.IsKnown("CommandLine"));
  EXPECT_NE(exec.WhyUnknown("CommandLine").find("argv"), std::string_view::npos);
  for (const char* f : {"Image", "ProcessId", "CurrentDirectory", "User", "UserId", "LogonId", "GroupId",
                        "ParentProcessId", "ParentImage", "ParentCommandLine", "ParentUser"}) {
    EXPECT_TRUE(exec.IsKnown(f)) << f;
  }
}

TEST(DecisionFields, OpenKnowsEverything) {
  const Schema& schema = Schema::Builtin();
  const DecisionFields& open = *FindDecisionFields("file_access");
  for (const FieldDef& f : schema.event_type(*schema.FindEventType("file_access")).fields) {
    EXPECT_TRUE(open.IsKnown(f.name)) << f.name;
  }
  EXPECT_TRUE(open.known_unknown.empty());
}

TEST(DecisionFields, TableAccountsForEverySchemaField) {
  const Schema& schema = Schema::Builtin();
  for (const DecisionFields& d : DecisionFieldTable()) {
    std::optional<EventTypeId> type = schema.FindEventType(d.event_type);
    ASSERT_TRUE(type) << d.event_type;
    EXPECT_TRUE(schema.FindField(*type, d.target_field)) << d.event_type << "." << d.target_field;
    EXPECT_TRUE(d.IsKnown(d.target_field)) << d.event_type << "." << d.target_field;
    std::set<std::string> listed;
    for (std::string_view f : d.known) {
      EXPECT_TRUE(schema.FindField(*type, f)) << d.event_type << ": known field " << f << " is not in the schema";
      EXPECT_TRUE(listed.insert(std::string(f)).second) << d.event_type << ": " << f << " listed twice";
    }
    for (const UnknownAtDecision& u : d.known_unknown) {
      EXPECT_TRUE(schema.FindField(*type, u.field)) << d.event_type << ": unknown field " << u.field
                                                    << " is not in the schema";
      EXPECT_TRUE(listed.insert(std::string(u.field)).second) << d.event_type << ": " << u.field << " listed twice";
      EXPECT_FALSE(u.why.empty());
    }
    for (const FieldDef& f : schema.event_type(*type).fields) {
      EXPECT_TRUE(listed.count(f.name)) << d.event_type << "." << f.name
                                        << " is in the schema but content/decision_fields.cc does not say whether "
                                           "it is known at "
                                        << d.decided_at;
    }
  }
}

}  // namespace
}  // namespace vigil::content
