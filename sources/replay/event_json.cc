#include "sources/replay/event_json.h"

#include <charconv>
#include <cstring>

#include <simdjson.h>

namespace vigil::replay {
namespace {

// A replay object is flat: depth 1 for the object, 2 for its values.
constexpr size_t kMaxJsonDepth = 4;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

bool ParseInt(std::string_view text, int64_t& out) {
  if (text.empty()) return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

}  // namespace

struct EventDecoder::Parser {
  simdjson::dom::parser dom{kMaxLineBytes};
};

EventDecoder::EventDecoder(const Schema& schema) : schema_(schema), parser_(std::make_unique<Parser>()) {
  padded_.reserve(4096 + simdjson::SIMDJSON_PADDING);
  if (parser_->dom.allocate(4096, kMaxJsonDepth) != simdjson::SUCCESS) {
    // Allocation at construction failing means the process is out of memory;
    // Decode() will report it on every line rather than crash here.
  }
}

EventDecoder::~EventDecoder() = default;

Status EventDecoder::Decode(std::string_view line) {
  view_ = EventView();
  raw_ = {};
  unknown_keys_ = 0;
  line = Trim(line);
  if (line.empty()) return Status(Code::kInvalidArgument, "empty line");
  if (line.size() > kMaxLineBytes) {
    return Status(Code::kLimitExceeded,
                  fmt::format("line is {} bytes, the limit is {}", line.size(), kMaxLineBytes));
  }
  padded_.assign(line);
  padded_.append(simdjson::SIMDJSON_PADDING, '\0');

  simdjson::dom::element doc;
  if (auto err = parser_->dom.parse(padded_.data(), line.size(), false).get(doc); err) {
    return Status(Code::kInvalidArgument, fmt::format("invalid JSON: {}", simdjson::error_message(err)));
  }
  simdjson::dom::object obj;
  if (doc.get_object().get(obj)) return Status(Code::kInvalidArgument, "not a JSON object");
  if (obj.size() > kMaxKeysPerEvent) {
    return Status(Code::kLimitExceeded, fmt::format("{} keys, the limit is {}", obj.size(), kMaxKeysPerEvent));
  }

  std::string_view type_name;
  if (auto err = obj["event"].get_string().get(type_name); err) {
    return Status(Code::kInvalidArgument, "missing or non-string key 'event' (the event type)");
  }
  std::optional<EventTypeId> type = schema_.FindEventType(type_name);
  if (!type) return Status(Code::kInvalidArgument, fmt::format("unknown event type '{}'", type_name));
  const auto& defs = schema_.event_type(*type).fields;
  for (size_t i = 0; i < defs.size(); ++i) fields_[i].Clear();

  size_t unknown = 0;
  bool seen_event = false;
  for (auto [key, value] : obj) {
    if (key == "event") {
      if (seen_event) return Status(Code::kInvalidArgument, "duplicate key 'event'");
      seen_event = true;
      continue;
    }
    std::optional<FieldIndex> index = schema_.FindField(*type, key);
    if (!index) {
      ++unknown;
      continue;
    }
    FieldValue& fv = fields_[*index];
    if (fv.present) return Status(Code::kInvalidArgument, fmt::format("duplicate key '{}'", key));
    const FieldType ftype = defs[*index].type;
    switch (value.type()) {
      case simdjson::dom::element_type::STRING: {
        std::string_view s = value.get_string().value_unsafe();
        int64_t n = 0;
        if (ftype == FieldType::kInteger && ParseInt(s, n)) {
          fv.SetNumber(s, n);
        } else if (ftype == FieldType::kInteger) {
          return Status(Code::kInvalidArgument,
                        fmt::format("key '{}': expected an integer, got \"{}\"", key,
                                    s.substr(0, 40)));
        } else {
          fv.Set(s);
        }
        break;
      }
      case simdjson::dom::element_type::INT64:
      case simdjson::dom::element_type::UINT64: {
        int64_t n = 0;
        if (value.get_int64().get(n)) {
          return Status(Code::kInvalidArgument, fmt::format("key '{}': integer out of range", key));
        }
        auto& buf = number_text_[*index];
        auto res = std::to_chars(buf.data(), buf.data() + buf.size(), n);
        std::string_view text(buf.data(), static_cast<size_t>(res.ptr - buf.data()));
        fv.SetNumber(text, n);
        break;
      }
      case simdjson::dom::element_type::BOOL:
        if (ftype == FieldType::kInteger) {
          return Status(Code::kInvalidArgument, fmt::format("key '{}': expected an integer, got a boolean", key));
        }
        fv.Set(value.get_bool().value_unsafe() ? "true" : "false");
        break;
      case simdjson::dom::element_type::NULL_VALUE:
        break;  // absent
      case simdjson::dom::element_type::DOUBLE:
        return Status(Code::kInvalidArgument, fmt::format("key '{}': fractional numbers are not field values", key));
      case simdjson::dom::element_type::ARRAY:
      case simdjson::dom::element_type::OBJECT:
        return Status(Code::kInvalidArgument, fmt::format("key '{}': nested values are not field values", key));
    }
  }
  unknown_keys_ = unknown;
  view_ = EventView{*type, std::span<const FieldValue>(fields_.data(), defs.size())};
  raw_ = line;
  return Status::Ok();
}

}  // namespace vigil::replay
