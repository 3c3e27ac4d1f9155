#include "update/testing/test_content.h"

#include "content/bundle.h"

namespace vigil::update::testing {
namespace {

content::Rule TmpExecRule(const Schema& schema, FieldIndex field, const std::string& field_name) {
  content::Rule r;
  r.id = "7e57c0de-0000-4000-8000-000000000001";
  r.title = "Exec from /tmp";
  r.level = content::Level::kHigh;
  r.status = "test";
  r.event_type = *schema.FindEventType("process_creation");
  r.event_type_name = "process_creation";
  content::Atom a;
  a.op = content::AtomOp::kStartsWith;
  a.field = field;
  a.field_name = field_name;
  a.value = "/tmp/";
  r.atoms = {a};
  r.program = {{content::OpCode::kAtom, 0, 0}};
  return r;
}

}  // namespace

SecretKey TestKey(uint8_t n) {
  std::array<uint8_t, kSeedBytes> seed;
  seed.fill(n);
  return SecretKey::FromSeed(seed);
}

std::vector<SecretKey> TestKeys(std::initializer_list<uint8_t> ns) {
  std::vector<SecretKey> keys;
  for (uint8_t n : ns) keys.push_back(TestKey(n));
  return keys;
}

TrustRoot TestRoot(uint32_t threshold, std::initializer_list<uint8_t> ns) {
  TrustRoot root;
  root.threshold = threshold;
  for (uint8_t n : ns) root.keys.push_back(TestKey(n).public_key());
  return root;
}

content::Ruleset SampleRuleset(uint64_t content_version, const std::string& channel, int64_t expires_unix) {
  const Schema& schema = Schema::Builtin();
  content::Ruleset rs;
  rs.info.schema_version = schema.version();
  rs.info.schema_hash = schema.hash();
  rs.info.content_version = content_version;
  rs.info.created_unix = 1'700'000'000;
  rs.info.expires_unix = expires_unix;
  rs.info.channel = channel;
  EventTypeId t = *schema.FindEventType("process_creation");
  rs.rules = {TmpExecRule(schema, *schema.FindField(t, "Image"), "Image")};
  return rs;
}

std::string SampleBundle(uint64_t content_version, const std::string& channel, int64_t expires_unix) {
  return content::WriteBundle(SampleRuleset(content_version, channel, expires_unix));
}

std::string FieldCountDefectBundle(uint64_t content_version, const std::string& channel) {
  std::vector<EventTypeDef> types(Schema::Builtin().event_types().begin(), Schema::Builtin().event_types().end());
  EventTypeId t = *Schema::Builtin().FindEventType("process_creation");
  types[t].fields.push_back({"Field" + std::to_string(types[t].fields.size() + 1), FieldType::kString});
  Result<Schema> wider = Schema::Create(Schema::Builtin().version(), types);
  if (!wider) std::abort();
  content::Ruleset rs = SampleRuleset(content_version, channel);
  rs.info.schema_hash = wider->hash();
  auto last = static_cast<FieldIndex>(types[t].fields.size() - 1);
  content::Rule r = TmpExecRule(*wider, last, types[t].fields.back().name);
  r.id = "c0ffee00-2024-0719-0000-000000000291";
  rs.rules.push_back(r);
  return content::WriteBundle(rs);
}

}  // namespace vigil::update::testing
