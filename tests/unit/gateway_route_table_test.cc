#include <gtest/gtest.h>

#include "gateway/route_table.h"
#include "google/protobuf/descriptor.h"

namespace admissions::gateway {
namespace {

using Kind = RouteMatch::Kind;

Route MakeRoute(std::string method, std::string path) {
  Route route;
  route.http_method = std::move(method);
  route.path = std::move(path);
  return route;
}

class RouteTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (auto [method, path] : std::vector<std::pair<std::string, std::string>>{
             {"POST", "/v1/sessions"},
             {"POST", "/v1/sessions:refresh"},
             {"DELETE", "/v1/sessions/current"},
             {"GET", "/v1/sessions/{sessionId}"},
             {"GET", "/v1/exams/{examId}/admission"},
             {"POST", "/v1/exams/{examId}/admission:confirm"},
             {"POST", "/v1/rooms/{roomId}:enter"},
             {"GET", "/v1/rooms/{roomId}"},
             {"POST", "/v1/admin/manual-reviews/{accountId}:decide"},
             {"GET", "/v1/exams/{examId}/materials/items/{itemId}/content"},
             {"PUT", "/v1/exams/{examId}/materials/{requirementId}/text"},
         }) {
      ASSERT_TRUE(table_.Add(MakeRoute(method, path)).ok()) << method << " " << path;
    }
  }

  RouteMatch Match(std::string_view method, std::string_view path) {
    return table_.Match(method, path);
  }

  RouteTable table_;
};

TEST_F(RouteTableTest, MatchesLiteralPath) {
  RouteMatch m = Match("POST", "/v1/sessions");
  ASSERT_EQ(m.kind, Kind::kFound);
  EXPECT_EQ(m.route->path, "/v1/sessions");
  EXPECT_TRUE(m.variables.empty());
}

TEST_F(RouteTableTest, BindsVariables) {
  RouteMatch m = Match("GET", "/v1/exams/e1/materials/items/it-9/content");
  ASSERT_EQ(m.kind, Kind::kFound);
  ASSERT_EQ(m.variables.size(), 2u);
  EXPECT_EQ(m.variables[0].field, "examId");
  EXPECT_EQ(m.variables[0].value, "e1");
  EXPECT_EQ(m.variables[1].field, "itemId");
  EXPECT_EQ(m.variables[1].value, "it-9");
}

TEST_F(RouteTableTest, LiteralBeatsVariable) {
  RouteMatch m = Match("GET", "/v1/sessions/abc");
  ASSERT_EQ(m.kind, Kind::kFound);
  EXPECT_EQ(m.route->path, "/v1/sessions/{sessionId}");

  m = Match("DELETE", "/v1/sessions/current");
  ASSERT_EQ(m.kind, Kind::kFound);
  EXPECT_EQ(m.route->path, "/v1/sessions/current");

  // GET on the literal path falls back to the variable template of the same method.
  m = Match("GET", "/v1/sessions/current");
  ASSERT_EQ(m.kind, Kind::kFound);
  EXPECT_EQ(m.route->path, "/v1/sessions/{sessionId}");
  EXPECT_EQ(m.variables[0].value, "current");
}

TEST_F(RouteTableTest, LiteralWithVerb) {
  RouteMatch m = Match("POST", "/v1/sessions:refresh");
  ASSERT_EQ(m.kind, Kind::kFound);
  EXPECT_EQ(m.route->path, "/v1/sessions:refresh");
  EXPECT_EQ(Match("POST", "/v1/sessions:other").kind, Kind::kNotFound);
}

TEST_F(RouteTableTest, VariableWithVerb) {
  RouteMatch m = Match("POST", "/v1/rooms/r-1:enter");
  ASSERT_EQ(m.kind, Kind::kFound);
  EXPECT_EQ(m.route->path, "/v1/rooms/{roomId}:enter");
  ASSERT_EQ(m.variables.size(), 1u);
  EXPECT_EQ(m.variables[0].value, "r-1");

  m = Match("POST", "/v1/admin/manual-reviews/acc42:decide");
  ASSERT_EQ(m.kind, Kind::kFound);
  EXPECT_EQ(m.variables[0].field, "accountId");
  EXPECT_EQ(m.variables[0].value, "acc42");

  m = Match("POST", "/v1/exams/x/admission:confirm");
  ASSERT_EQ(m.kind, Kind::kFound);
  EXPECT_EQ(m.route->path, "/v1/exams/{examId}/admission:confirm");
}

TEST_F(RouteTableTest, VerbNeedsANonEmptyVariable) {
  // Only GET /v1/rooms/{roomId} (taking ":enter" whole) matches the path.
  RouteMatch m = Match("POST", "/v1/rooms/:enter");
  EXPECT_EQ(m.kind, Kind::kMethodNotAllowed);
  EXPECT_EQ(m.allowed, std::vector<std::string>{"GET"});
  EXPECT_EQ(Match("POST", "/v1/admin/manual-reviews/:decide").kind, Kind::kNotFound);
}

TEST_F(RouteTableTest, VerbRouteBeatsVariableSwallowingTheColon) {
  // GET /v1/rooms/{roomId} would take "r1:enter" whole; with POST only the verb route fits.
  RouteMatch m = Match("GET", "/v1/rooms/r1:enter");
  ASSERT_EQ(m.kind, Kind::kFound);
  EXPECT_EQ(m.route->path, "/v1/rooms/{roomId}");
  EXPECT_EQ(m.variables[0].value, "r1:enter");

  RouteTable table;
  ASSERT_TRUE(table.Add(MakeRoute("POST", "/v1/things/{id}")).ok());
  ASSERT_TRUE(table.Add(MakeRoute("POST", "/v1/things/{id}:run")).ok());
  m = table.Match("POST", "/v1/things/t1:run");
  ASSERT_EQ(m.kind, Kind::kFound);
  EXPECT_EQ(m.route->path, "/v1/things/{id}:run");
  EXPECT_EQ(m.variables[0].value, "t1");
}

TEST_F(RouteTableTest, PercentDecodesVariables) {
  RouteMatch m = Match("GET", "/v1/exams/a%20b%2Fc%3Ad/admission");
  ASSERT_EQ(m.kind, Kind::kFound);
  EXPECT_EQ(m.variables[0].value, "a b/c:d");

  m = Match("GET", "/v1/exams/%E4%B8%AD/admission");
  ASSERT_EQ(m.kind, Kind::kFound);
  EXPECT_EQ(m.variables[0].value, "\xE4\xB8\xAD");

  // An encoded colon is part of the variable, not a verb separator.
  EXPECT_EQ(Match("POST", "/v1/admin/manual-reviews/a%3Adecide").kind, Kind::kNotFound);
  m = Match("GET", "/v1/rooms/r1%3Aenter");
  ASSERT_EQ(m.kind, Kind::kFound);
  EXPECT_EQ(m.variables[0].value, "r1:enter");
}

TEST_F(RouteTableTest, RejectsBadEscapes) {
  for (std::string_view path : {"/v1/exams/%zz/admission", "/v1/exams/ab%2/admission",
                                "/v1/exams/%FF/admission", "/v1/exams/a%00b/admission"}) {
    RouteMatch m = Match("GET", path);
    EXPECT_EQ(m.kind, Kind::kBadPath) << path;
    EXPECT_EQ(m.error_field, "examId") << path;
    EXPECT_FALSE(m.error.empty());
  }
}

TEST_F(RouteTableTest, TrailingSlashAndEmptySegmentsDoNotMatch) {
  EXPECT_EQ(Match("POST", "/v1/sessions/").kind, Kind::kNotFound);
  EXPECT_EQ(Match("GET", "/v1/exams//admission").kind, Kind::kNotFound);
  EXPECT_EQ(Match("GET", "//v1/exams/e/admission").kind, Kind::kNotFound);
  EXPECT_EQ(Match("GET", "/").kind, Kind::kNotFound);
  EXPECT_EQ(Match("GET", "").kind, Kind::kNotFound);
  EXPECT_EQ(Match("GET", "*").kind, Kind::kNotFound);
}

TEST_F(RouteTableTest, LiteralsAreCaseSensitive) {
  EXPECT_EQ(Match("POST", "/v1/Sessions").kind, Kind::kNotFound);
}

TEST_F(RouteTableTest, UnknownPathIsNotFound) {
  EXPECT_EQ(Match("GET", "/v1/nothing").kind, Kind::kNotFound);
  EXPECT_EQ(Match("GET", "/v1/exams/e1/admission/extra/long/path").kind, Kind::kNotFound);
}

TEST_F(RouteTableTest, KnownPathWithOtherMethodIsMethodNotAllowed) {
  RouteMatch m = Match("GET", "/v1/sessions");
  EXPECT_EQ(m.kind, Kind::kMethodNotAllowed);
  EXPECT_EQ(m.allowed, std::vector<std::string>{"POST"});

  m = Match("PATCH", "/v1/sessions/current");
  EXPECT_EQ(m.kind, Kind::kMethodNotAllowed);
  EXPECT_EQ(m.allowed, (std::vector<std::string>{"DELETE", "GET"}));

  m = Match("DELETE", "/v1/rooms/r1:enter");
  EXPECT_EQ(m.kind, Kind::kMethodNotAllowed);
  EXPECT_EQ(m.allowed, (std::vector<std::string>{"GET", "POST"}));
}

TEST(RouteTableAddTest, RejectsCollisions) {
  RouteTable table;
  ASSERT_TRUE(table.Add(MakeRoute("GET", "/v1/a/{x}")).ok());
  auto again = table.Add(MakeRoute("GET", "/v1/a/{y}"));
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE(table.Add(MakeRoute("POST", "/v1/a/{y}")).ok());
  EXPECT_TRUE(table.Add(MakeRoute("GET", "/v1/a/{y}:verb")).ok());
  EXPECT_TRUE(table.Add(MakeRoute("GET", "/v1/a/lit")).ok());
}

TEST(RouteTableAddTest, AssignsDenseIds) {
  RouteTable table;
  auto a = table.Add(MakeRoute("GET", "/v1/a"));
  auto b = table.Add(MakeRoute("GET", "/v1/b"));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ((*a)->id, 0);
  EXPECT_EQ((*b)->id, 1);
}

TEST(PathTemplateTest, ParsesSegmentsAndVerb) {
  auto t = PathTemplate::Parse("/v1/exams/{examId}/admission:confirm");
  ASSERT_TRUE(t.ok());
  ASSERT_EQ(t->segments.size(), 4u);
  EXPECT_FALSE(t->segments[0].is_variable);
  EXPECT_EQ(t->segments[0].text, "v1");
  EXPECT_TRUE(t->segments[2].is_variable);
  EXPECT_EQ(t->segments[2].text, "examId");
  EXPECT_EQ(t->segments[3].text, "admission");
  EXPECT_EQ(t->verb, "confirm");
}

TEST(PathTemplateTest, RejectsBadTemplates) {
  for (std::string_view bad : {"", "/", "v1/x", "/v1/", "/v1//x", "/v1/{}", "/v1/{a-b}", "/v1/x{a}",
                               "/v1/{a}x", "/v1/a:b/c", "/v1/a:", "/v1/a b", "/v1/{1a}"}) {
    EXPECT_FALSE(PathTemplate::Parse(bad).ok()) << bad;
  }
}

TEST(RouteTableAddTest, RejectsUnknownMethod) {
  RouteTable table;
  EXPECT_FALSE(table.Add(MakeRoute("HEAD", "/v1/a")).ok());
}

const google::protobuf::ServiceDescriptor* IdentityService() {
  return google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
      "admissions.identity.v1.Identity");
}

TEST(BuildRouteTableTest, ReadsTheIdentityRules) {
  const auto* service = IdentityService();
  ASSERT_NE(service, nullptr);
  auto table = BuildRouteTable({{service, 0}}, /*dev_mode=*/false);
  ASSERT_TRUE(table.ok()) << table.status();

  RouteMatch m = table->Match("POST", "/v1/sms-codes");
  ASSERT_EQ(m.kind, Kind::kFound);
  EXPECT_EQ(m.route->grpc_method, "/admissions.identity.v1.Identity/SendSmsCode");
  EXPECT_EQ(m.route->success_status, 202);
  EXPECT_TRUE(m.route->no_auth);
  EXPECT_TRUE(m.route->body_is_message);
  EXPECT_EQ(m.route->upstream, 0);

  m = table->Match("GET", "/v1/me");
  ASSERT_EQ(m.kind, Kind::kFound);
  EXPECT_FALSE(m.route->no_auth);
  EXPECT_FALSE(m.route->body_is_message);
  EXPECT_EQ(m.route->success_status, 200);

  m = table->Match("DELETE", "/v1/sessions/current");
  ASSERT_EQ(m.kind, Kind::kFound);
  EXPECT_TRUE(m.route->ends_session);
  EXPECT_EQ(m.route->success_status, 204);

  EXPECT_EQ(table->Match("POST", "/v1/sessions:refresh").kind, Kind::kFound);
  EXPECT_EQ(table->Match("GET", "/v1/dev/sms-outbox").kind, Kind::kNotFound);
}

TEST(BuildRouteTableTest, ReadsRawBodyAndHeaderBindings) {
  auto table = BuildRouteTable({{IdentityService(), 0}}, /*dev_mode=*/false);
  ASSERT_TRUE(table.ok()) << table.status();
  RouteMatch m = table->Match("POST", "/v1/providers/face/notify");
  ASSERT_EQ(m.kind, Kind::kFound);
  const Route& route = *m.route;
  EXPECT_FALSE(route.body_is_message);
  ASSERT_NE(route.raw_body_field, nullptr);
  EXPECT_EQ(route.raw_body_field->name(), "raw_body");
  ASSERT_EQ(route.header_fields.size(), 3u);
  EXPECT_EQ(route.header_fields[0].header, "X-Face-Signature");
  EXPECT_EQ(route.header_fields[0].field->name(), "signature");
  EXPECT_EQ(route.response_body_field, nullptr);
  EXPECT_FALSE(route.requires_agreement);  // no_auth routes have no gates.
}

TEST(BuildRouteTableTest, ReadsCandidateGates) {
  auto table = BuildRouteTable({{IdentityService(), 0}}, /*dev_mode=*/false);
  ASSERT_TRUE(table.ok()) << table.status();
  const Route* me = table->Match("GET", "/v1/me").route;
  ASSERT_NE(me, nullptr);
  EXPECT_FALSE(me->requires_agreement);
  EXPECT_FALSE(me->requires_face_verification);
  const Route* verify = table->Match("POST", "/v1/verifications").route;
  ASSERT_NE(verify, nullptr);
  EXPECT_TRUE(verify->requires_agreement);
  EXPECT_FALSE(verify->requires_face_verification);
  const Route* reviews = table->Match("GET", "/v1/admin/manual-reviews").route;
  ASSERT_NE(reviews, nullptr);
  EXPECT_TRUE(reviews->requires_agreement);
  EXPECT_TRUE(reviews->requires_face_verification);
}

TEST(BuildRouteTableTest, InternalMethodsGetNoRoute) {
  auto table = BuildRouteTable({{IdentityService(), 0}}, /*dev_mode=*/true);
  ASSERT_TRUE(table.ok());
  for (const auto& route : table->routes()) {
    EXPECT_NE(route->grpc_method, "/admissions.identity.v1.Identity/GetGateState");
  }
}

TEST(BuildRouteTableTest, DevOnlyRoutesNeedDevMode) {
  auto table = BuildRouteTable({{IdentityService(), 3}}, /*dev_mode=*/true);
  ASSERT_TRUE(table.ok()) << table.status();
  RouteMatch m = table->Match("GET", "/v1/dev/sms-outbox");
  ASSERT_EQ(m.kind, Kind::kFound);
  EXPECT_TRUE(m.route->dev_only);
  EXPECT_EQ(m.route->upstream, 3);
}

TEST(BuildRouteTableTest, NoServicesNoRoutes) {
  auto table = BuildRouteTable({}, /*dev_mode=*/true);
  ASSERT_TRUE(table.ok());
  EXPECT_EQ(table->size(), 0u);
  EXPECT_EQ(table->Match("GET", "/v1/me").kind, Kind::kNotFound);
}

TEST(BuildRouteTableTest, ReadsStreamRules) {
  const auto* service = google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
      "admissions.materials.v1.Materials");
  ASSERT_NE(service, nullptr);
  auto table = BuildRouteTable({{service, 0}}, /*dev_mode=*/false);
  ASSERT_TRUE(table.ok()) << table.status();

  RouteMatch m = table->Match("PUT", "/v1/exams/e1/materials/r1/files");
  ASSERT_EQ(m.kind, Kind::kFound);
  ASSERT_NE(m.route->stream_body_field, nullptr);
  EXPECT_EQ(m.route->stream_body_field->name(), "chunk");
  EXPECT_EQ(m.route->raw_body_field, nullptr);
  EXPECT_FALSE(m.route->body_is_message);
  EXPECT_FALSE(m.route->stream_response);
  EXPECT_EQ(m.route->success_status, 201);
  EXPECT_EQ(m.route->max_body_bytes, 0u);
  EXPECT_EQ(m.route->deadline, std::chrono::seconds(3600));

  m = table->Match("PATCH", "/v1/exams/e1/materials/uploads/u1");
  ASSERT_EQ(m.kind, Kind::kFound);
  ASSERT_NE(m.route->stream_body_field, nullptr);
  ASSERT_EQ(m.route->header_fields.size(), 2u);
  EXPECT_EQ(m.route->header_fields[0].header, "Upload-Offset");

  m = table->Match("GET", "/v1/exams/e1/materials/items/i1/content");
  ASSERT_EQ(m.kind, Kind::kFound);
  EXPECT_TRUE(m.route->stream_response);
  EXPECT_EQ(m.route->stream_body_field, nullptr);

  m = table->Match("GET", "/v1/exams/e1/materials");
  ASSERT_EQ(m.kind, Kind::kFound);
  EXPECT_FALSE(m.route->stream_response);
  EXPECT_EQ(m.route->stream_body_field, nullptr);
}

TEST(BuildRouteTableTest, EveryLinkedServiceBuilds) {
  for (std::string_view name :
       {"admissions.identity.v1.Identity", "admissions.enrollment.v1.Enrollment",
        "admissions.payment.v1.Payment", "admissions.materials.v1.Materials",
        "admissions.waiting_room.v1.WaitingRoom", "admissions.media_signaling.v1.MediaSignaling"}) {
    const auto* service =
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(std::string(name));
    ASSERT_NE(service, nullptr) << name;
    auto table = BuildRouteTable({{service, 0}}, /*dev_mode=*/true);
    EXPECT_TRUE(table.ok()) << name << ": " << table.status();
  }
}

TEST(PercentDecodeTest, DecodesAndRejects) {
  EXPECT_EQ(*PercentDecode("a%2Bb+c", false), "a+b+c");
  EXPECT_EQ(*PercentDecode("a%2Bb+c", true), "a+b c");
  EXPECT_EQ(*PercentDecode("%41%62", false), "Ab");
  EXPECT_FALSE(PercentDecode("%4", false).ok());
  EXPECT_FALSE(PercentDecode("%", false).ok());
  EXPECT_FALSE(PercentDecode("%g0", false).ok());
}

TEST(Utf8Test, ValidatesStrictly) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain"));
  EXPECT_TRUE(IsValidUtf8("\xE4\xB8\xAD\xE6\x96\x87"));
  EXPECT_TRUE(IsValidUtf8("\xF0\x9F\x98\x80"));
  EXPECT_FALSE(IsValidUtf8("\xFF"));
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));          // Overlong '/'.
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));      // Surrogate.
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));  // Past U+10FFFF.
  EXPECT_FALSE(IsValidUtf8("\xE4\xB8"));          // Truncated.
}

}  // namespace
}  // namespace admissions::gateway
