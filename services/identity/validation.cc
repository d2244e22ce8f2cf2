#include "identity/validation.h"

#include <cctype>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace admissions::identity {
namespace {

bool AllDigits(std::string_view s) {
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

bool ValidDate(int y, int m, int d) {
  if (y < 1900 || y > 2100 || m < 1 || m > 12 || d < 1) return false;
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int days = kDays[m - 1];
  if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) days = 29;
  return d <= days;
}

int Num(std::string_view s) {
  int n = 0;
  for (char c : s) n = n * 10 + (c - '0');
  return n;
}

// Counts UTF-8 code points; -1 when the text is not valid UTF-8.
int CodePoints(std::string_view s) {
  int count = 0;
  for (size_t i = 0; i < s.size();) {
    unsigned char c = s[i];
    size_t len = c < 0x80           ? 1
                 : (c >> 5) == 0x6  ? 2
                 : (c >> 4) == 0xE  ? 3
                 : (c >> 3) == 0x1E ? 4
                                    : 0;
    if (len == 0 || i + len > s.size()) return -1;
    for (size_t k = 1; k < len; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2) return -1;
    }
    i += len;
    ++count;
  }
  return count;
}

}  // namespace

bool IsValidResidentId(std::string_view id) {
  if (id.size() != 18 || !AllDigits(id.substr(0, 17))) return false;
  char last = id[17];
  if (!(last >= '0' && last <= '9') && last != 'X') return false;
  if (!ValidDate(Num(id.substr(6, 4)), Num(id.substr(10, 2)), Num(id.substr(12, 2)))) {
    return false;
  }
  static const int kWeights[] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
  int sum = 0;
  for (int i = 0; i < 17; ++i) sum += (id[i] - '0') * kWeights[i];
  static const char kCheck[] = "10X98765432";
  return kCheck[sum % 11] == last;
}

absl::StatusOr<std::string> NormalizeIdNumber(v1::IdType type, std::string_view raw,
                                              std::string_view field) {
  std::string id = absl::AsciiStrToUpper(absl::StripAsciiWhitespace(std::string(raw)));
  if (id.empty()) return InvalidField(field, "the ID number is required");
  switch (type) {
    case v1::RESIDENT_ID:
      if (id.size() != 18) {
        return InvalidField(field, "a resident ID number has 18 characters");
      }
      if (!IsValidResidentId(id)) {
        return InvalidField(field,
                            "the resident ID number is not valid (its check digit or birth date "
                            "is wrong)");
      }
      return id;
    case v1::PASSPORT:
    case v1::HK_MACAO_PERMIT:
    case v1::TAIWAN_PERMIT:
      if (id.size() < 5 || id.size() > 20) {
        return InvalidField(field, "the ID number must have 5 to 20 letters or digits");
      }
      for (char c : id) {
        if (!std::isalnum(static_cast<unsigned char>(c))) {
          return InvalidField(field, "the ID number may hold only letters and digits");
        }
      }
      return id;
    default:
      return InvalidField("idType",
                          "idType must be RESIDENT_ID, PASSPORT, HK_MACAO_PERMIT or TAIWAN_PERMIT");
  }
}

absl::Status ValidatePhone(std::string_view phone, std::string_view field) {
  if (phone.size() != 11 || phone[0] != '1' || phone[1] < '3' || phone[1] > '9' ||
      !AllDigits(phone)) {
    return InvalidField(field, "the phone must be a mainland mobile number of 11 digits");
  }
  return absl::OkStatus();
}

absl::Status ValidatePassword(std::string_view password, std::string_view field) {
  int n = CodePoints(password);
  if (n < 8 || n > 64) return InvalidField(field, "the password must have 8 to 64 characters");
  return absl::OkStatus();
}

absl::StatusOr<std::string> NormalizeName(std::string_view name) {
  std::string out(absl::StripAsciiWhitespace(std::string(name)));
  int n = CodePoints(out);
  if (n < 1 || n > 64) return InvalidField("name", "the name must have 1 to 64 characters");
  for (unsigned char c : out) {
    if (c < 0x20 || c == 0x7f) return InvalidField("name", "the name has a control character");
  }
  return out;
}

std::string MaskIdNumber(std::string_view id) {
  if (id.size() < 8) {
    if (id.size() <= 2) return std::string(id.size(), '*');
    return std::string(id.substr(0, 1)) + std::string(id.size() - 2, '*') +
           std::string(id.substr(id.size() - 1));
  }
  return std::string(id.substr(0, 3)) + std::string(id.size() - 7, '*') +
         std::string(id.substr(id.size() - 4));
}

std::string MaskPhone(std::string_view phone) {
  if (phone.size() < 8) return std::string(phone.size(), '*');
  return std::string(phone.substr(0, 3)) + std::string(phone.size() - 7, '*') +
         std::string(phone.substr(phone.size() - 4));
}

}  // namespace admissions::identity
