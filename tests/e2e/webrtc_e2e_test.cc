// The interview's video end to end (docs/e2e.md): headless Chromium through chromedriver,
// the gateway's /v1/live, media-signaling and the stack's coturn. Nothing skips: a missing
// chromium, chromedriver or turnutils_uclient fails.

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "e2e/webdriver.h"
#include "gtest/gtest.h"
#include "integration/harness.h"
#include "integration/room_world.h"

namespace admissions::testing {
namespace {

using google::protobuf::Value;

constexpr char kUclient[] = "/usr/bin/turnutils_uclient";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string ClientJs() {
  const char* src = std::getenv("ADMISSIONS_SOURCE_DIR");
  std::string dir = src != nullptr && *src != '\0' ? src : ADMISSIONS_E2E_SOURCE_DIR;
  return ReadFile(dir + "/tests/e2e/client.js");
}

struct CommandResult {
  int status = -1;
  std::string output;
};

// Runs a shell command, stdout and stderr together.
CommandResult RunShell(const std::string& command) {
  CommandResult r;
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) r.output.append(buf, n);
  int status = pclose(p);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

// A TURN server out of GET /v1/ice-servers: "turn:HOST:PORT?transport=udp" and its
// credentials.
struct TurnServer {
  std::string url, host, username, credential;
  int port = 0;
};

// The TURN servers of a list of RTCIceServer (`iceServers`).
std::vector<TurnServer> TurnServers(const Value* servers) {
  std::vector<TurnServer> out;
  if (servers == nullptr) return out;
  for (const auto& server : servers->list_value().values()) {
    const Value* urls = JsonAt(server, "urls");
    if (urls == nullptr) continue;
    std::vector<std::string> list;
    if (urls->kind_case() == Value::kStringValue) list.push_back(urls->string_value());
    for (const auto& u : urls->list_value().values()) list.push_back(u.string_value());
    for (const auto& url : list) {
      if (!absl::StartsWith(url, "turn:")) continue;
      TurnServer t;
      t.url = url;
      std::string hostport =
          url.substr(5, url.find('?') == std::string::npos ? std::string::npos : url.find('?') - 5);
      size_t colon = hostport.rfind(':');
      t.host = hostport.substr(0, colon);
      if (colon == std::string::npos || !absl::SimpleAtoi(hostport.substr(colon + 1), &t.port)) {
        t.port = 3478;
      }
      t.username = JsonStringAt(server, "username");
      t.credential = JsonStringAt(server, "credential");
      out.push_back(t);
    }
  }
  return out;
}

// uclient with two clients sending to each other through their relays; status 0 and no
// packet lost when the allocation was accepted.
CommandResult Uclient(const TurnServer& t, const std::string& username,
                      const std::string& credential) {
  return RunShell(absl::StrCat("timeout 60 ", kUclient, " -y -n 2 -m 1 -u ", ShellQuote(username),
                               " -w ", ShellQuote(credential), " -p ", t.port, " ",
                               ShellQuote(t.host)));
}

// Wraps an async function body for execute/async: `args` are the script's arguments, and
// the result is {ok: value} or {error: "..."}.
std::string AsyncScript(const std::string& body) {
  return absl::StrCat(
      "const done = arguments[arguments.length - 1];\n"
      "const args = Array.prototype.slice.call(arguments, 0, arguments.length - 1);\n"
      "(async (...args) => {\n",
      body,
      "\n})(...args).then((v) => done({ok: v === undefined ? null : v}),\n"
      "  (e) => done({error: String((e && e.stack) || e)}));");
}

// Two RTCPeerConnections in one page, connected through each other's candidates directly
// (no signaling server), with the camera's video; resolves with both states, the
// candidates gathered and the frames decoded. args[0]: RTCConfiguration.
constexpr char kLoopbackCall[] = R"JS(
const config = args[0];
const stream = await navigator.mediaDevices.getUserMedia({audio: true, video: true});
const a = new RTCPeerConnection(config), b = new RTCPeerConnection(config);
const gathered = [];
a.onicecandidate = (e) => { if (e.candidate && e.candidate.candidate) { gathered.push(e.candidate.candidate); b.addIceCandidate(e.candidate); } };
b.onicecandidate = (e) => { if (e.candidate && e.candidate.candidate) a.addIceCandidate(e.candidate); };
stream.getTracks().forEach((t) => a.addTrack(t, stream));
const v = document.createElement('video');
v.autoplay = true; v.muted = true;
document.body.appendChild(v);
b.ontrack = (e) => { v.srcObject = e.streams[0]; };
await a.setLocalDescription();
await b.setRemoteDescription(a.localDescription);
await b.setLocalDescription();
await a.setRemoteDescription(b.localDescription);
let frames = 0, pair = null;
for (let i = 0; i < 100 && frames < 10; i++) {
  await new Promise((r) => setTimeout(r, 200));
  const byId = new Map();
  let pairId = null;
  frames = 0;
  (await b.getStats()).forEach((r) => {
    byId.set(r.id, r);
    if (r.type === 'inbound-rtp' && r.kind === 'video') frames += r.framesDecoded || 0;
    if (r.type === 'transport' && r.selectedCandidatePairId) pairId = r.selectedCandidatePairId;
  });
  if (pairId) {
    const p = byId.get(pairId);
    pair = {local: (byId.get(p.localCandidateId) || {}).candidateType,
            remote: (byId.get(p.remoteCandidateId) || {}).candidateType};
  }
}
const out = {states: [a.connectionState, b.connectionState], frames, gathered, pair};
a.close(); b.close();
stream.getTracks().forEach((t) => t.stop());
return out;
)JS";

class WebRtcE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    Stack& s = Stack::Get();
    driver_ = new ChromeDriver(s, s.tmp_dir() + "/chromedriver.log");
  }
  static void TearDownTestSuite() {
    delete driver_;
    driver_ = nullptr;
  }

  void SetUp() override {
    Stack::Get().RedisDeleteMatching("rl:*");  // Registrations: the per-IP SMS limit.
    ASSERT_TRUE(driver_->status().ok()) << driver_->status();
    client_js_ = ClientJs();
    ASSERT_FALSE(client_js_.empty()) << "tests/e2e/client.js not found (ADMISSIONS_SOURCE_DIR)";
  }

  void TearDown() override {
    // ADMISSIONS_E2E_VERBOSE=1: every page's log and stats, also when the test passed.
    const char* verbose = std::getenv("ADMISSIONS_E2E_VERBOSE");
    if (HasFailure() || (verbose != nullptr && std::string(verbose) == "1")) {
      for (auto& page : pages_) DumpPage(*page);
    }
    pages_.clear();
  }

  // A browser on the gateway's origin (same-origin fetch and WebSocket; 127.0.0.1 is a
  // secure context, so getUserMedia works) with client.js loaded.
  BrowserSession& OpenPage(const std::string& name, const std::vector<std::string>& args = {}) {
    pages_.push_back(std::make_unique<BrowserSession>(*driver_, name, args));
    BrowserSession& page = *pages_.back();
    EXPECT_TRUE(page.status().ok()) << name << ": " << page.status();
    if (!page.status().ok()) return page;
    EXPECT_TRUE(page.SetScriptTimeout(25000).ok());
    auto nav =
        page.Navigate(absl::StrCat("http://127.0.0.1:", Stack::Get().gateway_port(), "/healthz"));
    EXPECT_TRUE(nav.ok()) << name << ": " << nav;
    auto loaded = page.Execute(client_js_ + "\nreturn typeof window.Admissions;");
    EXPECT_TRUE(loaded.ok() && loaded->string_value() == "object")
        << name << ": client.js did not load: " << (loaded.ok() ? ToJson(*loaded) : "")
        << loaded.status();
    return page;
  }

  // Runs an async function body in the page; its value, or a failure with the page's error.
  Value Async(BrowserSession& page, const std::string& body, const std::vector<Value>& args = {}) {
    Value list = JsonList(args);
    auto r = page.ExecuteAsync(AsyncScript(body), &list);
    if (!r.ok()) {
      ADD_FAILURE() << page.name() << ": " << r.status();
      return Value();
    }
    if (JsonAt(*r, "error") != nullptr) {
      ADD_FAILURE() << page.name() << ": " << JsonStringAt(*r, "error");
      return Value();
    }
    const Value* ok = JsonAt(*r, "ok");
    return ok != nullptr ? *ok : Value();
  }

  void DumpPage(BrowserSession& page) {
    auto logs = page.Execute(
        "return window.Admissions ? window.Admissions.logs.slice(-200).join('\\n') : "
        "'(client.js not loaded)';");
    std::cerr << "----- " << page.name() << ": page log (last 200 lines) -----\n"
              << (logs.ok() ? logs->string_value() : logs.status().ToString()) << "\n";
    auto stats = page.ExecuteAsync(
        AsyncScript("return window.e2e ? await window.e2e.stats() : '(no interview client)';"));
    std::cerr << "----- " << page.name() << ": stats -----\n"
              << (stats.ok() ? ToJson(*stats) : stats.status().ToString()) << "\n";
  }

  static ChromeDriver* driver_;
  std::string client_js_;
  std::vector<std::unique_ptr<BrowserSession>> pages_;
};

ChromeDriver* WebRtcE2eTest::driver_ = nullptr;

// The browser itself: fake camera, loopback candidates, frames decoded, on the gateway's
// origin. When this fails, the interview tests below cannot pass; look here first.
TEST_F(WebRtcE2eTest, ChromiumConnectsTwoPeerConnectionsOverLoopback) {
  BrowserSession& page = OpenPage("loopback");
  ASSERT_FALSE(HasFailure());
  Value config;
  config.mutable_struct_value();
  Value r = Async(page, kLoopbackCall, {config});
  ASSERT_FALSE(HasFailure());
  EXPECT_EQ(ToJson(*JsonAt(r, "states")), R"(["connected","connected"])") << ToJson(r);
  EXPECT_GT(JsonNumberAt(r, "frames"), 0) << ToJson(r);
  EXPECT_TRUE(absl::StrContains(ToJson(*JsonAt(r, "gathered")), " 127.0.0.1 "))
      << "no plain 127.0.0.1 host candidate: " << ToJson(r);
}

// The service's TURN credentials are accepted by the stack's coturn (turnutils_uclient
// allocates and relays with them), and altered ones are not.
TEST_F(WebRtcE2eTest, IceServersCredentialsAllocateOnTheStacksTurn) {
  ASSERT_EQ(access(kUclient, X_OK), 0) << kUclient << " is missing: install coturn";
  Stack& s = Stack::Get();
  ReadyCandidate c = VerifiedCandidate(s);
  auto r = s.Call("GET", "/v1/ice-servers", "", Bearer(c.token));
  ASSERT_EQ(r.status, 200) << r.body;
  const Value& ice = r.json;
  std::vector<TurnServer> turns = TurnServers(JsonAt(ice, "iceServers"));
  ASSERT_FALSE(turns.empty()) << "no turn: URL in " << r.body;
  const TurnServer& t = turns.front();

  // username "expiry:accountId", expiry in the future, no later than expiresAt.
  std::vector<std::string> parts = absl::StrSplit(t.username, absl::MaxSplits(':', 1));
  ASSERT_EQ(parts.size(), 2u) << t.username;
  int64_t expiry = 0;
  ASSERT_TRUE(absl::SimpleAtoi(parts[0], &expiry)) << t.username;
  EXPECT_EQ(parts[1], c.c.account_id);
  EXPECT_GT(expiry, static_cast<int64_t>(std::time(nullptr)));
  EXPECT_FALSE(t.credential.empty());
  EXPECT_FALSE(JsonStringAt(ice, "expiresAt").empty()) << r.body;

  // Exactly base64(HMAC-SHA1(the stack's secret, username)), computed here by openssl.
  CommandResult expected =
      RunShell(absl::StrCat("printf '%s' ", ShellQuote(t.username), " | openssl dgst -sha1 -hmac ",
                            ShellQuote(s.turn_secret()), " -binary | base64"));
  ASSERT_EQ(expected.status, 0) << expected.output;
  EXPECT_EQ(t.credential + "\n", expected.output);

  CommandResult ok = Uclient(t, t.username, t.credential);
  EXPECT_EQ(ok.status, 0) << ok.output;
  EXPECT_TRUE(absl::StrContains(ok.output, "Total lost packets 0 ")) << ok.output;
  EXPECT_FALSE(absl::StrContains(ok.output, "Cannot complete Allocation")) << ok.output;

  // The same credential with the expiry moved: refused (a client cannot extend it).
  CommandResult moved = Uclient(t, absl::StrCat(expiry + 3600, ":", parts[1]), t.credential);
  EXPECT_NE(moved.status, 0) << moved.output;
  EXPECT_TRUE(absl::StrContains(moved.output, "Cannot complete Allocation")) << moved.output;
}

// A browser fetches the ICE servers on the gateway's origin and sends video through the
// stack's coturn alone (iceTransportPolicy "relay"): the credentials work in WebRTC itself.
TEST_F(WebRtcE2eTest, BrowserRelaysMediaThroughTheStacksTurn) {
  Stack& s = Stack::Get();
  ReadyCandidate c = VerifiedCandidate(s);
  BrowserSession& page = OpenPage("relay");
  ASSERT_FALSE(HasFailure());
  Value r = Async(page,
                  absl::StrCat(R"JS(
const ice = await Admissions.api('GET', '/v1/ice-servers', undefined, args[0]);
const config = {iceServers: ice.iceServers, iceTransportPolicy: 'relay'};
return await (async (...args) => {)JS",
                               kLoopbackCall, "})(config);"),
                  {JsonString(c.token)});
  ASSERT_FALSE(HasFailure());
  EXPECT_EQ(ToJson(*JsonAt(r, "states")), R"(["connected","connected"])") << ToJson(r);
  EXPECT_GT(JsonNumberAt(r, "frames"), 0) << ToJson(r);
  EXPECT_EQ(JsonStringAt(r, "pair.local"), "relay") << ToJson(r);
  EXPECT_EQ(JsonStringAt(r, "pair.remote"), "relay") << ToJson(r);
}

// Per page, what the interview needs to look like before the test moves on.
struct LinkView {
  std::string state;
  double frames = 0;
  double exchanges = 0;
  std::string sending;  // The kinds of the local tracks sent on this link.
};

LinkView Link(const Value& stats, const std::string& peer) {
  LinkView v;
  const Value* links = JsonAt(stats, "links");
  if (links == nullptr) return v;
  auto it = links->struct_value().fields().find(peer);
  if (it == links->struct_value().fields().end()) return v;
  v.state = JsonStringAt(it->second, "connectionState");
  v.frames = JsonNumberAt(it->second, "framesDecoded");
  v.exchanges = JsonNumberAt(it->second, "exchanges");
  const Value* sending = JsonAt(it->second, "sendingTracks");
  if (sending != nullptr) v.sending = ToJson(*sending);
  return v;
}

constexpr char kStats[] = "return await window.e2e.stats();";

// The whole interview with a second device: the candidate's page asks for a pairing QR,
// the phone (the same candidate, logged in again: a session of its own) pairs, the examiner
// invites, the candidate accepts, and examiner, candidate and phone join over /v1/live.
// Every side connects and decodes the others' video (the phone sends video only; it goes
// through TURN alone). Then the candidate's WebSocket drops: the page resumes with afterSeq
// and the call goes on, its frames still increasing on both sides, and signaling works
// again (an ICE restart over the resumed channel).
TEST_F(WebRtcE2eTest, InterviewWithSecondDeviceConnectsAndSurvivesSocketLoss) {
  Stack& s = Stack::Get();
  RoomWorldOptions options;
  options.candidates = 1;
  options.dual_camera = true;
  options.examiners = 1;
  RoomWorld w = MakeRoomWorld(s, options);
  ASSERT_FALSE(HasFailure());
  const ReadyCandidate& cand = w.candidates[0];
  EnterRoom(s, w, cand);
  ASSERT_FALSE(HasFailure());
  const std::string account = cand.c.account_id;
  const std::string phone_peer = account + "/2";
  const std::string examiner_peer = w.examiner_ids[0];

  BrowserSession& examiner = OpenPage("examiner");
  BrowserSession& candidate = OpenPage("candidate");
  BrowserSession& phone = OpenPage("phone");
  ASSERT_FALSE(HasFailure());

  // Pairing: the first device shows a QR; the phone logs in on its own and scans it.
  Value qr = Async(candidate,
                   "return await Admissions.api('POST', `/v1/rooms/${args[1]}/second-device`, "
                   "{}, args[0]);",
                   {JsonString(cand.token), JsonString(w.room)});
  ASSERT_FALSE(HasFailure());
  ASSERT_FALSE(JsonStringAt(qr, "qrPayload").empty()) << ToJson(qr);
  Value paired = Async(phone, R"JS(
const tokens = await Admissions.login(args[0], args[1]);
window.phoneToken = tokens.accessToken;
const r = await Admissions.api('POST', '/v1/devices:pair', {qrPayload: args[2]}, tokens.accessToken);
return Object.assign(r, {token: tokens.accessToken});
)JS",
                       {JsonString(cand.c.phone), JsonString(cand.c.password),
                        JsonString(JsonStringAt(qr, "qrPayload"))});
  ASSERT_FALSE(HasFailure());
  EXPECT_EQ(JsonStringAt(paired, "roomId"), w.room) << ToJson(paired);
  EXPECT_EQ(JsonStringAt(paired, "role"), "SECONDARY") << ToJson(paired);
  const std::string phone_token = JsonStringAt(paired, "token");
  ASSERT_NE(phone_token, cand.token);

  std::string interview = StartInterview(s, w, cand);
  ASSERT_FALSE(interview.empty());

  // Small video, so that three browsers encode and decode on two cores.
  constexpr char kStart[] = R"JS(
window.e2e = new Admissions.InterviewClient({token: args[0], roomId: args[1], relayOnly: args[2],
    video: {width: 320, height: 240, frameRate: 15}});
return await window.e2e.start();
)JS";
  Value ex_joined = Async(examiner, kStart,
                          {JsonString(w.examiner_tokens[0]), JsonString(w.room), JsonBool(false)});
  Value cand_joined =
      Async(candidate, kStart, {JsonString(cand.token), JsonString(w.room), JsonBool(false)});
  Value phone_joined =
      Async(phone, kStart, {JsonString(phone_token), JsonString(w.room), JsonBool(true)});
  ASSERT_FALSE(HasFailure());
  EXPECT_EQ(JsonStringAt(ex_joined, "self.role"), "EXAMINER") << ToJson(ex_joined);
  EXPECT_EQ(JsonStringAt(ex_joined, "self.peerId"), examiner_peer) << ToJson(ex_joined);
  EXPECT_EQ(JsonStringAt(ex_joined, "interviewId"), interview) << ToJson(ex_joined);
  EXPECT_EQ(JsonStringAt(cand_joined, "self.role"), "CANDIDATE") << ToJson(cand_joined);
  EXPECT_EQ(JsonStringAt(cand_joined, "self.peerId"), account) << ToJson(cand_joined);
  EXPECT_EQ(JsonStringAt(phone_joined, "self.role"), "SECONDARY") << ToJson(phone_joined);
  EXPECT_EQ(JsonStringAt(phone_joined, "self.peerId"), phone_peer) << ToJson(phone_joined);
  const Value* send_audio = JsonAt(phone_joined, "self.sendAudio");
  EXPECT_TRUE(send_audio != nullptr && !send_audio->bool_value()) << ToJson(phone_joined);
  EXPECT_EQ(ToJson(*JsonAt(phone_joined, "localTracks")), R"(["video"])") << ToJson(phone_joined);
  EXPECT_FALSE(TurnServers(JsonAt(phone_joined, "iceServers")).empty())
      << "joined carries no TURN server: " << ToJson(phone_joined);
  ASSERT_FALSE(HasFailure());

  // Everyone connected, every video decoded.
  Value ex_stats, cand_stats, phone_stats;
  bool up = PollUntil(60, [&] {
    ex_stats = Async(examiner, kStats);
    cand_stats = Async(candidate, kStats);
    phone_stats = Async(phone, kStats);
    if (HasFailure()) return true;
    LinkView e_c = Link(ex_stats, account), e_p = Link(ex_stats, phone_peer);
    LinkView c_e = Link(cand_stats, examiner_peer), p_e = Link(phone_stats, examiner_peer);
    return e_c.state == "connected" && e_c.frames > 0 && e_p.state == "connected" &&
           e_p.frames > 0 && c_e.state == "connected" && c_e.frames > 0 && p_e.state == "connected";
  });
  ASSERT_FALSE(HasFailure());
  ASSERT_TRUE(up) << "examiner: " << ToJson(ex_stats) << "\ncandidate: " << ToJson(cand_stats)
                  << "\nphone: " << ToJson(phone_stats);
  // The phone sends no audio: no audio track on its connection, none arriving.
  EXPECT_EQ(Link(phone_stats, examiner_peer).sending, R"(["video"])") << ToJson(phone_stats);
  EXPECT_EQ(JsonNumberAt(phone_stats, "links." + examiner_peer + ".outbound.audio.bytesSent"), 0)
      << ToJson(phone_stats);
  EXPECT_EQ(JsonNumberAt(ex_stats, "links." + phone_peer + ".inbound.audio.bytesReceived"), 0)
      << ToJson(ex_stats);
  // The candidate's first device sends both, and the phone's video came through TURN.
  EXPECT_EQ(Link(cand_stats, examiner_peer).sending, R"(["audio","video"])") << ToJson(cand_stats);
  EXPECT_EQ(JsonStringAt(phone_stats, "links." + examiner_peer + ".pair.localType"), "relay")
      << ToJson(phone_stats);

  // The candidate's WebSocket drops.
  const double seq_before = JsonNumberAt(cand_stats, "lastSeq");
  EXPECT_GT(seq_before, 0) << ToJson(cand_stats);
  const double ex_frames = Link(ex_stats, account).frames;
  const double cand_frames = Link(cand_stats, examiner_peer).frames;
  auto dropped = candidate.Execute("window.e2e.dropSocket(); return true;");
  ASSERT_TRUE(dropped.ok()) << dropped.status();

  bool resumed = PollUntil(45, [&] {
    ex_stats = Async(examiner, kStats);
    cand_stats = Async(candidate, kStats);
    if (HasFailure()) return true;
    const Value* ws_open = JsonAt(cand_stats, "wsOpen");
    return JsonNumberAt(cand_stats, "joinedCount") >= 2 && ws_open != nullptr &&
           ws_open->bool_value() && Link(cand_stats, examiner_peer).state == "connected" &&
           Link(ex_stats, account).state == "connected" &&
           Link(ex_stats, account).frames > ex_frames + 30 &&
           Link(cand_stats, examiner_peer).frames > cand_frames + 30;
  });
  ASSERT_FALSE(HasFailure());
  ASSERT_TRUE(resumed) << "examiner: " << ToJson(ex_stats) << "\ncandidate: " << ToJson(cand_stats);
  EXPECT_GE(JsonNumberAt(cand_stats, "lastJoinAfterSeq"), seq_before) << ToJson(cand_stats);
  EXPECT_GE(JsonNumberAt(cand_stats, "reconnects"), 1) << ToJson(cand_stats);

  // Signaling over the resumed channel: the examiner restarts ICE with the candidate; a new
  // offer/answer crosses the resumed socket and the media keeps flowing.
  const double exchanges = Link(cand_stats, examiner_peer).exchanges;
  Value restart_args = JsonList({JsonString(account)});
  auto restarted = examiner.Execute("window.e2e.links.get(arguments[0]).restartIce(); return true;",
                                    &restart_args);
  ASSERT_TRUE(restarted.ok()) << restarted.status();
  const double frames_now = Link(cand_stats, examiner_peer).frames;
  bool renegotiated = PollUntil(45, [&] {
    ex_stats = Async(examiner, kStats);
    cand_stats = Async(candidate, kStats);
    if (HasFailure()) return true;
    LinkView c_e = Link(cand_stats, examiner_peer);
    return c_e.exchanges > exchanges && c_e.state == "connected" && c_e.frames > frames_now &&
           Link(ex_stats, account).state == "connected";
  });
  ASSERT_FALSE(HasFailure());
  EXPECT_TRUE(renegotiated) << "examiner: " << ToJson(ex_stats)
                            << "\ncandidate: " << ToJson(cand_stats);
}

// Two examiners offer to each other at the same moment (each page holds its offer until a
// common instant): the offers cross, and the documented glare rule settles it. The polite
// side (the greater peer id) rolls back and answers; its own offer is refused with GLARE or
// ignored by the other side, depending on which reached the server first. One connection
// results, with video both ways.
TEST_F(WebRtcE2eTest, CrossingOffersBetweenExaminersSettleByTheGlareRule) {
  Stack& s = Stack::Get();
  RoomWorldOptions options;
  options.candidates = 1;
  options.examiners = 2;
  RoomWorld w = MakeRoomWorld(s, options);
  ASSERT_FALSE(HasFailure());
  EnterRoom(s, w, w.candidates[0]);
  ASSERT_FALSE(HasFailure());
  ASSERT_FALSE(StartInterview(s, w, w.candidates[0]).empty());

  BrowserSession& first = OpenPage("examiner-1");
  BrowserSession& second = OpenPage("examiner-2");
  ASSERT_FALSE(HasFailure());
  const double at = static_cast<double>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                            std::chrono::system_clock::now().time_since_epoch())
                                            .count()) +
                    4000;
  constexpr char kStart[] = R"JS(
window.e2e = new Admissions.InterviewClient({token: args[0], roomId: args[1], holdOffersUntil: args[2],
    video: {width: 320, height: 240, frameRate: 15}});
return await window.e2e.start();
)JS";
  Async(first, kStart, {JsonString(w.examiner_tokens[0]), JsonString(w.room), JsonNumber(at)});
  Async(second, kStart, {JsonString(w.examiner_tokens[1]), JsonString(w.room), JsonNumber(at)});
  ASSERT_FALSE(HasFailure());

  const std::string& id1 = w.examiner_ids[0];
  const std::string& id2 = w.examiner_ids[1];
  Value st1, st2;
  bool up = PollUntil(60, [&] {
    st1 = Async(first, kStats);
    st2 = Async(second, kStats);
    if (HasFailure()) return true;
    LinkView a = Link(st1, id2), b = Link(st2, id1);
    return a.state == "connected" && a.frames > 0 && b.state == "connected" && b.frames > 0;
  });
  ASSERT_FALSE(HasFailure());
  ASSERT_TRUE(up) << "examiner-1: " << ToJson(st1) << "\nexaminer-2: " << ToJson(st2);
  // Byte-wise, as the server compares (std::string compares unsigned chars as char_traits).
  const bool first_polite = id1.compare(id2) > 0;
  const Value& polite = first_polite ? st1 : st2;
  const Value& impolite = first_polite ? st2 : st1;
  EXPECT_GE(JsonNumberAt(polite, "glare.rolledBack"), 1)
      << "polite: " << ToJson(polite) << "\nimpolite: " << ToJson(impolite);
  EXPECT_GE(JsonNumberAt(polite, "glare.refused") + JsonNumberAt(impolite, "glare.ignored"), 1)
      << "polite: " << ToJson(polite) << "\nimpolite: " << ToJson(impolite);
  EXPECT_EQ(JsonNumberAt(impolite, "glare.rolledBack"), 0) << ToJson(impolite);
  EXPECT_EQ(JsonNumberAt(impolite, "glare.refused"), 0) << ToJson(impolite);
}

}  // namespace
}  // namespace admissions::testing
