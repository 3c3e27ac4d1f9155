// The literal index: every literal an event type's prefilter needs, in one
// Hyperscan literal database, matched against all of an event's scanned
// fields in a single pass.
//
//   LiteralIndex::Builder b(schema.event_type(t));
//   b.Add({atom, field, Anchor::kSuffix, "/bash", /*cased=*/false});
//   Result<LiteralIndex> index = std::move(b).Build();
//   index->Scan(event, hs_scratch, buffer, sink);   // sets sink bits per true atom
//
// How it works: the present scanned fields are copied back to back into one
// buffer and scanned once. A literal can occur in many places and fields, so
// the database has no SINGLEMATCH: for each reported end offset the callback
// finds the field that holds it (`from = to - length`), drops matches that
// cross a field boundary, checks the anchoring (equals / prefix / suffix) and
// marks the atom true. Identical literals are one pattern that fans out to
// every (atom, field, anchor) using it. Caseless literals use Hyperscan's
// HS_FLAG_CASELESS, which folds ASCII letters only (no UTF-8 mode), exactly
// the fold content/ir.h specifies; kCased literals are separate patterns
// without it.
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

  // Distinct patterns in the database.
  size_t patterns() const { return pattern_len_.size(); }

  // Marks every atom whose literal matches `event` (whose field count the
  // caller has checked against the schema). `buffer` of `capacity` bytes is
  // scratch space: when the scanned fields do not fit, Scan() scans them one
  // by one instead (same result, more calls into Hyperscan). Does not
  // allocate.
  void Scan(const EventView& event, hs_scratch* scratch, char* buffer, size_t capacity,
            HitSink& sink) const;

 private:
  LiteralIndex() = default;
  struct Entry {
    uint32_t atom;
    uint16_t slot;  // index into slots_, or kAnySlot
    Anchor anchor;
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
  std::vector<uint32_t> pattern_len_;     // by pattern id
  std::vector<uint32_t> entry_begin_;     // by pattern id, +1 sentinel
  std::vector<Entry> entries_;
};

}  // namespace vigil::engine
