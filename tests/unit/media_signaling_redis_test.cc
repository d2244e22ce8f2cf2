// The Redis relay store against the real Redis that the test run starts (TEST_REDIS_URL).
// Without one the tests fail: under `make test` nothing skips.
#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <mutex>

#include "common/crypto.h"
#include "common/status.h"
#include "gtest/gtest.h"
#include "media_signaling/redis_relay_store.h"

namespace admissions::media_signaling {
namespace {

/// Collects what one instance channel carries.
class Channel {
 public:
  Channel(const RedisAddress& addr, const std::string& instance)
      : sub_(
            addr, {kInstanceChannelPrefix + instance},
            [this](const std::string&, const std::string& payload) {
              std::lock_guard<std::mutex> lock(mu_);
              if (auto r = ParseRouted(payload)) got_.push_back(*r);
              cv_.notify_all();
            },
            [this] {
              std::lock_guard<std::mutex> lock(mu_);
              ready_ = true;
              cv_.notify_all();
            }) {
    std::unique_lock<std::mutex> lock(mu_);
    EXPECT_TRUE(cv_.wait_for(lock, std::chrono::seconds(5), [this] { return ready_; }));
  }
  /// Waits for at least n messages.
  std::vector<Routed> Wait(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(5), [&] { return got_.size() >= n; });
    return got_;
  }
  /// Waits until a message satisfies `pred` (others may come first); false after 5 s.
  template <class Pred>
  bool WaitFor(Pred pred) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(5),
                        [&] { return std::any_of(got_.begin(), got_.end(), pred); });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool ready_ = false;
  std::vector<Routed> got_;
  RedisSubscriber sub_;
};

class MediaSignalingRedisTest : public ::testing::Test {
 protected:
  void SetUp() override {
    InitCrypto();
    const char* url = std::getenv("TEST_REDIS_URL");
    ASSERT_NE(url, nullptr) << "TEST_REDIS_URL is not set: run through deploy/local/test.sh";
    auto addr = RedisAddress::Parse(url);
    ASSERT_TRUE(addr.ok()) << addr.status();
    addr_ = *addr;
    pool_ = std::make_unique<RedisPool>(addr_, 4);
    ASSERT_TRUE(pool_->Command({"PING"}).ok()) << "Redis at " << url << " does not answer";
    RelayOptions options;
    options.grace = absl::Seconds(15);
    options.mailbox_limit = 5;
    options.now = [this] { return now_; };
    store_ = std::make_unique<RedisRelayStore>(pool_.get(), options);
    iid_ = HexEncode(RandomBytes(8));
    inst_ = HexEncode(RandomBytes(8));
  }

  ParticipantInfo Who(const std::string& peer, v1::PeerRole role, const std::string& account,
                      const std::string& sid) {
    return ParticipantInfo{iid_, "room-1", "cand", peer, role, account, sid, "N"};
  }
  Sender From(const ParticipantInfo& p, int64_t epoch) {
    return Sender{p.interview_id, p.peer_id, epoch, p.account_id, p.session_id};
  }
  v1::Signal Sig(const std::string& from, const std::string& to, const std::string& kind) {
    v1::Signal s;
    s.set_from(from);
    s.set_to(to);
    s.set_kind(kind);
    s.set_sdp("v=0 " + kind);
    return s;
  }
  std::vector<v1::Delivery> Box(const std::string& peer, int64_t after = 0) {
    auto mb = store_->ReadMailbox(iid_, peer, after);
    EXPECT_TRUE(mb.ok()) << mb.status();
    return mb.ok() ? mb->deliveries : std::vector<v1::Delivery>();
  }
  std::vector<Removed> Mine(std::vector<Removed> all) {
    std::vector<Removed> out;
    for (auto& r : all) {
      if (r.interview_id == iid_) out.push_back(std::move(r));
    }
    return out;
  }

  absl::Time now_ = absl::Now();
  RedisAddress addr_;
  std::unique_ptr<RedisPool> pool_;
  std::unique_ptr<RedisRelayStore> store_;
  std::string iid_, inst_;
};

TEST_F(MediaSignalingRedisTest, JoinNotifiesPeersAndRelaysInOrder) {
  Channel channel(addr_, inst_);
  ParticipantInfo exam = Who("exam", v1::EXAMINER, "exam", "s-exam");
  ParticipantInfo cand = Who("cand", v1::CANDIDATE, "cand", "s-cand");
  auto e = store_->Join(exam, inst_);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->epoch, 1);
  EXPECT_TRUE(e->peers.empty());
  EXPECT_TRUE(e->self.connected());
  auto c = store_->Join(cand, inst_);
  ASSERT_TRUE(c.ok());
  ASSERT_EQ(c->peers.size(), 1u);
  EXPECT_EQ(c->peers[0].peer_id(), "exam");
  EXPECT_TRUE(c->peers[0].connected());

  auto seq = store_->Relay(From(cand, c->epoch), Sig("cand", "exam", "offer"), false);
  ASSERT_TRUE(seq.ok()) << seq.status();
  EXPECT_EQ(*seq, 2);  // 1 was peer_joined.
  auto box = Box("exam");
  ASSERT_EQ(box.size(), 2u);
  EXPECT_EQ(box[0].seq(), 1);
  ASSERT_TRUE(box[0].has_peer_joined());
  EXPECT_EQ(box[0].peer_joined().peer_id(), "cand");
  EXPECT_TRUE(box[0].peer_joined().send_audio());
  EXPECT_EQ(box[1].seq(), 2);
  EXPECT_EQ(box[1].signal().sdp(), "v=0 offer");
  EXPECT_EQ(box[1].signal().from(), "cand");

  auto routed = channel.Wait(2);
  ASSERT_GE(routed.size(), 2u);
  EXPECT_EQ(routed[0].kind, Routed::Kind::kDelivery);
  EXPECT_EQ(routed[0].interview_id, iid_);
  EXPECT_EQ(routed[0].peer_id, "exam");
  EXPECT_EQ(routed[1].delivery.SerializeAsString(), box[1].SerializeAsString());

  EXPECT_EQ(
      ReasonOf(store_->Relay(From(cand, c->epoch), Sig("cand", "nobody", "offer"), false).status()),
      "UNKNOWN_PEER");
  Sender stranger = From(cand, c->epoch);
  stranger.session_id = "s-other";
  EXPECT_EQ(store_->Relay(stranger, Sig("cand", "exam", "candidate"), false).status().code(),
            absl::StatusCode::kPermissionDenied);
  ParticipantInfo ghost = Who("ghost", v1::EXAMINER, "ghost", "s-ghost");
  EXPECT_EQ(ReasonOf(store_->Relay(From(ghost, 1), Sig("ghost", "exam", "offer"), false).status()),
            "NOT_JOINED");
}

TEST_F(MediaSignalingRedisTest, MailboxKeepsTheNewestAndResumes) {
  ParticipantInfo a = Who("a", v1::EXAMINER, "a", "sa");
  ParticipantInfo b = Who("b", v1::CANDIDATE, "b", "sb");
  ASSERT_TRUE(store_->Join(b, inst_).ok());
  auto ja = store_->Join(a, inst_);
  ASSERT_TRUE(ja.ok());
  for (int i = 0; i < 8; ++i) {
    ASSERT_TRUE(store_->Relay(From(a, ja->epoch), Sig("a", "b", "candidate"), false).ok());
  }
  // b: peer_joined (1) then eight signals (2..9); the newest five are kept.
  auto mb = store_->ReadMailbox(iid_, "b", 0);
  ASSERT_TRUE(mb.ok());
  EXPECT_EQ(mb->last_seq, 9);
  ASSERT_EQ(mb->deliveries.size(), 5u);
  EXPECT_EQ(mb->deliveries.front().seq(), 5);
  EXPECT_EQ(mb->deliveries.back().seq(), 9);
  auto after = Box("b", 7);
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(after[0].seq(), 8);
}

TEST_F(MediaSignalingRedisTest, GlareRule) {
  ParticipantInfo a = Who("a", v1::EXAMINER, "a", "sa");
  ParticipantInfo b = Who("b", v1::CANDIDATE, "b", "sb");
  auto ja = store_->Join(a, inst_);
  auto jb = store_->Join(b, inst_);
  ASSERT_TRUE(ja.ok() && jb.ok());
  Sender sa = From(a, ja->epoch), sb = From(b, jb->epoch);
  // a's offer is pending; b (polite: "b" > "a") offering back is refused.
  ASSERT_TRUE(store_->Relay(sa, Sig("a", "b", "offer"), false).ok());
  auto st = store_->Relay(sb, Sig("b", "a", "offer"), true).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ReasonOf(st), "GLARE");
  // b answers a's offer: nothing pending any more, b may offer.
  ASSERT_TRUE(store_->Relay(sb, Sig("b", "a", "answer"), true).ok());
  ASSERT_TRUE(store_->Relay(sb, Sig("b", "a", "offer"), true).ok());
  // a (impolite) offers across b's pending offer: relayed, and b's offer forgotten.
  ASSERT_TRUE(store_->Relay(sa, Sig("a", "b", "offer"), false).ok());
  auto pending = pool_->Command({"HEXISTS", "{ms:" + iid_ + "}:offers", "b>a"});
  ASSERT_TRUE(pending.ok());
  EXPECT_EQ(pending->integer, 0);
  // An unanswered offer stops counting after its time.
  now_ += absl::Seconds(31);
  EXPECT_TRUE(store_->Relay(sb, Sig("b", "a", "offer"), true).ok());
  // One left by a page that reloaded (joined afresh) does not count either.
  ASSERT_TRUE(store_->Relay(sa, Sig("a", "b", "offer"), false).ok());
  auto ja2 = store_->Join(a, inst_);
  ASSERT_TRUE(ja2.ok());
  EXPECT_TRUE(store_->Relay(sb, Sig("b", "a", "offer"), true).ok());
  auto left = pool_->Command({"HLEN", "{ms:" + iid_ + "}:offers"});
  ASSERT_TRUE(left.ok());
  EXPECT_EQ(left->integer, 1);  // b's, to the new a.
  ASSERT_TRUE(store_->Leave(From(b, jb->epoch)).ok());
  left = pool_->Command({"HLEN", "{ms:" + iid_ + "}:offers"});
  ASSERT_TRUE(left.ok());
  EXPECT_EQ(left->integer, 0);
}

TEST_F(MediaSignalingRedisTest, ANewConnectionReplacesTheOld) {
  Channel channel(addr_, "old-" + inst_);
  ParticipantInfo a = Who("a", v1::EXAMINER, "a", "sa");
  ParticipantInfo b = Who("b", v1::CANDIDATE, "b", "sb");
  auto first = store_->Join(b, "old-" + inst_);
  ASSERT_TRUE(store_->Join(a, inst_).ok());
  auto second = store_->Join(b, inst_);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(second->epoch, first->epoch + 1);
  EXPECT_TRUE(second->rejoined);

  // The old instance also gets b's peer_joined of a first: wait for the notice itself.
  EXPECT_TRUE(channel.WaitFor([&](const Routed& r) {
    return r.kind == Routed::Kind::kReplaced && r.peer_id == "b" && r.epoch == first->epoch;
  }));
  EXPECT_EQ(ReasonOf(store_->Relay(From(b, first->epoch), Sig("b", "a", "offer"), true).status()),
            "REPLACED");
  EXPECT_EQ(ReasonOf(store_->Leave(From(b, first->epoch))), "REPLACED");
  // The old stream's end changes nothing; the new one's marks b disconnected.
  size_t before = Box("a").size();
  ASSERT_TRUE(store_->Disconnect(iid_, "b", first->epoch).ok());
  EXPECT_EQ(Box("a").size(), before);
  ASSERT_TRUE(store_->Disconnect(iid_, "b", second->epoch).ok());
  auto box = Box("a");
  ASSERT_EQ(box.size(), before + 1);
  ASSERT_TRUE(box.back().has_peer_updated());
  EXPECT_FALSE(box.back().peer_updated().connected());
  // Back within grace: peer_updated, connected.
  auto third = store_->Join(b, inst_);
  ASSERT_TRUE(third.ok());
  box = Box("a");
  ASSERT_TRUE(box.back().has_peer_updated());
  EXPECT_TRUE(box.back().peer_updated().connected());
}

TEST_F(MediaSignalingRedisTest, TimeoutRemovesOnceAndLapsedLeasesDisconnect) {
  ParticipantInfo exam = Who("exam", v1::EXAMINER, "exam", "se");
  ParticipantInfo phone = Who("cand/2", v1::SECONDARY, "cand", "sp");
  auto je = store_->Join(exam, inst_);
  auto jp = store_->Join(phone, inst_);
  ASSERT_TRUE(je.ok() && jp.ok());
  EXPECT_FALSE(jp->self.send_audio());
  ASSERT_TRUE(store_->Disconnect(iid_, "cand/2", jp->epoch).ok());
  // The examiner's stream keeps its lease; the phone's grace runs out.
  now_ += absl::Seconds(10);
  ASSERT_TRUE(store_->KeepAlive({{iid_, "exam", je->epoch}}).ok());
  now_ += absl::Seconds(6);
  auto swept = store_->Sweep();
  ASSERT_TRUE(swept.ok()) << swept.status();
  auto mine = Mine(*swept);
  ASSERT_EQ(mine.size(), 1u);
  EXPECT_EQ(mine[0].peer_id, "cand/2");
  EXPECT_EQ(mine[0].role, v1::SECONDARY);
  EXPECT_EQ(mine[0].account_id, "cand");
  EXPECT_EQ(mine[0].room_id, "room-1");
  auto again = store_->Sweep();  // Another instance's sweep.
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(Mine(*again).empty());
  auto box = Box("exam");
  ASSERT_TRUE(box.back().has_peer_left());
  EXPECT_EQ(box.back().peer_left().peer_id(), "cand/2");
  EXPECT_EQ(box.back().peer_left().reason(), "TIMEOUT");

  // No lease renewed (the instance died): disconnected first, removed a grace period later.
  now_ += absl::Seconds(20);
  ASSERT_TRUE(store_->Sweep().ok());
  auto mb = store_->ReadMailbox(iid_, "exam", 0);
  ASSERT_TRUE(mb.ok());
  ASSERT_TRUE(store_->Verify(From(exam, je->epoch)).ok());
  now_ += absl::Seconds(16);
  swept = store_->Sweep();
  ASSERT_TRUE(swept.ok());
  mine = Mine(*swept);
  ASSERT_EQ(mine.size(), 1u);
  EXPECT_EQ(mine[0].peer_id, "exam");
  EXPECT_EQ(ReasonOf(store_->Verify(From(exam, je->epoch)).status()), "NOT_JOINED");
}

TEST_F(MediaSignalingRedisTest, ScreenSharingCarriesOverAResumeButNotAReload) {
  ParticipantInfo cand = Who("cand", v1::CANDIDATE, "cand", "sc");
  auto first = store_->Join(cand, inst_);
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(store_->SetScreenSharing(From(cand, first->epoch), true).ok());
  cand.resume = true;  // The same page after a cut: still sharing.
  auto resumed = store_->Join(cand, inst_);
  ASSERT_TRUE(resumed.ok());
  EXPECT_TRUE(resumed->self.screen_sharing());
  cand.resume = false;  // A reload: it shares again only when it says so.
  auto reloaded = store_->Join(cand, inst_);
  ASSERT_TRUE(reloaded.ok());
  EXPECT_FALSE(reloaded->self.screen_sharing());
}

TEST_F(MediaSignalingRedisTest, LeaveAndScreenShare) {
  Channel channel(addr_, inst_);
  ParticipantInfo exam = Who("exam", v1::EXAMINER, "exam", "se");
  ParticipantInfo cand = Who("cand", v1::CANDIDATE, "cand", "sc");
  auto je = store_->Join(exam, inst_);
  auto jc = store_->Join(cand, inst_);
  ASSERT_TRUE(je.ok() && jc.ok());
  auto info = store_->Verify(From(cand, jc->epoch));
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->role, v1::CANDIDATE);
  EXPECT_EQ(info->room_id, "room-1");
  ASSERT_TRUE(store_->SetScreenSharing(From(cand, jc->epoch), true).ok());
  auto self = Box("cand");
  ASSERT_TRUE(self.back().has_peer_updated());
  EXPECT_TRUE(self.back().peer_updated().screen_sharing());
  EXPECT_TRUE(Box("exam").back().peer_updated().screen_sharing());

  ASSERT_TRUE(store_->Leave(From(cand, jc->epoch)).ok());
  auto box = Box("exam");
  ASSERT_TRUE(box.back().has_peer_left());
  EXPECT_EQ(box.back().peer_left().reason(), "LEFT");
  EXPECT_TRUE(channel.WaitFor([&](const Routed& r) {
    return r.kind == Routed::Kind::kClosed && r.peer_id == "cand" && r.epoch == jc->epoch;
  }));
  EXPECT_EQ(ReasonOf(store_->Leave(From(cand, jc->epoch))), "NOT_JOINED");
}

TEST_F(MediaSignalingRedisTest, EndedSessionsRefuseEverything) {
  ParticipantInfo exam = Who("exam", v1::EXAMINER, "exam", "se");
  ParticipantInfo cand = Who("cand", v1::CANDIDATE, "cand", "sc");
  auto je = store_->Join(exam, inst_);
  auto jc = store_->Join(cand, inst_);
  ASSERT_TRUE(je.ok() && jc.ok());
  auto ref = store_->Session(iid_);
  ASSERT_TRUE(ref.ok() && ref->has_value());
  EXPECT_EQ((*ref)->room_id, "room-1");
  EXPECT_EQ((*ref)->candidate_account_id, "cand");
  auto claimed = store_->ClaimCheck(iid_, absl::Seconds(2));
  ASSERT_TRUE(claimed.ok());
  EXPECT_TRUE(*claimed);
  EXPECT_FALSE(*store_->ClaimCheck(iid_, absl::Seconds(2)));

  auto ended = store_->EndSession(iid_, "DEFERRED");
  ASSERT_TRUE(ended.ok());
  EXPECT_TRUE(*ended);
  EXPECT_FALSE(*store_->EndSession(iid_, "FINISHED"));
  for (const char* peer : {"exam", "cand"}) {
    auto box = Box(peer);
    ASSERT_FALSE(box.empty());
    ASSERT_TRUE(box.back().has_session_ended());
    EXPECT_EQ(box.back().session_ended().reason(), "DEFERRED");
  }
  EXPECT_EQ(
      ReasonOf(store_->Relay(From(cand, jc->epoch), Sig("cand", "exam", "offer"), false).status()),
      "NO_INTERVIEW");
  EXPECT_EQ(ReasonOf(store_->Join(cand, inst_).status()), "NO_INTERVIEW");
  auto gone = store_->Session(iid_);
  ASSERT_TRUE(gone.ok());
  EXPECT_FALSE(gone->has_value());
}

TEST(MediaSignalingRoutedTest, RejectsForeignPayloads) {
  EXPECT_FALSE(ParseRouted("").has_value());
  EXPECT_FALSE(ParseRouted("Dno-newlines").has_value());
  EXPECT_FALSE(ParseRouted("Ziid\npeer\n1").has_value());
  EXPECT_FALSE(ParseRouted("Riid\npeer\nnot-a-number").has_value());
  auto r = ParseRouted("Xiid\npeer/2\n7");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->kind, Routed::Kind::kClosed);
  EXPECT_EQ(r->peer_id, "peer/2");
  EXPECT_EQ(r->epoch, 7);
}

}  // namespace
}  // namespace admissions::media_signaling
