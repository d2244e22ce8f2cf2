#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "identity/v1/identity.pb.h"

namespace admissions::enrollment {

/// One CSV record (RFC 4180): fields split on commas, quoted fields may hold commas,
/// doubled quotes and line breaks. `line` is the physical line where it starts.
struct CsvRecord {
  int line = 0;
  std::vector<std::string> fields;
  /// Why the record cannot be read (too long, bad quoting); its fields are then empty.
  std::string error;
};

/// Reads CSV records one at a time out of a buffer, keeping at most
/// `max_record_bytes` of a record: a longer one is scanned to its end (quotes
/// respected), reported with an error and never held in memory.
class CsvReader {
 public:
  CsvReader(std::string_view data, size_t max_record_bytes);

  /// False when the data is exhausted.
  bool Next(CsvRecord* record);

 private:
  void SkipRestOfLine();

  std::string_view data_;
  size_t max_record_bytes_;
  size_t pos_ = 0;
  int line_ = 1;
};

/// The header every roster starts with, exactly.
inline constexpr char kRosterHeader[] = "name,idType,idNumber,gender,major,direction";

/// A good roster line, validated and normalised. `id_number` is the normalised plain
/// text (identity's NormalizeIdNumber): it only lives in memory on its way to the blind
/// index and the mask.
struct RosterLine {
  int line = 0;
  std::string name;
  identity::v1::IdType id_type = identity::v1::ID_TYPE_UNSPECIFIED;
  std::string id_number;
  std::string gender, major, direction;
};

struct RosterRejection {
  int line = 0;
  std::string reason;
};

struct RosterLimits {
  size_t max_record_bytes = 4096;  // A longer line is rejected (and not kept).
  int max_gender_chars = 16;
  int max_major_chars = 128;
  int max_direction_chars = 128;
};

/// Reads a roster CSV: UTF-8 with or without a BOM, header `kRosterHeader`, then one
/// candidate per record. Every bad record becomes a rejection with a reason; the good
/// ones come out normalised. `direction` may be empty; every other field is required.
///
/// Encoding: the header must be exactly `kRosterHeader` (a UTF-16 file or any other
/// header is refused as a whole, nothing read). A data line that is not valid UTF-8
/// (e.g. a GBK export) is rejected on its own with a reason saying so.
class RosterParser {
 public:
  explicit RosterParser(std::string_view csv, RosterLimits limits = {});

  /// Checks the encoding marks and the header. INVALID_ARGUMENT (field `csv`) names
  /// what is wrong; nothing may be imported then.
  absl::Status ReadHeader();

  enum class Outcome { kLine, kRejected, kEnd };
  /// The next non-blank record: a good line or a rejection. Blank lines are skipped.
  Outcome Next(RosterLine* line, RosterRejection* rejection);

 private:
  std::string_view csv_;
  RosterLimits limits_;
  CsvReader reader_;
  CsvRecord record_;
  // Type and normalised number -> the line that had it first.
  absl::flat_hash_map<std::string, int> seen_;
};

/// True when `s` is well-formed UTF-8 (no overlongs, surrogates or code points past
/// U+10FFFF).
bool IsValidUtf8(std::string_view s);
/// Code points of valid UTF-8 text.
int Utf8Length(std::string_view s);

}  // namespace admissions::enrollment
