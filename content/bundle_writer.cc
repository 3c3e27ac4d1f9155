// The bundle writer: Ruleset -> bytes in the one canonical encoding of
// docs/bundle-format.md (sections in id order with no gaps, strings in the
// pool in the order they are referenced, reserved bytes zero, an empty
// signature area). Because the encoding is canonical,
// WriteBundle(ReadBundle(b)) == b for every b the reader accepts with an
// empty signature area.
//
// The writer does not validate: it encodes whatever it is given, and the
// reader (and the verifier behind it) decides what is acceptable. A ruleset
// past the format's u32 counts cannot exist in memory, so the narrowing casts
// below do not lose information for any real input.
#include <cstdlib>
#include <cstring>

#include <sodium.h>

#include "content/bundle.h"
#include "content/bundle_format.h"

namespace vigil::content {
namespace bundle_format {

SchemaHash ComputeChecksum(std::string_view file, uint32_t body_size) {
  if (sodium_init() < 0) std::abort();  // libsodium cannot run at all: nothing sensible to do
  crypto_generichash_state state;
  crypto_generichash_init(&state, nullptr, 0, kChecksumBytes);
  auto update = [&](size_t from, size_t to) {
    crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(file.data() + from), to - from);
  };
  update(0, header::kChecksum);
  update(header::kChecksum + kChecksumBytes, body_size);
  SchemaHash out;
  crypto_generichash_final(&state, out.data(), out.size());
  return out;
}

bool RewriteChecksum(std::string& file) {
  if (file.size() < header::kSize) return false;
  uint32_t body_size = LoadU32(file.data() + header::kBodySize);
  if (body_size < header::kSize || body_size > file.size()) return false;
  SchemaHash sum = ComputeChecksum(file, body_size);
  file.replace(header::kChecksum, sum.size(), reinterpret_cast<const char*>(sum.data()), sum.size());
  return true;
}

}  // namespace bundle_format

namespace {

using namespace bundle_format;

// Fixed-size records appended to a section buffer.
class Records {
 public:
  char* Add(size_t size) {
    size_t at = bytes_.size();
    bytes_.resize(at + size, '\0');
    return bytes_.data() + at;
  }
  const std::string& bytes() const { return bytes_; }

 private:
  std::string bytes_;
};

// The string pool; Ref() appends, so refs come out in reference order.
class Pool {
 public:
  void Ref(char* at, const std::string& s) {
    StoreU32(at, static_cast<uint32_t>(bytes_.size()));
    StoreU32(at + 4, static_cast<uint32_t>(s.size()));
    bytes_ += s;
  }
  const std::string& bytes() const { return bytes_; }

 private:
  std::string bytes_;
};

}  // namespace

std::string WriteBundle(const Ruleset& rs) {
  std::string out(header::kSize + kSectionKinds * section_entry::kSize, '\0');
  Pool pool;
  Records rules, atoms, program, tags;

  // The pool order is the reference order the reader enforces: channel, then
  // every rule's strings, then every atom's, then every tag.
  pool.Ref(&out[header::kChannel], rs.info.channel);
  size_t atom_count = 0, instr_count = 0, tag_count = 0;
  for (const Rule& r : rs.rules) {
    char* rec = rules.Add(rule_record::kSize);
    pool.Ref(rec + rule_record::kId, r.id);
    pool.Ref(rec + rule_record::kTitle, r.title);
    pool.Ref(rec + rule_record::kStatus, r.status);
    pool.Ref(rec + rule_record::kSource, r.source);
    pool.Ref(rec + rule_record::kEventTypeName, r.event_type_name);
    StoreU16(rec + rule_record::kEventType, r.event_type);
    rec[rule_record::kLevel] = static_cast<char>(r.level);
    rec[rule_record::kFlags] = static_cast<char>(r.block ? kRuleBlock : 0);
    StoreU32(rec + rule_record::kAtomCount, static_cast<uint32_t>(r.atoms.size()));
    StoreU32(rec + rule_record::kInstrCount, static_cast<uint32_t>(r.program.size()));
    StoreU32(rec + rule_record::kTagCount, static_cast<uint32_t>(r.tags.size()));
    atom_count += r.atoms.size();
    instr_count += r.program.size();
    tag_count += r.tags.size();
  }
  for (const Rule& r : rs.rules) {
    for (const Atom& a : r.atoms) {
      char* rec = atoms.Add(atom_record::kSize);
      rec[atom_record::kOp] = static_cast<char>(a.op);
      rec[atom_record::kFlags] = static_cast<char>(a.flags);
      StoreU16(rec + atom_record::kField, a.field);
      StoreU16(rec + atom_record::kRefField, a.ref_field);
      StoreU64(rec + atom_record::kNumber, static_cast<uint64_t>(a.number));
      pool.Ref(rec + atom_record::kFieldName, a.field_name);
      pool.Ref(rec + atom_record::kValue, a.value);
      pool.Ref(rec + atom_record::kRefFieldName, a.ref_field_name);
    }
    for (const Instr& in : r.program) {
      char* rec = program.Add(instr_record::kSize);
      rec[instr_record::kOp] = static_cast<char>(in.op);
      StoreU32(rec + instr_record::kA, in.a);
      StoreU32(rec + instr_record::kB, in.b);
    }
  }
  for (const Rule& r : rs.rules) {
    for (const std::string& t : r.tags) pool.Ref(tags.Add(kTagRecordSize), t);
  }

  char* h = out.data();
  std::memcpy(h + header::kMagic, kMagic, sizeof(kMagic));
  StoreU32(h + header::kFormatVersion, kFormatVersion);
  StoreU32(h + header::kHeaderSize, header::kSize);
  StoreU32(h + header::kSchemaVersion, rs.info.schema_version);
  std::memcpy(h + header::kSchemaHash, rs.info.schema_hash.data(), rs.info.schema_hash.size());
  StoreU64(h + header::kContentVersion, rs.info.content_version);
  StoreU64(h + header::kCreatedUnix, static_cast<uint64_t>(rs.info.created_unix));
  StoreU64(h + header::kExpiresUnix, static_cast<uint64_t>(rs.info.expires_unix));
  StoreU32(h + header::kRuleCount, static_cast<uint32_t>(rs.rules.size()));
  StoreU32(h + header::kAtomCount, static_cast<uint32_t>(atom_count));
  StoreU32(h + header::kInstrCount, static_cast<uint32_t>(instr_count));
  StoreU32(h + header::kTagCount, static_cast<uint32_t>(tag_count));
  StoreU32(h + header::kSectionCount, kSectionKinds);

  const std::string* sections[kSectionKinds] = {&pool.bytes(), &rules.bytes(), &atoms.bytes(),
                                                &program.bytes(), &tags.bytes()};
  for (uint32_t i = 0; i < kSectionKinds; ++i) {
    char* e = out.data() + header::kSize + i * section_entry::kSize;
    StoreU32(e + section_entry::kId, i + 1);
    StoreU32(e + section_entry::kOffset, static_cast<uint32_t>(out.size()));
    StoreU32(e + section_entry::kLength, static_cast<uint32_t>(sections[i]->size()));
    out += *sections[i];
  }
  StoreU32(out.data() + header::kBodySize, static_cast<uint32_t>(out.size()));
  RewriteChecksum(out);

  char sig[signature::kHeaderSize] = {};
  std::memcpy(sig, signature::kMagic, sizeof(signature::kMagic));
  out.append(sig, sizeof(sig));
  return out;
}

}  // namespace vigil::content
