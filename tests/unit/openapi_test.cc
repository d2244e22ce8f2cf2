#include "gateway/openapi/openapi.h"

#include <algorithm>
#include <string>
#include <vector>

#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace admissions::openapi {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

Struct Parse(const std::string& json) {
  Struct document;
  auto status = google::protobuf::util::JsonStringToMessage(json, &document);
  EXPECT_TRUE(status.ok()) << status.ToString();
  return document;
}

bool Has(const Struct& object, const std::string& key) { return object.fields().count(key) == 1; }

// object[key] as an object; fails the test (and returns an empty one) when absent.
const Struct& Obj(const Struct& object, const std::string& key) {
  static const Struct* const kEmpty = new Struct();
  auto it = object.fields().find(key);
  EXPECT_TRUE(it != object.fields().end()) << "no key " << key;
  if (it == object.fields().end()) return *kEmpty;
  EXPECT_TRUE(it->second.has_struct_value()) << key << " is not an object";
  return it->second.struct_value();
}

std::string Text(const Struct& object, const std::string& key) {
  auto it = object.fields().find(key);
  EXPECT_TRUE(it != object.fields().end()) << "no key " << key;
  return it == object.fields().end() ? "" : it->second.string_value();
}

const Struct& Operation(const Struct& document, const std::string& path,
                        const std::string& method) {
  return Obj(Obj(Obj(document, "paths"), path), method);
}

const Struct& Schema(const Struct& document, const std::string& name) {
  return Obj(Obj(Obj(document, "components"), "schemas"), name);
}

std::vector<std::string> EnumNames(const Struct& schema) {
  std::vector<std::string> names;
  auto it = schema.fields().find("enum");
  if (it == schema.fields().end()) return names;
  for (const Value& v : it->second.list_value().values()) names.push_back(v.string_value());
  return names;
}

class OpenApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dev_ = Parse(GenerateOpenApi(true));
    prod_ = Parse(GenerateOpenApi(false));
  }
  Struct dev_;
  Struct prod_;
};

TEST_F(OpenApiTest, IsAnOpenApi3Document) {
  EXPECT_EQ(Text(dev_, "openapi"), "3.0.3");
  EXPECT_EQ(Text(Obj(dev_, "info"), "version"), "v1");
  EXPECT_TRUE(Has(Obj(Obj(dev_, "components"), "securitySchemes"), "bearer"));
}

TEST_F(OpenApiTest, IdentityRoutesHaveTheirMethods) {
  const Struct& paths = Obj(dev_, "paths");
  EXPECT_TRUE(Has(Obj(paths, "/v1/sessions"), "post"));
  EXPECT_FALSE(Has(Obj(paths, "/v1/sessions"), "get"));
  EXPECT_TRUE(Has(Obj(paths, "/v1/sessions:refresh"), "post"));
  EXPECT_TRUE(Has(Obj(paths, "/v1/accounts"), "post"));
  EXPECT_TRUE(Has(Obj(paths, "/v1/password-resets"), "post"));
  EXPECT_TRUE(Has(Obj(paths, "/v1/me"), "get"));
  EXPECT_TRUE(Has(Obj(paths, "/v1/sessions/current"), "delete"));
  EXPECT_EQ(Text(Operation(dev_, "/v1/sessions", "post"), "operationId"), "Identity.CreateSession");
}

TEST_F(OpenApiTest, AuthenticatedRoutesRequireTheBearerScheme) {
  const Struct& me = Operation(dev_, "/v1/me", "get");
  ASSERT_TRUE(Has(me, "security"));
  const auto& security = me.fields().at("security").list_value();
  ASSERT_EQ(security.values_size(), 1);
  EXPECT_TRUE(Has(security.values(0).struct_value(), "bearer"));
  EXPECT_TRUE(Has(Obj(me, "responses"), "401"));
  EXPECT_EQ(Text(Obj(Obj(Obj(Obj(me, "responses"), "200"), "content"), "application/json")
                     .fields()
                     .at("schema")
                     .struct_value(),
                 "$ref"),
            "#/components/schemas/identity.v1.Me");
}

TEST_F(OpenApiTest, SmsCodesAnswer202WithoutSecurity) {
  const Struct& op = Operation(dev_, "/v1/sms-codes", "post");
  EXPECT_FALSE(Has(op, "security"));
  EXPECT_TRUE(Has(Obj(op, "responses"), "202"));
  EXPECT_FALSE(Has(Obj(op, "responses"), "200"));
  EXPECT_TRUE(Has(Obj(op, "requestBody"), "content"));
}

TEST_F(OpenApiTest, LogoutAnswers204WithoutContent) {
  const Struct& op = Operation(dev_, "/v1/sessions/current", "delete");
  const Struct& no_content = Obj(Obj(op, "responses"), "204");
  EXPECT_FALSE(Has(no_content, "content"));
  EXPECT_FALSE(Has(op, "requestBody"));
  EXPECT_TRUE(Has(op, "security"));
}

TEST_F(OpenApiTest, ErrorsReferenceTheErrorSchema) {
  const Struct& responses = Obj(Operation(dev_, "/v1/accounts", "post"), "responses");
  for (const char* status : {"400", "401", "403", "404", "409", "413", "429", "500", "503"}) {
    EXPECT_EQ(Text(Obj(responses, status), "$ref").rfind("#/components/responses/", 0), 0u)
        << status;
  }
  const Struct& error = Schema(dev_, "Error");
  EXPECT_EQ(Text(Obj(Obj(error, "properties"), "error"), "$ref"),
            "#/components/schemas/api.v1.ErrorInfo");
  const Struct& info = Schema(dev_, "api.v1.ErrorInfo");
  EXPECT_EQ(Text(Obj(Obj(info, "properties"), "details"), "type"), "object");
}

TEST_F(OpenApiTest, DevRoutesOnlyWithDev) {
  ASSERT_TRUE(Has(Obj(dev_, "paths"), "/v1/dev/sms-outbox"));
  const Struct& outbox = Operation(dev_, "/v1/dev/sms-outbox", "get");
  EXPECT_TRUE(outbox.fields().at("x-dev-only").bool_value());
  EXPECT_FALSE(Has(Obj(prod_, "paths"), "/v1/dev/sms-outbox"));
  EXPECT_TRUE(Has(Obj(prod_, "paths"), "/v1/me"));
  EXPECT_FALSE(Has(Operation(dev_, "/v1/me", "get"), "x-dev-only"));
}

TEST_F(OpenApiTest, BodylessRoutesTakeQueryParameters) {
  const Struct& outbox = Operation(dev_, "/v1/dev/sms-outbox", "get");
  bool found = false;
  for (const Value& p : outbox.fields().at("parameters").list_value().values()) {
    const Struct& parameter = p.struct_value();
    if (Has(parameter, "name") && Text(parameter, "name") == "phone") {
      found = true;
      EXPECT_EQ(Text(parameter, "in"), "query");
    }
  }
  EXPECT_TRUE(found);
}

TEST_F(OpenApiTest, RawBodyAndHeaderBindings) {
  const Struct& notify = Operation(dev_, "/v1/providers/face/notify", "post");
  EXPECT_FALSE(Has(notify, "security"));
  EXPECT_TRUE(Has(Obj(Obj(notify, "requestBody"), "content"), "*/*"));
  std::vector<std::string> headers;
  for (const Value& p : notify.fields().at("parameters").list_value().values()) {
    const Struct& parameter = p.struct_value();
    if (Has(parameter, "in") && Text(parameter, "in") == "header") {
      headers.push_back(Text(parameter, "name"));
    }
    EXPECT_FALSE(Has(parameter, "in") && Text(parameter, "in") == "query")
        << Text(parameter, "name");
  }
  EXPECT_NE(std::find(headers.begin(), headers.end(), "X-Face-Signature"), headers.end());
}

TEST_F(OpenApiTest, CandidateGatesFollowTheRule) {
  // /v1/me skips both gates; an endpoint without skips keeps both.
  EXPECT_FALSE(Has(Operation(dev_, "/v1/me", "get"), "x-candidate-gates"));
  EXPECT_FALSE(Has(Operation(dev_, "/v1/sessions", "post"), "x-candidate-gates"));
  const Struct& staff = Operation(dev_, "/v1/admin/staff", "post");
  ASSERT_TRUE(Has(staff, "x-candidate-gates"));
  EXPECT_EQ(staff.fields().at("x-candidate-gates").list_value().values_size(), 2);
}

TEST_F(OpenApiTest, SchemasUseJsonNames) {
  const Struct& properties = Obj(Schema(dev_, "identity.v1.CreateAccountRequest"), "properties");
  EXPECT_TRUE(Has(properties, "smsCode"));
  EXPECT_TRUE(Has(properties, "idNumber"));
  EXPECT_TRUE(Has(properties, "idType"));
  EXPECT_FALSE(Has(properties, "sms_code"));
  EXPECT_EQ(Text(Obj(properties, "idType"), "$ref"), "#/components/schemas/identity.v1.IdType");
}

TEST_F(OpenApiTest, EnumsAreStringsOfTheirNames) {
  const Struct& id_type = Schema(dev_, "identity.v1.IdType");
  EXPECT_EQ(Text(id_type, "type"), "string");
  std::vector<std::string> names = EnumNames(id_type);
  EXPECT_NE(std::find(names.begin(), names.end(), "RESIDENT_ID"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "TAIWAN_PERMIT"), names.end());
}

TEST_F(OpenApiTest, ScalarTypesFollowTheJsonMapping) {
  const Struct& tokens = Obj(Schema(dev_, "identity.v1.SessionTokens"), "properties");
  EXPECT_EQ(Text(Obj(tokens, "expiresInSeconds"), "type"), "integer");
  const Struct& me = Obj(Schema(dev_, "identity.v1.Me"), "properties");
  EXPECT_EQ(Text(Obj(me, "faceVerified"), "type"), "boolean");
  EXPECT_EQ(Text(Obj(me, "roles"), "type"), "array");
  const Struct& message = Obj(Schema(dev_, "identity.v1.SmsMessage"), "properties");
  EXPECT_EQ(Text(Obj(message, "sentAt"), "type"), "string");
  EXPECT_EQ(Text(Obj(message, "sentAt"), "format"), "date-time");
}

TEST_F(OpenApiTest, GatewayEndpointsAreDocumented) {
  EXPECT_TRUE(Has(Obj(prod_, "paths"), "/healthz"));
  EXPECT_TRUE(Has(Obj(Operation(prod_, "/readyz", "get"), "responses"), "503"));
  EXPECT_TRUE(Has(Obj(Obj(Obj(Operation(prod_, "/metrics", "get"), "responses"), "200"), "content"),
                  "text/plain; version=0.0.4; charset=utf-8"));
}

TEST_F(OpenApiTest, CommentsBecomeSummaries) {
  EXPECT_EQ(Text(Operation(dev_, "/v1/sessions:refresh", "post"), "summary"),
            "Rotates a refresh token: the old one stops working.");
  EXPECT_EQ(Text(Operation(dev_, "/v1/me", "get"), "summary"), "GetMe");
}

TEST(OpenApi, OutputIsDeterministic) {
  std::string first = GenerateOpenApi(true);
  EXPECT_EQ(first, GenerateOpenApi(true));
  EXPECT_EQ(first.back(), '\n');
  EXPECT_NE(first, GenerateOpenApi(false));
}

}  // namespace
}  // namespace admissions::openapi
