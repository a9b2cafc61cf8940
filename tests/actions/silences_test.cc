// Silences with Alertmanager's Set/Expire semantics, validation and persistence.
#include "actions/silences.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "actions/acks.h"
#include "nimify/state_store.h"

namespace nimify::actions {
namespace {

constexpr std::int64_t kNow = 1'700'000'000'000;
constexpr std::int64_t kH = 3600 * 1000;

class SilencesTest : public ::testing::Test {
 protected:
  std::string NextId() { return "id" + std::to_string(++ids_); }
  std::unique_ptr<StateStore> store_ = NewMemoryStateStore();
  int ids_ = 0;
  SilenceStore silences_{store_.get(), [this] { return NextId(); }};

  Silence Make(std::int64_t start, std::int64_t end, std::string value = "api") {
    Silence s;
    s.matchers = {MatcherSpec{"job", std::move(value), false, true}};
    s.starts_at_ms = start;
    s.ends_at_ms = end;
    s.created_by = "me";
    s.comment = "c";
    return s;
  }
};

TEST_F(SilencesTest, StatesFollowStartsAndEndsAt) {
  Result<std::string> id = silences_.Set(Make(kNow + kH, kNow + 2 * kH), kNow);
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(silences_.Get(*id, kNow)->state, SilenceState::kPending);
  EXPECT_EQ(silences_.Get(*id, kNow + kH)->state, SilenceState::kActive);
  EXPECT_EQ(silences_.Get(*id, kNow + 2 * kH)->state, SilenceState::kExpired);
  EXPECT_TRUE(silences_.Matching({{"job", "api"}}, kNow).empty());
  EXPECT_EQ(silences_.Matching({{"job", "api"}}, kNow + kH), std::vector<std::string>{*id});
  EXPECT_TRUE(silences_.Matching({{"job", "web"}}, kNow + kH).empty());
  EXPECT_EQ(SilenceStateName(SilenceState::kActive), "active");
}

TEST_F(SilencesTest, StartInThePastIsMovedToNow) {
  Result<std::string> id = silences_.Set(Make(kNow - kH, kNow + kH), kNow);
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(silences_.Get(*id, kNow)->starts_at_ms, kNow);
}

TEST_F(SilencesTest, UpdateInPlaceWhenAllowedElseReplace) {
  Result<std::string> id = silences_.Set(Make(kNow, kNow + kH), kNow);
  ASSERT_TRUE(id.ok());
  // Active, same matchers and start, end moved later: updated in place.
  Silence s = *silences_.Get(*id, kNow + 1);
  s.ends_at_ms = kNow + 3 * kH;
  s.comment = "longer";
  Result<std::string> same = silences_.Set(s, kNow + 1);
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(*same, *id);
  EXPECT_EQ(silences_.Get(*id, kNow + 1)->comment, "longer");
  // Active and the matchers change: the old one expires, a new id is made.
  s.matchers[0].value = "web";
  Result<std::string> replaced = silences_.Set(s, kNow + 2);
  ASSERT_TRUE(replaced.ok());
  EXPECT_NE(*replaced, *id);
  EXPECT_EQ(silences_.Get(*id, kNow + 2)->state, SilenceState::kExpired);
  EXPECT_EQ(silences_.Get(*id, kNow + 2)->ends_at_ms, kNow + 2);
  EXPECT_EQ(silences_.Get(*replaced, kNow + 2)->state, SilenceState::kActive);
  // An unknown id is not found.
  s.id = "nope";
  EXPECT_EQ(silences_.Set(s, kNow).status().code(), StatusCode::kNotFound);
}

TEST_F(SilencesTest, PendingMayMoveItsStartButNotIntoThePast) {
  Result<std::string> id = silences_.Set(Make(kNow + kH, kNow + 2 * kH), kNow);
  ASSERT_TRUE(id.ok());
  Silence s = *silences_.Get(*id, kNow);
  s.starts_at_ms = kNow + kH / 2;
  EXPECT_EQ(*silences_.Set(s, kNow), *id);
  s.starts_at_ms = kNow - 1;  // in the past: replaced by a new one starting now
  Result<std::string> other = silences_.Set(s, kNow);
  ASSERT_TRUE(other.ok());
  EXPECT_NE(*other, *id);
  EXPECT_EQ(silences_.Get(*other, kNow)->starts_at_ms, kNow);
}

TEST_F(SilencesTest, ExpireById) {
  Result<std::string> active = silences_.Set(Make(kNow, kNow + kH), kNow);
  Result<std::string> pending = silences_.Set(Make(kNow + kH, kNow + 2 * kH), kNow);
  ASSERT_TRUE(active.ok() && pending.ok());
  ASSERT_TRUE(silences_.Expire(*active, kNow + 5).ok());
  EXPECT_EQ(silences_.Get(*active, kNow + 5)->ends_at_ms, kNow + 5);
  ASSERT_TRUE(silences_.Expire(*pending, kNow + 5).ok());
  EXPECT_EQ(silences_.Get(*pending, kNow + 5)->starts_at_ms, kNow + 5);
  EXPECT_EQ(silences_.Expire(*active, kNow + 6).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(silences_.Expire("x", kNow).code(), StatusCode::kNotFound);
}

TEST_F(SilencesTest, ValidationMessagesAsAlertmanager) {
  EXPECT_EQ(silences_.Set(Make(kNow + kH, kNow), kNow).status().message(),
            "failed to create silence: start time must be before end time");
  EXPECT_EQ(silences_.Set(Make(kNow - 2 * kH, kNow - kH), kNow).status().message(),
            "failed to create silence: end time can't be in the past");
  Silence none = Make(kNow, kNow + kH);
  none.matchers.clear();
  EXPECT_EQ(silences_.Set(none, kNow).status().message(), "at least one matcher required");
  EXPECT_EQ(silences_.Set(Make(kNow, kNow + kH, ""), kNow).status().message(),
            "at least one matcher must not match the empty string");
  Silence bad = Make(kNow, kNow + kH);
  bad.matchers[0].name = "1x";
  EXPECT_EQ(silences_.Set(bad, kNow).status().message(), "invalid label name \"1x\"");
}

TEST_F(SilencesTest, PersistedAndExpireOnResolve) {
  Silence s = Make(kNow, kNow + kH);
  s.expire_on_resolve = true;
  Result<std::string> id = silences_.Set(s, kNow);
  ASSERT_TRUE(id.ok());
  silences_.NoteSilenced(*id, "fa");
  silences_.NoteSilenced(*id, "fb");
  SilenceStore reloaded(store_.get(), [] { return std::string("z"); });
  ASSERT_TRUE(reloaded.Load().ok());
  ASSERT_TRUE(reloaded.Get(*id, kNow).ok());
  EXPECT_TRUE(reloaded.Get(*id, kNow)->expire_on_resolve);
  // fa resolves while fb fires: stays. fb resolves: expires.
  auto firing_b = [](std::string_view f) { return f == "fb"; };
  EXPECT_TRUE(reloaded.OnResolved("fa", kNow + 10, firing_b).empty());
  EXPECT_EQ(reloaded.OnResolved("fb", kNow + 20, [](std::string_view) { return false; }),
            std::vector<std::string>{*id});
  EXPECT_EQ(reloaded.Get(*id, kNow + 20)->state, SilenceState::kExpired);
}

TEST(AckStoreTest, ByFingerprintOrMatchersAndDroppedOnResolve) {
  auto store = NewMemoryStateStore();
  int n = 0;
  AckStore acks(store.get(), [&] { return "a" + std::to_string(++n); });
  Acknowledgement both;
  both.created_by = "x";
  EXPECT_FALSE(acks.Add(both, kNow).ok());
  Acknowledgement a;
  a.fingerprint = "f1";
  a.created_by = "alice";
  Result<std::string> id = acks.Add(a, kNow);
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(acks.Covering("f1", {}, kNow), std::vector<std::string>{*id});
  EXPECT_TRUE(acks.Covering("f2", {}, kNow).empty());
  AckStore reloaded(store.get(), [] { return std::string("b"); });
  ASSERT_TRUE(reloaded.Load().ok());
  EXPECT_EQ(reloaded.List(kNow).size(), 1u);
  reloaded.OnResolved("f1", {});
  EXPECT_TRUE(reloaded.List(kNow).empty());
  AckStore again(store.get(), [] { return std::string("c"); });
  ASSERT_TRUE(again.Load().ok());
  EXPECT_TRUE(again.List(kNow).empty());
}

}  // namespace
}  // namespace nimify::actions
