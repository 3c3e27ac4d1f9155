// Unit tests for the engine: every atom operator and its corner cases, the
// literal index's anchoring and field boundaries, Create()'s refusals and
// Evaluate()'s guards. Each atom test runs the atom twice, once as the rule's
// prefilter literal (settled by the Hyperscan scan) and once behind another
// trigger (computed directly), and checks the reference evaluator agrees.
#include "engine/engine.h"

#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "engine/testing/reference_evaluator.h"
#include "engine/testing/rule_generator.h"

namespace vigil::engine {
namespace {

using content::Atom;
using content::AtomOp;
using content::Instr;
using content::OpCode;
using testing::OwnedEvent;
using testing::ReferenceEvaluator;

const Schema& S() { return Schema::Builtin(); }
EventTypeId Proc() { return *S().FindEventType("process_creation"); }
EventTypeId Net() { return *S().FindEventType("network_connection"); }
FieldIndex F(std::string_view name, EventTypeId type = Proc()) { return *S().FindField(type, name); }

Atom MakeAtom(AtomOp op, std::string_view field, std::string value, uint8_t flags = 0,
              EventTypeId type = Proc()) {
  Atom a;
  a.op = op;
  a.flags = flags;
  a.field = field.empty() ? content::kAnyField : F(field, type);
  a.field_name = std::string(field);
  a.value = std::move(value);
  return a;
}

content::Rule MakeRule(std::vector<Atom> atoms, std::vector<Instr> program, EventTypeId type = Proc()) {
  content::Rule r;
  static int n = 0;
  r.id = "rule-" + std::to_string(n++);
  r.event_type = type;
  r.event_type_name = S().event_type(type).name;
  r.atoms = std::move(atoms);
  r.program = std::move(program);
  return r;
}

content::Ruleset MakeRuleset(std::vector<content::Rule> rules) {
  content::Ruleset rs;
  rs.info.schema_version = S().version();
  rs.info.schema_hash = S().hash();
  rs.rules = std::move(rules);
  return rs;
}

std::vector<uint32_t> RunBoth(const content::Ruleset& rs, const OwnedEvent& ev) {
  auto engine = Engine::Create(rs, S());
  EXPECT_TRUE(engine.has_value()) << engine.error().ToString();
  if (!engine) return {};
  auto scratch = (*engine)->NewScratch();
  auto span = (*engine)->Evaluate(ev.view(), *scratch);
  std::vector<uint32_t> got(span.begin(), span.end());
  EXPECT_EQ(got, ReferenceEvaluator(rs, S()).Evaluate(ev.view())) << ev.ToString(S());
  return got;
}

// A value no other atom of these tests can see (an integer-typed field is
// not part of kAnyField) that makes an always-true, highly selective trigger.
constexpr char kTriggerText[] = "424242424242";

// Whether `atom` holds on `ev`; fails the test if the two evaluation paths
// or the reference disagree.
bool Holds(const Atom& atom, OwnedEvent ev) {
  const bool direct =
      !RunBoth(MakeRuleset({MakeRule({atom}, {{OpCode::kAtom, 0, 0}}, ev.view().type)}), ev).empty();
  Atom trigger = MakeAtom(AtomOp::kEquals, "LogonId", kTriggerText, 0, ev.view().type);
  ev.Set(F("LogonId", ev.view().type), kTriggerText);
  const bool behind =
      !RunBoth(MakeRuleset({MakeRule({trigger, atom},
                                 {{OpCode::kAtom, 0, 0}, {OpCode::kAtom, 1, 0}, {OpCode::kAnd, 2, 0}},
                                 ev.view().type)}),
           ev)
           .empty();
  EXPECT_EQ(direct, behind) << "prefilter and direct evaluation disagree";
  return direct;
}

OwnedEvent Event(std::initializer_list<std::pair<std::string_view, std::string>> fields,
                 EventTypeId type = Proc()) {
  OwnedEvent ev(type, S().event_type(type).fields.size());
  for (const auto& [name, text] : fields) ev.Set(F(name, type), text);
  return ev;
}

TEST(EngineAtoms, EqualsIsWholeFieldAndCaseInsensitive) {
  EXPECT_TRUE(Holds(MakeAtom(AtomOp::kEquals, "Image", "/usr/bin/bash"), Event({{"Image", "/USR/bin/BASH"}})));
  EXPECT_FALSE(Holds(MakeAtom(AtomOp::kEquals, "Image", "/usr/bin/bash"), Event({{"Image", "/usr/bin/bash2"}})));
  EXPECT_FALSE(Holds(MakeAtom(AtomOp::kEquals, "Image", "bin/bash"), Event({{"Image", "/usr/bin/bash"}})));
  EXPECT_FALSE(Holds(MakeAtom(AtomOp::kEquals, "Image", "/usr/bin/bash", content::kCased),
                     Event({{"Image", "/USR/bin/BASH"}})));
  EXPECT_TRUE(Holds(MakeAtom(AtomOp::kEquals, "Image", "/USR/bin/BASH", content::kCased),
                    Event({{"Image", "/USR/bin/BASH"}})));
}

TEST(EngineAtoms, StartsAndEndsWithNeedTheAnchorNotJustAnOccurrence) {
  // "ab" occurs at 0 and at the end; only the right occurrence satisfies each.
  EXPECT_TRUE(Holds(MakeAtom(AtomOp::kEndsWith, "CommandLine", "ab"), Event({{"CommandLine", "abxab"}})));
  EXPECT_TRUE(Holds(MakeAtom(AtomOp::kStartsWith, "CommandLine", "ab"), Event({{"CommandLine", "abxab"}})));
  EXPECT_FALSE(Holds(MakeAtom(AtomOp::kEndsWith, "CommandLine", "ab"), Event({{"CommandLine", "abxabx"}})));
  EXPECT_FALSE(Holds(MakeAtom(AtomOp::kStartsWith, "CommandLine", "ab"), Event({{"CommandLine", "xabxab"}})));
  // Overlapping occurrences: "aa" in "aaa" ends at 2 and at 3.
  EXPECT_TRUE(Holds(MakeAtom(AtomOp::kEndsWith, "CommandLine", "aa"), Event({{"CommandLine", "aaa"}})));
  EXPECT_TRUE(Holds(MakeAtom(AtomOp::kStartsWith, "CommandLine", "aa"), Event({{"CommandLine", "aaa"}})));
  EXPECT_TRUE(Holds(MakeAtom(AtomOp::kContains, "CommandLine", "aa"), Event({{"CommandLine", "xaaax"}})));
  EXPECT_FALSE(Holds(MakeAtom(AtomOp::kEquals, "CommandLine", "aa"), Event({{"CommandLine", "aaa"}})));
}

TEST(EngineAtoms, MatchesAcrossFieldBoundariesDoNotCount) {
  // The scan buffer holds "...xx/ba" "sh yy..." back to back.
  auto ev = [] { return Event({{"Image", "xx/ba"}, {"CommandLine", "sh yy"}}); };
  EXPECT_FALSE(Holds(MakeAtom(AtomOp::kContains, "", "bash"), ev()));
  EXPECT_FALSE(Holds(MakeAtom(AtomOp::kContains, "CommandLine", "ash"), ev()));
  EXPECT_FALSE(Holds(MakeAtom(AtomOp::kContains, "Image", "bas"), ev()));
  EXPECT_FALSE(Holds(MakeAtom(AtomOp::kEndsWith, "Image", "bash"), ev()));
  EXPECT_FALSE(Holds(MakeAtom(AtomOp::kStartsWith, "CommandLine", "ash"), ev()));
  EXPECT_TRUE(Holds(MakeAtom(AtomOp::kEndsWith, "Image", "/ba"), ev()));
  EXPECT_TRUE(Holds(MakeAtom(AtomOp::kStartsWith, "CommandLine", "sh"), ev()));
  // Hyperscan searches only a literal's last bytes: here they lie wholly in
  // CommandLine while the literal would start in Image.
  EXPECT_FALSE(Holds(MakeAtom(AtomOp::kContains, "", "abcdefghijkl"),
                     Event({{"Image", "xxabcdef"}, {"CommandLine", "ghijkl yy"}})));
  EXPECT_FALSE(Holds(MakeAtom(AtomOp::kStartsWith, "CommandLine", "abcdefghijkl"),
                     Event({{"Image", "abcdef"}, {"CommandLine", "ghijkl"}})));
  EXPECT_TRUE(Holds(MakeAtom(AtomOp::kContains, "", "abcdefghijkl"),
                    Event({{"Image", "xxabcdef"}, {"CommandLine", "abcdefghijkl"}})));
  // An empty field between two others changes nothing.
  EXPECT_FALSE(Holds(MakeAtom(AtomOp::kContains, "", "ab"),
                     Event({{"Image", "xa"}, {"CommandLine", ""}, {"CurrentDirectory", "by"}})));
}

TEST(EngineAtoms, LiteralsSharingTheirLastBytes) {
  // Same searched suffix ("ython3"), different literals, anchors and case.
  std::vector<Atom> atoms = {MakeAtom(AtomOp::kEndsWith, "Image", "/usr/bin/python3"),
                             MakeAtom(AtomOp::kEndsWith, "Image", "/opt/python3"),
                             MakeAtom(AtomOp::kEquals, "Image", "python3"),
                             MakeAtom(AtomOp::kContains, "Image", "PYTHON3", content::kCased),
                             MakeAtom(AtomOp::kContains, "Image", "bin/python3")};
  std::vector<content::Rule> rules;
  for (uint32_t i = 0; i < atoms.size(); ++i) rules.push_back(MakeRule({atoms[i]}, {{OpCode::kAtom, 0, 0}}));
  content::Ruleset rs = MakeRuleset(rules);
  EXPECT_EQ(RunBoth(rs, Event({{"Image", "/USR/bin/Python3"}})), (std::vector<uint32_t>{0, 4}));
  EXPECT_EQ(RunBoth(rs, Event({{"Image", "/opt/PYTHON3"}})), (std::vector<uint32_t>{1, 3}));
  EXPECT_EQ(RunBoth(rs, Event({{"Image", "python3"}})), (std::vector<uint32_t>{2}));
  EXPECT_EQ(RunBoth(rs, Event({{"Image", "/usr/bin/python3 /opt/python3"}})), (std::vector<uint32_t>{1, 4}));
}

TEST(EngineAtoms, LiteralInTheWrongFieldDoesNotCount) {
  EXPECT_FALSE(Holds(MakeAtom(AtomOp::kContains, "CommandLine", "curl"),
                     Event({{"Image", "/usr/bin/curl"}, {"CommandLine", "wget x"}})));
  EXPECT_TRUE(Holds(MakeAtom(AtomOp::kContains, "Image", "curl"),
                    Event({{"Image", "/usr/bin/curl"}, {"CommandLine", "wget x"}})));
}

TEST(EngineAtoms, CasedLiteralsCompareBytes) {
  EXPECT_TRUE(Holds(MakeAtom(AtomOp::kContains, "CommandLine", "-D", content::kCased), Event({{"CommandLine", "auditctl -D"}})));
  EXPECT_FALSE(Holds(MakeAtom(AtomOp::kContains, "CommandLine", "-D", content::kCased), Event({{"CommandLine", "auditctl -d"}})));
  EXPECT_TRUE(Holds(MakeAtom(AtomOp::kContains, "CommandLine", "-D"), Event({{"CommandLine", "auditctl -d"}})));
  // Folding is ASCII only: bytes >= 0x80 compare exactly.
  EXPECT_FALSE(Holds(MakeAtom(AtomOp::kContains, "CommandLine", "\xc3\xa9"), Event({{"CommandLine", "\xc3\x89"}})));
  EXPECT_TRUE(Holds(MakeAtom(AtomOp::kContains, "CommandLine", "\xc3\xa9t\xc3\xa9"), Event({{"CommandLine", "\xc3\xa9T\xc3\xa9"}})));
}

TEST(EngineAtoms, EmptyAndAbsentFields) {
  OwnedEvent empty = Event({{"CommandLine", ""}});
  EXPECT_TRUE(Holds(MakeAtom(AtomOp::kEquals, "CommandLine", ""), Event({{"CommandLine", ""}})));
  EXPECT_FALSE(Holds(MakeAtom(AtomOp::kEquals, "CommandLine", ""), Event({})));
  EXPECT_TRUE(Holds(MakeAtom(AtomOp::kContains, "CommandLine", ""), Event({{"CommandLine", "x"}})));
  EXPECT_FALSE(Holds(MakeAtom(AtomOp::kContains, "CommandLine", ""), Event({})));
  EXPECT_FALSE(Holds(MakeAtom(AtomOp::kContains, "CommandLine", "x"), Event({{"CommandLine", ""}})));
  EXPECT_TRUE(Holds(MakeAtom(AtomOp::kNull, "CommandLine", ""), Event({{"CommandLine", ""}})));
  EXPECT_TRUE(Holds(MakeAtom(AtomOp::kNull, "CommandLine", ""), Event({})));
  EXPECT_FALSE(Holds(MakeAtom(AtomOp::kNull, "CommandLine", ""), Event({{"CommandLine", "x"}})));
  EXPECT_TRUE(Holds(MakeAtom(AtomOp::kExists, "CommandLine", ""), Event({{"CommandLine", ""}})));
  EXPECT_FALSE(Holds(MakeAtom(AtomOp::kExists, "CommandLine", ""), Event({})));
  EXPECT_FALSE(Holds(MakeAtom(AtomOp::kGlob, "CommandLine", "*"), Event({})));
  EXPECT_TRUE(Holds(MakeAtom(AtomOp::kGlob, "CommandLine", "*"), Event({{"CommandLine", ""}})));
  EXPECT_FALSE(Holds(MakeAtom(AtomOp::kRegex, "CommandLine", "^$"), Event({})));
  EXPECT_TRUE(Holds(MakeAtom(AtomOp::kRegex, "CommandLine", "^$"), Event({{"CommandLine", ""}})));
}

TEST(EngineAtoms, AnyFieldSearchesStringFieldsOnly) {
  EXPECT_TRUE(Holds(MakeAtom(AtomOp::kContains, "", "evil"), Event({{"ParentCommandLine", "run EVIL now"}})));
  EXPECT_TRUE(Holds(MakeAtom(AtomOp::kEquals, "", "root"), Event({{"Image", "x"}, {"ParentUser", "root"}})));
  EXPECT_FALSE(Holds(MakeAtom(AtomOp::kEquals, "", "root"), Event({{"Image", "rootkit"}})));
  EXPECT_TRUE(Holds(MakeAtom(AtomOp::kGlob, "", "*kit"), Event({{"Image", "x"}, {"User", "rootkit"}})));
  EXPECT_TRUE(Holds(MakeAtom(AtomOp::kRegex, "", "^r.*t$"), Event({{"Image", "x"}, {"User", "rootkit"}})));
  // ProcessId is an integer field: not searched.
  OwnedEvent ev = Event({{"Image", "x"}});
  ev.SetNumber(F("ProcessId"), 123456);
  EXPECT_FALSE(Holds(MakeAtom(AtomOp::kContains, "", "2345"), std::move(ev)));
  // So is an IP field.
  EXPECT_FALSE(Holds(MakeAtom(AtomOp::kContains, "", "10.1.2.3", 0, Net()),
                     Event({{"DestinationIp", "10.1.2.3"}}, Net())));
  EXPECT_TRUE(Holds(MakeAtom(AtomOp::kContains, "", "example", 0, Net()),
                    Event({{"DestinationHostname", "www.example.com"}}, Net())));
}

TEST(EngineAtoms, Globs) {
  auto glob = [](std::string g, std::string text, uint8_t flags = 0) {
    return Holds(MakeAtom(AtomOp::kGlob, "CommandLine", std::move(g), flags), Event({{"CommandLine", std::move(text)}}));
  };
  EXPECT_TRUE(glob("*curl*|*sh*", "CURL http://x | bash"));
  EXPECT_FALSE(glob("*curl*|*sh*", "curl http://x"));
  EXPECT_TRUE(glob("a?c", "abc"));
  EXPECT_FALSE(glob("a?c", "ac"));
  EXPECT_TRUE(glob("a*", "a"));
  EXPECT_TRUE(glob("*", ""));
  EXPECT_FALSE(glob("?", ""));
  EXPECT_TRUE(glob("a\\*c", "a*c"));
  EXPECT_FALSE(glob("a\\*c", "abc"));
  EXPECT_TRUE(glob("a\\?c", "a?c"));
  EXPECT_FALSE(glob("a\\?c", "abc"));
  EXPECT_TRUE(glob("a\\\\c", "a\\c"));
  EXPECT_TRUE(glob("ab\\", "ab\\"));  // trailing lone backslash is literal
  EXPECT_FALSE(glob("ab\\", "ab"));
  EXPECT_TRUE(glob("*a*a*a*b", "aaaaaaaaaaaaaaaaaaaab"));
  EXPECT_FALSE(glob("*a*a*a*b", "aaaaaaaaaaaaaaaaaaaa"));
  EXPECT_TRUE(glob("*/BIN/*", "/usr/bin/ls"));
  EXPECT_FALSE(glob("*/BIN/*", "/usr/bin/ls", content::kCased));
  EXPECT_TRUE(glob("*x*x", "axbxcx"));
}

TEST(EngineAtoms, RegexFlags) {
  auto re = [](std::string r, uint8_t flags, std::string text) {
    return Holds(MakeAtom(AtomOp::kRegex, "CommandLine", std::move(r), flags), Event({{"CommandLine", std::move(text)}}));
  };
  EXPECT_TRUE(re("\\s-[FTd]\\s", 0, "curl -d x"));
  EXPECT_FALSE(re("\\s-[FTd]\\s", 0, "curl -D x"));  // case-sensitive by default
  EXPECT_TRUE(re("\\s-[ftd]\\s", content::kRegexI, "curl -D x"));
  EXPECT_TRUE(re("bash", 0, "xx bash yy"));  // unanchored search
  EXPECT_FALSE(re("^b$", 0, "a\nb\nc"));
  EXPECT_TRUE(re("^b$", content::kRegexM, "a\nb\nc"));
  EXPECT_FALSE(re("a.b", 0, "a\nb"));
  EXPECT_TRUE(re("a.b", content::kRegexS, "a\nb"));
  EXPECT_TRUE(re("-(W|R)\\s?(\\s|\"|')([0-9a-fA-F]{2}\\s?){2,20}(\\s|\"|')", 0, "xxd -R '4142'"));
  EXPECT_FALSE(re("-(W|R)\\s?(\\s|\"|')([0-9a-fA-F]{2}\\s?){2,20}(\\s|\"|')", 0, "xxd -r '4142'"));
  // Unicode folding under (?i): KELVIN SIGN matches 'k'.
  EXPECT_TRUE(re("(?i)kit", 0, "\xe2\x84\xaaIT"));
  EXPECT_TRUE(re("kit", content::kRegexI, "\xe2\x84\xaaIT"));
}

TEST(EngineAtoms, Cidr) {
  auto in = [](std::string net, std::string ip) {
    return Holds(MakeAtom(AtomOp::kCidr, "DestinationIp", std::move(net), 0, Net()),
                 Event({{"DestinationIp", std::move(ip)}}, Net()));
  };
  EXPECT_TRUE(in("10.0.0.0/8", "10.200.3.4"));
  EXPECT_FALSE(in("10.0.0.0/8", "11.0.0.1"));
  EXPECT_TRUE(in("172.16.0.0/12", "172.31.255.255"));
  EXPECT_FALSE(in("172.16.0.0/12", "172.32.0.0"));
  EXPECT_TRUE(in("fe80::/10", "fe80::1c2a:3bff:fe4d:5e6f"));
  EXPECT_FALSE(in("fe80::/10", "fec0::1"));
  EXPECT_TRUE(in("0.0.0.0/0", "8.8.8.8"));
  EXPECT_FALSE(in("0.0.0.0/0", "::1"));  // families never mix
  EXPECT_FALSE(in("10.0.0.0/8", "::ffff:10.0.0.1"));
  EXPECT_TRUE(in("10.0.0.1", "10.0.0.1"));
  EXPECT_FALSE(in("10.0.0.1", "10.0.0.2"));
  EXPECT_TRUE(in("10.0.0.7/31", "10.0.0.6"));  // host bits ignored
  EXPECT_FALSE(in("10.0.0.0/8", "not an address"));
  EXPECT_FALSE(in("10.0.0.0/8", " 10.0.0.1"));
}

TEST(EngineAtoms, NumbersNeedANumber) {
  auto num = [](AtomOp op, int64_t n, std::optional<int64_t> port, std::string text = "") {
    Atom a = MakeAtom(op, "DestinationPort", "", 0, Net());
    a.number = n;
    OwnedEvent ev(Net(), S().event_type(Net()).fields.size());
    if (port) ev.SetNumber(F("DestinationPort", Net()), *port);
    if (!text.empty()) ev.Set(F("DestinationPort", Net()), text);
    return Holds(a, std::move(ev));
  };
  EXPECT_TRUE(num(AtomOp::kNumEq, 4444, 4444));
  EXPECT_FALSE(num(AtomOp::kNumEq, 4444, 4445));
  EXPECT_FALSE(num(AtomOp::kNumEq, 4444, std::nullopt));
  EXPECT_FALSE(num(AtomOp::kNumEq, 4444, std::nullopt, "4444"));  // text, not a number
  EXPECT_TRUE(num(AtomOp::kNumLt, 1024, 80));
  EXPECT_FALSE(num(AtomOp::kNumLt, 80, 80));
  EXPECT_TRUE(num(AtomOp::kNumLte, 80, 80));
  EXPECT_TRUE(num(AtomOp::kNumGt, 1024, 4444));
  EXPECT_FALSE(num(AtomOp::kNumGt, 4444, 4444));
  EXPECT_TRUE(num(AtomOp::kNumGte, 4444, 4444));
  EXPECT_TRUE(num(AtomOp::kNumLt, 0, -5));
}

TEST(EngineAtoms, FieldRef) {
  auto ref = [](uint8_t flags, std::optional<std::string> a, std::optional<std::string> b) {
    Atom at = MakeAtom(AtomOp::kFieldRef, "User", "", flags);
    at.ref_field = F("ParentUser");
    at.ref_field_name = "ParentUser";
    OwnedEvent ev(Proc(), S().event_type(Proc()).fields.size());
    if (a) ev.Set(F("User"), *a);
    if (b) ev.Set(F("ParentUser"), *b);
    return Holds(at, std::move(ev));
  };
  EXPECT_TRUE(ref(0, "root", "ROOT"));
  EXPECT_FALSE(ref(content::kCased, "root", "ROOT"));
  EXPECT_TRUE(ref(content::kCased, "root", "root"));
  EXPECT_FALSE(ref(0, "root", "alice"));
  EXPECT_FALSE(ref(0, "root", std::nullopt));
  EXPECT_FALSE(ref(0, std::nullopt, std::nullopt));
  EXPECT_TRUE(ref(0, "", ""));
}

TEST(EngineConditions, NotAtLeastTrueFalse) {
  OwnedEvent ev = Event({{"Image", "/usr/bin/nc"}, {"CommandLine", "nc -e /bin/sh 10.0.0.1 4444"}});
  std::vector<Atom> atoms = {MakeAtom(AtomOp::kEndsWith, "Image", "/nc"),
                             MakeAtom(AtomOp::kContains, "CommandLine", " -e "),
                             MakeAtom(AtomOp::kContains, "CommandLine", "/bin/bash"),
                             MakeAtom(AtomOp::kContains, "CommandLine", "4444")};
  auto rule = [&](std::vector<Instr> p) { return MakeRule(atoms, std::move(p)); };
  content::Ruleset rs = MakeRuleset({
      rule({{OpCode::kAtom, 0, 0}, {OpCode::kAtom, 2, 0}, {OpCode::kNot, 0, 0}, {OpCode::kAnd, 2, 0}}),  // 0 true
      rule({{OpCode::kAtom, 0, 0}, {OpCode::kAtom, 1, 0}, {OpCode::kAtom, 2, 0}, {OpCode::kAtom, 3, 0},
            {OpCode::kAtLeast, 4, 3}}),  // 1 true: 3 of 4
      rule({{OpCode::kAtom, 0, 0}, {OpCode::kAtom, 1, 0}, {OpCode::kAtom, 2, 0}, {OpCode::kAtom, 3, 0},
            {OpCode::kAtLeast, 4, 4}}),  // 2 false
      rule({{OpCode::kTrue, 0, 0}}),      // 3 true, no prefilter
      rule({{OpCode::kFalse, 0, 0}}),     // 4 false
      rule({{OpCode::kAtom, 2, 0}, {OpCode::kNot, 0, 0}}),  // 5 true, no prefilter
      rule({{OpCode::kAtom, 2, 0}, {OpCode::kFalse, 0, 0}, {OpCode::kOr, 2, 0}}),  // 6 false
      rule({{OpCode::kAtom, 0, 0}, {OpCode::kNot, 0, 0}, {OpCode::kNot, 0, 0}}),  // 7 true
  });
  EXPECT_EQ(RunBoth(rs, ev), (std::vector<uint32_t>{0, 1, 3, 5, 7}));
}

TEST(EngineConditions, LongOrOfLiteralsUnderNot) {
  // Six Image|endswith literals in one OR (the engine answers them as one
  // group from the scan's hits), next to a regex, under NOT and AND.
  std::vector<Atom> atoms;
  for (const char* tool : {"/nc", "/ncat", "/socat", "/netcat", "/telnet", "/nmap"}) {
    atoms.push_back(MakeAtom(AtomOp::kEndsWith, "Image", tool));
  }
  atoms.push_back(MakeAtom(AtomOp::kRegex, "CommandLine", "-e\\s+/bin/"));
  atoms.push_back(MakeAtom(AtomOp::kContains, "CommandLine", "10.0.0."));
  std::vector<Instr> any_tool;
  for (uint32_t i = 0; i < 7; ++i) any_tool.push_back({OpCode::kAtom, i, 0});
  any_tool.push_back({OpCode::kOr, 7, 0});
  std::vector<Instr> gated = any_tool;  // (tools or regex) and 10.0.0.
  gated.push_back({OpCode::kAtom, 7, 0});
  gated.push_back({OpCode::kAnd, 2, 0});
  std::vector<Instr> negated = any_tool;  // 10.0.0. and not (tools or regex)
  negated.push_back({OpCode::kNot, 0, 0});
  negated.push_back({OpCode::kAtom, 7, 0});
  negated.push_back({OpCode::kAnd, 2, 0});
  content::Ruleset rs = MakeRuleset({MakeRule(atoms, any_tool), MakeRule(atoms, gated), MakeRule(atoms, negated)});
  EXPECT_EQ(RunBoth(rs, Event({{"Image", "/usr/bin/socat"}, {"CommandLine", "socat 10.0.0.1"}})),
            (std::vector<uint32_t>{0, 1}));
  EXPECT_EQ(RunBoth(rs, Event({{"Image", "/usr/bin/curl"}, {"CommandLine", "curl 10.0.0.1"}})),
            (std::vector<uint32_t>{2}));
  EXPECT_EQ(RunBoth(rs, Event({{"Image", "/usr/bin/sh"}, {"CommandLine", "sh -e /bin/x 10.0.0.1"}})),
            (std::vector<uint32_t>{0, 1}));
  EXPECT_EQ(RunBoth(rs, Event({{"Image", "/usr/bin/nmap"}, {"CommandLine", "nmap /usr/bin/nc"}})),
            (std::vector<uint32_t>{0}));
  EXPECT_EQ(RunBoth(rs, Event({{"Image", "/usr/bin/nc.openbsd"}})), (std::vector<uint32_t>{}));
}

TEST(EngineCreate, RefusesOutOfRangeReferences) {
  auto refused = [](content::Rule r) {
    auto e = Engine::Create(MakeRuleset({std::move(r)}), S());
    return !e.has_value() && e.error().code() == Code::kVerifyFailed;
  };
  const size_t n = S().event_type(Proc()).fields.size();
  Atom bad_field = MakeAtom(AtomOp::kContains, "Image", "x");
  bad_field.field = static_cast<FieldIndex>(n);  // the 21-vs-20 bug: one past the end
  EXPECT_TRUE(refused(MakeRule({bad_field}, {{OpCode::kAtom, 0, 0}})));
  Atom bad_ref = MakeAtom(AtomOp::kFieldRef, "Image", "");
  bad_ref.ref_field = static_cast<FieldIndex>(n);
  EXPECT_TRUE(refused(MakeRule({bad_ref}, {{OpCode::kAtom, 0, 0}})));
  Atom ok = MakeAtom(AtomOp::kContains, "Image", "x");
  content::Rule bad_type = MakeRule({ok}, {{OpCode::kAtom, 0, 0}});
  bad_type.event_type = static_cast<EventTypeId>(S().event_types().size());
  EXPECT_TRUE(refused(bad_type));
  EXPECT_TRUE(refused(MakeRule({ok}, {{OpCode::kAtom, 1, 0}})));                      // atom index
  EXPECT_TRUE(refused(MakeRule({ok}, {{OpCode::kAtom, 0, 0}, {OpCode::kAnd, 2, 0}})));  // underflow
  EXPECT_TRUE(refused(MakeRule({ok}, {{OpCode::kAtom, 0, 0}, {OpCode::kAtom, 0, 0}})));  // two results
  EXPECT_TRUE(refused(MakeRule({ok}, {})));
  EXPECT_TRUE(refused(MakeRule({ok}, {{static_cast<OpCode>(99), 0, 0}})));
  EXPECT_TRUE(refused(MakeRule({ok}, {{OpCode::kAtom, 0, 0}, {OpCode::kAtom, 0, 0}, {OpCode::kAtLeast, 2, 3}})));
  Atom bad_op = ok;
  bad_op.op = static_cast<AtomOp>(content::kAtomOpCount);
  EXPECT_TRUE(refused(MakeRule({bad_op}, {{OpCode::kAtom, 0, 0}})));
  EXPECT_TRUE(refused(MakeRule({MakeAtom(AtomOp::kRegex, "Image", "(unclosed")}, {{OpCode::kAtom, 0, 0}})));
  EXPECT_TRUE(refused(MakeRule({MakeAtom(AtomOp::kCidr, "Image", "10.0.0.0/33")}, {{OpCode::kAtom, 0, 0}})));
  std::vector<Instr> deep;
  for (size_t i = 0; i <= content::kMaxStackDepth; ++i) deep.push_back({OpCode::kAtom, 0, 0});
  EXPECT_TRUE(refused(MakeRule({ok}, deep)));
}

TEST(EngineCreate, HostileRulesAreRefusedOrRunSafely) {
  // Valid random rules with one field of one atom or instruction garbled:
  // Create() must refuse (kVerifyFailed) or build an engine that evaluates
  // without reading out of bounds (the sanitizer build checks the latter).
  std::mt19937_64 rng(99);
  size_t refused = 0, built = 0;
  for (int round = 0; round < 400; ++round) {
    content::Ruleset rs = testing::RandomRuleset(rng, S(), 4);
    content::Rule& r = rs.rules[rng() % rs.rules.size()];
    switch (rng() % 6) {
      case 0: r.atoms[rng() % r.atoms.size()].field = static_cast<FieldIndex>(rng()); break;
      case 1: r.atoms[rng() % r.atoms.size()].ref_field = static_cast<FieldIndex>(rng());
              r.atoms[0].op = AtomOp::kFieldRef; break;
      case 2: r.atoms[rng() % r.atoms.size()].op = static_cast<AtomOp>(rng() % 32); break;
      case 3: r.program[rng() % r.program.size()].a = static_cast<uint32_t>(rng() % 12); break;
      case 4: r.program[rng() % r.program.size()].op = static_cast<OpCode>(rng() % 10); break;
      default: r.event_type = static_cast<EventTypeId>(rng() % 12); break;
    }
    auto engine = Engine::Create(rs, S());
    if (!engine) {
      EXPECT_EQ(engine.error().code(), Code::kVerifyFailed) << engine.error().ToString();
      ++refused;
      continue;
    }
    ++built;
    auto scratch = (*engine)->NewScratch();
    for (int e = 0; e < 20; ++e) {
      OwnedEvent ev = testing::RandomEvent(rng, S(), static_cast<EventTypeId>(rng() % S().event_types().size()));
      for (uint32_t m : (*engine)->Evaluate(ev.view(), *scratch)) EXPECT_LT(m, rs.rules.size());
    }
  }
  EXPECT_GT(refused, 50u);
  EXPECT_GT(built, 50u);
}

TEST(EngineEvaluate, WrongShapeOrForeignScratchMatchesNothing) {
  content::Ruleset rs = MakeRuleset({MakeRule({MakeAtom(AtomOp::kContains, "Image", "bash")}, {{OpCode::kAtom, 0, 0}})});
  auto engine = Engine::Create(rs, S());
  ASSERT_TRUE(engine.has_value());
  auto scratch = (*engine)->NewScratch();
  OwnedEvent ev = Event({{"Image", "/bin/bash"}});
  EXPECT_EQ((*engine)->Evaluate(ev.view(), *scratch).size(), 1u);
  EventView shorter = ev.view();
  shorter.fields = shorter.fields.first(shorter.fields.size() - 1);
  EXPECT_TRUE((*engine)->Evaluate(shorter, *scratch).empty());
  EventView wrong_type = ev.view();
  wrong_type.type = static_cast<EventTypeId>(S().event_types().size());
  EXPECT_TRUE((*engine)->Evaluate(wrong_type, *scratch).empty());
  auto other = Engine::Create(rs, S());
  ASSERT_TRUE(other.has_value());
  EXPECT_TRUE((*other)->Evaluate(ev.view(), *scratch).empty());
}

TEST(EngineEvaluate, EventsLargerThanTheScanBuffer) {
  // 40 KiB of CommandLine forces the field-by-field scan path.
  std::string big(40 * 1024, 'x');
  OwnedEvent ev = Event({{"Image", "/usr/bin/python3"}, {"CommandLine", "python3 -c " + big + " end"}});
  EXPECT_TRUE(Holds(MakeAtom(AtomOp::kEndsWith, "CommandLine", "x end"), Event({{"Image", "/usr/bin/python3"}, {"CommandLine", "python3 -c " + big + " end"}})));
  EXPECT_TRUE(Holds(MakeAtom(AtomOp::kStartsWith, "CommandLine", "python3 -c x"), std::move(ev)));
  EXPECT_FALSE(Holds(MakeAtom(AtomOp::kContains, "", "python3python3"),
                     Event({{"Image", "/usr/bin/python3"}, {"CommandLine", "python3 " + big}})));
}

TEST(EngineEvaluate, ResultsAscendingAndSharedAcrossThreads) {
  std::vector<content::Rule> rules;
  for (int i = 0; i < 50; ++i) {
    rules.push_back(MakeRule({MakeAtom(AtomOp::kContains, "CommandLine", "tok" + std::to_string(i % 7))},
                             {{OpCode::kAtom, 0, 0}}));
  }
  content::Ruleset rs = MakeRuleset(std::move(rules));
  auto engine = Engine::Create(rs, S());
  ASSERT_TRUE(engine.has_value());
  OwnedEvent ev = Event({{"CommandLine", "tok3 tok5 tok0"}});
  std::vector<uint32_t> want = ReferenceEvaluator(rs, S()).Evaluate(ev.view());
  ASSERT_FALSE(want.empty());
  auto work = [&](bool* ok) {
    auto scratch = (*engine)->NewScratch();
    for (int i = 0; i < 2000; ++i) {
      auto got = (*engine)->Evaluate(ev.view(), *scratch);
      if (!std::equal(got.begin(), got.end(), want.begin(), want.end())) *ok = false;
    }
  };
  bool ok1 = true, ok2 = true;
  std::thread t1(work, &ok1), t2(work, &ok2);
  t1.join();
  t2.join();
  EXPECT_TRUE(ok1 && ok2);
}

TEST(EngineEvaluate, RegexPrefilterKeepsMatches) {
  // The SigmaHQ xxd rule: a lone regex whose literals ("-w", "-r") become
  // the rule's trigger; case-sensitivity of the regex must survive.
  Atom re = MakeAtom(AtomOp::kRegex, "CommandLine", "-(W|R)\\s?(\\s|\"|')([0-9a-fA-F]{2}\\s?){2,20}(\\s|\"|')");
  content::Ruleset rs = MakeRuleset({MakeRule({re}, {{OpCode::kAtom, 0, 0}})});
  auto engine = Engine::Create(rs, S());
  ASSERT_TRUE(engine.has_value());
  EXPECT_EQ((*engine)->stats().always_evaluated, 0u);
  EXPECT_EQ(RunBoth(rs, Event({{"CommandLine", "xxd -W '41 42 43'"}})).size(), 1u);
  EXPECT_TRUE(RunBoth(rs, Event({{"CommandLine", "xxd -w '41 42 43'"}})).empty());
}

}  // namespace
}  // namespace vigil::engine
