#include "sources/replay/event_json.h"

#include <gtest/gtest.h>

namespace vigil::replay {
namespace {

class EventJsonTest : public ::testing::Test {
 protected:
  const Schema& schema = Schema::Builtin();
  EventDecoder dec{schema};

  const FieldValue& Field(std::string_view name) {
    auto idx = schema.FindField(dec.event().type, name);
    EXPECT_TRUE(idx.has_value()) << name;
    return dec.event().fields[*idx];
  }
};

TEST_F(EventJsonTest, DecodesFieldsByName) {
  ASSERT_TRUE(dec.Decode(R"( {"event":"process_creation","Image":"/usr/bin/bash","CommandLine":"bash -i",)"
                         R"("ProcessId":4242,"LogonId":"0","Unknown":1} )")
                  .ok());
  EXPECT_EQ(dec.event().type, *schema.FindEventType("process_creation"));
  EXPECT_EQ(dec.event().fields.size(), schema.event_type(dec.event().type).fields.size());
  EXPECT_EQ(Field("Image").text, "/usr/bin/bash");
  EXPECT_TRUE(Field("Image").present);
  EXPECT_FALSE(Field("Image").has_number);
  EXPECT_EQ(Field("ProcessId").number, 4242);
  EXPECT_EQ(Field("ProcessId").text, "4242");
  EXPECT_TRUE(Field("LogonId").has_number);
  EXPECT_EQ(Field("LogonId").number, 0);
  EXPECT_FALSE(Field("ParentImage").present);
  EXPECT_EQ(dec.unknown_keys(), 1u);
  EXPECT_EQ(dec.raw_object().front(), '{');
  EXPECT_EQ(dec.raw_object().back(), '}');
}

TEST_F(EventJsonTest, NullIsAbsentAndBooleanIsText) {
  ASSERT_TRUE(dec.Decode(R"({"event":"network_connection","Initiated":true,"Image":null})").ok());
  EXPECT_EQ(Field("Initiated").text, "true");
  EXPECT_FALSE(Field("Image").present);
}

TEST_F(EventJsonTest, PreviousEventFieldsDoNotLeak) {
  ASSERT_TRUE(dec.Decode(R"({"event":"process_creation","Image":"/bin/a","User":"root"})").ok());
  ASSERT_TRUE(dec.Decode(R"({"event":"process_creation","Image":"/bin/b"})").ok());
  EXPECT_FALSE(Field("User").present);
}

TEST_F(EventJsonTest, RefusesBadLinesWithReason) {
  struct Case {
    const char* line;
    const char* reason;
  } cases[] = {
      {"", "empty"},
      {"not json", "invalid JSON"},
      {"[1,2]", "not a JSON object"},
      {R"({"Image":"/bin/sh"})", "'event'"},
      {R"({"event":"windows_registry"})", "unknown event type"},
      {R"({"event":"process_creation","ProcessId":"abc"})", "expected an integer"},
      {R"({"event":"process_creation","ProcessId":1.5})", "fractional"},
      {R"({"event":"process_creation","Image":["a"]})", "nested"},
      {R"({"event":"process_creation","Image":"a","Image":"b"})", "duplicate key 'Image'"},
      {R"({"event":"process_creation","ProcessId":18446744073709551615})", "out of range"},
      {R"({"event":"process_creation"} {"event":"process_creation"})", "invalid JSON"},
  };
  for (const auto& c : cases) {
    Status s = dec.Decode(c.line);
    ASSERT_FALSE(s.ok()) << c.line;
    EXPECT_NE(s.message().find(c.reason), std::string::npos) << c.line << " -> " << s.message();
    EXPECT_TRUE(dec.event().fields.empty());
  }
}

TEST_F(EventJsonTest, OversizedLineIsRefusedUnparsed) {
  std::string line = R"({"event":"process_creation","CommandLine":")" + std::string(kMaxLineBytes, 'a') + "\"}";
  Status s = dec.Decode(line);
  EXPECT_EQ(s.code(), Code::kLimitExceeded);
}

}  // namespace
}  // namespace vigil::replay
