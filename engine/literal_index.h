// The literal index: every literal an event type's prefilter needs, in one
// Hyperscan literal database, matched against all of an event's scanned
// fields in a single pass.
//
//   LiteralIndex::Builder b(schema.event_type(t));
//   b.Add({atom, field, Anchor::kSuffix, "/bash", /*cased=*/false});
//   Result<LiteralIndex> index = std::move(b).Build();
//   index->AllocScratch(&hs_scratch);                // once per thread
//   index->Scan(event, hs_scratch, buffer, buffer_size, sink);  // marks true atoms
//
// How it works: the present scanned fields are copied back to back into one
// buffer and scanned once. Hyperscan searches for each literal's last
// kMaxFragmentBytes bytes (its "fragment"): Hyperscan's literal compile time
// grows faster than linearly with the number and length of distinct
// patterns (677 full SigmaHQ-style literals: ~60 ms; their 6-byte suffixes:
// ~20 ms), and shorter patterns also scan a little faster. A fragment can
// occur in many places and fields, so the database has no SINGLEMATCH: for
// each reported end offset `to` the callback finds the field that holds the
// match, and for every literal ending in that fragment checks that the whole
// literal [to - length, to) lies inside that field, has the anchoring its
// atom needs (equals / prefix / suffix), and equals the buffer bytes; then it
// marks the atom true. Matches that cross a field boundary therefore never
// count. Caseless literals use Hyperscan's HS_FLAG_CASELESS, which folds
// ASCII letters only (no UTF-8 mode), and are verified with the same ASCII
// fold, exactly the fold content/ir.h specifies; kCased literals are separate
// patterns without it, verified byte for byte.
//
// Thread-safety: immutable after Build(); Scan() may run on many threads at
// once, each with its own hs_scratch_t (see AllocScratch()).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "schema/event.h"

struct hs_database;
struct hs_scratch;

namespace vigil::engine {

enum class Anchor : uint8_t { kNone = 0, kWhole = 1, kPrefix = 2, kSuffix = 3 };

// What Scan() reports into: `state[atom] = true_mark` the first time an atom
// turns true for this event, and the atom is appended to `hits`. Arrays are
// owned by the caller and sized for the largest atom id added.
struct HitSink {
  uint32_t* state = nullptr;
  uint32_t true_mark = 0;
  uint32_t* hits = nullptr;
  uint32_t hit_count = 0;
};

class LiteralIndex {
 public:
  struct Literal {
    uint32_t atom = 0;
    FieldIndex field = 0;  // or content::kAnyField: any kString field
    Anchor anchor = Anchor::kNone;
    std::string value;     // non-empty; exact bytes (not folded)
    bool cased = false;
  };

  class Builder {
   public:
    explicit Builder(const EventTypeDef& type) : type_(type) {}
    void Add(Literal literal) { literals_.push_back(std::move(literal)); }
    bool empty() const { return literals_.empty(); }
    // kInternal when Hyperscan refuses the database (it should not).
    Result<LiteralIndex> Build() &&;

   private:
    const EventTypeDef& type_;
    std::vector<Literal> literals_;
  };

  LiteralIndex(LiteralIndex&&) noexcept;
  LiteralIndex& operator=(LiteralIndex&&) noexcept;
  ~LiteralIndex();

  // Grows `*scratch` (which may be null) so it can scan this database.
  Status AllocScratch(hs_scratch** scratch) const;

  // Distinct patterns (fragments) in the database.
  size_t patterns() const { return entry_begin_.empty() ? 0 : entry_begin_.size() - 1; }
  // Fields the scan covers.
  size_t scanned_fields() const { return slots_.size(); }
  // Longest fragment Hyperscan searches for; see above.
  static constexpr size_t kMaxFragmentBytes = 6;

  // Marks every atom whose literal matches `event` (whose field count the
  // caller has checked against the schema). `buffer` of `capacity` bytes is
  // scratch space: when the scanned fields do not fit, Scan() scans them one
  // by one instead (same result, more calls into Hyperscan). Does not
  // allocate.
  void Scan(const EventView& event, hs_scratch* scratch, char* buffer, size_t capacity,
            HitSink& sink) const;

 private:
  LiteralIndex() = default;
  // One literal ending in a pattern's fragment, and the atom it decides.
  struct Entry {
    uint32_t atom;
    uint16_t slot;  // index into slots_, or kAnySlot
    Anchor anchor;
    bool cased;
    uint32_t offset;  // the literal (folded unless cased) is bytes_[offset, offset + length)
    uint32_t length;
  };
  static constexpr uint16_t kAnySlot = 0xffff;
  struct Slot {
    FieldIndex field;
    bool is_string;  // kAnyField literals accept only kString fields
  };
  struct ScanContext;
  static int OnMatch(unsigned int id, unsigned long long from, unsigned long long to,
                     unsigned int flags, void* context);

  struct DatabaseDeleter {
    void operator()(hs_database* db) const;
  };
  std::unique_ptr<hs_database, DatabaseDeleter> db_;
  std::vector<Slot> slots_;               // the scanned fields, in field order
  std::vector<uint32_t> entry_begin_;     // by pattern id, +1 sentinel
  std::vector<Entry> entries_;
  std::string bytes_;                     // every distinct literal, back to back
};

}  // namespace vigil::engine
