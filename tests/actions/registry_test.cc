// The handler registry, DecisionToJson / SilenceStateName and the audit log.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "actions/audit_log.h"
#include "nimify/actions.h"

namespace nimify {
namespace {

ActionHandlerFactory NullFactory() {
  return [](const ConfigNode&, const HandlerContext&) -> Result<std::shared_ptr<ActionHandler>> {
    return Status::Internal("not used");
  };
}

TEST(ActionHandlerRegistryTest, BuiltinTypesArePresent) {
  auto registry = ActionHandlerRegistry::WithBuiltins();
  const std::vector<std::string> types = registry->types();
  for (const char* type :
       {"exec", "log", "http", "webhook", "slack", "statuspage", "alertmanager"}) {
    EXPECT_NE(std::find(types.begin(), types.end(), type), types.end()) << type;
    EXPECT_TRUE(registry->Find(type).ok()) << type;
  }
  EXPECT_TRUE(std::is_sorted(types.begin(), types.end()));
  // Default() holds them too, built once.
  EXPECT_EQ(ActionHandlerRegistry::Default().types(), types);
  EXPECT_EQ(&ActionHandlerRegistry::Default(), &ActionHandlerRegistry::Default());
}

TEST(ActionHandlerRegistryTest, RegisterTwiceIsAlreadyExists) {
  ActionHandlerRegistry registry;
  ASSERT_TRUE(registry.Register("pager", NullFactory()).ok());
  const Status again = registry.Register("pager", NullFactory());
  EXPECT_EQ(again.code(), StatusCode::kAlreadyExists);
  EXPECT_NE(again.message().find("\"pager\""), std::string_view::npos) << again.ToString();
  auto builtins = ActionHandlerRegistry::WithBuiltins();
  EXPECT_EQ(builtins->Register("exec", NullFactory()).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(registry.Register("", NullFactory()).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.Register("nofactory", nullptr).code(), StatusCode::kInvalidArgument);
}

TEST(ActionHandlerRegistryTest, FindUnknownListsTheKnownTypes) {
  ActionHandlerRegistry registry;
  Result<ActionHandlerFactory> none = registry.Find("pager");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().message(), "unknown handler type \"pager\" (known: none)");
  ASSERT_TRUE(registry.Register("zeta", NullFactory()).ok());
  ASSERT_TRUE(registry.Register("alpha", NullFactory()).ok());
  Result<ActionHandlerFactory> missing = registry.Find("pagr");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(), "unknown handler type \"pagr\" (known: alpha, zeta)");
  ASSERT_TRUE(registry.Find("zeta").ok());
  EXPECT_FALSE((*registry.Find("zeta"))(ConfigNode(), HandlerContext{}).ok());
}

TEST(SilenceStateNameTest, Names) {
  EXPECT_EQ(SilenceStateName(SilenceState::kPending), "pending");
  EXPECT_EQ(SilenceStateName(SilenceState::kActive), "active");
  EXPECT_EQ(SilenceStateName(SilenceState::kExpired), "expired");
}

Decision SampleStep() {
  Decision d;
  d.ts_ms = 1700000000123;
  d.kind = "step";
  d.alertname = "ServiceDown";
  d.labels = {{"alertname", "ServiceDown"}, {"job", "api \"eu\""}};
  d.fingerprint = "0123456789abcdef";
  d.receiver = "sre";
  d.response = "service-down";
  d.step = "get-pods";
  d.handler = "kubectl";
  d.outcome = "ran";
  d.detail = "kubectl get pods -n prod";
  d.summary = "exit 0";
  d.output = "line1\nline2\t\x01";
  d.exit_status = 0;
  d.attempt = 2;
  d.duration = std::chrono::milliseconds(350);
  return d;
}

TEST(DecisionToJsonTest, ExactOutput) {
  EXPECT_EQ(DecisionToJson(SampleStep()),
            R"({"ts_ms":1700000000123,"kind":"step","alertname":"ServiceDown",)"
            R"("labels":{"alertname":"ServiceDown","job":"api \"eu\""},)"
            R"("fingerprint":"0123456789abcdef","receiver":"sre","response":"service-down",)"
            R"("step":"get-pods","handler":"kubectl","outcome":"ran",)"
            R"("detail":"kubectl get pods -n prod","summary":"exit 0",)"
            R"("output":"line1\nline2\t\u0001",)"
            R"("exit_status":0,"attempt":2,"duration_ms":350})");
}

TEST(DecisionToJsonTest, DefaultsAreOmittedExceptTsKindAndOutcome) {
  Decision d;
  EXPECT_EQ(DecisionToJson(d), R"({"ts_ms":0,"kind":"","outcome":""})");
  d.kind = "escalate";
  d.state = "firing";
  d.target = "engineering-manager";
  d.http_status = 503;
  d.dry_run = true;
  d.exit_status = -1;
  EXPECT_EQ(DecisionToJson(d),
            R"({"ts_ms":0,"kind":"escalate","state":"firing","outcome":"",)"
            R"("target":"engineering-manager","http_status":503,"dry_run":true})");
}

TEST(DecisionToJsonTest, InvalidUtf8BecomesReplacementCharacters) {
  Decision d;
  d.kind = "step";
  d.output = std::string("ok \xff\xc3(") + "\xe2\x82\xac";
  EXPECT_EQ(DecisionToJson(d),
            "{\"ts_ms\":0,\"kind\":\"step\",\"outcome\":\"\",\"output\":\"ok "
            "\xEF\xBF\xBD\xEF\xBF\xBD(\xe2\x82\xac\"}");
}

// A store whose Append fails (or throws) on demand.
class FlakyStore final : public StateStore {
 public:
  explicit FlakyStore(std::unique_ptr<StateStore> inner) : inner_(std::move(inner)) {}
  Result<std::optional<StoredValue>> Get(std::string_view key) override { return inner_->Get(key); }
  Result<std::uint64_t> Put(std::string_view key, std::string_view value,
                            PutOptions options) override {
    return inner_->Put(key, value, options);
  }
  Result<std::uint64_t> CompareAndSet(std::string_view key, std::uint64_t rev,
                                      std::string_view value, PutOptions options) override {
    return inner_->CompareAndSet(key, rev, value, options);
  }
  Status Delete(std::string_view key) override { return inner_->Delete(key); }
  Result<std::vector<StoredValue>> List(std::string_view prefix) override {
    return inner_->List(prefix);
  }
  Result<std::uint64_t> Append(std::string_view log, std::string_view record) override {
    if (mode == 1) return Status::Unavailable("disk full");
    if (mode == 2) throw std::runtime_error("bad store");
    return inner_->Append(log, record);
  }
  Result<std::vector<std::pair<std::uint64_t, std::string>>> ReadLog(std::string_view log,
                                                                     std::uint64_t from_seq,
                                                                     std::size_t limit) override {
    return inner_->ReadLog(log, from_seq, limit);
  }
  std::int64_t now_ms() const override { return inner_->now_ms(); }

  int mode = 0;  // 0 works, 1 fails, 2 throws

 private:
  std::unique_ptr<StateStore> inner_;
};

TEST(AuditLogTest, RecordsDecisionsAndCountsFailuresWithoutThrowing) {
  FlakyStore store(NewMemoryStateStore());
  std::vector<std::string> logged;
  actions::AuditLog audit(&store, [&](LogLevel level, std::string_view message) {
    EXPECT_EQ(level, LogLevel::kError);
    logged.emplace_back(message);
  });
  EXPECT_TRUE(audit.Record(SampleStep()));
  store.mode = 1;
  EXPECT_FALSE(audit.Record(SampleStep()));
  store.mode = 2;
  EXPECT_FALSE(audit.Record(SampleStep()));
  store.mode = 0;
  Decision second = SampleStep();
  second.outcome = "failed";
  EXPECT_TRUE(audit.Record(second));
  EXPECT_EQ(audit.records(), 2u);
  EXPECT_EQ(audit.failures(), 2u);
  ASSERT_EQ(logged.size(), 2u);
  EXPECT_NE(logged[0].find("disk full"), std::string::npos) << logged[0];
  EXPECT_NE(logged[1].find("bad store"), std::string::npos) << logged[1];

  auto records = store.ReadLog("audit", 1, 10);
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 2u);
  EXPECT_EQ((*records)[0].second, DecisionToJson(SampleStep()));
  EXPECT_EQ((*records)[1].second, DecisionToJson(second));

  actions::AuditLog disabled(nullptr, nullptr);
  EXPECT_TRUE(disabled.Record(second));
  EXPECT_EQ(disabled.records(), 0u);
}

}  // namespace
}  // namespace nimify
