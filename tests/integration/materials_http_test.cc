// Materials through the gateway over real HTTP: requirements, streamed uploads with every
// bad input the issue lists, resumable uploads (a cut, a SIGKILL), submit, review and the
// journey's MATERIALS step, with the real PostgreSQL and Redis that `make test` starts.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/crypto.h"
#include "integration/harness.h"

namespace admissions::testing {
namespace {

const std::string kHeader = "name,idType,idNumber,gender,major,direction\n";
const std::string kPngMagic("\x89PNG\r\n\x1A\n\0\0\0\x0DIHDR", 16);
const std::string kJpegMagic("\xFF\xD8\xFF\xE0\0\x10JFIF\0", 11);

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

std::string Png(size_t size, char fill = 'p') {
  std::string s = kPngMagic;
  s.resize(size, fill);
  return s;
}

// Deterministic pseudo-random bytes of `size` behind a PNG header.
std::string BigPng(size_t size) {
  std::string s = kPngMagic;
  s.reserve(size);
  uint64_t x = 0x9E3779B97F4A7C15ull;
  while (s.size() < size) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    s.push_back(static_cast<char>(x));
  }
  return s;
}

// ---- A raw HTTP/1.1 exchange whose body is written in pieces while the answer is read on
// another thread, so that an answer sent before the body ends is seen, and the connection
// can be cut on purpose.

struct RawAnswer {
  int status = 0;
  std::map<std::string, std::string> headers;
  std::string body;
  size_t sent = 0;  // Body bytes the socket took.
  bool answered_before_end = false;
};

int Connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  timeval tv{30, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  return fd;
}

void ParseAnswer(const std::string& raw, RawAnswer* out) {
  size_t end = raw.find("\r\n\r\n");
  if (end == std::string::npos || raw.size() < 12) return;
  out->status = std::atoi(raw.c_str() + 9);
  std::vector<std::string> lines = absl::StrSplit(raw.substr(0, end), "\r\n");
  for (size_t i = 1; i < lines.size(); ++i) {
    size_t colon = lines[i].find(':');
    if (colon == std::string::npos) continue;
    std::string name = lines[i].substr(0, colon);
    for (auto& c : name) c = static_cast<char>(std::tolower(c));
    std::string value = lines[i].substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    out->headers[name] = value;
  }
  out->body = raw.substr(end + 4);
}

// Reads until the answer's declared length is in, the peer closes, or 30 s pass.
std::string ReadAnswer(int fd) {
  std::string raw;
  char buf[65536];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    raw.append(buf, static_cast<size_t>(n));
    size_t end = raw.find("\r\n\r\n");
    if (end == std::string::npos) continue;
    std::string lower = raw.substr(0, end);
    for (auto& c : lower) c = static_cast<char>(std::tolower(c));
    size_t cl = lower.find("content-length:");
    if (cl != std::string::npos &&
        raw.size() >= end + 4 + std::strtoull(lower.c_str() + cl + 15, nullptr, 10)) {
      break;
    }
    if (cl == std::string::npos && lower.find("chunked") == std::string::npos) break;
    if (lower.find("chunked") != std::string::npos &&
        raw.find("\r\n0\r\n\r\n") != std::string::npos) {
      break;
    }
  }
  return raw;
}

// Sends `head` (request line and headers, ending in an empty line), then `body` in pieces
// of `piece` bytes (as chunked pieces when `chunked`), stopping after `cut_after` bytes when
// given (the connection is then reset, no answer read).
RawAnswer Exchange(int port, const std::string& head, const std::string& body, bool chunked,
                   size_t piece = 64 * 1024, size_t cut_after = std::string::npos,
                   const std::function<void()>& before_cut = {}) {
  RawAnswer out;
  int fd = Connect(port);
  if (fd < 0) return out;
  std::atomic<bool> done{false};
  std::string raw;
  std::thread reader;
  const bool cut = cut_after != std::string::npos;
  if (!cut) {
    reader = std::thread([&] {
      raw = ReadAnswer(fd);
      done = true;
    });
  }
  (void)send(fd, head.data(), head.size(), MSG_NOSIGNAL);
  bool failed = false;
  for (size_t off = 0; off < body.size() && !failed; off += piece) {
    if (cut && off >= cut_after) break;
    if (done) {
      out.answered_before_end = true;
      break;
    }
    std::string p = body.substr(off, piece);
    std::string wire =
        chunked ? absl::StrCat(absl::Hex(p.size()), "\r\n", p, "\r\n") : std::move(p);
    size_t at = 0;
    while (at < wire.size()) {
      ssize_t n = send(fd, wire.data() + at, wire.size() - at, MSG_NOSIGNAL);
      if (n <= 0) {
        failed = true;
        break;
      }
      at += static_cast<size_t>(n);
    }
    if (!failed) out.sent = off + std::min(piece, body.size() - off);
  }
  if (cut) {
    if (before_cut) before_cut();
    linger lg{1, 0};  // Reset, as a dropped connection does.
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    close(fd);
    return out;
  }
  if (failed) out.answered_before_end = true;
  if (chunked && !failed && !out.answered_before_end) {
    (void)send(fd, "0\r\n\r\n", 5, MSG_NOSIGNAL);
  }
  reader.join();
  close(fd);
  ParseAnswer(raw, &out);
  return out;
}

std::string PutHead(const std::string& target, const std::string& token, const std::string& extra) {
  return absl::StrCat("PUT ", target, " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ",
                      token, "\r\nContent-Type: application/octet-stream\r\n", extra, "\r\n");
}

class MaterialsHttpTest : public ::testing::Test {
 protected:
  Stack& s = Stack::Get();

  void SetUp() override {
    s.RedisDeleteMatching("rl:*");
    if (op_.empty()) op_ = Login(s, "operator", "operator-dev-pass").first;
    ASSERT_FALSE(op_.empty());
  }

  static std::string Unique() { return HexEncode(RandomBytes(4)); }

  struct Setup {
    ReadyCandidate rc;
    std::string school, exam, admin;
  };

  std::string CreateExam(const std::string& school, absl::Time opens, absl::Time closes) {
    auto r =
        s.Call("POST", "/v1/admin/exams",
               absl::StrCat(R"({"schoolId":")", school,
                            R"(","title":"复试","mode":"SINGLE_CAMERA","commitmentText":"承诺",)",
                            R"("materialsOpenAt":")", Rfc3339(opens), R"(","materialsCloseAt":")",
                            Rfc3339(closes), R"("})"),
               Bearer(op_));
    EXPECT_EQ(r.status, 201) << r.body;
    return r.Str("examId");
  }

  void Enroll(const std::string& exam, const ReadyCandidate& rc) {
    auto h = Bearer(op_);
    h["Content-Type"] = "text/csv";
    auto r = s.Call("POST", "/v1/admin/exams/" + exam + "/roster",
                    kHeader + "张三,RESIDENT_ID," + rc.c.id_number + ",男,计算机,人工智能\n", h);
    ASSERT_EQ(r.status, 200) << r.body;
  }

  void ReadNotice(const std::string& token) {
    auto n = s.Call("GET", "/v1/notice", "", Bearer(token));
    ASSERT_EQ(n.status, 200) << n.body;
    auto r =
        s.Call("POST", "/v1/notice:read", R"({"version":)" + n.Str("version") + "}", Bearer(token));
    ASSERT_EQ(r.status, 204) << r.body;
  }

  std::string SchoolAdmin(const std::string& school) {
    std::string login = "madmin-" + Unique();
    auto r = s.Call("POST", "/v1/admin/staff",
                    absl::StrCat(R"({"schoolId":")", school, R"(","role":"SCHOOL_ADMIN","login":")",
                                 login, R"(","password":"admin-pass-1","name":"管理员"})"),
                    Bearer(op_));
    EXPECT_EQ(r.status, 201) << r.body;
    return Login(s, login, "admin-pass-1").first;
  }

  // A verified candidate on the roster of a new exam whose window is open (or as given).
  Setup Candidate(absl::Duration opens_in = -absl::Hours(1),
                  absl::Duration closes_in = absl::Hours(1)) {
    Setup st;
    st.rc = VerifiedCandidate(s);
    ReadNotice(st.rc.token);
    auto school =
        s.Call("POST", "/v1/admin/schools",
               absl::StrCat(R"({"code":"M)", Unique(), R"(","name":"材料大学"})"), Bearer(op_));
    EXPECT_EQ(school.status, 201) << school.body;
    st.school = school.Str("schoolId");
    st.exam = CreateExam(st.school, absl::Now() + opens_in, absl::Now() + closes_in);
    Enroll(st.exam, st.rc);
    st.admin = SchoolAdmin(st.school);
    return st;
  }

  std::string Requirement(const Setup& st, const std::string& kind, bool required, int min, int max,
                          int64_t max_bytes, const std::string& formats = "") {
    std::string json =
        absl::StrCat(R"({"kind":")", kind, R"(","title":"材料 )", kind, R"(","required":)",
                     required ? "true" : "false", R"(,"minCount":)", min, R"(,"maxCount":)", max,
                     R"(,"maxBytes":)", max_bytes);
    if (!formats.empty()) absl::StrAppend(&json, R"(,"formats":[)", formats, "]");
    auto r = s.Call("POST", "/v1/admin/exams/" + st.exam + "/material-requirements", json + "}",
                    Bearer(st.admin));
    EXPECT_EQ(r.status, 201) << r.body;
    return r.Str("requirementId");
  }

  std::string FilesPath(const Setup& st, const std::string& req, const std::string& name) {
    return absl::StrCat("/v1/exams/", st.exam, "/materials/", req, "/files?filename=", name);
  }

  HttpResponse Upload(const Setup& st, const std::string& req, const std::string& name,
                      const std::string& body) {
    auto h = Bearer(st.rc.token);
    h["Content-Type"] = "application/octet-stream";
    return s.Call("PUT", FilesPath(st, req, name), body, h);
  }

  HttpResponse Submit(const Setup& st) {
    return s.Call("POST", "/v1/exams/" + st.exam + "/materials:submit", "", Bearer(st.rc.token));
  }

  std::string Step(const Setup& st) {
    auto r = s.Call("GET", "/v1/exams/" + st.exam + "/journey", "", Bearer(st.rc.token));
    EXPECT_EQ(r.status, 200) << r.body;
    for (const auto& v : r.Find("steps")->list_value().values()) {
      const auto& f = v.struct_value().fields();
      if (f.at("step").string_value() == "MATERIALS") return f.at("status").string_value();
    }
    return "";
  }

  int Items(const Setup& st) {
    return SqlInt(
        s, "SELECT count(*) FROM materials.items WHERE account_id = '" + st.rc.c.account_id + "'");
  }

  int TempFiles() {
    int n = 0;
    for (auto& e : std::filesystem::directory_iterator(s.materials_blob_dir() + "/tmp")) {
      n += e.is_regular_file();
    }
    return n;
  }

  static std::string op_;
};
std::string MaterialsHttpTest::op_;

TEST_F(MaterialsHttpTest, AnImageIsUploadedListedAndDownloadedWithItsHash) {
  Setup st = Candidate();
  std::string req = Requirement(st, "IMAGE", true, 1, 5, 1000000);
  std::string png = Png(5000);
  auto up = Upload(st, req, "%E7%AE%80%E5%8E%86.png", png);  // 简历.png
  ASSERT_EQ(up.status, 201) << up.body;
  EXPECT_EQ(up.Str("sha256"), HexEncode(Sha256(png)));
  EXPECT_EQ(up.Str("sizeBytes"), "5000");
  std::string item = up.Str("itemId");

  auto m = s.Call("GET", "/v1/exams/" + st.exam + "/materials", "", Bearer(st.rc.token));
  ASSERT_EQ(m.status, 200) << m.body;
  EXPECT_EQ(m.Str("status"), "DRAFT");
  const auto& r0 = m.Find("requirements")->list_value().values(0).struct_value().fields();
  const auto& i0 = r0.at("items").list_value().values(0).struct_value().fields();
  EXPECT_EQ(i0.at("filename").string_value(), "简历.png");
  EXPECT_EQ(i0.at("sha256").string_value(), HexEncode(Sha256(png)));

  // The owner, whole; the school's admin, a range.
  std::string content = "/v1/exams/" + st.exam + "/materials/items/" + item + "/content";
  auto whole = s.Call("GET", content, "", Bearer(st.rc.token));
  ASSERT_EQ(whole.status, 200) << whole.body.substr(0, 200);
  EXPECT_EQ(whole.body, png);
  EXPECT_EQ(whole.headers["content-type"], "image/png");
  EXPECT_EQ(whole.headers["accept-ranges"], "bytes");
  EXPECT_EQ(whole.headers["content-disposition"],
            "attachment; filename=\"__.png\"; filename*=UTF-8''%E7%AE%80%E5%8E%86.png");
  auto h = Bearer(st.admin);
  h["Range"] = "bytes=10-19";
  auto part = s.Call("GET", content, "", h);
  ASSERT_EQ(part.status, 206) << part.body;
  EXPECT_EQ(part.body, png.substr(10, 10));
  EXPECT_EQ(part.headers["content-range"], "bytes 10-19/5000");
  h["Range"] = "bytes=9000-";
  auto none = s.Call("GET", content, "", h);
  EXPECT_EQ(none.status, 416) << none.body;
  EXPECT_EQ(none.headers["content-range"], "bytes */5000");
}

TEST_F(MaterialsHttpTest, ContentDecidesTheFormatNotTheName) {
  Setup st = Candidate();
  std::string req = Requirement(st, "IMAGE", true, 1, 5, 1000000, R"("jpg","png")");
  ExpectError(Upload(st, req, "photo.jpg",
                     "\x7F"
                     "ELF" +
                         std::string(2000, '\x01')),
              415, "UNSUPPORTED_FORMAT");
  ExpectError(Upload(st, req, "photo.jpg", "%PDF-1.4\n" + std::string(2000, ' ')), 415,
              "UNSUPPORTED_FORMAT");
  ExpectError(Upload(st, req, "notes.png", "just text, honestly\n"), 415, "UNSUPPORTED_FORMAT");
  EXPECT_EQ(Items(st), 0);
  auto ok = Upload(st, req, "photo.png", kJpegMagic + std::string(100, 'j'));
  ASSERT_EQ(ok.status, 201) << ok.body;  // A JPEG named .png is a JPEG: allowed here.
  EXPECT_EQ(s.Sql("SELECT format FROM materials.items WHERE id = '" + ok.Str("itemId") + "'"),
            "jpg");
}

TEST_F(MaterialsHttpTest, TwentyMegabytesAndOneByteGetsA413WhileSending) {
  Setup st = Candidate();
  const int64_t limit = 20 * 1000 * 1000;
  std::string req = Requirement(st, "IMAGE", true, 1, 5, limit);
  std::string body = Png(static_cast<size_t>(limit) + 1);
  // Declared: refused before a byte is read.
  auto declared = CallExpectingEarlyAnswer(
      s, "PUT", FilesPath(st, req, "big.png"), body,
      {{"Authorization", "Bearer " + st.rc.token}, {"Content-Type", "application/octet-stream"}});
  ExpectError(declared, 413, "PAYLOAD_TOO_LARGE");
  // Chunked: refused once the running total passes the limit, while the client still sends.
  auto chunked = Exchange(
      s.gateway_port(),
      PutHead(FilesPath(st, req, "big.png"), st.rc.token, "Transfer-Encoding: chunked\r\n"), body,
      /*chunked=*/true);
  EXPECT_EQ(chunked.status, 413) << chunked.body;
  EXPECT_NE(chunked.body.find("PAYLOAD_TOO_LARGE"), std::string::npos) << chunked.body;
  EXPECT_EQ(Items(st), 0);
  // Exactly the limit is fine.
  auto exact = Upload(st, req, "exact.png", body.substr(0, static_cast<size_t>(limit)));
  EXPECT_EQ(exact.status, 201) << exact.body;
  EXPECT_TRUE(PollUntil(10, [&] { return TempFiles() == 0; }));
}

TEST_F(MaterialsHttpTest, FilenamesAreSanitisedOrRefused) {
  Setup st = Candidate();
  std::string req = Requirement(st, "IMAGE", true, 1, 5, 1000000);
  auto dots = Upload(st, req, "..%2F..%2Fetc%2Fpasswd.png", Png(100));
  ASSERT_EQ(dots.status, 201) << dots.body;
  EXPECT_EQ(s.Sql("SELECT filename FROM materials.items WHERE id = '" + dots.Str("itemId") + "'"),
            "passwd.png");
  // A NUL never reaches storage: the gateway refuses it in a query parameter; were it to
  // pass, the service strips it.
  auto nul = Upload(st, req, "a%00b.png", Png(100));
  if (nul.status == 400) {
    ExpectError(nul, 400, "INVALID_ARGUMENT", "filename");
  } else {
    ASSERT_EQ(nul.status, 201) << nul.body;
    EXPECT_EQ(s.Sql("SELECT filename FROM materials.items WHERE id = '" + nul.Str("itemId") + "'"),
              "ab.png");
  }
  EXPECT_EQ(SqlInt(s,
                   "SELECT count(*) FROM materials.items WHERE position(chr(1) in filename) > 0 "
                   "OR filename LIKE '%/%'"),
            0);
  auto longname = Upload(st, req, std::string(1000, 'a') + ".png", Png(100));
  ASSERT_EQ(longname.status, 201) << longname.body;
  std::string kept =
      s.Sql("SELECT filename FROM materials.items WHERE id = '" + longname.Str("itemId") + "'");
  EXPECT_EQ(kept.size(), 200u);
  EXPECT_EQ(kept.substr(196), ".png");
  ExpectError(Upload(st, req, "..%2F", Png(100)), 400, "INVALID_ARGUMENT", "filename");
  ExpectError(Upload(st, req, "", Png(100)), 400, "INVALID_ARGUMENT", "filename");
  // The stored name is generated: nothing on disk carries the client's name.
  for (auto& e : std::filesystem::recursive_directory_iterator(s.materials_blob_dir())) {
    EXPECT_EQ(e.path().filename().string().find("passwd"), std::string::npos);
  }
}

TEST_F(MaterialsHttpTest, ASixthImageWhereFiveAreAllowedIsRefused) {
  Setup st = Candidate();
  std::string req = Requirement(st, "IMAGE", true, 1, 5, 1000000);
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(Upload(st, req, "p.png", Png(100 + i)).status, 201);
  }
  auto sixth = Upload(st, req, "p.png", Png(200));
  ExpectError(sixth, 409, "COUNT_LIMIT");
  EXPECT_EQ(sixth.Str("error.details.maxCount"), "5");
  EXPECT_EQ(Items(st), 5);
}

TEST_F(MaterialsHttpTest, SubmitNeedsTheWindowAndEveryRequiredItemThenLocksEverything) {
  Setup st = Candidate();
  std::string image = Requirement(st, "IMAGE", true, 2, 5, 1000000);
  std::string text = Requirement(st, "TEXT", true, 1, 1, 100);
  std::string optional = Requirement(st, "OTHER", false, 0, 3, 1000000);
  EXPECT_EQ(Step(st), "TODO");
  auto unmet = Submit(st);
  ExpectError(unmet, 409, "REQUIREMENTS_UNMET");
  EXPECT_EQ(unmet.Str("error.details.missing"), image + "," + text) << unmet.body;
  ASSERT_EQ(Upload(st, image, "a.png", Png(100)).status, 201);
  unmet = Submit(st);
  EXPECT_EQ(unmet.Str("error.details.missing"), image + "," + text) << unmet.body;
  ASSERT_EQ(Upload(st, image, "b.png", Png(101)).status, 201);
  auto put = s.Call("PUT", "/v1/exams/" + st.exam + "/materials/" + text + "/text",
                    R"({"text":"我的自我介绍"})", Bearer(st.rc.token));
  ASSERT_EQ(put.status, 201) << put.body;
  ExpectError(
      s.Call("PUT", "/v1/exams/" + st.exam + "/materials/" + text + "/text",
             absl::StrCat(R"({"text":")", std::string(101, 'x'), R"("})"), Bearer(st.rc.token)),
      400, "INVALID_ARGUMENT", "text");
  // The optional requirement is empty and does not block.
  auto ok = Submit(st);
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(ok.Str("status"), "SUBMITTED");
  EXPECT_EQ(Step(st), "IN_REVIEW");
  ExpectError(Upload(st, image, "c.png", Png(102)), 409, "ALREADY_SUBMITTED");
  ExpectError(Upload(st, optional, "c.png", Png(102)), 409, "ALREADY_SUBMITTED");
  auto item = s.Sql("SELECT id FROM materials.items WHERE account_id = '" + st.rc.c.account_id +
                    "' LIMIT 1");
  ExpectError(s.Call("DELETE", "/v1/exams/" + st.exam + "/materials/items/" + item, "",
                     Bearer(st.rc.token)),
              409, "ALREADY_SUBMITTED");
  ExpectError(Submit(st), 409, "ALREADY_SUBMITTED");
  auto created = s.Call("POST", "/v1/exams/" + st.exam + "/materials/" + image + "/uploads",
                        R"({"filename":"d.png","sizeBytes":100})", Bearer(st.rc.token));
  ExpectError(created, 409, "ALREADY_SUBMITTED");
}

TEST_F(MaterialsHttpTest, OutsideTheWindowNothingChanges) {
  Setup later = Candidate(absl::Hours(1), absl::Hours(2));
  std::string req = Requirement(later, "IMAGE", true, 1, 5, 1000000);
  ExpectError(Upload(later, req, "a.png", Png(100)), 409, "WINDOW_CLOSED");
  ExpectError(Submit(later), 409, "WINDOW_CLOSED");
  Setup past = Candidate(-absl::Hours(2), -absl::Hours(1));
  std::string optional = Requirement(past, "IMAGE", false, 0, 5, 1000000);
  ExpectError(Submit(past), 409, "WINDOW_CLOSED");
  EXPECT_EQ(Step(past), "NOT_REQUIRED");  // Only an optional requirement.
}

TEST_F(MaterialsHttpTest, ReturnEditResubmitApproveWithHistory) {
  Setup st = Candidate();
  std::string req = Requirement(st, "IMAGE", true, 1, 1, 1000000);
  auto first = Upload(st, req, "a.png", Png(100));
  ASSERT_EQ(first.status, 201);
  ASSERT_EQ(Submit(st).status, 200);
  std::string review =
      "/v1/admin/exams/" + st.exam + "/candidates/" + st.rc.c.account_id + "/materials:review";
  ExpectError(s.Call("POST", review, R"({"decision":"RETURN"})", Bearer(st.admin)), 400,
              "INVALID_ARGUMENT", "reason");
  ExpectError(s.Call("POST", review, R"({"decision":"RETURN","reason":"x"})", Bearer(st.rc.token)),
              403, "PERMISSION_DENIED");
  auto ret =
      s.Call("POST", review, R"({"decision":"RETURN","reason":"照片模糊"})", Bearer(st.admin));
  ASSERT_EQ(ret.status, 200) << ret.body;
  EXPECT_EQ(ret.Str("status"), "RETURNED");
  EXPECT_EQ(Step(st), "RETURNED");
  auto m = s.Call("GET", "/v1/exams/" + st.exam + "/materials", "", Bearer(st.rc.token));
  EXPECT_EQ(m.Str("returnReason"), "照片模糊");
  ASSERT_EQ(s.Call("DELETE", "/v1/exams/" + st.exam + "/materials/items/" + first.Str("itemId"), "",
                   Bearer(st.rc.token))
                .status,
            204);
  ASSERT_EQ(Upload(st, req, "b.png", Png(120)).status, 201);
  ASSERT_EQ(Submit(st).status, 200);
  auto list = s.Call("GET", "/v1/admin/exams/" + st.exam + "/materials", "", Bearer(st.admin));
  ASSERT_EQ(list.status, 200) << list.body;
  EXPECT_EQ(list.Find("submissions")->list_value().values_size(), 1);
  auto ok = s.Call("POST", review, R"({"decision":"APPROVE"})", Bearer(st.admin));
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(ok.Str("status"), "APPROVED");
  EXPECT_EQ(Step(st), "DONE");
  auto cm = s.Call(
      "GET", "/v1/admin/exams/" + st.exam + "/candidates/" + st.rc.c.account_id + "/materials", "",
      Bearer(st.admin));
  ASSERT_EQ(cm.status, 200) << cm.body;
  const auto& history = cm.Find("history")->list_value();
  ASSERT_EQ(history.values_size(), 2);
  EXPECT_EQ(history.values(0).struct_value().fields().at("decision").string_value(), "RETURN");
  EXPECT_EQ(history.values(1).struct_value().fields().at("decision").string_value(), "APPROVE");
  ExpectError(s.Call("POST", review, R"({"decision":"RETURN","reason":"again"})", Bearer(st.admin)),
              409, "NOT_SUBMITTED");
  // History is append-only, in the database too.
  EXPECT_ANY_THROW(s.Sql("DELETE FROM materials.reviews"));
}

TEST_F(MaterialsHttpTest, AnotherCandidatesItemIsNeverServed) {
  Setup a = Candidate();
  std::string req = Requirement(a, "IMAGE", true, 1, 5, 1000000);
  std::string secret = Png(300, 's');
  auto up = Upload(a, req, "a.png", secret);
  ASSERT_EQ(up.status, 201);
  Setup b = Candidate();
  std::string content = "/v1/exams/" + a.exam + "/materials/items/" + up.Str("itemId") + "/content";
  auto r = s.Call("GET", content, "", Bearer(b.rc.token));
  EXPECT_TRUE(r.status == 404 || r.status == 403) << r.status;
  EXPECT_EQ(r.body.find(secret.substr(16, 50)), std::string::npos);
  // Another school's admin neither.
  auto r2 = s.Call("GET", content, "", Bearer(b.admin));
  EXPECT_TRUE(r2.status == 404 || r2.status == 403) << r2.status;
  auto del = s.Call("DELETE", "/v1/exams/" + a.exam + "/materials/items/" + up.Str("itemId"), "",
                    Bearer(b.rc.token));
  EXPECT_TRUE(del.status == 404 || del.status == 403) << del.status;
  EXPECT_EQ(Items(a), 1);
}

TEST_F(MaterialsHttpTest, ACutConnectionLeavesNoItemAndNoTempFile) {
  Setup st = Candidate();
  std::string req = Requirement(st, "IMAGE", true, 1, 5, 10000000);
  std::string body = BigPng(4 << 20);
  Exchange(s.gateway_port(),
           PutHead(FilesPath(st, req, "cut.png"), st.rc.token,
                   absl::StrCat("Content-Length: ", body.size(), "\r\n")),
           body, false, 64 * 1024, /*cut_after=*/2 << 20,
           [] { std::this_thread::sleep_for(std::chrono::milliseconds(300)); });
  EXPECT_TRUE(PollUntil(10, [&] { return TempFiles() == 0; }));
  EXPECT_EQ(Items(st), 0);
}

// The issue's "done when": a cut 200 MB upload resumes and its SHA-256 matches.
TEST_F(MaterialsHttpTest, AResumableUploadSurvivesACutAndAKill) {
  Setup st = Candidate();
  std::string req = Requirement(st, "VIDEO", true, 1, 1, 250000000, R"("mp4")");
  std::string mp4(
      "\0\0\0\x18"
      "ftypisom\0\0\2\0isomiso2",
      24);
  std::string body = mp4 + BigPng(200 << 20).substr(16);
  auto created = s.Call("POST", "/v1/exams/" + st.exam + "/materials/" + req + "/uploads",
                        absl::StrCat(R"({"filename":"面试.mp4","sizeBytes":)", body.size(), "}"),
                        Bearer(st.rc.token));
  ASSERT_EQ(created.status, 201) << created.body;
  std::string id = created.Str("uploadId");
  std::string path = "/v1/exams/" + st.exam + "/materials/uploads/" + id;
  auto get = [&] { return s.Call("GET", path, "", Bearer(st.rc.token)); };
  EXPECT_EQ(get().Str("offset"), "0");
  auto patch_head = [&](int64_t offset, size_t length) {
    return absl::StrCat("PATCH ", path, " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ",
                        st.rc.token, "\r\nContent-Type: application/offset+octet-stream\r\n",
                        "Upload-Offset: ", offset, "\r\nContent-Length: ", length, "\r\n\r\n");
  };
  // A wrong offset changes nothing.
  auto h = Bearer(st.rc.token);
  h["Upload-Offset"] = "7";
  h["Content-Type"] = "application/offset+octet-stream";
  auto wrong = s.Call("PATCH", path, "xxxx", h);
  ExpectError(wrong, 409, "OFFSET_MISMATCH");
  EXPECT_EQ(wrong.Str("error.details.offset"), "0");

  // 1. The connection is cut after 3 MiB: what arrived is kept and recorded.
  Exchange(s.gateway_port(), patch_head(0, body.size()), body, false, 64 * 1024, 3 << 20,
           [] { std::this_thread::sleep_for(std::chrono::milliseconds(500)); });
  int64_t offset = 0;
  ASSERT_TRUE(PollUntil(10, [&] {
    offset = std::atoll(get().Str("offset").c_str());
    return offset > 0;
  }));
  EXPECT_LE(offset, 3 << 20);
  EXPECT_EQ(Items(st), 0);

  // 2. The service is killed mid-append: the recorded offset is where to resume.
  Exchange(s.gateway_port(), patch_head(offset, body.size() - offset), body.substr(offset), false,
           64 * 1024, 4 << 20, [&] {
             std::this_thread::sleep_for(std::chrono::milliseconds(800));
             s.KillAndRestartMaterials();
           });
  auto after = get();
  ASSERT_EQ(after.status, 200) << after.body;
  int64_t resumed = std::atoll(after.Str("offset").c_str());
  EXPECT_GE(resumed, offset);
  EXPECT_LE(resumed, static_cast<int64_t>(body.size()));
  EXPECT_EQ(after.Str("complete"), "false");
  EXPECT_EQ(Items(st), 0);

  // 3. The rest, from the recorded offset: one item, the whole file's hash.
  auto done = Exchange(s.gateway_port(), patch_head(resumed, body.size() - resumed),
                       body.substr(resumed), false);
  ASSERT_EQ(done.status, 200) << done.body;
  auto final_state = get();
  EXPECT_EQ(final_state.Str("complete"), "true") << final_state.body;
  EXPECT_EQ(final_state.Str("sha256"), HexEncode(Sha256(body)));
  EXPECT_EQ(Items(st), 1);
  std::string item = final_state.Str("itemId");
  auto bytes = s.Call("GET", "/v1/exams/" + st.exam + "/materials/items/" + item + "/content", "",
                      Bearer(st.rc.token));
  ASSERT_EQ(bytes.status, 200);
  EXPECT_EQ(HexEncode(Sha256(bytes.body)), HexEncode(Sha256(body)));
  EXPECT_EQ(bytes.headers["content-type"], "video/mp4");
}

TEST_F(MaterialsHttpTest, AResumableUploadIsCheckedLikeAnyOther) {
  Setup st = Candidate();
  std::string req = Requirement(st, "IMAGE", true, 1, 5, 1000);
  auto big = s.Call("POST", "/v1/exams/" + st.exam + "/materials/" + req + "/uploads",
                    R"({"filename":"a.png","sizeBytes":1001})", Bearer(st.rc.token));
  ExpectError(big, 413, "PAYLOAD_TOO_LARGE");
  auto created = s.Call("POST", "/v1/exams/" + st.exam + "/materials/" + req + "/uploads",
                        R"({"filename":"a.png","sizeBytes":100})", Bearer(st.rc.token));
  ASSERT_EQ(created.status, 201) << created.body;
  std::string path = "/v1/exams/" + st.exam + "/materials/uploads/" + created.Str("uploadId");
  auto h = Bearer(st.rc.token);
  h["Upload-Offset"] = "0";
  h["Content-Type"] = "application/offset+octet-stream";
  auto elf = s.Call("PATCH", path,
                    "\x7F"
                    "ELF" +
                        std::string(96, '\x01'),
                    h);
  ExpectError(elf, 415, "UNSUPPORTED_FORMAT");
  EXPECT_EQ(Items(st), 0);
  // Someone else's upload is not there.
  Setup other = Candidate();
  auto created2 = s.Call("POST", "/v1/exams/" + st.exam + "/materials/" + req + "/uploads",
                         R"({"filename":"a.png","sizeBytes":100})", Bearer(st.rc.token));
  ASSERT_EQ(created2.status, 201);
  auto theirs =
      s.Call("GET", "/v1/exams/" + st.exam + "/materials/uploads/" + created2.Str("uploadId"), "",
             Bearer(other.rc.token));
  EXPECT_TRUE(theirs.status == 404 || theirs.status == 403) << theirs.body;
  ASSERT_EQ(
      s.Call("DELETE", "/v1/exams/" + st.exam + "/materials/uploads/" + created2.Str("uploadId"),
             "", Bearer(st.rc.token))
          .status,
      204);
}

}  // namespace
}  // namespace admissions::testing
