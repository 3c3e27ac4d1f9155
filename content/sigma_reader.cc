#include "content/sigma_reader.h"

#include <exception>
#include <set>
#include <string>

#include <fmt/format.h>
#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/yaml.h>

#include "content/compiler.h"
#include "content/ir.h"

namespace vigil::content {
namespace {

// yaml-cpp marks are 0-based within the text it was given; see SplitDocuments.
int LineOf(const YAML::Mark& mark, int first_line) { return mark.is_null() ? 0 : first_line + mark.line; }

struct DocumentText {
  std::string_view text;
  int first_line;  // 1-based line of text[0] in the file
};

// Splits a file at its document markers: a line starting with "---" or "..."
// followed by a blank or the line's end (YAML 1.2, 9.1; such a line is a
// marker even inside a block or quoted scalar). Each piece goes to
// YAML::Load on its own because yaml-cpp 0.7's LoadAll never returns on some
// inputs (e.g. a lone ","; the parser stops making progress and LoadAll
// appends empty documents forever). The "---" line starts its piece, since
// it may carry content ("--- {a: 1}"); the "..." line ends its piece.
std::vector<DocumentText> SplitDocuments(std::string_view text) {
  auto is_marker = [&](size_t pos, std::string_view marker) {
    if (text.compare(pos, 3, marker) != 0) return false;
    return pos + 3 == text.size() || text[pos + 3] == ' ' || text[pos + 3] == '\t' || text[pos + 3] == '\r' ||
           text[pos + 3] == '\n';
  };
  std::vector<DocumentText> out;
  size_t start = 0;
  int start_line = 1, line = 1;
  for (size_t pos = 0; pos < text.size(); ++line) {
    size_t eol = text.find('\n', pos);
    size_t next = eol == std::string_view::npos ? text.size() : eol + 1;
    if (is_marker(pos, "---") && pos > start) {
      out.push_back({text.substr(start, pos - start), start_line});
      start = pos;
      start_line = line;
    } else if (is_marker(pos, "...")) {
      out.push_back({text.substr(start, next - start), start_line});
      start = next;
      start_line = line + 1;
    }
    pos = next;
  }
  if (start < text.size()) out.push_back({text.substr(start), start_line});
  return out;
}

// The deepest '[' / '{' nesting of `text`, skipping comments and quoted
// scalars. yaml-cpp parses flow collections recursively; refusing deep flow
// nesting here, before it runs, keeps its stack use small (its own guard
// only trips at depth 2000). Approximate by design: a miss is caught by that
// guard, a false alarm needs 65 unclosed brackets in one file.
size_t MaxFlowNesting(std::string_view text, int* line_out) {
  size_t depth = 0, max_depth = 0;
  int line = 1;
  char prev = '\n';
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    bool token_start = prev == '\n' || prev == ' ' || prev == '\t' || prev == '[' || prev == '{' ||
                       prev == ',' || prev == ':';
    if (c == '\n') {
      ++line;
    } else if (c == '#' && (prev == ' ' || prev == '\t' || prev == '\n')) {
      while (i + 1 < text.size() && text[i + 1] != '\n') ++i;
    } else if ((c == '\'' || c == '"') && token_start) {
      const char quote = c;
      for (++i; i < text.size(); ++i) {
        if (text[i] == '\n') ++line;
        if (quote == '"' && text[i] == '\\') {
          ++i;
        } else if (text[i] == quote) {
          if (quote == '\'' && i + 1 < text.size() && text[i + 1] == '\'') {
            ++i;  // '' is an escaped quote
          } else {
            break;
          }
        }
      }
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) {
        max_depth = depth;
        *line_out = line;
      }
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
    prev = i < text.size() ? text[i] : '\n';
  }
  return max_depth;
}

// Visits every node reachable from `node`, following aliases (which yaml-cpp
// shares, so a small file can describe an exponential or even cyclic tree).
// False when the visit budget or the depth bound runs out.
bool WithinBounds(const YAML::Node& node, size_t depth, size_t& budget) {
  if (budget == 0 || depth > kMaxYamlDepth) return false;
  --budget;
  if (node.IsSequence()) {
    for (const auto& child : node) {
      if (!WithinBounds(child, depth + 1, budget)) return false;
    }
  } else if (node.IsMap()) {
    for (const auto& kv : node) {
      if (!WithinBounds(kv.first, depth + 1, budget)) return false;
      if (!WithinBounds(kv.second, depth + 1, budget)) return false;
    }
  }
  return true;
}

std::string Describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null: return "null";
    case YAML::NodeType::Scalar: return "a scalar";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a map";
    case YAML::NodeType::Undefined: break;
  }
  return "nothing";
}

// Reads one document into a SigmaRule; every problem is an error in `diags`.
class DocumentReader {
 public:
  // `first_line` is the file line where the document's text starts.
  DocumentReader(std::string_view filename, int first_line, Diagnostics& diags)
      : file_(filename), first_line_(first_line), diags_(diags) {}

  // Whether `doc` looks like a Sigma rule at all (else kNotARule).
  static bool LooksLikeRule(const YAML::Node& doc) {
    for (const char* key : {"detection", "logsource", "title", "correlation", "action", "id"}) {
      if (doc[key]) return true;
    }
    return false;
  }

  void Read(const YAML::Node& doc, SigmaRule& rule) {
    rule.file = file_;
    rule.line = Line(doc);
    where_ = {file_, rule.line, ""};
    if (!CheckTopLevelKeys(doc)) return;
    ReadText(doc, "id", rule.id, true);
    where_.rule_id = rule.id;
    ReadText(doc, "title", rule.title, true);
    ReadText(doc, "status", rule.status, false);
    if (const YAML::Node level = doc["level"]) {
      rule.level.emplace();
      ReadScalar(level, "level", rule.level->text);
      rule.level->line = Line(level);
    }
    ReadTags(doc["tags"], rule.tags);
    ReadLogsource(doc, rule);
    ReadDetection(doc, rule);
    ReadVigil(doc, rule);
  }

 private:
  int Line(const YAML::Node& node) const { return LineOf(node.Mark(), first_line_); }
  Location At(int line) const { return {where_.file, line, where_.rule_id}; }
  Location At(const YAML::Node& node) const { return At(Line(node)); }

  // Rejects rule kinds vigil does not run and duplicate top-level keys.
  bool CheckTopLevelKeys(const YAML::Node& doc) {
    std::set<std::string> seen;
    bool ok = true;
    for (const auto& kv : doc) {
      if (!kv.first.IsScalar()) {
        diags_.Error(DiagCode::kBadValue, At(kv.first), "a rule's keys must be plain text");
        ok = false;
        continue;
      }
      const std::string& key = kv.first.Scalar();
      if (!seen.insert(key).second) {
        diags_.Error(DiagCode::kBadValue, At(kv.first), fmt::format("key '{}' appears twice", key));
        ok = false;
      }
      if (key == "action") {
        diags_.Error(DiagCode::kUnsupportedFeature, At(kv.first),
                     "rule collections (action: global/repeat/reset) are not supported; write one "
                     "complete rule per document");
        ok = false;
      } else if (key == "correlation") {
        diags_.Error(DiagCode::kUnsupportedFeature, At(kv.first), "correlation rules are not supported");
        ok = false;
      } else if (key == "filter") {
        diags_.Error(DiagCode::kUnsupportedFeature, At(kv.first),
                     "Sigma filter documents (meta filters) are not supported");
        ok = false;
      }
    }
    return ok;
  }

  bool ReadScalar(const YAML::Node& node, std::string_view what, std::string& out) {
    if (!node.IsScalar()) {
      diags_.Error(DiagCode::kBadValue, At(node), fmt::format("'{}' must be text, not {}", what, Describe(node)));
      return false;
    }
    if (node.Scalar().size() > kMaxTextBytes) {
      diags_.Error(DiagCode::kValueTooLong, At(node),
                   fmt::format("'{}' is {} bytes (limit {})", what, node.Scalar().size(), kMaxTextBytes));
      return false;
    }
    out = node.Scalar();
    return true;
  }

  void ReadText(const YAML::Node& doc, const char* key, std::string& out, bool required) {
    const YAML::Node node = doc[key];
    if (!node) {
      if (required) diags_.Error(DiagCode::kMissingKey, where_, fmt::format("the rule has no '{}'", key));
      return;
    }
    if (ReadScalar(node, key, out) && required && out.empty()) {
      diags_.Error(DiagCode::kMissingKey, At(node), fmt::format("'{}' is empty", key));
    }
  }

  void ReadTags(const YAML::Node& tags, std::vector<std::string>& out) {
    if (!tags || tags.IsNull()) return;
    if (!tags.IsSequence()) {
      diags_.Error(DiagCode::kBadValue, At(tags), fmt::format("'tags' must be a list, not {}", Describe(tags)));
      return;
    }
    if (tags.size() > kMaxTagsPerRule) {
      diags_.Error(DiagCode::kTooComplex, At(tags),
                   fmt::format("{} tags (limit {})", tags.size(), kMaxTagsPerRule));
      return;
    }
    for (const auto& tag : tags) {
      std::string text;
      if (ReadScalar(tag, "tag", text)) out.push_back(std::move(text));
    }
  }

  void ReadLogsource(const YAML::Node& doc, SigmaRule& rule) {
    const YAML::Node ls = doc["logsource"];
    if (!ls) {
      diags_.Error(DiagCode::kMissingKey, where_, "the rule has no 'logsource'");
      return;
    }
    rule.logsource_line = Line(ls);
    if (!ls.IsMap()) {
      diags_.Error(DiagCode::kBadValue, At(ls), fmt::format("'logsource' must be a map, not {}", Describe(ls)));
      return;
    }
    auto read = [&](const char* key, std::optional<SigmaText>& out) {
      const YAML::Node node = ls[key];
      if (!node || node.IsNull()) return;
      out.emplace();
      out->line = Line(node);
      ReadScalar(node, fmt::format("logsource.{}", key), out->text);
    };
    read("product", rule.product);
    read("category", rule.category);
    read("service", rule.service);
  }

  void ReadDetection(const YAML::Node& doc, SigmaRule& rule) {
    const YAML::Node det = doc["detection"];
    if (!det) {
      diags_.Error(DiagCode::kMissingKey, where_, "the rule has no 'detection'");
      return;
    }
    rule.detection_line = Line(det);
    if (!det.IsMap()) {
      diags_.Error(DiagCode::kBadValue, At(det), fmt::format("'detection' must be a map, not {}", Describe(det)));
      return;
    }
    std::set<std::string> names;
    bool has_condition = false;
    for (const auto& kv : det) {
      if (!kv.first.IsScalar()) {
        diags_.Error(DiagCode::kBadValue, At(kv.first), "detection keys must be plain text");
        continue;
      }
      const std::string& name = kv.first.Scalar();
      if (!names.insert(name).second) {
        diags_.Error(DiagCode::kBadValue, At(kv.first), fmt::format("detection key '{}' appears twice", name));
        continue;
      }
      if (name == "condition") {
        has_condition = true;
        ReadConditions(kv.second, Line(kv.first), rule.conditions);
      } else if (name == "timeframe") {
        rule.timeframe.emplace();
        rule.timeframe->line = Line(kv.first);
        ReadScalar(kv.second, "timeframe", rule.timeframe->text);
      } else {
        ReadSelection(name, kv.second, Line(kv.first), rule.selections);
      }
    }
    if (!has_condition) diags_.Error(DiagCode::kMissingKey, At(det), "'detection' has no 'condition'");
  }

  // `vigil: {action: block}`: Sigma allows custom top-level attributes, and
  // vigil keeps all of its own under one key. A key it does not know is an
  // error, not ignored: it is an instruction to vigil, perhaps for a newer
  // version, and silently doing something else is worse than refusing.
  void ReadVigil(const YAML::Node& doc, SigmaRule& rule) {
    const YAML::Node vigil = doc["vigil"];
    if (!vigil) return;
    if (!vigil.IsMap()) {
      int line = Line(vigil);
      if (vigil.IsNull()) {  // marked at the next token: report the key's line
        for (const auto& kv : doc) {
          if (kv.first.IsScalar() && kv.first.Scalar() == "vigil") line = Line(kv.first);
        }
      }
      diags_.Error(DiagCode::kBadValue, At(line),
                   fmt::format("'vigil' must be a map such as {{action: block}}, not {}", Describe(vigil)));
      return;
    }
    std::set<std::string> seen;
    for (const auto& kv : vigil) {
      if (!kv.first.IsScalar()) {
        diags_.Error(DiagCode::kBadValue, At(kv.first), "'vigil' keys must be plain text");
        continue;
      }
      const std::string& key = kv.first.Scalar();
      const std::string shown = key.size() <= 64 ? key : key.substr(0, 64) + "...";
      if (!seen.insert(key).second) {
        diags_.Error(DiagCode::kBadValue, At(kv.first), fmt::format("key 'vigil.{}' appears twice", shown));
        continue;
      }
      if (key != "action") {
        diags_.Error(DiagCode::kBadValue, At(kv.first),
                     fmt::format("unknown vigil attribute '{}' (vigil knows: action)", shown));
        continue;
      }
      if (kv.second.IsNull()) {  // yaml-cpp marks an empty value at the next token: report the key's line
        diags_.Error(DiagCode::kBadValue, At(kv.first), "'vigil.action' has no value (alert or block)");
        continue;
      }
      rule.action.emplace();
      rule.action->line = Line(kv.second);
      ReadScalar(kv.second, "vigil.action", rule.action->text);
    }
  }

  void ReadConditions(const YAML::Node& node, int key_line, std::vector<SigmaText>& out) {
    if (node.IsScalar()) {
      out.push_back({node.Scalar(), Line(node)});
    } else if (node.IsSequence() && node.size() > 0) {
      for (const auto& c : node) {
        if (!c.IsScalar()) {
          diags_.Error(DiagCode::kBadValue, At(c), fmt::format("a condition must be text, not {}", Describe(c)));
          continue;
        }
        out.push_back({c.Scalar(), Line(c)});
      }
    } else {
      diags_.Error(DiagCode::kMissingKey, At(key_line),
                   fmt::format("'condition' must be text or a list of text, not {}", Describe(node)));
    }
  }

  // A value position accepts a scalar or null; anything else is refused.
  bool ReadValue(const YAML::Node& node, std::string_view context, SigmaScalar& out) {
    out.line = Line(node);
    if (node.IsNull()) {
      out.is_null = true;
      return true;
    }
    if (!node.IsScalar()) {
      diags_.Error(DiagCode::kBadValue, At(node),
                   fmt::format("{}: a value must be a scalar or null, not {}", context, Describe(node)));
      return false;
    }
    out.text = node.Scalar();
    out.plain = node.Tag() == "?";
    return true;
  }

  void ReadSelection(const std::string& name, const YAML::Node& node, int line, std::vector<SigmaSelection>& out) {
    SigmaSelection sel;
    sel.name = name;
    sel.line = line;
    const std::string context = fmt::format("selection '{}'", name);
    if (node.IsMap()) {
      sel.kind = SigmaSelection::Kind::kMaps;
      sel.maps.push_back(ReadMap(node, context));
    } else if (node.IsSequence()) {
      bool any_map = false, any_other = false;
      for (const auto& item : node) (item.IsMap() ? any_map : any_other) = true;
      if (any_map && any_other) {
        diags_.Error(DiagCode::kBadValue, At(line),
                     fmt::format("{} mixes maps and plain values in one list", context));
        return;
      }
      sel.kind = any_map ? SigmaSelection::Kind::kMaps : SigmaSelection::Kind::kKeywords;
      for (const auto& item : node) {
        if (any_map) {
          sel.maps.push_back(ReadMap(item, context));
        } else {
          SigmaScalar v;
          if (ReadValue(item, context, v)) sel.keywords.push_back(std::move(v));
        }
      }
    } else if (node.IsScalar()) {
      sel.kind = SigmaSelection::Kind::kKeywords;
      SigmaScalar v;
      if (ReadValue(node, context, v)) sel.keywords.push_back(std::move(v));
    } else {
      sel.kind = SigmaSelection::Kind::kKeywords;  // null: empty, refused when lowered
    }
    out.push_back(std::move(sel));
  }

  SigmaMap ReadMap(const YAML::Node& node, const std::string& context) {
    SigmaMap map;
    map.line = Line(node);
    std::set<std::string> keys;
    for (const auto& kv : node) {
      if (!kv.first.IsScalar()) {
        diags_.Error(DiagCode::kBadValue, At(kv.first), fmt::format("{}: field names must be plain text", context));
        continue;
      }
      SigmaFieldSpec spec;
      spec.key = kv.first.Scalar();
      spec.line = Line(kv.first);
      if (!keys.insert(spec.key).second) {
        diags_.Error(DiagCode::kBadValue, At(kv.first),
                     fmt::format("{}: '{}' appears twice in one map", context, spec.key));
        continue;
      }
      const std::string field_context = fmt::format("{}, field '{}'", context, spec.key);
      if (kv.second.IsSequence()) {
        spec.is_list = true;
        for (const auto& item : kv.second) {
          SigmaScalar v;
          if (ReadValue(item, field_context, v)) spec.values.push_back(std::move(v));
        }
      } else {
        SigmaScalar v;
        if (!ReadValue(kv.second, field_context, v)) continue;
        if (v.is_null) v.line = spec.line;  // yaml-cpp marks an empty value at the next token
        spec.values.push_back(std::move(v));
      }
      map.fields.push_back(std::move(spec));
    }
    return map;
  }

  std::string file_;
  int first_line_;
  Diagnostics& diags_;
  Location where_;
};

void ReadDocument(const YAML::Node& doc, std::string_view filename, int first_line, Diagnostics& diags,
                  ReadResult& result) {
  if (!doc || doc.IsNull()) return;  // an empty document, e.g. a trailing '---'
  const Location where{std::string(filename), LineOf(doc.Mark(), first_line), ""};
  size_t budget = kMaxYamlNodesPerDocument;
  if (!WithinBounds(doc, 0, budget)) {
    ++result.rules_seen;
    ++result.rules_refused;
    diags.Error(DiagCode::kYamlTooComplex, where,
                fmt::format("the document has more than {} nodes (aliases counted each time they are used) "
                            "or nests deeper than {}",
                            kMaxYamlNodesPerDocument, kMaxYamlDepth));
    return;
  }
  if (!doc.IsMap() || !DocumentReader::LooksLikeRule(doc)) {
    diags.Error(DiagCode::kNotARule, where,
                doc.IsMap() ? "the document has none of 'title', 'id', 'logsource', 'detection'"
                            : fmt::format("the document is {}, not a map", Describe(doc)));
    return;
  }
  ++result.rules_seen;
  const size_t errors_before = diags.error_count();
  SigmaRule rule;
  DocumentReader(filename, first_line, diags).Read(doc, rule);
  if (diags.error_count() != errors_before) {
    ++result.rules_refused;
  } else {
    result.rules.push_back(std::move(rule));
  }
}

}  // namespace

ReadResult ReadSigma(std::string_view text, std::string_view filename, Diagnostics& diags) {
  ReadResult result;
  const Location file_where{std::string(filename), 0, ""};
  if (text.size() > kMaxRuleFileBytes) {
    diags.Error(DiagCode::kFileTooLarge, file_where,
                fmt::format("{} bytes (limit {})", text.size(), kMaxRuleFileBytes));
    return result;
  }
  int line = 0;
  if (MaxFlowNesting(text, &line) > kMaxYamlFlowNesting) {
    diags.Error(DiagCode::kYamlTooComplex, {std::string(filename), line, ""},
                fmt::format("'[' / '{{' nested deeper than {}", kMaxYamlFlowNesting));
    return result;
  }
  for (const DocumentText& piece : SplitDocuments(text)) {
    const Location where{std::string(filename), piece.first_line, ""};
    // yaml-cpp reports everything by exception; none may leave this function.
    try {
      ReadDocument(YAML::Load(std::string(piece.text)), filename, piece.first_line, diags, result);
    } catch (const YAML::DeepRecursion& e) {
      diags.Error(DiagCode::kYamlTooComplex, {where.file, LineOf(e.mark, piece.first_line), ""}, e.msg);
    } catch (const YAML::Exception& e) {
      diags.Error(DiagCode::kYamlSyntax, {where.file, LineOf(e.mark, piece.first_line), ""}, e.msg);
    } catch (const std::exception& e) {
      diags.Error(DiagCode::kYamlSyntax, where, fmt::format("yaml-cpp: {}", e.what()));
    }
  }
  return result;
}

}  // namespace vigil::content
