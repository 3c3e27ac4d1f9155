#include "engine/literal_index.h"

#include <hs/hs.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <utility>

#include "content/ir.h"
#include "engine/text_match.h"

namespace vigil::engine {

struct LiteralIndex::ScanContext {
  const LiteralIndex* index;
  HitSink* sink;
  const char* data;  // what Hyperscan is scanning
  // Per scanned slot in buffer order: its byte range and its index in slots_.
  uint32_t start[kMaxFieldsPerType];
  uint32_t end[kMaxFieldsPerType];
  uint16_t slot[kMaxFieldsPerType];
};

void LiteralIndex::DatabaseDeleter::operator()(hs_database* db) const { hs_free_database(db); }

LiteralIndex::LiteralIndex(LiteralIndex&&) noexcept = default;
LiteralIndex& LiteralIndex::operator=(LiteralIndex&&) noexcept = default;
LiteralIndex::~LiteralIndex() = default;

Result<LiteralIndex> LiteralIndex::Builder::Build() && {
  LiteralIndex index;
  // Scanned fields: every field a literal names; every kString field when a
  // literal applies to any field.
  std::vector<int> slot_of(type_.fields.size(), -1);
  bool any_field = std::any_of(literals_.begin(), literals_.end(),
                               [](const Literal& l) { return l.field == content::kAnyField; });
  for (size_t f = 0; f < type_.fields.size(); ++f) {
    bool is_string = type_.fields[f].type == FieldType::kString;
    bool named = std::any_of(literals_.begin(), literals_.end(),
                             [&](const Literal& l) { return l.field == f; });
    if (named || (any_field && is_string)) {
      slot_of[f] = static_cast<int>(index.slots_.size());
      index.slots_.push_back({static_cast<FieldIndex>(f), is_string});
    }
  }

  // One pattern per distinct (fragment as matched, casedness); one copy of
  // each distinct literal in bytes_.
  std::map<std::pair<std::string, bool>, uint32_t> pattern_of;
  std::map<std::pair<std::string, bool>, uint32_t> offset_of;
  std::vector<std::string> pattern_bytes;
  std::vector<bool> pattern_cased;
  std::vector<std::vector<Entry>> fanout;
  for (const Literal& l : literals_) {
    if (l.value.empty()) return Error(Code::kInternal, "literal index: empty literal for atom {}", l.atom);
    if (l.value.size() > UINT32_MAX / 2) return Error(Code::kInternal, "literal index: literal too long");
    const std::string text = l.cased ? l.value : FoldAscii(l.value);
    const std::string fragment = text.substr(text.size() - std::min(text.size(), kMaxFragmentBytes));
    auto [it, inserted] = pattern_of.try_emplace({fragment, l.cased}, pattern_bytes.size());
    if (inserted) {
      pattern_bytes.push_back(fragment);
      pattern_cased.push_back(l.cased);
      fanout.emplace_back();
    }
    auto [at, fresh] = offset_of.try_emplace({text, l.cased}, index.bytes_.size());
    if (fresh) index.bytes_ += text;
    const uint16_t slot =
        l.field == content::kAnyField ? kAnySlot : static_cast<uint16_t>(slot_of.at(l.field));
    Entry e{l.atom, slot, l.anchor, l.cased, at->second, static_cast<uint32_t>(text.size())};
    auto& list = fanout[it->second];
    bool dup = std::any_of(list.begin(), list.end(), [&](const Entry& x) {
      return x.atom == e.atom && x.slot == e.slot && x.anchor == e.anchor;
    });
    if (!dup) list.push_back(e);
  }
  if (pattern_bytes.empty()) return index;

  std::vector<const char*> exprs;
  std::vector<size_t> lens;
  std::vector<unsigned> flags, ids;
  for (size_t i = 0; i < pattern_bytes.size(); ++i) {
    exprs.push_back(pattern_bytes[i].data());
    lens.push_back(pattern_bytes[i].size());
    flags.push_back(pattern_cased[i] ? 0 : HS_FLAG_CASELESS);
    ids.push_back(static_cast<unsigned>(i));
    // Entries of one literal sit together so its bytes are compared once.
    std::stable_sort(fanout[i].begin(), fanout[i].end(),
                     [](const Entry& a, const Entry& b) { return a.offset < b.offset; });
    index.entry_begin_.push_back(static_cast<uint32_t>(index.entries_.size()));
    index.entries_.insert(index.entries_.end(), fanout[i].begin(), fanout[i].end());
  }
  index.entry_begin_.push_back(static_cast<uint32_t>(index.entries_.size()));

  hs_database_t* db = nullptr;
  hs_compile_error_t* err = nullptr;
  if (hs_compile_lit_multi(exprs.data(), flags.data(), ids.data(), lens.data(),
                           static_cast<unsigned>(exprs.size()), HS_MODE_BLOCK, nullptr, &db,
                           &err) != HS_SUCCESS) {
    std::string msg = err && err->message ? err->message : "unknown error";
    hs_free_compile_error(err);
    return Error(Code::kInternal, "literal index: hyperscan refused {} literals: {}", exprs.size(), msg);
  }
  index.db_.reset(db);
  return index;
}

Status LiteralIndex::AllocScratch(hs_scratch** scratch) const {
  if (!db_) return Status::Ok();
  if (hs_alloc_scratch(db_.get(), scratch) != HS_SUCCESS) {
    return Status(Code::kInternal, "literal index: hs_alloc_scratch failed");
  }
  return Status::Ok();
}

int LiteralIndex::OnMatch(unsigned int id, unsigned long long /*from*/, unsigned long long to,
                          unsigned int /*flags*/, void* context) {
  auto& ctx = *static_cast<ScanContext*>(context);
  const LiteralIndex& index = *ctx.index;
  const uint32_t end = static_cast<uint32_t>(to);
  // The slot holding the match's last byte: ends are ascending, and an empty
  // slot (start == end) can never be the first with end >= to.
  uint32_t k = 0;
  while (ctx.end[k] < end) ++k;
  const uint32_t field_start = ctx.start[k], field_end = ctx.end[k];
  const uint16_t slot = ctx.slot[k];
  const bool slot_is_string = index.slots_[slot].is_string;
  HitSink& sink = *ctx.sink;
  uint32_t checked_offset = UINT32_MAX;  // the literal compared last, and the outcome
  bool checked_equal = false;
  for (uint32_t i = index.entry_begin_[id], n = index.entry_begin_[id + 1]; i < n; ++i) {
    const Entry& e = index.entries_[i];
    if (sink.state[e.atom] == sink.true_mark) continue;
    if (e.slot != slot && !(e.slot == kAnySlot && slot_is_string)) continue;
    if (e.length > end - field_start) continue;  // would start before the field
    const uint32_t from = end - e.length;
    switch (e.anchor) {
      case Anchor::kNone: break;
      case Anchor::kWhole: if (from != field_start || end != field_end) continue; break;
      case Anchor::kPrefix: if (from != field_start) continue; break;
      case Anchor::kSuffix: if (end != field_end) continue; break;
    }
    if (e.offset != checked_offset) {
      const std::string_view text(ctx.data + from, e.length);
      const std::string_view literal(index.bytes_.data() + e.offset, e.length);
      checked_equal = e.cased ? text == literal : EqualsFold(text, literal);
      checked_offset = e.offset;
    }
    if (!checked_equal) continue;
    sink.state[e.atom] = sink.true_mark;
    sink.hits[sink.hit_count++] = e.atom;
  }
  return 0;
}

void LiteralIndex::Scan(const EventView& event, hs_scratch* scratch, char* buffer,
                        size_t capacity, HitSink& sink) const {
  if (!db_) return;
  ScanContext ctx;
  ctx.index = this;
  ctx.sink = &sink;
  ctx.data = buffer;
  size_t total = 0;
  for (const Slot& s : slots_) total += event.fields[s.field].text.size();
  if (total <= capacity && total <= UINT32_MAX) {
    uint32_t n = 0, pos = 0;
    for (uint16_t i = 0; i < slots_.size(); ++i) {
      const FieldValue& v = event.fields[slots_[i].field];
      if (!v.present || v.text.empty()) continue;  // absent fields never match a literal
      std::memcpy(buffer + pos, v.text.data(), v.text.size());
      ctx.start[n] = pos;
      pos += static_cast<uint32_t>(v.text.size());
      ctx.end[n] = pos;
      ctx.slot[n++] = i;
    }
    if (pos > 0) hs_scan(db_.get(), buffer, pos, 0, scratch, &OnMatch, &ctx);
    return;
  }
  // Too large for the buffer: one scan per field, each its own one-slot buffer.
  for (uint16_t i = 0; i < slots_.size(); ++i) {
    const FieldValue& v = event.fields[slots_[i].field];
    if (!v.present || v.text.empty() || v.text.size() > UINT32_MAX) continue;
    ctx.start[0] = 0;
    ctx.end[0] = static_cast<uint32_t>(v.text.size());
    ctx.slot[0] = i;
    ctx.data = v.text.data();
    hs_scan(db_.get(), v.text.data(), static_cast<unsigned>(v.text.size()), 0, scratch, &OnMatch,
            &ctx);
  }
}

}  // namespace vigil::engine
