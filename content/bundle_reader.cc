// The bundle reader: bytes -> Ruleset, trusting nothing. The layout and the
// order of checks are specified in docs/bundle-format.md.
//
// Every offset, length and count is checked against the buffer before it is
// used, in 64-bit arithmetic on values that are at most 32 bits wide, so
// nothing can wrap. Allocations follow only from counts already proven to fit
// in their section, so decoding allocates at most a small multiple of the
// input size (docs/bundle-format.md, "Memory"). A structural fault stops the
// decode: after one, nothing later in the file can be located reliably.
#include <algorithm>
#include <cstring>
#include <optional>

#include <fmt/format.h>

#include "content/bundle.h"
#include "content/bundle_format.h"
#include "content/verifier.h"

namespace vigil::content {
namespace {

using namespace bundle_format;

Code StatusCodeFor(DiagCode code) {
  switch (code) {
    case DiagCode::kBundleVersion: return Code::kUnsupported;
    case DiagCode::kBundleLimit: return Code::kLimitExceeded;
    default: return Code::kCorrupt;
  }
}

std::string_view SectionName(uint32_t id) {
  switch (id) {
    case kStrings: return "strings";
    case kRules: return "rules";
    case kAtoms: return "atoms";
    case kProgram: return "program";
    case kTags: return "tags";
  }
  return "unknown";
}

std::string_view RecordName(uint32_t id) {
  switch (id) {
    case kRules: return "rule";
    case kAtoms: return "atom";
    case kProgram: return "instruction";
    case kTags: return "tag";
  }
  return "unknown";
}

struct Section {
  uint32_t offset = 0;
  uint32_t length = 0;
};

class Reader {
 public:
  Reader(std::string_view bytes, const Schema& schema, Diagnostics& diags, const ReadOptions& options)
      : bytes_(bytes), schema_(schema), diags_(diags), options_(options) {}

  Result<Ruleset> Run() {
    bool framed = Framing();
    bool decoded = framed && SectionTable() && Counts() && DecodeInfo() && DecodeRules() && DecodeAtomsAndPrograms() &&
                   DecodeTags() && PoolFullyUsed();
    rule_id_.clear();  // the checksum belongs to the file, not to the rule a fault stopped in
    if (framed) {
      // Checked even after a structural fault: a mismatch then tells the
      // operator the bytes were damaged, rather than written wrongly.
      SchemaHash stored;
      std::memcpy(stored.data(), bytes_.data() + header::kChecksum, stored.size());
      if (ComputeChecksum(bytes_, body_size_) != stored) {
        Fail(DiagCode::kBundleChecksum, header::kChecksum,
             "checksum does not match the contents (the file was damaged or altered after it was written)");
      }
    }
    if (!decoded || first_) return Error(*first_);

    if (options_.verify) {
      size_t before = diags_.list().size();
      size_t errors_before = diags_.error_count();
      if (!Verify(rs_, schema_, diags_, Location{options_.name, 0, ""})) {
        std::string first = "(diagnostic list full)";
        for (size_t i = before; i < diags_.list().size(); ++i) {
          const Diagnostic& d = diags_.list()[i];
          if (d.severity == Severity::kError) {
            first = fmt::format("{} {}: {}", DiagCodeString(d.code), DiagCodeSlug(d.code), d.message);
            break;
          }
        }
        return Error(Code::kVerifyFailed, "bundle {}: the verifier refused the content; first of {} errors: {}",
                     options_.name, diags_.error_count() - errors_before, first);
      }
    }
    return std::move(rs_);
  }

 private:
  // Records a refusal; the first one becomes the Status. Returns false so
  // callers can `return Fail(...)`.
  template <typename... Args>
  bool Fail(DiagCode code, size_t offset, fmt::format_string<Args...> format, Args&&... args) {
    std::string message = fmt::format("offset {}: {}", offset, fmt::format(format, std::forward<Args>(args)...));
    if (!first_) first_ = Status(StatusCodeFor(code), fmt::format("bundle {}: {}", options_.name, message));
    diags_.Error(code, Location{options_.name, 0, rule_id_}, std::move(message));
    return false;
  }

  const char* At(size_t offset) const { return bytes_.data() + offset; }

  bool Framing() {
    size_t size = bytes_.size();
    if (size > kMaxBundleBytes) {
      return Fail(DiagCode::kBundleLimit, 0, "bundle is {} bytes (limit {})", size, kMaxBundleBytes);
    }
    // A short file whose bytes match the magic so far is truncated, not foreign.
    size_t magic_seen = std::min(size, sizeof(kMagic));
    if (magic_seen > 0 && std::memcmp(bytes_.data(), kMagic, magic_seen) != 0) {
      return Fail(DiagCode::kBundleMagic, 0, "not a vigil bundle (magic is not \"VIGILBND\")");
    }
    if (size < header::kHeaderSize) {
      return Fail(DiagCode::kBundleTruncated, size, "file ends inside the header ({} bytes)", size);
    }
    uint32_t version = LoadU32(At(header::kFormatVersion));
    if (version != kFormatVersion) {
      return Fail(DiagCode::kBundleVersion, header::kFormatVersion,
                  "format version {} (this reader supports only version {})", version, kFormatVersion);
    }
    if (size < header::kSize) {
      return Fail(DiagCode::kBundleTruncated, size, "file ends inside the {}-byte header ({} bytes)",
                  header::kSize, size);
    }
    uint32_t header_size = LoadU32(At(header::kHeaderSize));
    if (header_size != header::kSize) {
      return Fail(DiagCode::kBundleVersion, header::kHeaderSize,
                  "header size {} (format version {} has {})", header_size, kFormatVersion, header::kSize);
    }
    uint32_t flags = LoadU32(At(header::kFlags));
    if (flags != 0) {
      return Fail(DiagCode::kBundleEncoding, header::kFlags, "unknown header flags 0x{:08x}", flags);
    }
    uint32_t sections = LoadU32(At(header::kSectionCount));
    if (sections != kSectionKinds) {
      return Fail(DiagCode::kBundleEncoding, header::kSectionCount,
                  "section count {} (format version {} has {})", sections, kFormatVersion, kSectionKinds);
    }
    table_end_ = header::kSize + kSectionKinds * section_entry::kSize;
    body_size_ = LoadU32(At(header::kBodySize));
    if (body_size_ < table_end_) {
      return Fail(DiagCode::kBundleBounds, header::kBodySize,
                  "body size {} is smaller than the header and section table ({})", body_size_, table_end_);
    }
    // The signature area: "VSIG", u32 length, payload, then the end of file.
    uint64_t sig = body_size_;
    if (size < sig + signature::kHeaderSize) {
      return Fail(DiagCode::kBundleTruncated, size,
                  "file ends before the signature area (body size {}, file {} bytes)", body_size_, size);
    }
    if (std::memcmp(At(sig), signature::kMagic, sizeof(signature::kMagic)) != 0) {
      return Fail(DiagCode::kBundleMagic, sig, "signature area does not start with \"VSIG\"");
    }
    uint32_t payload = LoadU32(At(sig + signature::kLength));
    if (payload > signature::kMaxPayloadBytes) {
      return Fail(DiagCode::kBundleLimit, sig + signature::kLength, "signature area payload {} bytes (limit {})",
                  payload, signature::kMaxPayloadBytes);
    }
    uint64_t end = sig + signature::kHeaderSize + payload;
    if (size < end) {
      return Fail(DiagCode::kBundleTruncated, size, "file ends inside the signature area ({} of {} bytes)", size,
                  end);
    }
    if (size > end) {
      return Fail(DiagCode::kBundleBounds, end, "{} bytes after the end of the signature area", size - end);
    }
    return true;
  }

  bool SectionTable() {
    uint64_t expected = table_end_;
    for (uint32_t k = 0; k < kSectionKinds; ++k) {
      size_t e = header::kSize + k * section_entry::kSize;
      uint32_t id = LoadU32(At(e + section_entry::kId));
      uint32_t want = k + 1;
      if (id != want) {
        return Fail(DiagCode::kBundleEncoding, e + section_entry::kId,
                    "section table entry {} has id {} (expected {}, {})", k, id, want, SectionName(want));
      }
      if (LoadU32(At(e + section_entry::kReserved)) != 0) {
        return Fail(DiagCode::kBundleEncoding, e + section_entry::kReserved,
                    "section {} ({}): reserved field is not 0", id, SectionName(id));
      }
      Section s{LoadU32(At(e + section_entry::kOffset)), LoadU32(At(e + section_entry::kLength))};
      if (s.offset < expected) {
        return Fail(DiagCode::kBundleBounds, e + section_entry::kOffset,
                    "section {} ({}) at offset {} overlaps what precedes it (which ends at {})", id,
                    SectionName(id), s.offset, expected);
      }
      if (s.offset > expected) {
        return Fail(DiagCode::kBundleBounds, e + section_entry::kOffset,
                    "section {} ({}) at offset {} leaves a gap after offset {}", id, SectionName(id), s.offset,
                    expected);
      }
      if (uint64_t{s.offset} + s.length > body_size_) {
        return Fail(DiagCode::kBundleBounds, e + section_entry::kLength,
                    "section {} ({}) at offset {}, length {} ends past the body ({} bytes)", id, SectionName(id),
                    s.offset, s.length, body_size_);
      }
      sections_[k] = s;
      expected = uint64_t{s.offset} + s.length;
    }
    if (expected != body_size_) {
      return Fail(DiagCode::kBundleBounds, expected, "{} bytes between the last section and the end of the body",
                  body_size_ - expected);
    }
    return true;
  }

  const Section& Sec(SectionId id) const { return sections_[id - 1]; }

  // count * record size must equal the section's length. Both factors are
  // below 2^32, so the 64-bit product cannot overflow.
  bool CountFits(SectionId id, size_t count_field, size_t record_size, uint32_t* count) {
    *count = LoadU32(At(count_field));
    const Section& s = Sec(id);
    uint64_t need = uint64_t{*count} * record_size;
    if (need != s.length) {
      return Fail(DiagCode::kBundleBounds, count_field,
                  "{} {} records of {} bytes need {} bytes but section {} ({}) holds {}", *count, RecordName(id),
                  record_size, need, static_cast<uint32_t>(id), SectionName(id), s.length);
    }
    return true;
  }

  bool Counts() {
    uint32_t rules = LoadU32(At(header::kRuleCount));
    if (rules > kMaxRules) {
      return Fail(DiagCode::kBundleLimit, header::kRuleCount, "{} rules (limit {})", rules, kMaxRules);
    }
    return CountFits(kRules, header::kRuleCount, rule_record::kSize, &rule_count_) &&
           CountFits(kAtoms, header::kAtomCount, atom_record::kSize, &atom_count_) &&
           CountFits(kProgram, header::kInstrCount, instr_record::kSize, &instr_count_) &&
           CountFits(kTags, header::kTagCount, kTagRecordSize, &tag_count_);
  }

  // Reads the string ref at file offset `ref`. Refs must tile the pool in
  // order (docs/bundle-format.md, "Strings"), so the decoded text is exactly
  // the pool and no ref can make the reader copy a byte twice.
  bool String(size_t ref, size_t limit, std::string_view field, std::string* out) {
    const Section& pool = Sec(kStrings);
    uint32_t offset = LoadU32(At(ref));
    uint32_t length = LoadU32(At(ref + 4));
    if (offset > pool.length || length > pool.length - offset) {
      return Fail(DiagCode::kBundleBounds, ref, "{}{}: string ref (offset {}, length {}) is outside the {}-byte pool",
                  Record(), field, offset, length, pool.length);
    }
    if (offset != cursor_) {
      return Fail(DiagCode::kBundleEncoding, ref,
                  "{}{}: string ref at pool offset {} (strings must follow each other; expected {})", Record(), field,
                  offset, cursor_);
    }
    if (length > limit) {
      return Fail(DiagCode::kBundleLimit, ref, "{}{}: string of {} bytes (limit {})", Record(), field, length, limit);
    }
    out->assign(At(pool.offset + offset), length);
    cursor_ += length;
    return true;
  }

  bool DecodeInfo() {
    rs_.info.schema_version = LoadU32(At(header::kSchemaVersion));
    std::memcpy(rs_.info.schema_hash.data(), At(header::kSchemaHash), rs_.info.schema_hash.size());
    rs_.info.content_version = LoadU64(At(header::kContentVersion));
    rs_.info.created_unix = static_cast<int64_t>(LoadU64(At(header::kCreatedUnix)));
    rs_.info.expires_unix = static_cast<int64_t>(LoadU64(At(header::kExpiresUnix)));
    return String(header::kChannel, kMaxTextBytes, " channel", &rs_.info.channel);
  }

  bool DecodeRules() {
    rs_.rules.reserve(rule_count_);
    uint64_t atoms = 0, instrs = 0, tags = 0;
    for (uint32_t i = 0; i < rule_count_; ++i) {
      size_t rec = Sec(kRules).offset + size_t{i} * rule_record::kSize;
      Rule& r = rs_.rules.emplace_back();
      record_ = {"rule", i, 0, 0};
      rule_id_.clear();
      if (!String(rec + rule_record::kId, kMaxTextBytes, " id", &r.id)) return false;
      rule_id_ = r.id;
      if (!String(rec + rule_record::kTitle, kMaxTextBytes, " title", &r.title) ||
          !String(rec + rule_record::kStatus, kMaxTextBytes, " status", &r.status) ||
          !String(rec + rule_record::kSource, kMaxTextBytes, " source", &r.source) ||
          !String(rec + rule_record::kEventTypeName, kMaxTextBytes, " event type name", &r.event_type_name)) {
        return false;
      }
      r.event_type = LoadU16(At(rec + rule_record::kEventType));
      uint8_t level = LoadU8(At(rec + rule_record::kLevel));
      if (level > static_cast<uint8_t>(Level::kCritical)) {
        return Fail(DiagCode::kBundleEncoding, rec + rule_record::kLevel, "{}: level {} (must be 0..4)", Record(), level);
      }
      r.level = static_cast<Level>(level);
      uint8_t flags = LoadU8(At(rec + rule_record::kFlags));
      if ((flags & ~kRuleFlagsMask) != 0) {
        return Fail(DiagCode::kBundleEncoding, rec + rule_record::kFlags,
                    "{}: flags 0x{:02x} have bits outside 0x{:02x}", Record(), flags, static_cast<int>(kRuleFlagsMask));
      }
      r.block = (flags & kRuleBlock) != 0;
      uint32_t na = LoadU32(At(rec + rule_record::kAtomCount));
      uint32_t ni = LoadU32(At(rec + rule_record::kInstrCount));
      uint32_t nt = LoadU32(At(rec + rule_record::kTagCount));
      if (na > kMaxAtomsPerRule) {
        return Fail(DiagCode::kBundleLimit, rec + rule_record::kAtomCount, "{}: {} atoms (limit {})", Record(), na,
                    kMaxAtomsPerRule);
      }
      if (ni > kMaxProgramLength) {
        return Fail(DiagCode::kBundleLimit, rec + rule_record::kInstrCount, "{}: {} instructions (limit {})", Record(),
                    ni, kMaxProgramLength);
      }
      if (nt > kMaxTagsPerRule) {
        return Fail(DiagCode::kBundleLimit, rec + rule_record::kTagCount, "{}: {} tags (limit {})", Record(), nt,
                    kMaxTagsPerRule);
      }
      atoms += na;
      instrs += ni;
      tags += nt;
      if (atoms > atom_count_ || instrs > instr_count_ || tags > tag_count_) {
        return Fail(DiagCode::kBundleBounds, rec + rule_record::kAtomCount,
                    "{}: rules so far need {} atoms, {} instructions, {} tags but the bundle holds {}, {}, {}", Record(),
                    atoms, instrs, tags, atom_count_, instr_count_, tag_count_);
      }
      // Safe to size now: the counts fit in sections already bounded by the input.
      r.atoms.resize(na);
      r.program.resize(ni);
      r.tags.resize(nt);
    }
    rule_id_.clear();
    if (atoms != atom_count_ || instrs != instr_count_ || tags != tag_count_) {
      return Fail(DiagCode::kBundleBounds, Sec(kRules).offset,
                  "rules use {} atoms, {} instructions, {} tags but the bundle holds {}, {}, {}", atoms, instrs, tags,
                  atom_count_, instr_count_, tag_count_);
    }
    return true;
  }

  // Atoms and programs in rule order; the sections are consumed in step.
  bool DecodeAtomsAndPrograms() {
    size_t atom = 0, instr = 0;
    for (size_t rule = 0; rule < rs_.rules.size(); ++rule) {
      Rule& r = rs_.rules[rule];
      rule_id_ = r.id;
      for (size_t j = 0; j < r.atoms.size(); ++j, ++atom) {
        size_t rec = Sec(kAtoms).offset + atom * atom_record::kSize;
        Atom& a = r.atoms[j];
        record_ = {"atom", atom, rule, j};
        uint8_t op = LoadU8(At(rec + atom_record::kOp));
        if (op >= kAtomOpCount) {
          return Fail(DiagCode::kBundleEncoding, rec + atom_record::kOp, "{}: operator {} (must be 0..{})", Record(), op,
                      kAtomOpCount - 1);
        }
        a.op = static_cast<AtomOp>(op);
        a.flags = LoadU8(At(rec + atom_record::kFlags));
        if ((a.flags & ~kAtomFlagsMask) != 0) {
          return Fail(DiagCode::kBundleEncoding, rec + atom_record::kFlags, "{}: flags 0x{:02x} outside 0x{:02x}",
                      Record(), a.flags, static_cast<int>(kAtomFlagsMask));
        }
        a.field = LoadU16(At(rec + atom_record::kField));
        a.ref_field = LoadU16(At(rec + atom_record::kRefField));
        if (LoadU16(At(rec + atom_record::kReserved)) != 0) {
          return Fail(DiagCode::kBundleEncoding, rec + atom_record::kReserved, "{}: reserved field is not 0", Record());
        }
        a.number = static_cast<int64_t>(LoadU64(At(rec + atom_record::kNumber)));
        if (!String(rec + atom_record::kFieldName, kMaxTextBytes, " field name", &a.field_name) ||
            !String(rec + atom_record::kValue, kMaxValueBytes, " value", &a.value) ||
            !String(rec + atom_record::kRefFieldName, kMaxTextBytes, " ref field name", &a.ref_field_name)) {
          return false;
        }
      }
      for (size_t j = 0; j < r.program.size(); ++j, ++instr) {
        size_t rec = Sec(kProgram).offset + instr * instr_record::kSize;
        uint8_t op = LoadU8(At(rec + instr_record::kOp));
        if (op >= kOpCodeCount) {
          return Fail(DiagCode::kBundleEncoding, rec + instr_record::kOp,
                      "{}: opcode {} (must be 0..{})", Record(), op, kOpCodeCount - 1);
        }
        record_ = {"instruction", instr, rule, j};
        static constexpr char kZero[3] = {};
        if (std::memcmp(At(rec + instr_record::kReserved), kZero, sizeof(kZero)) != 0) {
          return Fail(DiagCode::kBundleEncoding, rec + instr_record::kReserved,
                      "{}: reserved bytes are not 0", Record());
        }
        r.program[j] = {static_cast<OpCode>(op), LoadU32(At(rec + instr_record::kA)),
                        LoadU32(At(rec + instr_record::kB))};
      }
    }
    rule_id_.clear();
    return true;
  }

  bool DecodeTags() {
    size_t tag = 0;
    for (size_t rule = 0; rule < rs_.rules.size(); ++rule) {
      Rule& r = rs_.rules[rule];
      rule_id_ = r.id;
      for (size_t j = 0; j < r.tags.size(); ++j, ++tag) {
        size_t rec = Sec(kTags).offset + tag * kTagRecordSize;
        record_ = {"tag", tag, rule, j};
        if (!String(rec, kMaxTextBytes, "", &r.tags[j])) return false;
      }
    }
    rule_id_.clear();
    return true;
  }

  bool PoolFullyUsed() {
    const Section& pool = Sec(kStrings);
    if (cursor_ != pool.length) {
      return Fail(DiagCode::kBundleEncoding, pool.offset + cursor_, "string pool has {} bytes no ref uses",
                  pool.length - cursor_);
    }
    return true;
  }

  // The record being decoded, for messages; formatted only on failure, so
  // decoding a large bundle does not format a string per record.
  struct RecordRef {
    const char* kind = "";
    size_t index = 0;  // in its section
    size_t rule = 0;   // the owning rule (atoms, instructions, tags)
    size_t local = 0;  // index within that rule
  };
  std::string Record() const {
    std::string_view kind = record_.kind;
    if (kind == "header") return "header";
    if (kind == "rule") return fmt::format("rule {}", record_.index);
    return fmt::format("{} {} (rule {}, {} {})", record_.kind, record_.index, record_.rule, record_.kind,
                       record_.local);
  }

  std::string_view bytes_;
  const Schema& schema_;
  Diagnostics& diags_;
  const ReadOptions& options_;

  std::optional<Status> first_;
  std::string rule_id_;  // the rule being decoded, for diagnostic locations
  RecordRef record_{"header", 0, 0, 0};
  uint64_t table_end_ = 0;
  uint32_t body_size_ = 0;
  Section sections_[kSectionKinds];
  uint32_t rule_count_ = 0, atom_count_ = 0, instr_count_ = 0, tag_count_ = 0;
  uint64_t cursor_ = 0;  // next unread pool byte
  Ruleset rs_;
};

}  // namespace

Result<Ruleset> ReadBundle(std::string_view bytes, const Schema& schema, Diagnostics& diags,
                           const ReadOptions& options) {
  return Reader(bytes, schema, diags, options).Run();
}

uint64_t PeekContentVersion(std::string_view bytes) {
  if (bytes.size() < header::kContentVersion + 8 || std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) return 0;
  return LoadU64(bytes.data() + header::kContentVersion);
}

}  // namespace vigil::content
