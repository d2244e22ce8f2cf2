// The roster CSV reader: RFC 4180 records, the header, and every line's reasons.
#include <gtest/gtest.h>

#include "enrollment/roster_csv.h"

namespace admissions::enrollment {
namespace {

std::vector<CsvRecord> ReadAll(std::string_view data, size_t max = 4096) {
  CsvReader reader(data, max);
  std::vector<CsvRecord> out;
  CsvRecord r;
  while (reader.Next(&r)) out.push_back(r);
  return out;
}

using Fields = std::vector<std::string>;

TEST(CsvReaderTest, SplitsRecordsAndFields) {
  auto recs = ReadAll("a,b,c\nd,,f\r\n\ng,h");
  ASSERT_EQ(recs.size(), 4u);
  EXPECT_EQ(recs[0].fields, (Fields{"a", "b", "c"}));
  EXPECT_EQ(recs[1].fields, (Fields{"d", "", "f"}));
  EXPECT_EQ(recs[2].fields, (Fields{""}));
  EXPECT_EQ(recs[3].fields, (Fields{"g", "h"}));
  EXPECT_EQ(recs[3].line, 4);
  EXPECT_EQ(ReadAll("a,\n")[0].fields, (Fields{"a", ""}));
  EXPECT_EQ(ReadAll("a,")[0].fields, (Fields{"a", ""}));
  EXPECT_TRUE(ReadAll("").empty());
}

TEST(CsvReaderTest, QuotedFieldsKeepCommasQuotesAndLineBreaks) {
  auto recs = ReadAll("\"a,b\",\"say \"\"hi\"\"\",\"x\ny\r\nz\"\nnext,\"\"\r\n\"end\"");
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_EQ(recs[0].fields, (Fields{"a,b", "say \"hi\"", "x\ny\r\nz"}));
  EXPECT_EQ(recs[0].line, 1);
  EXPECT_EQ(recs[1].fields, (Fields{"next", ""}));
  EXPECT_EQ(recs[1].line, 4);  // The physical line where the record starts.
  EXPECT_EQ(recs[2].fields, (Fields{"end"}));
  EXPECT_EQ(recs[2].line, 5);
}

TEST(CsvReaderTest, BadQuoting) {
  auto recs = ReadAll("\"a\"b,c\nok\n");
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_NE(recs[0].error.find("closing quote"), std::string::npos);
  EXPECT_EQ(recs[1].fields, (Fields{"ok"}));
  EXPECT_EQ(recs[1].line, 2);
  auto open = ReadAll("x\n\"never closed,\nmore\n");
  ASSERT_EQ(open.size(), 2u);
  EXPECT_NE(open[1].error.find("not closed"), std::string::npos);
  EXPECT_EQ(open[1].line, 2);
}

TEST(CsvReaderTest, ALongRecordIsReportedAndNotKept) {
  std::string big(500000, 'a');
  auto recs = ReadAll("h\n" + big + ",b\n\"" + big + "\n" + big + "\",c\nlast\n", 4096);
  ASSERT_EQ(recs.size(), 4u);
  EXPECT_NE(recs[1].error.find("longer than 4096"), std::string::npos);
  EXPECT_TRUE(recs[1].fields.empty());
  EXPECT_NE(recs[2].error.find("longer than"), std::string::npos);
  EXPECT_EQ(recs[2].line, 3);
  EXPECT_EQ(recs[3].fields, (Fields{"last"}));
  EXPECT_EQ(recs[3].line, 5);
}

constexpr char kHeader[] = "name,idType,idNumber,gender,major,direction\n";

struct Parsed {
  absl::Status header;
  std::vector<RosterLine> lines;
  std::map<int, std::string> rejected;
};

Parsed Parse(const std::string& csv) {
  RosterParser parser(csv);
  Parsed p;
  p.header = parser.ReadHeader();
  if (!p.header.ok()) return p;
  RosterLine line;
  RosterRejection rej;
  for (;;) {
    auto o = parser.Next(&line, &rej);
    if (o == RosterParser::Outcome::kEnd) break;
    if (o == RosterParser::Outcome::kLine) p.lines.push_back(line);
    if (o == RosterParser::Outcome::kRejected) p.rejected[rej.line] = rej.reason;
  }
  return p;
}

TEST(RosterParserTest, TheHeaderMustBeExact) {
  EXPECT_TRUE(Parse(kHeader).header.ok());
  EXPECT_TRUE(Parse(std::string("\xEF\xBB\xBF") + kHeader).header.ok());
  EXPECT_TRUE(Parse("name,idType,idNumber,gender,major,direction").header.ok());
  for (const char* bad :
       {"", "\xEF\xBB\xBF", "name,idType,idNumber\n",
        "name,idtype,idNumber,gender,major,direction\n", "\xD0\xD5\xC3\xFB,idType\n"}) {
    auto st = Parse(bad).header;
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(std::string(st.message()).find("name,idType"), std::string::npos) << st;
  }
  EXPECT_NE(std::string(Parse(std::string("\xFF\xFE", 2)).header.message()).find("UTF-16"),
            std::string::npos);
}

TEST(RosterParserTest, GoodLinesComeOutNormalised) {
  auto p = Parse(std::string(kHeader) + " 张三 ,RESIDENT_ID, 11010519491231002x ,男,计算机,\n" +
                 "\"Li, Si\",PASSPORT,e1234567,F,\"CS\nAI\",ML\n");
  ASSERT_TRUE(p.header.ok());
  EXPECT_TRUE(p.rejected.empty());
  ASSERT_EQ(p.lines.size(), 2u);
  EXPECT_EQ(p.lines[0].line, 2);
  EXPECT_EQ(p.lines[0].name, "张三");
  EXPECT_EQ(p.lines[0].id_type, identity::v1::RESIDENT_ID);
  EXPECT_EQ(p.lines[0].id_number, "11010519491231002X");
  EXPECT_EQ(p.lines[0].direction, "");
  EXPECT_EQ(p.lines[1].line, 3);
  EXPECT_EQ(p.lines[1].name, "Li, Si");
  EXPECT_EQ(p.lines[1].id_number, "E1234567");
  EXPECT_EQ(p.lines[1].major, "CS\nAI");
}

TEST(RosterParserTest, EveryBadLineHasAReason) {
  auto p = Parse(std::string(kHeader) + "a,RESIDENT_ID,11010519491231002X,男,m,d\n" +  // 2 ok
                 "b,RESIDENT_ID,110105194912310021,男,m,d\n" +               // 3 check digit
                 "c,ID_CARD,11010519491231002X,男,m,d\n" +                   // 4 type
                 "d,ID_TYPE_UNSPECIFIED,X1234567,男,m,d\n" +                 // 5 type
                 ",PASSPORT,X1234567,男,m,d\n" +                             // 6 name
                 "f,PASSPORT,X1234567,,m,d\n" +                              // 7 gender
                 "g,PASSPORT,X1234567,男,,d\n" +                             // 8 major
                 "h,PASSPORT,X1234567,男,m\n" +                              // 9 fields
                 "i,PASSPORT,X1234567,男,m,d,extra\n" +                      // 10 fields
                 "j,RESIDENT_ID,11010519491231002x,男,m,d\n" +               // 11 dup of 2
                 "k,PASSPORT,X1234567,男,m,d\n" +                            // 12 ok
                 "l,PASSPORT,x1234567,男,m,d\n" +                            // 13 dup of 12
                 "m\x01,PASSPORT,Y1234567,男,m,d\n" +                        // 14 control
                 "\xD5\xC5,PASSPORT,Z1234567,\xC4\xD0,m,d\n" +               // 15 GBK
                 "n,PASSPORT,Z1234567," + std::string(17, 'g') + ",m,d\n" +  // 16 gender length
                 "\n   \n");
  ASSERT_TRUE(p.header.ok());
  EXPECT_EQ(p.lines.size(), 2u);
  auto has = [&](int line, const std::string& what) {
    EXPECT_NE(p.rejected[line].find(what), std::string::npos) << line << ": " << p.rejected[line];
  };
  has(3, "check digit");
  has(4, "unknown ID type \"ID_CARD\"");
  has(5, "unknown ID type");
  has(6, "missing field name");
  has(7, "missing field gender");
  has(8, "missing field major");
  has(9, "expected 6 fields");
  has(10, "found 7");
  has(11, "duplicate in file: line 2");
  has(13, "duplicate in file: line 12");
  has(14, "control character");
  has(15, "UTF-8");
  has(16, "gender is longer");
  EXPECT_EQ(p.rejected.size(), 13u);
}

TEST(RosterParserTest, Utf8Validation) {
  EXPECT_TRUE(IsValidUtf8("张三 abc \xF0\x9F\x98\x80"));
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));          // Overlong.
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));      // Surrogate.
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));  // Past U+10FFFF.
  EXPECT_FALSE(IsValidUtf8("\xE5\xBC"));          // Cut short.
  EXPECT_EQ(Utf8Length("张三ab"), 4);
}

}  // namespace
}  // namespace admissions::enrollment
