// The live channel end to end: GET /v1/live on real gateways in front of the real
// waiting-room service, PostgreSQL and Redis. Each reader gets exactly the events its
// long poll would give it, and 100 subscribers resume across a gateway restart with no
// gap and no duplicate (issue 7's fault), checked against the service's own record.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "boost/asio/connect.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/websocket.hpp"
#include "common/crypto.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "integration/harness.h"

namespace admissions::testing {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;

const std::string kHeader = "name,idType,idNumber,gender,major,direction\n";

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

google::protobuf::Struct ParseJson(const std::string& text) {
  google::protobuf::Struct out;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(text, &out).ok()) << text;
  return out;
}

std::string Str(const google::protobuf::Struct& s, const std::string& key) {
  auto it = s.fields().find(key);
  if (it == s.fields().end()) return "";
  if (it->second.has_string_value()) return it->second.string_value();
  if (it->second.has_struct_value()) return "";
  return std::to_string(static_cast<int64_t>(it->second.number_value()));
}

// One WebSocket client of /v1/live; every wait is bounded.
class LiveClient {
 public:
  bool Connect(int port, const std::string& token) {
    beast::error_code ec;
    ws_ = std::make_unique<websocket::stream<beast::tcp_stream>>(ioc_);
    beast::get_lowest_layer(*ws_).connect(
        tcp::endpoint(net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)), ec);
    if (ec) return false;
    ws_->handshake("127.0.0.1:" + std::to_string(port), "/v1/live?access_token=" + token, ec);
    if (ec) return false;
    auto ready = Next();
    return ready && Str(*ready, "type") == "ready";
  }

  void Subscribe(const std::string& room, int64_t after) {
    Send(absl::StrCat(R"({"type":"subscribe","roomId":")", room, R"(","after":")", after, R"("})"));
  }

  void Send(const std::string& text) {
    beast::error_code ec;
    ws_->write(net::buffer(text), ec);
  }

  // The next message, or nullopt on timeout or a closed connection (closed() says which).
  std::optional<google::protobuf::Struct> Next(absl::Duration timeout = absl::Seconds(5)) {
    if (closed_) return std::nullopt;
    std::optional<std::string> text;
    beast::error_code result;
    bool done = false;
    ws_->async_read(buf_, [&](beast::error_code ec, size_t) {
      done = true;
      result = ec;
      if (!ec) text = beast::buffers_to_string(buf_.data());
      buf_.consume(buf_.size());
    });
    ioc_.restart();
    ioc_.run_for(absl::ToChronoMilliseconds(timeout));
    if (!done) {
      beast::get_lowest_layer(*ws_).cancel();
      ioc_.restart();
      ioc_.run();
      return std::nullopt;
    }
    if (result) {
      closed_ = true;
      close_code_ = ws_->reason().code;
      return std::nullopt;
    }
    return ParseJson(*text);
  }

  // Reads events until `want` event ids have arrived in total or nothing comes for a while;
  // records every id. False when the connection closed.
  bool ReadEvents(size_t want, absl::Duration quiet = absl::Seconds(5)) {
    while (ids_.size() < want) {
      auto m = Next(quiet);
      if (!m) return !closed_;
      if (Str(*m, "type") != "event") continue;
      const auto& ev = m->fields().at("event").struct_value();
      ids_.push_back(std::stoll(Str(ev, "id")));
      types_.push_back(Str(ev, "type"));
    }
    return true;
  }

  // Reads until the connection closes (the gateway going away), keeping events.
  void DrainUntilClosed(absl::Duration timeout) {
    absl::Time until = absl::Now() + timeout;
    while (!closed_ && absl::Now() < until) {
      auto m = Next(absl::Seconds(1));
      if (m && Str(*m, "type") == "event") {
        const auto& ev = m->fields().at("event").struct_value();
        ids_.push_back(std::stoll(Str(ev, "id")));
        types_.push_back(Str(ev, "type"));
      }
    }
  }

  void Reset() {
    closed_ = false;
    close_code_ = 0;
    buf_.consume(buf_.size());
    ws_.reset();
  }

  int64_t last_id() const { return ids_.empty() ? 0 : ids_.back(); }
  const std::vector<int64_t>& ids() const { return ids_; }
  const std::vector<std::string>& types() const { return types_; }
  bool closed() const { return closed_; }
  int close_code() const { return close_code_; }

 private:
  net::io_context ioc_;
  std::unique_ptr<websocket::stream<beast::tcp_stream>> ws_;
  beast::flat_buffer buf_;
  std::vector<int64_t> ids_;
  std::vector<std::string> types_;
  bool closed_ = false;
  int close_code_ = 0;
};

class LiveHttpTest : public ::testing::Test {
 protected:
  Stack& s = Stack::Get();

  void SetUp() override { s.RedisDeleteMatching("rl:*"); }

  // Every event id the reader's long-poll route gives, paging to the end.
  std::vector<int64_t> ServiceIds(const std::string& token, const std::string& room) {
    std::vector<int64_t> out;
    int64_t after = 0;
    for (;;) {
      auto r = s.Call("GET", absl::StrCat("/v1/rooms/", room, "/events?after=", after), "",
                      Bearer(token));
      EXPECT_EQ(r.status, 200) << r.body;
      if (r.status != 200) return out;
      const auto* events = r.Find("events");
      if (events == nullptr || events->list_value().values().empty()) return out;
      for (const auto& e : events->list_value().values()) {
        out.push_back(std::stoll(e.struct_value().fields().at("id").string_value()));
      }
      after = out.back();
    }
  }

  std::string Staff(const std::string& op, const std::string& school, const std::string& role,
                    std::string* id) {
    std::string login = "live-" + HexEncode(RandomBytes(4));
    auto r =
        s.Call("POST", "/v1/admin/staff",
               absl::StrCat(R"({"schoolId":")", school, R"(","role":")", role, R"(","login":")",
                            login, R"(","password":"staff-pass-1",)", R"("name":"考官"})"),
               Bearer(op));
    EXPECT_EQ(r.status, 201) << r.body;
    if (id != nullptr) *id = r.Str("accountId");
    return Login(s, login, "staff-pass-1").first;
  }

  // A candidate on the roster who completed every step and entered `room`.
  ReadyCandidate Entered(const std::string& admin, const std::string& exam,
                         const std::string& room) {
    ReadyCandidate rc = VerifiedCandidate(s);
    auto h = Bearer(admin);
    h["Content-Type"] = "text/csv";
    EXPECT_EQ(s.Call("POST", "/v1/admin/exams/" + exam + "/roster",
                     kHeader + "张三,RESIDENT_ID," + rc.c.id_number + ",男,计算机,人工智能\n", h)
                  .status,
              200);
    auto n = s.Call("GET", "/v1/notice", "", Bearer(rc.token));
    EXPECT_EQ(s.Call("POST", "/v1/notice:read", R"({"version":)" + n.Str("version") + "}",
                     Bearer(rc.token))
                  .status,
              204);
    EXPECT_EQ(
        s.Call("POST", "/v1/exams/" + exam + "/admission:confirm", "", Bearer(rc.token)).status,
        204);
    auto c = s.Call("GET", "/v1/exams/" + exam + "/commitment", "", Bearer(rc.token));
    EXPECT_EQ(s.Call("POST", "/v1/exams/" + exam + "/commitment:sign",
                     R"({"version":)" + c.Str("version") + "}", Bearer(rc.token))
                  .status,
              204);
    EXPECT_EQ(s.Call("POST", "/v1/admin/rooms/" + room + "/assignments",
                     R"({"idNumber":")" + rc.c.id_number + "\"}", Bearer(admin))
                  .status,
              201);
    auto v = s.Call("POST", "/v1/verifications", R"({"purpose":"ROOM","roomId":")" + room + "\"}",
                    Bearer(rc.token));
    EXPECT_EQ(v.status, 201) << v.body;
    EXPECT_EQ(s.Call("POST", "/v1/verifications:scan",
                     R"({"qrPayload":")" + v.Str("qrPayload") + "\"}", Bearer(rc.token))
                  .status,
              200);
    EXPECT_EQ(s.Call("POST", "/v1/dev/verifications/" + v.Str("verificationId") + ":complete",
                     R"({"passed":true})")
                  .status,
              200);
    auto enter =
        s.Call("POST", "/v1/rooms/" + room + ":enter",
               R"({"verificationId":")" + v.Str("verificationId") + "\"}", Bearer(rc.token));
    EXPECT_EQ(enter.status, 200) << enter.body;
    return rc;
  }

  void SendGroupMessage(const std::string& examiner, const std::string& room, int i) {
    auto r = s.Call("POST", "/v1/examiner/rooms/" + room + "/messages",
                    absl::StrCat(R"({"text":"消息 )", i, R"("})"), Bearer(examiner));
    ASSERT_EQ(r.status, 201) << r.body;
  }
};

TEST_F(LiveHttpTest, EachReaderGetsItsEventsAndAHundredResumeAcrossAGatewayRestart) {
  std::string op = Login(s, "operator", "operator-dev-pass").first;
  auto school =
      s.Call("POST", "/v1/admin/schools",
             absl::StrCat(R"({"code":"L)", HexEncode(RandomBytes(3)), R"(","name":"直播大学"})"),
             Bearer(op));
  ASSERT_EQ(school.status, 201) << school.body;
  std::string school_id = school.Str("schoolId");
  auto exam =
      s.Call("POST", "/v1/admin/exams",
             absl::StrCat(R"({"schoolId":")", school_id,
                          R"(","title":"复试","mode":"SINGLE_CAMERA","commitmentText":"承诺"})"),
             Bearer(op));
  ASSERT_EQ(exam.status, 201) << exam.body;
  std::string exam_id = exam.Str("examId");
  std::string admin = Staff(op, school_id, "SCHOOL_ADMIN", nullptr);
  std::string examiner_id;
  std::string examiner = Staff(admin, school_id, "EXAMINER", &examiner_id);
  auto room_r = s.Call("POST", "/v1/admin/exams/" + exam_id + "/rooms",
                       absl::StrCat(R"({"name":"直播考场","startsAt":")", Rfc3339(absl::Now()),
                                    R"(","endsAt":")", Rfc3339(absl::Now() + absl::Hours(2)),
                                    R"(","examinerIds":[")", examiner_id, R"("]})"),
                       Bearer(admin));
  ASSERT_EQ(room_r.status, 201) << room_r.body;
  std::string room = room_r.Str("roomId");
  ReadyCandidate a = Entered(admin, exam_id, room);
  ReadyCandidate b = Entered(admin, exam_id, room);

  // 1. Through a second gateway: an examiner, both candidates, and 97 more examiner
  // connections (one token may hold many), every one subscribed from the start.
  int g2 = s.StartGateway();
  std::vector<std::unique_ptr<LiveClient>> clients;
  std::vector<std::string> tokens;
  for (int i = 0; i < 100; ++i) {
    tokens.push_back(i == 0 ? a.token : i == 1 ? b.token : examiner);
    clients.push_back(std::make_unique<LiveClient>());
    ASSERT_TRUE(clients.back()->Connect(g2, tokens.back())) << i;
    clients.back()->Subscribe(room, 0);
  }
  // The invitation is A's alone; the group message everyone's.
  auto invite =
      s.Call("POST", "/v1/examiner/rooms/" + room + "/candidates/" + a.c.account_id + ":invite", "",
             Bearer(examiner));
  ASSERT_EQ(invite.status, 200) << invite.body;
  SendGroupMessage(examiner, room, 0);
  const size_t examiner_count = ServiceIds(examiner, room).size();
  ASSERT_TRUE(clients[0]->ReadEvents(ServiceIds(a.token, room).size()));
  ASSERT_TRUE(clients[1]->ReadEvents(ServiceIds(b.token, room).size()));
  for (int i = 2; i < 100; ++i) ASSERT_TRUE(clients[i]->ReadEvents(examiner_count)) << i;
  auto has = [](const LiveClient& c, const std::string& type) {
    return std::find(c.types().begin(), c.types().end(), type) != c.types().end();
  };
  EXPECT_TRUE(has(*clients[0], "INVITATION"));
  EXPECT_FALSE(has(*clients[1], "INVITATION")) << "B saw A's private invitation";
  EXPECT_TRUE(has(*clients[1], "GROUP_MESSAGE"));
  EXPECT_TRUE(has(*clients[2], "INVITATION"));

  // 2. Messages keep coming while that gateway stops; every client is told (1001) or cut.
  SendGroupMessage(examiner, room, 1);
  s.StopExtraGateways();
  for (auto& c : clients) {
    c->DrainUntilClosed(absl::Seconds(10));
    EXPECT_TRUE(c->closed());
  }
  for (int i = 2; i < 6; ++i) SendGroupMessage(examiner, room, i);

  // 3. Each reconnects to the other gateway with its last id and ends with exactly the
  // service's own list for its reader: nothing missing, nothing twice, in order.
  for (size_t i = 0; i < clients.size(); ++i) {
    int64_t after = clients[i]->last_id();
    clients[i]->Reset();
    ASSERT_TRUE(clients[i]->Connect(s.gateway_port(), tokens[i])) << i;
    clients[i]->Subscribe(room, after);
  }
  SendGroupMessage(examiner, room, 6);
  const std::vector<int64_t> want_a = ServiceIds(a.token, room);
  const std::vector<int64_t> want_b = ServiceIds(b.token, room);
  const std::vector<int64_t> want_examiner = ServiceIds(examiner, room);
  for (size_t i = 0; i < clients.size(); ++i) {
    const auto& want = i == 0 ? want_a : i == 1 ? want_b : want_examiner;
    ASSERT_TRUE(clients[i]->ReadEvents(want.size())) << i;
    EXPECT_EQ(clients[i]->ids(), want) << "client " << i;
  }
}

}  // namespace
}  // namespace admissions::testing
