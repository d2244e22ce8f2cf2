#include <gtest/gtest.h>

#include "common/status.h"
#include "gateway/transcoder.h"
#include "identity/v1/identity.pb.h"

namespace admissions::gateway {
namespace {

using identity::v1::CreateAccountRequest;
using identity::v1::ListSmsOutboxRequest;
using identity::v1::ListSmsOutboxResponse;
using identity::v1::Me;
using identity::v1::SendSmsCodeRequest;
using identity::v1::SessionTokens;
using identity::v1::SmsMessage;

absl::Status FromBody(std::string_view body, google::protobuf::Message* message) {
  RequestParts parts;
  parts.body_is_message = true;
  parts.body = body;
  return TranscodeRequest(parts, message);
}

absl::Status FromQuery(std::vector<QueryParam> query, google::protobuf::Message* message) {
  RequestParts parts;
  parts.query = std::move(query);
  return TranscodeRequest(parts, message);
}

std::string FieldOf(const absl::Status& status) {
  auto details = DetailsOf(status);
  auto it = details.find("field");
  return it == details.end() ? "" : it->second;
}

std::string MessageOf(const absl::Status& status) { return std::string(status.message()); }

void ExpectInvalid(const absl::Status& status, std::string_view field,
                   std::string_view message_part) {
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_EQ(ReasonOf(status), "INVALID_ARGUMENT");
  EXPECT_EQ(FieldOf(status), field) << status;
  EXPECT_NE(MessageOf(status).find(message_part), std::string::npos)
      << "'" << MessageOf(status) << "' lacks '" << message_part << "'";
}

TEST(TranscodeBodyTest, ParsesJsonBody) {
  CreateAccountRequest request;
  ASSERT_TRUE(FromBody(R"({"phone":"13800000000","smsCode":"123456","idType":"PASSPORT",
                          "idNumber":"E1"})",
                       &request)
                  .ok());
  EXPECT_EQ(request.phone(), "13800000000");
  EXPECT_EQ(request.sms_code(), "123456");
  EXPECT_EQ(request.id_type(), identity::v1::PASSPORT);
}

TEST(TranscodeBodyTest, EmptyBodyIsEmptyObject) {
  SendSmsCodeRequest request;
  request.set_phone("stale");
  ASSERT_TRUE(FromBody("", &request).ok());
  EXPECT_EQ(request.phone(), "");
}

TEST(TranscodeBodyTest, MalformedJson) {
  SendSmsCodeRequest request;
  ExpectInvalid(FromBody(R"({"phone": "1",)", &request), "", "malformed JSON");
  ExpectInvalid(FromBody("   ", &request), "", "malformed JSON");
  ExpectInvalid(FromBody(R"({"phone":"1"}{"phone":"2"})", &request), "", "malformed JSON");
}

TEST(TranscodeBodyTest, RootMustBeObject) {
  SendSmsCodeRequest request;
  ExpectInvalid(FromBody("[1]", &request), "", "JSON object");
  ExpectInvalid(FromBody("\"x\"", &request), "", "JSON object");
}

TEST(TranscodeBodyTest, UnknownFieldIsRejected) {
  SendSmsCodeRequest request;
  ExpectInvalid(FromBody(R"({"phone":"1","bogus":2})", &request), "bogus", "unknown field bogus");
}

TEST(TranscodeBodyTest, UnknownNestedField) {
  ListSmsOutboxResponse message;
  ExpectInvalid(FromBody(R"({"messages":[{"phone":"x","nope":1}]})", &message), "messages[0].nope",
                "unknown field");
}

TEST(TranscodeBodyTest, WrongType) {
  SendSmsCodeRequest request;
  ExpectInvalid(FromBody(R"({"phone": 13800000000})", &request), "phone", "expected a string");
  ExpectInvalid(FromBody(R"({"phone": {"a": 1}})", &request), "phone", "not an object");
  ExpectInvalid(FromBody(R"({"phone": ["a"]})", &request), "phone", "not a list");
}

TEST(TranscodeBodyTest, WrongTypeUsesJsonNames) {
  CreateAccountRequest request;
  ExpectInvalid(FromBody(R"({"smsCode": 5})", &request), "smsCode", "smsCode");
}

TEST(TranscodeBodyTest, BadEnumName) {
  SendSmsCodeRequest request;
  ExpectInvalid(FromBody(R"({"purpose":"NOPE"})", &request), "purpose",
                "one of REGISTER, RESET_PASSWORD");
}

TEST(TranscodeBodyTest, BadEnumInRepeatedNestedField) {
  ListSmsOutboxResponse message;
  ExpectInvalid(FromBody(R"({"messages":[{}, {"purpose":"X"}]})", &message), "messages[1].purpose",
                "REGISTER");
}

TEST(TranscodeBodyTest, BadTimestamp) {
  ListSmsOutboxResponse message;
  ExpectInvalid(FromBody(R"({"messages":[{"sentAt":"yesterday"}]})", &message),
                "messages[0].sentAt", "RFC 3339");
}

TEST(TranscodeBodyTest, IntegerOutOfRange) {
  SessionTokens message;
  ExpectInvalid(FromBody(R"({"expiresInSeconds": 99999999999})", &message), "expiresInSeconds",
                "int32");
  ExpectInvalid(FromBody(R"({"expiresInSeconds": 1.5})", &message), "expiresInSeconds", "int32");
  ASSERT_TRUE(FromBody(R"({"expiresInSeconds": "12"})", &message).ok());
  EXPECT_EQ(message.expires_in_seconds(), 12);
}

TEST(TranscodeBodyTest, InvalidUtf8) {
  SendSmsCodeRequest request;
  ExpectInvalid(FromBody("{\"phone\":\"\xff\"}", &request), "", "UTF-8");
}

TEST(TranscodeBodyTest, BodyOnBodilessRouteIsRejected) {
  RequestParts parts;
  parts.body = "{}";
  Me message;
  ExpectInvalid(TranscodeRequest(parts, &message), "", "no request body");
}

TEST(TranscodeQueryTest, SetsScalarsByJsonName) {
  ListSmsOutboxRequest request;
  ASSERT_TRUE(FromQuery({{"phone", "13800000000"}}, &request).ok());
  EXPECT_EQ(request.phone(), "13800000000");
}

TEST(TranscodeQueryTest, UnknownParameter) {
  ListSmsOutboxRequest request;
  ExpectInvalid(FromQuery({{"phone", "1"}, {"page", "2"}}, &request), "page",
                "unknown query parameter page");
  // Proto names are not JSON names.
  CreateAccountRequest account;
  ExpectInvalid(FromQuery({{"sms_code", "1"}}, &account), "sms_code", "unknown");
}

TEST(TranscodeQueryTest, RepeatedSingularParameter) {
  ListSmsOutboxRequest request;
  ExpectInvalid(FromQuery({{"phone", "1"}, {"phone", "2"}}, &request), "phone", "more than once");
}

TEST(TranscodeQueryTest, Integers) {
  SessionTokens message;
  ASSERT_TRUE(FromQuery({{"expiresInSeconds", "-5"}}, &message).ok());
  EXPECT_EQ(message.expires_in_seconds(), -5);
  ExpectInvalid(FromQuery({{"expiresInSeconds", "abc"}}, &message), "expiresInSeconds",
                "not an integer");
  ExpectInvalid(FromQuery({{"expiresInSeconds", "2147483648"}}, &message), "expiresInSeconds",
                "out of range for int32");
  ExpectInvalid(FromQuery({{"expiresInSeconds", "99999999999999999999"}}, &message),
                "expiresInSeconds", "out of range");
  ExpectInvalid(FromQuery({{"expiresInSeconds", " 1"}}, &message), "expiresInSeconds",
                "not an integer");
  ExpectInvalid(FromQuery({{"expiresInSeconds", ""}}, &message), "expiresInSeconds",
                "not an integer");
}

TEST(TranscodeQueryTest, Bools) {
  Me message;
  ASSERT_TRUE(FromQuery({{"agreementAccepted", "true"}}, &message).ok());
  EXPECT_TRUE(message.agreement_accepted());
  ExpectInvalid(FromQuery({{"agreementAccepted", "yes"}}, &message), "agreementAccepted",
                "true or false");
}

TEST(TranscodeQueryTest, EnumsByName) {
  Me message;
  ASSERT_TRUE(
      FromQuery({{"idType", "PASSPORT"}, {"roles", "CANDIDATE"}, {"roles", "EXAMINER"}}, &message)
          .ok());
  EXPECT_EQ(message.id_type(), identity::v1::PASSPORT);
  ASSERT_EQ(message.roles_size(), 2);
  EXPECT_EQ(message.roles(1), identity::v1::EXAMINER);
  ExpectInvalid(FromQuery({{"idType", "2"}}, &message), "idType", "is not one of");
  ExpectInvalid(FromQuery({{"idType", "passport"}}, &message), "idType", "RESIDENT_ID");
}

TEST(TranscodeQueryTest, MessageFieldsAreNotQueryParameters) {
  SmsMessage message;
  ExpectInvalid(FromQuery({{"sentAt", "2024-01-01T00:00:00Z"}}, &message), "sentAt",
                "not a scalar");
}

TEST(TranscodePathTest, PathVariablesOverrideTheBody) {
  RequestParts parts;
  parts.body_is_message = true;
  parts.body = R"({"phone":"from-body","name":"N"})";
  parts.path = {{"phone", "from-path"}};
  CreateAccountRequest request;
  ASSERT_TRUE(TranscodeRequest(parts, &request).ok());
  EXPECT_EQ(request.phone(), "from-path");
  EXPECT_EQ(request.name(), "N");
}

TEST(TranscodePathTest, QueryMayNotRepeatAPathVariable) {
  RequestParts parts;
  parts.path = {{"phone", "p"}};
  parts.query = {{"phone", "q"}};
  ListSmsOutboxRequest request;
  ExpectInvalid(TranscodeRequest(parts, &request), "phone", "path variable");
}

TEST(TranscodePathTest, PathVariableOfWrongType) {
  RequestParts parts;
  parts.path = {{"expiresInSeconds", "soon"}};
  SessionTokens message;
  ExpectInvalid(TranscodeRequest(parts, &message), "expiresInSeconds", "path variable");
}

TEST(TranscodeRawBodyTest, StoresTheBodyUnparsed) {
  const auto* type = identity::v1::FaceNotifyRequest::descriptor();
  RequestParts parts;
  parts.raw_body_field = type->FindFieldByName("raw_body");
  parts.body = std::string_view("{\xff not json", 12);
  parts.headers = {{"X-Face-Signature", type->FindFieldByName("signature"), "sig"}};
  identity::v1::FaceNotifyRequest request;
  ASSERT_TRUE(TranscodeRequest(parts, &request).ok());
  EXPECT_EQ(request.raw_body(), std::string("{\xff not json", 12));
  EXPECT_EQ(request.signature(), "sig");
}

TEST(TranscodeRawBodyTest, HeaderValuesMustBeUtf8) {
  const auto* type = identity::v1::FaceNotifyRequest::descriptor();
  RequestParts parts;
  parts.raw_body_field = type->FindFieldByName("raw_body");
  parts.headers = {{"X-Face-Nonce", type->FindFieldByName("nonce"), "\xff"}};
  identity::v1::FaceNotifyRequest request;
  ExpectInvalid(TranscodeRequest(parts, &request), "nonce", "X-Face-Nonce");
}

TEST(ResponseBodyTest, NamedFieldIsTheWholeBody) {
  identity::v1::FaceNotifyResponse response;
  response.set_result("OK");
  auto body = ResponseBody(response, response.GetDescriptor()->FindFieldByName("result"));
  ASSERT_TRUE(body.ok());
  EXPECT_EQ(*body, "OK");
  body = ResponseBody(response, nullptr);
  ASSERT_TRUE(body.ok());
  EXPECT_EQ(*body, R"({"result":"OK"})");
}

TEST(ParseQueryTest, DecodesPairs) {
  auto params = ParseQuery("a=1&b=x+y&c=%41%2B&&d&e=");
  ASSERT_TRUE(params.ok());
  ASSERT_EQ(params->size(), 5u);
  EXPECT_EQ((*params)[0].name, "a");
  EXPECT_EQ((*params)[0].value, "1");
  EXPECT_EQ((*params)[1].value, "x y");
  EXPECT_EQ((*params)[2].value, "A+");
  EXPECT_EQ((*params)[3].name, "d");
  EXPECT_EQ((*params)[3].value, "");
  EXPECT_EQ((*params)[4].value, "");
}

TEST(ParseQueryTest, RejectsBadInput) {
  ExpectInvalid(ParseQuery("a=%zz").status(), "a", "percent-encoded");
  ExpectInvalid(ParseQuery("a=%ff").status(), "a", "UTF-8");
  ExpectInvalid(ParseQuery("a=x%00y").status(), "a", "NUL");
  ExpectInvalid(ParseQuery("=1").status(), "", "name");
}

TEST(ResponseJsonTest, PrintsEveryPrimitiveFieldInCamelCase) {
  Me me;
  me.set_account_id("a1");
  auto json = ResponseJson(me);
  ASSERT_TRUE(json.ok());
  for (std::string_view part :
       {R"("accountId":"a1")", R"("name":"")", R"("idType":"ID_TYPE_UNSPECIFIED")", R"("roles":[])",
        R"("agreementAccepted":false)", R"("manualReview":false)"}) {
    EXPECT_NE(json->find(part), std::string::npos) << *json << " lacks " << part;
  }
}

TEST(ResponseJsonTest, EmptyMessageIsEmptyObject) {
  auto json = ResponseJson(identity::v1::SendSmsCodeResponse());
  ASSERT_TRUE(json.ok());
  EXPECT_EQ(*json, "{}");
}

TEST(NewMessageTest, MakesGeneratedType) {
  auto message = NewMessage(Me::descriptor());
  ASSERT_NE(message, nullptr);
  EXPECT_NE(dynamic_cast<Me*>(message.get()), nullptr);
}

}  // namespace
}  // namespace admissions::gateway
