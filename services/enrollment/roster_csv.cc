#include "enrollment/roster_csv.h"

#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "identity/validation.h"

namespace admissions::enrollment {
namespace {

constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

std::string_view StripBom(std::string_view csv) {
  if (csv.substr(0, kUtf8Bom.size()) == kUtf8Bom) csv.remove_prefix(kUtf8Bom.size());
  return csv;
}

std::string Trimmed(const std::string& s) {
  absl::string_view t = absl::StripAsciiWhitespace(s);
  return std::string(t.data(), t.size());
}

// Control characters; line breaks and tabs count only when `multiline` is false.
bool HasControl(std::string_view s, bool multiline) {
  for (unsigned char c : s) {
    if (multiline && (c == '\n' || c == '\r' || c == '\t')) continue;
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

// A value quoted into a reason: at most 40 bytes, cut on a character boundary.
std::string Quoted(std::string_view v) {
  if (v.size() > 40) {
    size_t n = 40;
    while (n > 0 && (static_cast<unsigned char>(v[n]) & 0xC0) == 0x80) --n;
    return absl::StrCat("\"", std::string(v.substr(0, n)), "...\"");
  }
  return absl::StrCat("\"", std::string(v), "\"");
}

constexpr const char* kFieldNames[] = {"name",   "idType", "idNumber",
                                       "gender", "major",  "direction"};

}  // namespace

bool IsValidUtf8(std::string_view s) {
  size_t i = 0, n = s.size();
  while (i < n) {
    unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      unsigned char cc = s[i + k];
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += len;
  }
  return true;
}

int Utf8Length(std::string_view s) {
  int n = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) ++n;
  }
  return n;
}

CsvReader::CsvReader(std::string_view data, size_t max_record_bytes)
    : data_(data), max_record_bytes_(max_record_bytes) {}

void CsvReader::SkipRestOfLine() {
  const void* nl = std::memchr(data_.data() + pos_, '\n', data_.size() - pos_);
  if (nl == nullptr) {
    pos_ = data_.size();
    return;
  }
  pos_ = static_cast<const char*>(nl) - data_.data() + 1;
  ++line_;
}

bool CsvReader::Next(CsvRecord* record) {
  if (pos_ >= data_.size()) return false;
  record->line = line_;
  record->fields.clear();
  record->error.clear();
  size_t kept = 0;  // Bytes of the record kept so far.
  bool too_long = false;
  std::string field;
  auto keep = [&](std::string_view bytes) {
    if (too_long) return;
    kept += bytes.size();
    if (kept > max_record_bytes_) {
      too_long = true;
      field.clear();
      field.shrink_to_fit();
      record->fields.clear();
      record->fields.shrink_to_fit();
      return;
    }
    field.append(bytes.data(), bytes.size());
  };
  auto end_field = [&] {
    if (!too_long) record->fields.push_back(std::move(field));
    field.clear();
  };
  const size_t n = data_.size();
  for (;;) {
    // At the start of a field.
    if (pos_ < n && data_[pos_] == '"') {
      ++pos_;
      for (;;) {
        if (pos_ >= n) {
          record->fields.clear();
          record->error = "a quoted field is not closed (a \" is missing)";
          return true;
        }
        // Copy up to the next quote, counting the line breaks inside.
        size_t q = data_.find('"', pos_);
        size_t stop = q == std::string_view::npos ? n : q;
        std::string_view chunk = data_.substr(pos_, stop - pos_);
        for (char c : chunk) {
          if (c == '\n') ++line_;
        }
        keep(chunk);
        pos_ = stop;
        if (q == std::string_view::npos) continue;  // Reports the missing quote above.
        if (pos_ + 1 < n && data_[pos_ + 1] == '"') {
          keep("\"");
          pos_ += 2;
          continue;
        }
        ++pos_;  // The closing quote.
        break;
      }
      // After a closing quote: a comma, the end of the line, or the end of the data.
      if (pos_ < n && data_[pos_] == '\r' && pos_ + 1 < n && data_[pos_ + 1] == '\n') ++pos_;
      if (pos_ < n && data_[pos_] != ',' && data_[pos_] != '\n') {
        record->fields.clear();
        record->error = "a quoted field has characters after its closing quote";
        SkipRestOfLine();
        return true;
      }
    } else {
      size_t stop = pos_;
      while (stop < n && data_[stop] != ',' && data_[stop] != '\n') ++stop;
      size_t end = stop;
      if (stop < n && data_[stop] == '\n' && end > pos_ && data_[end - 1] == '\r') --end;
      if (stop == n && end > pos_ && data_[end - 1] == '\r') --end;
      keep(data_.substr(pos_, end - pos_));
      pos_ = stop;
    }
    end_field();
    if (pos_ >= n) break;
    if (data_[pos_] == '\n') {
      ++pos_;
      ++line_;
      break;
    }
    ++pos_;  // A comma: the next field.
    if (pos_ >= n) {
      end_field();  // A trailing comma ends with an empty field.
      break;
    }
  }
  if (too_long) {
    record->fields.clear();
    record->error = absl::StrCat("the line is longer than ", max_record_bytes_, " bytes");
  }
  return true;
}

RosterParser::RosterParser(std::string_view csv, RosterLimits limits)
    : csv_(csv), limits_(limits), reader_(StripBom(csv), limits.max_record_bytes) {}

absl::Status RosterParser::ReadHeader() {
  auto bad = [](std::string_view why) { return InvalidField("csv", why); };
  if (csv_.substr(0, 2) == "\xFF\xFE" || csv_.substr(0, 2) == "\xFE\xFF") {
    return bad("the file is UTF-16; save it as UTF-8 (with or without a BOM) and import again");
  }
  if (StripBom(csv_).empty()) {
    return bad(
        absl::StrCat("the file is empty; its first line must be the header ", kRosterHeader));
  }
  if (!reader_.Next(&record_)) {
    return bad(absl::StrCat("the first line must be the header ", kRosterHeader));
  }
  std::string found;
  for (size_t i = 0; i < record_.fields.size(); ++i) {
    if (i > 0) found += ",";
    found += record_.fields[i];
  }
  if (!record_.error.empty() || found != kRosterHeader) {
    std::string shown = !record_.error.empty() ? "a line that cannot be read"
                        : IsValidUtf8(found)   ? Quoted(found)
                                               : "text that is not UTF-8";
    return bad(absl::StrCat("the first line must be the header ", kRosterHeader, " exactly; found ",
                            shown, ". Nothing was imported"));
  }
  return absl::OkStatus();
}

RosterParser::Outcome RosterParser::Next(RosterLine* out, RosterRejection* rejection) {
  for (;;) {
    if (!reader_.Next(&record_)) return Outcome::kEnd;
    auto reject = [&](std::string reason) {
      rejection->line = record_.line;
      rejection->reason = std::move(reason);
      return Outcome::kRejected;
    };
    if (!record_.error.empty()) return reject(record_.error);
    auto& f = record_.fields;
    if (f.size() == 1 && Trimmed(f[0]).empty()) continue;  // A blank line.
    if (f.size() != 6) {
      return reject(absl::StrCat("expected 6 fields (", kRosterHeader, "), found ", f.size()));
    }
    for (size_t i = 0; i < f.size(); ++i) {
      if (!IsValidUtf8(f[i])) {
        return reject("the line is not valid UTF-8 (the file may be GBK); save the file as UTF-8");
      }
      f[i] = Trimmed(f[i]);
      // Gender, major and direction may hold line breaks (quoted); the rest may not.
      if (HasControl(f[i], /*multiline=*/i >= 3)) {
        return reject(absl::StrCat(kFieldNames[i], " has a control character"));
      }
    }
    for (int i = 0; i < 5; ++i) {
      if (f[i].empty()) return reject(absl::StrCat("missing field ", kFieldNames[i]));
    }
    identity::v1::IdType type;
    if (!identity::v1::IdType_Parse(f[1], &type) || type == identity::v1::ID_TYPE_UNSPECIFIED) {
      return reject(absl::StrCat("unknown ID type ", Quoted(f[1]),
                                 ": use RESIDENT_ID, PASSPORT, HK_MACAO_PERMIT or TAIWAN_PERMIT"));
    }
    auto name = identity::NormalizeName(f[0]);
    if (!name.ok()) return reject(absl::StrCat("name: ", std::string(name.status().message())));
    auto number = identity::NormalizeIdNumber(type, f[2]);
    if (!number.ok()) {
      return reject(absl::StrCat("idNumber: ", std::string(number.status().message())));
    }
    if (Utf8Length(f[3]) > limits_.max_gender_chars) {
      return reject(
          absl::StrCat("gender is longer than ", limits_.max_gender_chars, " characters"));
    }
    if (Utf8Length(f[4]) > limits_.max_major_chars) {
      return reject(absl::StrCat("major is longer than ", limits_.max_major_chars, " characters"));
    }
    if (Utf8Length(f[5]) > limits_.max_direction_chars) {
      return reject(
          absl::StrCat("direction is longer than ", limits_.max_direction_chars, " characters"));
    }
    std::string key = absl::StrCat(static_cast<int>(type), ":", *number);
    auto [it, inserted] = seen_.emplace(std::move(key), record_.line);
    if (!inserted) {
      return reject(absl::StrCat("duplicate in file: line ", it->second,
                                 " has the same idType and idNumber"));
    }
    out->line = record_.line;
    out->name = *std::move(name);
    out->id_type = type;
    out->id_number = *std::move(number);
    out->gender = std::move(f[3]);
    out->major = std::move(f[4]);
    out->direction = std::move(f[5]);
    return Outcome::kLine;
  }
}

}  // namespace admissions::enrollment
