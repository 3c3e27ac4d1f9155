// Bundle writer and reader: round trips, and the reader refusing damaged,
// truncated, oversized and hostile bytes with the specific code for each.
// Edits that should be caught structurally are followed by RewriteChecksum(),
// so that the checksum is not what catches them.
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "base/file.h"
#include "content/bundle.h"
#include "content/bundle_format.h"

namespace vigil::content {
namespace {

namespace bf = bundle_format;

const Schema& S() { return Schema::Builtin(); }

Atom MakeAtom(AtomOp op, const char* type, const char* field, std::string value) {
  Atom a;
  a.op = op;
  a.field = *S().FindField(*S().FindEventType(type), field);
  a.field_name = field;
  a.value = std::move(value);
  return a;
}

Ruleset Sample() {
  Ruleset rs;
  rs.info.schema_version = S().version();
  rs.info.schema_hash = S().hash();
  rs.info.content_version = 0x0102030405060708ull;
  rs.info.created_unix = 1'720'000'000;
  rs.info.expires_unix = 1'730'000'000;
  rs.info.channel = "staged";

  Rule a;
  a.id = "00000000-0000-0000-0000-00000000000a";
  a.title = "curl piped to shell";
  a.level = Level::kHigh;
  a.status = "test";
  a.tags = {"attack.execution", "attack.t1059.004"};
  a.source = "rules/curl.yml:3";
  a.event_type = *S().FindEventType("process_creation");
  a.event_type_name = "process_creation";
  a.atoms.push_back(MakeAtom(AtomOp::kEndsWith, "process_creation", "Image", "/curl"));
  Atom re = MakeAtom(AtomOp::kRegex, "process_creation", "CommandLine", "\\|\\s*(ba)?sh\\b");
  re.flags = kRegexI;
  a.atoms.push_back(re);
  Atom any;
  any.op = AtomOp::kContains;
  any.field = kAnyField;
  any.value = "http://";
  a.atoms.push_back(any);
  a.program = {{OpCode::kAtom, 0, 0}, {OpCode::kAtom, 1, 0}, {OpCode::kAtom, 2, 0}, {OpCode::kAtLeast, 3, 2}};

  Rule b;
  b.id = "00000000-0000-0000-0000-00000000000b";
  b.title = "outbound to private range on high port";
  b.level = Level::kLow;
  b.status = "experimental";
  b.source = "rules/net.yml:1";
  b.event_type = *S().FindEventType("network_connection");
  b.event_type_name = "network_connection";
  b.atoms.push_back(MakeAtom(AtomOp::kCidr, "network_connection", "DestinationIp", "10.0.0.0/8"));
  Atom port = MakeAtom(AtomOp::kNumGte, "network_connection", "DestinationPort", "");
  port.number = -5;
  b.atoms.push_back(port);
  Atom ref = MakeAtom(AtomOp::kFieldRef, "network_connection", "SourceHostname", "");
  ref.ref_field = *S().FindField(b.event_type, "DestinationHostname");
  ref.ref_field_name = "DestinationHostname";
  b.atoms.push_back(ref);
  b.program = {{OpCode::kAtom, 0, 0}, {OpCode::kAtom, 1, 0}, {OpCode::kAnd, 2, 0},
               {OpCode::kAtom, 2, 0}, {OpCode::kNot, 0, 0},  {OpCode::kOr, 2, 0}};

  Rule c = a;
  c.id = "00000000-0000-0000-0000-00000000000c";
  c.tags.clear();
  c.level = Level::kCritical;
  c.program = {{OpCode::kAtom, 0, 0}, {OpCode::kAtom, 1, 0}, {OpCode::kAtom, 2, 0},
               {OpCode::kTrue, 0, 0}, {OpCode::kFalse, 0, 0}, {OpCode::kOr, 5, 0}};
  rs.rules = {a, b, c};
  return rs;
}

// Sample() plus two blocking rules, one per event type that can block, on
// fields known at decision time (docs/verifier.md).
Ruleset SampleWithBlocking() {
  Ruleset rs = Sample();
  Rule exec;
  exec.id = "00000000-0000-0000-0000-00000000000d";
  exec.title = "no binaries from /tmp";
  exec.level = Level::kHigh;
  exec.source = "rules/block.yml:1";
  exec.event_type = *S().FindEventType("process_creation");
  exec.event_type_name = "process_creation";
  exec.atoms.push_back(MakeAtom(AtomOp::kStartsWith, "process_creation", "Image", "/tmp/"));
  exec.program = {{OpCode::kAtom, 0, 0}};
  exec.block = true;
  Rule open = exec;
  open.id = "00000000-0000-0000-0000-00000000000e";
  open.title = "shadow read by a shell";
  open.event_type = *S().FindEventType("file_access");
  open.event_type_name = "file_access";
  open.atoms = {MakeAtom(AtomOp::kEquals, "file_access", "TargetFilename", "/etc/shadow"),
                MakeAtom(AtomOp::kContains, "file_access", "CommandLine", "sh -c")};
  open.program = {{OpCode::kAtom, 0, 0}, {OpCode::kAtom, 1, 0}, {OpCode::kAnd, 2, 0}};
  rs.rules.insert(rs.rules.begin() + 1, exec);
  rs.rules.push_back(open);
  return rs;
}

struct Read {
  Result<Ruleset> result;
  Diagnostics diags;
  std::vector<DiagCode> codes;  // of errors, in order
};

Read ReadIt(std::string_view bytes, bool verify = true, const Schema& schema = S()) {
  Read r{Ruleset{}, {}, {}};
  r.result = ReadBundle(bytes, schema, r.diags, {"test.vbundle", verify});
  for (const auto& d : r.diags.list()) {
    if (d.severity == Severity::kError) r.codes.push_back(d.code);
  }
  return r;
}

uint32_t Get32(const std::string& b, size_t off) { return bf::LoadU32(b.data() + off); }
void Put32(std::string& b, size_t off, uint32_t v) { bf::StoreU32(b.data() + off, v); }

// File offset of section `id`.
uint32_t SectionOffset(const std::string& b, uint32_t id) {
  return Get32(b, bf::header::kSize + (id - 1) * bf::section_entry::kSize + bf::section_entry::kOffset);
}

// Edit, fix the checksum, and expect exactly one refusal with `code`.
::testing::AssertionResult RefusedStructurally(std::string bytes, DiagCode code) {
  EXPECT_TRUE(bf::RewriteChecksum(bytes));
  Read r = ReadIt(bytes);
  if (r.result) return ::testing::AssertionFailure() << "accepted";
  if (r.codes != std::vector<DiagCode>{code}) {
    return ::testing::AssertionFailure() << "expected exactly " << DiagCodeString(code) << ", got:\n"
                                         << r.diags.ToText();
  }
  return ::testing::AssertionSuccess() << r.diags.ToText();
}

// ---- round trip ---------------------------------------------------------------

TEST(BundleTest, RoundTripIsExactAndCanonical) {
  Ruleset rs = Sample();
  std::string bytes = WriteBundle(rs);
  Read r = ReadIt(bytes);
  ASSERT_TRUE(r.result) << r.result.error().ToString() << "\n" << r.diags.ToText();
  EXPECT_TRUE(r.diags.list().empty()) << r.diags.ToText();
  EXPECT_EQ(*r.result, rs);
  EXPECT_EQ(WriteBundle(*r.result), bytes);
  EXPECT_EQ(WriteBundle(rs), bytes) << "writer must be deterministic";
}

TEST(BundleTest, BlockingFlagRoundTrips) {
  Ruleset rs = SampleWithBlocking();
  std::string bytes = WriteBundle(rs);
  Read r = ReadIt(bytes);
  ASSERT_TRUE(r.result) << r.result.error().ToString() << "\n" << r.diags.ToText();
  EXPECT_EQ(*r.result, rs);
  EXPECT_EQ(WriteBundle(*r.result), bytes);
  std::vector<bool> blocks;
  for (const Rule& rule : r.result->rules) blocks.push_back(rule.block);
  EXPECT_EQ(blocks, (std::vector<bool>{false, true, false, false, true}));
  // The flags byte of each record: bit 0 for the blocking rules, nothing else.
  for (size_t i = 0; i < rs.rules.size(); ++i) {
    uint8_t flags = bf::LoadU8(bytes.data() + SectionOffset(bytes, bf::kRules) + i * bf::rule_record::kSize +
                               bf::rule_record::kFlags);
    EXPECT_EQ(flags, rs.rules[i].block ? bf::kRuleBlock : 0) << "rule " << i;
  }
}

TEST(BundleTest, ContentWithoutBlockingRulesEncodesAsBefore) {
  // The flags byte was reserved (0) before bit 0 was defined: an alerting
  // rule's record is unchanged, so format version 1 stays (docs/bundle-format.md).
  std::string bytes = WriteBundle(Sample());
  for (size_t i = 0; i < Sample().rules.size(); ++i) {
    EXPECT_EQ(bytes[SectionOffset(bytes, bf::kRules) + i * bf::rule_record::kSize + bf::rule_record::kFlags], 0);
  }
  EXPECT_EQ(Get32(bytes, bf::header::kFormatVersion), 1u);
}

TEST(BundleTest, EmptyRulesetRoundTrips) {
  Ruleset rs;
  rs.info.schema_version = S().version();
  rs.info.schema_hash = S().hash();
  std::string bytes = WriteBundle(rs);
  // header + table + "stable" + empty signature area.
  EXPECT_EQ(bytes.size(), bf::header::kSize + 5 * bf::section_entry::kSize + 6 + bf::signature::kHeaderSize);
  Read r = ReadIt(bytes);
  ASSERT_TRUE(r.result) << r.diags.ToText();
  EXPECT_EQ(*r.result, rs);
}

TEST(BundleTest, HeaderFieldsSitWhereTheSpecSays) {
  Ruleset rs = Sample();
  std::string b = WriteBundle(rs);
  EXPECT_EQ(b.substr(0, 8), "VIGILBND");
  EXPECT_EQ(Get32(b, 8), 1u);
  EXPECT_EQ(Get32(b, 12), 144u);
  EXPECT_EQ(Get32(b, 16), 0u);
  EXPECT_EQ(Get32(b, 20), S().version());
  EXPECT_EQ(b.substr(24, 32), std::string(reinterpret_cast<const char*>(S().hash().data()), 32));
  EXPECT_EQ(bf::LoadU64(b.data() + 56), rs.info.content_version);
  EXPECT_EQ(bf::LoadU64(b.data() + 64), 1'720'000'000u);
  EXPECT_EQ(bf::LoadU64(b.data() + 72), 1'730'000'000u);
  EXPECT_EQ(Get32(b, 80), 0u);  // channel is the pool's first string
  EXPECT_EQ(Get32(b, 84), 6u);
  EXPECT_EQ(Get32(b, 88), 3u);
  EXPECT_EQ(Get32(b, 92), 9u);
  EXPECT_EQ(Get32(b, 96), 16u);
  EXPECT_EQ(Get32(b, 100), 2u);
  EXPECT_EQ(Get32(b, 104), 5u);
  uint32_t body = Get32(b, 108);
  EXPECT_EQ(b.size(), body + 8u);
  EXPECT_EQ(b.substr(body, 4), "VSIG");
  EXPECT_EQ(Get32(b, body + 4), 0u);
  EXPECT_EQ(SectionOffset(b, 1), 144u + 5 * 16);
  EXPECT_EQ(b.substr(SectionOffset(b, 1), 6), "staged");
}

TEST(BundleTest, MetadataIsPreserved) {
  Ruleset rs = Sample();
  rs.info.expires_unix = -1;  // any i64 survives, even nonsense; policy is the loader's
  rs.info.created_unix = INT64_MIN;
  rs.info.content_version = UINT64_MAX;
  Read r = ReadIt(WriteBundle(rs));
  ASSERT_TRUE(r.result) << r.diags.ToText();
  EXPECT_EQ(r.result->info, rs.info);
  EXPECT_EQ(r.result->info.expires_unix, -1);
}

TEST(BundleTest, PeekContentVersionReadsOnlyTheHeader) {
  Ruleset rs = Sample();
  rs.info.content_version = 0x0102030405060708ull;
  std::string bytes = WriteBundle(rs);
  EXPECT_EQ(PeekContentVersion(bytes), 0x0102030405060708ull);
  EXPECT_EQ(PeekContentVersion(bytes.substr(0, 64)), 0x0102030405060708ull);  // a truncated body is no matter
  EXPECT_EQ(PeekContentVersion(bytes.substr(0, 63)), 0u);
  bytes[0] = 'X';
  EXPECT_EQ(PeekContentVersion(bytes), 0u);
  EXPECT_EQ(PeekContentVersion(""), 0u);
}

// ---- damage -------------------------------------------------------------------

TEST(BundleTest, EveryTruncationIsRefusedAsTruncated) {
  std::string bytes = WriteBundle(Sample());
  for (size_t n = 0; n < bytes.size(); ++n) {
    Read r = ReadIt(std::string_view(bytes).substr(0, n));
    ASSERT_FALSE(r.result) << n;
    ASSERT_FALSE(r.codes.empty()) << n;
    EXPECT_EQ(r.codes[0], DiagCode::kBundleTruncated) << n << ": " << r.diags.ToText();
    EXPECT_EQ(r.result.error().code(), Code::kCorrupt);
  }
}

TEST(BundleTest, EverySingleBitFlipIsRefused) {
  std::string bytes = WriteBundle(Sample());
  size_t by_checksum = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string b = bytes;
      b[i] = static_cast<char>(b[i] ^ (1 << bit));
      Read r = ReadIt(b);
      ASSERT_FALSE(r.result) << "flip at byte " << i << " bit " << bit << " accepted";
      ASSERT_FALSE(r.codes.empty());
      if (r.codes[0] == DiagCode::kBundleChecksum) ++by_checksum;
    }
  }
  // Most flips land in checksummed bytes that still parse.
  EXPECT_GT(by_checksum, bytes.size() * 8 / 2);
}

TEST(BundleTest, WrongChecksumIsRefused) {
  std::string b = WriteBundle(Sample());
  b[bf::header::kChecksum + 5] ^= 0x40;
  Read r = ReadIt(b);
  ASSERT_FALSE(r.result);
  EXPECT_EQ(r.codes, std::vector<DiagCode>{DiagCode::kBundleChecksum});
  EXPECT_EQ(r.result.error().code(), Code::kCorrupt);
  EXPECT_NE(r.result.error().message().find("test.vbundle"), std::string::npos);
  EXPECT_NE(r.result.error().message().find("checksum"), std::string::npos);
}

TEST(BundleTest, ContentEditWithoutChecksumIsRefused) {
  std::string b = WriteBundle(Sample());
  size_t at = b.find("curl piped");
  ASSERT_NE(at, std::string::npos);
  b[at] = 'C';
  Read r = ReadIt(b);
  ASSERT_FALSE(r.result);
  EXPECT_EQ(r.codes, std::vector<DiagCode>{DiagCode::kBundleChecksum});
}

TEST(BundleTest, StructuralFaultAlsoReportsDamage) {
  std::string b = WriteBundle(Sample());
  Put32(b, bf::header::kRuleCount, 4);  // no checksum fix: damaged, not mis-written
  Read r = ReadIt(b);
  ASSERT_FALSE(r.result);
  EXPECT_EQ(r.codes, (std::vector<DiagCode>{DiagCode::kBundleBounds, DiagCode::kBundleChecksum}));
}

// ---- framing ------------------------------------------------------------------

TEST(BundleTest, WrongMagic) {
  std::string b = WriteBundle(Sample());
  b[3] = 'X';
  EXPECT_TRUE(RefusedStructurally(b, DiagCode::kBundleMagic));
  Read r = ReadIt("hello, world");
  EXPECT_EQ(r.codes, std::vector<DiagCode>{DiagCode::kBundleMagic});
  r = ReadIt(std::string_view());  // data() is null: must not reach memcmp
  EXPECT_EQ(r.codes, std::vector<DiagCode>{DiagCode::kBundleTruncated});
  r = ReadIt("VIGIL");
  EXPECT_EQ(r.codes, std::vector<DiagCode>{DiagCode::kBundleTruncated});
}

TEST(BundleTest, FutureVersionIsUnsupported) {
  std::string b = WriteBundle(Sample());
  Put32(b, bf::header::kFormatVersion, 2);
  ASSERT_TRUE(bf::RewriteChecksum(b));
  Read r = ReadIt(b);
  ASSERT_FALSE(r.result);
  EXPECT_EQ(r.codes, std::vector<DiagCode>{DiagCode::kBundleVersion});
  EXPECT_EQ(r.result.error().code(), Code::kUnsupported);
  EXPECT_NE(r.result.error().message().find("format version 2"), std::string::npos)
      << r.result.error().message();
  Put32(b, bf::header::kFormatVersion, 0);
  EXPECT_TRUE(RefusedStructurally(b, DiagCode::kBundleVersion));
}

TEST(BundleTest, OtherHeaderSizeIsUnsupported) {
  std::string b = WriteBundle(Sample());
  Put32(b, bf::header::kHeaderSize, 160);
  EXPECT_TRUE(RefusedStructurally(b, DiagCode::kBundleVersion));
}

TEST(BundleTest, UnknownFlagsRefused) {
  std::string b = WriteBundle(Sample());
  Put32(b, bf::header::kFlags, 1);
  EXPECT_TRUE(RefusedStructurally(b, DiagCode::kBundleEncoding));
}

TEST(BundleTest, SectionCountMustBeFive) {
  std::string b = WriteBundle(Sample());
  Put32(b, bf::header::kSectionCount, 6);
  EXPECT_TRUE(RefusedStructurally(b, DiagCode::kBundleEncoding));
}

TEST(BundleTest, OversizedInputRefusedUnread) {
  std::string b(kMaxBundleBytes + 1, '\0');
  Read r = ReadIt(b);
  EXPECT_EQ(r.codes, std::vector<DiagCode>{DiagCode::kBundleLimit});
  EXPECT_EQ(r.result.error().code(), Code::kLimitExceeded);
}

TEST(BundleTest, BodySizeOutOfRange) {
  std::string b = WriteBundle(Sample());
  Put32(b, bf::header::kBodySize, bf::header::kSize + 8);  // inside the section table
  EXPECT_TRUE(RefusedStructurally(b, DiagCode::kBundleBounds));
  b = WriteBundle(Sample());
  Put32(b, bf::header::kBodySize, 0xffffffffu);
  Read r = ReadIt(b);
  EXPECT_EQ(r.codes, std::vector<DiagCode>{DiagCode::kBundleTruncated});
}

TEST(BundleTest, TrailingBytesRefused) {
  std::string b = WriteBundle(Sample()) + "x";
  EXPECT_TRUE(RefusedStructurally(b, DiagCode::kBundleBounds));
}

// ---- signature area -------------------------------------------------------------

std::string WithSignaturePayload(std::string b, const std::string& payload) {
  uint32_t body = Get32(b, bf::header::kBodySize);
  Put32(b, body + bf::signature::kLength, static_cast<uint32_t>(payload.size()));
  return b + payload;
}

TEST(BundleTest, SignaturePayloadIsOutsideTheChecksum) {
  Ruleset rs = Sample();
  std::string plain = WriteBundle(rs);
  std::string payload(64 + 32, 's');  // e.g. one ed25519 signature and key id
  std::string signed_bytes = WithSignaturePayload(plain, payload);
  // Appending changed no checksummed byte.
  uint32_t body = Get32(plain, bf::header::kBodySize);
  EXPECT_EQ(signed_bytes.substr(0, body), plain.substr(0, body));
  Read r = ReadIt(signed_bytes);
  ASSERT_TRUE(r.result) << r.diags.ToText();
  EXPECT_EQ(*r.result, rs);
  EXPECT_EQ(WriteBundle(*r.result), plain);

  // Flips in the payload are accepted: the payload is opaque to this reader
  // by design (the signature verifier judges it, over the checksum); flips in
  // its framing are not.
  std::string b = signed_bytes;
  b[b.size() - 1] ^= 1;
  EXPECT_TRUE(ReadIt(b).result);
  for (size_t i = body; i < body + bf::signature::kHeaderSize; ++i) {
    b = signed_bytes;
    b[i] ^= 0x10;
    EXPECT_FALSE(ReadIt(b).result) << i;
  }
}

TEST(BundleTest, SignaturePayloadIsBounded) {
  std::string b = WithSignaturePayload(WriteBundle(Sample()), std::string(bf::signature::kMaxPayloadBytes, 's'));
  EXPECT_TRUE(ReadIt(b).result);
  b = WithSignaturePayload(WriteBundle(Sample()), std::string(bf::signature::kMaxPayloadBytes + 1, 's'));
  Read r = ReadIt(b);
  EXPECT_EQ(r.codes, std::vector<DiagCode>{DiagCode::kBundleLimit});
}

TEST(BundleTest, SignatureMagicRequired) {
  std::string b = WriteBundle(Sample());
  b[Get32(b, bf::header::kBodySize)] = 'X';
  Read r = ReadIt(b);
  EXPECT_EQ(r.codes, std::vector<DiagCode>{DiagCode::kBundleMagic});
}

// ---- section table --------------------------------------------------------------

size_t Entry(uint32_t id, size_t field) { return bf::header::kSize + (id - 1) * bf::section_entry::kSize + field; }

TEST(BundleTest, SectionsMustNotOverlap) {
  std::string b = WriteBundle(Sample());
  Put32(b, Entry(3, bf::section_entry::kOffset), Get32(b, Entry(3, bf::section_entry::kOffset)) - 1);
  EXPECT_TRUE(RefusedStructurally(b, DiagCode::kBundleBounds));
}

TEST(BundleTest, SectionsMustNotLeaveGaps) {
  std::string b = WriteBundle(Sample());
  Put32(b, Entry(3, bf::section_entry::kOffset), Get32(b, Entry(3, bf::section_entry::kOffset)) + 1);
  EXPECT_TRUE(RefusedStructurally(b, DiagCode::kBundleBounds));
}

TEST(BundleTest, SectionMustEndInsideTheBody) {
  std::string b = WriteBundle(Sample());
  Put32(b, Entry(5, bf::section_entry::kLength), 0xfffffff0u);
  EXPECT_TRUE(RefusedStructurally(b, DiagCode::kBundleBounds));
  b = WriteBundle(Sample());
  Put32(b, Entry(5, bf::section_entry::kOffset), 0xfffffff0u);
  EXPECT_TRUE(RefusedStructurally(b, DiagCode::kBundleBounds));
}

TEST(BundleTest, SectionIdsInOrder) {
  std::string b = WriteBundle(Sample());
  Put32(b, Entry(2, bf::section_entry::kId), 3);
  EXPECT_TRUE(RefusedStructurally(b, DiagCode::kBundleEncoding));
  b = WriteBundle(Sample());
  Put32(b, Entry(2, bf::section_entry::kReserved), 1);
  EXPECT_TRUE(RefusedStructurally(b, DiagCode::kBundleEncoding));
}

// ---- counts ---------------------------------------------------------------------

TEST(BundleTest, OversizedCountsRefusedBeforeAllocating) {
  for (size_t field : {bf::header::kAtomCount, bf::header::kInstrCount, bf::header::kTagCount}) {
    std::string b = WriteBundle(Sample());
    Put32(b, field, 0xffffffffu);
    EXPECT_TRUE(RefusedStructurally(b, DiagCode::kBundleBounds)) << field;
  }
  std::string b = WriteBundle(Sample());
  Put32(b, bf::header::kRuleCount, 0xffffffffu);
  EXPECT_TRUE(RefusedStructurally(b, DiagCode::kBundleLimit));
  Put32(b, bf::header::kRuleCount, static_cast<uint32_t>(kMaxRules));
  EXPECT_TRUE(RefusedStructurally(b, DiagCode::kBundleBounds));
}

TEST(BundleTest, OversizedPerRuleCountsRefused) {
  using namespace bf::rule_record;
  for (size_t field : {kAtomCount, kInstrCount, kTagCount}) {
    std::string b = WriteBundle(Sample());
    Put32(b, SectionOffset(b, bf::kRules) + field, 0xffffffffu);
    EXPECT_TRUE(RefusedStructurally(b, DiagCode::kBundleLimit)) << field;
  }
  // Within the per-rule bound but more than the section holds.
  std::string b = WriteBundle(Sample());
  Put32(b, SectionOffset(b, bf::kRules) + kAtomCount, 100);
  EXPECT_TRUE(RefusedStructurally(b, DiagCode::kBundleBounds));
  // Fewer than the section holds.
  b = WriteBundle(Sample());
  Put32(b, SectionOffset(b, bf::kRules) + kAtomCount, 2);
  EXPECT_TRUE(RefusedStructurally(b, DiagCode::kBundleBounds));
}

// ---- strings --------------------------------------------------------------------

TEST(BundleTest, StringRefOutsidePool) {
  std::string b = WriteBundle(Sample());
  Put32(b, bf::header::kChannel + 4, 0xffffffffu);
  EXPECT_TRUE(RefusedStructurally(b, DiagCode::kBundleBounds));
  b = WriteBundle(Sample());
  Put32(b, bf::header::kChannel, 0xfffffff0u);
  EXPECT_TRUE(RefusedStructurally(b, DiagCode::kBundleBounds));
}

TEST(BundleTest, StringRefsMustFollowEachOther) {
  std::string b = WriteBundle(Sample());
  // The first rule's id re-reads the channel's bytes.
  Put32(b, SectionOffset(b, bf::kRules) + bf::rule_record::kId, 0);
  EXPECT_TRUE(RefusedStructurally(b, DiagCode::kBundleEncoding));
}

TEST(BundleTest, StringLengthsBounded) {
  Ruleset rs = Sample();
  rs.rules[0].atoms[0].value = std::string(kMaxValueBytes + 1, 'v');
  Read r = ReadIt(WriteBundle(rs));
  EXPECT_EQ(r.codes, std::vector<DiagCode>{DiagCode::kBundleLimit});
  rs = Sample();
  rs.rules[1].title = std::string(kMaxTextBytes + 1, 't');
  r = ReadIt(WriteBundle(rs));
  EXPECT_EQ(r.codes, std::vector<DiagCode>{DiagCode::kBundleLimit});
  EXPECT_EQ(r.diags.list()[0].where.rule_id, rs.rules[1].id);
  EXPECT_NE(r.diags.list()[0].message.find("rule 1 title: string of 1025 bytes (limit 1024)"), std::string::npos)
      << r.diags.list()[0].message;
}

TEST(BundleTest, UnusedPoolBytesRefused) {
  std::string b = WriteBundle(Sample());
  // Shorten the last tag: its final byte is then referenced by nothing.
  size_t last_tag = SectionOffset(b, bf::kTags) + Get32(b, Entry(bf::kTags, bf::section_entry::kLength)) - 8;
  Put32(b, last_tag + 4, Get32(b, last_tag + 4) - 1);
  EXPECT_TRUE(RefusedStructurally(b, DiagCode::kBundleEncoding));
}

// ---- enums and reserved bytes ---------------------------------------------------

TEST(BundleTest, EnumsOutOfRangeRefused) {
  std::string b = WriteBundle(Sample());
  uint32_t atoms = SectionOffset(b, bf::kAtoms);
  b[atoms + bf::atom_record::kOp] = static_cast<char>(kAtomOpCount);
  EXPECT_TRUE(RefusedStructurally(b, DiagCode::kBundleEncoding));
  ASSERT_TRUE(bf::RewriteChecksum(b));
  Read r = ReadIt(b);
  EXPECT_EQ(r.diags.list()[0].message,
            "offset " + std::to_string(atoms) + ": atom 0 (rule 0, atom 0): operator 15 (must be 0..14)");
  EXPECT_EQ(r.diags.list()[0].where.rule_id, Sample().rules[0].id);

  b = WriteBundle(Sample());
  b[atoms + bf::atom_record::kFlags] = static_cast<char>(0x80);
  EXPECT_TRUE(RefusedStructurally(b, DiagCode::kBundleEncoding));

  b = WriteBundle(Sample());
  b[SectionOffset(b, bf::kProgram) + bf::instr_record::kOp] = static_cast<char>(kOpCodeCount);
  EXPECT_TRUE(RefusedStructurally(b, DiagCode::kBundleEncoding));

  b = WriteBundle(Sample());
  b[SectionOffset(b, bf::kRules) + bf::rule_record::kLevel] = 5;
  EXPECT_TRUE(RefusedStructurally(b, DiagCode::kBundleEncoding));
}

TEST(BundleTest, UnknownRuleFlagBitsRefused) {
  const std::string good = WriteBundle(SampleWithBlocking());
  const size_t flags = SectionOffset(good, bf::kRules) + bf::rule_record::kSize + bf::rule_record::kFlags;  // rule 1
  ASSERT_EQ(good[flags], bf::kRuleBlock);
  for (int bit = 1; bit < 8; ++bit) {
    std::string b = good;
    b[flags] = static_cast<char>(bf::kRuleBlock | (1 << bit));
    EXPECT_TRUE(RefusedStructurally(b, DiagCode::kBundleEncoding)) << "bit " << bit;
    ASSERT_TRUE(bf::RewriteChecksum(b));
    Read r = ReadIt(b);
    EXPECT_EQ(r.diags.list().at(0).message,
              fmt::format("offset {}: rule 1: flags 0x{:02x} have bits outside 0x01", flags, 1 | (1 << bit)));
    EXPECT_EQ(r.diags.list().at(0).where.rule_id, "00000000-0000-0000-0000-00000000000d");
  }
}

TEST(BundleTest, BlockingBitIsJudgedByTheVerifier) {
  // Setting the bit on an alerting rule that reads CommandLine at exec time
  // decodes, and the verifier behind the reader refuses it.
  std::string b = WriteBundle(Sample());
  b[SectionOffset(b, bf::kRules) + bf::rule_record::kFlags] = bf::kRuleBlock;  // rule 0
  ASSERT_TRUE(bf::RewriteChecksum(b));
  Read r = ReadIt(b);
  ASSERT_FALSE(r.result);
  EXPECT_EQ(r.result.error().code(), Code::kVerifyFailed);
  EXPECT_EQ(r.codes, std::vector<DiagCode>{DiagCode::kVerifyBlockField}) << r.diags.ToText();
  EXPECT_EQ(r.diags.list().at(0).where.rule_id, Sample().rules[0].id);
  EXPECT_NE(r.diags.list().at(0).message.find("'CommandLine'"), std::string::npos) << r.diags.ToText();
}

TEST(BundleTest, ReservedBytesMustBeZero) {
  std::string b = WriteBundle(Sample());
  b[SectionOffset(b, bf::kAtoms) + bf::atom_record::kReserved + 1] = 1;
  EXPECT_TRUE(RefusedStructurally(b, DiagCode::kBundleEncoding));
  b = WriteBundle(Sample());
  b[SectionOffset(b, bf::kProgram) + bf::instr_record::kReserved + 2] = 1;
  EXPECT_TRUE(RefusedStructurally(b, DiagCode::kBundleEncoding));
}

// ---- the verifier behind the reader ---------------------------------------------

TEST(BundleTest, ReaderRunsTheVerifier) {
  Ruleset rs = Sample();
  rs.rules[2].atoms[1].field = 40;  // process_creation has 12 fields
  std::string b = WriteBundle(rs);
  Read r = ReadIt(b);
  ASSERT_FALSE(r.result);
  EXPECT_EQ(r.codes, std::vector<DiagCode>{DiagCode::kVerifyField});
  EXPECT_EQ(r.result.error().code(), Code::kVerifyFailed);
  EXPECT_NE(r.result.error().message().find("field index 40"), std::string::npos) << r.result.error().message();
  EXPECT_EQ(r.diags.list()[0].where.rule_id, rs.rules[2].id);
  EXPECT_EQ(r.diags.list()[0].where.file, "test.vbundle");

  // Structure only (vigil content inspect): decodes, refuses nothing.
  Read inspect = ReadIt(b, /*verify=*/false);
  ASSERT_TRUE(inspect.result);
  EXPECT_EQ(*inspect.result, rs);
}

TEST(BundleTest, ReaderRefusesOtherSchema) {
  auto other = Schema::Create(7, {{"process_creation", {{"Image", FieldType::kString}}}});
  ASSERT_TRUE(other);
  Read r = ReadIt(WriteBundle(Sample()), true, *other);
  ASSERT_FALSE(r.result);
  EXPECT_TRUE(r.diags.HasCode(DiagCode::kVerifySchemaHash));
}

// ---- the fuzzer's seed corpus --------------------------------------------------

// The seeds in content/fuzz/bundle_reader_corpus are written by this test when
// VIGIL_REGEN_CORPUS=1 (after a format change); otherwise it checks that every
// valid_* seed still decodes and every trunc_* seed is refused, so the corpus
// cannot silently rot into inputs that stop at the first check.
std::map<std::string, std::string> Seeds() {
  std::map<std::string, std::string> seeds;
  std::string sample = WriteBundle(Sample());
  seeds["valid_sample"] = sample;
  Ruleset empty;
  empty.info.schema_version = S().version();
  empty.info.schema_hash = S().hash();
  seeds["valid_empty"] = WriteBundle(empty);
  seeds["valid_signed"] = WithSignaturePayload(sample, std::string(96, '\x5a'));
  Ruleset bad = Sample();
  bad.rules[0].atoms[1].field = 30;             // field out of range
  bad.rules[1].atoms[0].value = "10.0.0.0/33";  // bad cidr
  bad.rules[2].program.pop_back();              // leaves 5 values
  seeds["valid_refused_by_verifier"] = WriteBundle(bad);
  Ruleset ops = Sample();
  Rule& r = ops.rules[0];
  for (uint8_t op = 0; op < kAtomOpCount; ++op) {
    Atom a = r.atoms[0];
    a.op = static_cast<AtomOp>(op);
    a.value = op == static_cast<uint8_t>(AtomOp::kRegex) ? "^/tmp/[a-z]{3,8}$" : "/tmp/*x";
    r.atoms.push_back(a);
  }
  seeds["valid_every_op"] = WriteBundle(ops);
  seeds["valid_blocking"] = WriteBundle(SampleWithBlocking());
  for (size_t n : {size_t{5}, size_t{100}, size_t{230}, sample.size() / 2, sample.size() - 1}) {
    seeds["trunc_sample_" + std::to_string(n)] = sample.substr(0, n);
  }
  return seeds;
}

TEST(BundleTest, SeedCorpusIsCurrent) {
  const char* src = std::getenv("VIGIL_SOURCE_DIR");
  if (src == nullptr) GTEST_SKIP() << "VIGIL_SOURCE_DIR not set (run through ctest)";
  std::filesystem::path dir = std::filesystem::path(src) / "content/fuzz/bundle_reader_corpus";
  if (const char* regen = std::getenv("VIGIL_REGEN_CORPUS"); regen != nullptr && std::string(regen) == "1") {
    std::filesystem::create_directories(dir);
    for (const auto& [name, bytes] : Seeds()) ASSERT_TRUE(WriteFileAtomic((dir / name).string(), bytes).ok());
  }
  size_t valid = 0, truncated = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::string name = entry.path().filename().string();
    auto bytes = ReadFileBounded(entry.path().string(), kMaxBundleBytes + 1);
    ASSERT_TRUE(bytes) << name;
    Read r = ReadIt(*bytes, /*verify=*/false);  // structure only: independent of schema changes
    if (name.starts_with("valid_")) {
      EXPECT_TRUE(r.result) << name << "\n" << r.diags.ToText() << "regenerate with VIGIL_REGEN_CORPUS=1";
      ++valid;
    } else if (name.starts_with("trunc_")) {
      EXPECT_EQ(r.codes, std::vector<DiagCode>{DiagCode::kBundleTruncated}) << name;
      ++truncated;
    }
  }
  EXPECT_GE(valid, 5u);
  EXPECT_GE(truncated, 5u);
}

}  // namespace
}  // namespace vigil::content
