#include "actions/response_config.h"

#include <re2/re2.h>

#include <set>
#include <utility>

#include "promql/parser.h"

namespace nimify::actions {
namespace {

// Collects every error of a load; the load fails with all of them.
class Errors {
 public:
  void Add(const Status& s) {
    if (!s.ok() && !s.message().empty()) lines_.emplace_back(s.message());
  }
  void Add(const ConfigNode& at, std::string_view message) { Add(at.Error(message)); }
  bool empty() const { return lines_.empty(); }
  std::size_t size() const { return lines_.size(); }
  Status ToStatus() const {
    std::string all;
    for (const std::string& l : lines_) {
      if (!all.empty()) all += '\n';
      all += l;
    }
    return Status::InvalidArgument(std::move(all));
  }

 private:
  std::vector<std::string> lines_;
};

constexpr std::string_view kAmIntegrations[] = {
    "email_configs",   "pagerduty_configs", "pushover_configs",  "slack_configs",
    "opsgenie_configs", "webhook_configs",  "victorops_configs", "wechat_configs",
    "sns_configs",     "telegram_configs",  "webex_configs",     "discord_configs",
    "msteams_configs"};

bool HasTemplate(std::string_view s) { return s.find("{{") != std::string_view::npos; }

Result<tmpl::DataTemplate> CompileAt(const ConfigNode& node, std::string_view name) {
  Result<tmpl::DataTemplate> t = tmpl::DataTemplate::Compile(node.text(), name);
  if (!t.ok()) return node.Error("bad template: " + std::string(t.status().message()));
  return t;
}

Result<TemplatedNode> CompileTree(const ConfigNode& node, std::string_view name) {
  TemplatedNode out;
  out.source = node;
  if (node.is_scalar()) {
    if (HasTemplate(node.text())) {
      NIMIFY_ASSIGN_OR_RETURN(tmpl::DataTemplate t, CompileAt(node, name));
      out.text = std::move(t);
    }
  } else if (node.is_sequence()) {
    for (const ConfigNode& item : node.items()) {
      NIMIFY_ASSIGN_OR_RETURN(TemplatedNode c, CompileTree(item, name));
      out.children.push_back(std::move(c));
    }
  } else if (node.is_map()) {
    for (const auto& [key, value] : node.entries()) {
      NIMIFY_ASSIGN_OR_RETURN(TemplatedNode c, CompileTree(value, name));
      out.children.push_back(std::move(c));
    }
  }
  return out;
}

// A PromQL condition: parsed now, must be an instant vector or a scalar.
Status CheckExpr(const ConfigNode& node, std::string* out) {
  NIMIFY_ASSIGN_OR_RETURN(*out, node.AsString());
  Result<promql::ExprPtr> e = promql::ParseExpr(*out);
  if (!e.ok()) return node.Error("bad PromQL expression: " + std::string(e.status().message()));
  const promql::ValueType t = (*e)->type();
  if (t != promql::ValueType::kVector && t != promql::ValueType::kScalar) {
    return node.Error(std::string("PromQL expression must be an instant vector or a scalar, got ") +
                      promql::ValueTypeName(t));
  }
  return Status::Ok();
}

Result<std::int64_t> PositiveDuration(const ConfigNode& node) {
  NIMIFY_ASSIGN_OR_RETURN(std::chrono::milliseconds d, node.AsDuration());
  if (d.count() <= 0) return node.Error("duration must be greater than 0");
  return d.count();
}

class Loader {
 public:
  Loader(const ConfigNode& root, const LoadContext& ctx) : root_(root), ctx_(ctx) {}

  Result<std::shared_ptr<const ResponseConfig>> Run();

 private:
  void LoadGlobal();
  void LoadHandlers();
  void LoadBudgets();
  void LoadSafety();
  void LoadReceivers();
  void LoadResponses();
  void LoadEscalations();
  void CrossCheck();
  void LoadSteps(const ConfigNode& list, const std::string& response, std::set<std::string>* names,
                 std::vector<std::string>* earlier, std::vector<StepSpec>* out);
  Result<StepSpec> LoadStep(const ConfigNode& node, const std::string& response,
                            const std::vector<std::string>& earlier, std::set<std::string>* names);
  Status CheckHandlerUse(const ConfigNode& at, const std::string& name, ActionTrigger trigger,
                         std::string_view use);
  Result<BudgetSpec> LoadBudget(const ConfigNode& node, std::string_view what);

  const ConfigNode& root_;
  const LoadContext& ctx_;
  Errors errors_;
  std::shared_ptr<ResponseConfig> cfg_ = std::make_shared<ResponseConfig>();
  // Names that failed to load: no second error for every use of them.
  std::set<std::string> broken_handlers_;
  std::vector<std::pair<ConfigNode, std::string>> receiver_response_refs_;
  std::vector<std::pair<ConfigNode, std::string>> receiver_escalation_refs_;
};

Result<std::shared_ptr<const ResponseConfig>> Loader::Run() {
  if (!root_.is_map()) return root_.Error("the response config must be a mapping");
  errors_.Add(root_.CheckKeys({"global", "route", "inhibit_rules", "time_intervals",
                               "mute_time_intervals", "templates", "receivers", "dry_run",
                               "handlers", "responses", "escalations", "budgets", "safety"},
                              "config"));
  LoadGlobal();
  Result<TimeIntervals> ti =
      TimeIntervals::Parse(root_.Find("time_intervals"), root_.Find("mute_time_intervals"));
  if (ti.ok()) {
    cfg_->time_intervals = std::move(*ti);
  } else {
    errors_.Add(ti.status());
  }
  if (const ConfigNode* t = root_.Find("templates"); t != nullptr && !t->is_null()) {
    Result<std::vector<std::string>> files = t->AsStringList();
    if (!files.ok()) errors_.Add(files.status());
  }
  LoadHandlers();
  LoadBudgets();
  LoadSafety();
  LoadReceivers();
  LoadEscalations();
  LoadResponses();
  CrossCheck();

  const ConfigNode* route = root_.Find("route");
  if (route == nullptr || route->is_null()) {
    errors_.Add(root_, "no route provided in config");
  } else {
    RouteValidation v;
    for (const auto& [name, r] : cfg_->receivers) v.receiver_names.push_back(name);
    v.time_interval_names = cfg_->time_intervals.Names();
    Result<std::unique_ptr<Route>> tree = ParseRouteTree(*route, v);
    if (tree.ok()) {
      cfg_->route = std::move(*tree);
    } else {
      errors_.Add(tree.status());
    }
  }
  if (const ConfigNode* ir = root_.Find("inhibit_rules"); ir != nullptr && !ir->is_null()) {
    Result<std::vector<InhibitRule>> rules = ParseInhibitRules(*ir);
    if (rules.ok()) {
      cfg_->inhibit_rules = std::move(*rules);
    } else {
      errors_.Add(rules.status());
    }
  }
  if (!errors_.empty()) return errors_.ToStatus();
  return std::shared_ptr<const ResponseConfig>(std::move(cfg_));
}

void Loader::LoadGlobal() {
  const ConfigNode* g = root_.Find("global");
  if (g != nullptr && !g->is_null()) {
    if (!g->is_map()) {
      errors_.Add(*g, "global: expected a mapping");
    } else if (const ConfigNode* rt = g->Find("resolve_timeout"); rt != nullptr) {
      Result<std::int64_t> d = PositiveDuration(*rt);
      if (d.ok()) {
        cfg_->resolve_timeout_ms = *d;
      } else {
        errors_.Add(d.status());
      }
    }
  }
  if (const ConfigNode* dr = root_.Find("dry_run"); dr != nullptr) {
    Result<bool> b = dr->AsBool();
    if (b.ok()) {
      cfg_->dry_run = *b;
    } else {
      errors_.Add(b.status());
    }
  }
}

void Loader::LoadHandlers() {
  const ConfigNode* hs = root_.Find("handlers");
  if (hs == nullptr || hs->is_null()) return;
  if (!hs->is_map()) return errors_.Add(*hs, "handlers: expected a mapping of name to handler");
  const ActionHandlerRegistry& registry =
      ctx_.registry != nullptr ? *ctx_.registry : ActionHandlerRegistry::Default();
  for (const auto& [name, node] : hs->entries()) {
    HandlerSpec spec;
    spec.name = name;
    const std::size_t before = errors_.size();
    // A named copy: clang 14 cannot capture a structured binding.
    const std::string& handler_name = name;
    auto fail = [&](const Status& s) {
      errors_.Add(s);
      broken_handlers_.insert(handler_name);
    };
    Status keys = node.CheckKeys({"type", "dry_run", "timeout", "retry", "concurrency", "config"},
                                 "handler \"" + name + "\"");
    if (!keys.ok()) {
      fail(keys);
      continue;
    }
    if (!node.is_map()) {
      fail(node.Error("handler \"" + name + "\": expected a mapping"));
      continue;
    }
    const ConfigNode* type = node.Find("type");
    if (type == nullptr) {
      fail(node.Error("handler \"" + name + "\": missing field \"type\""));
      continue;
    }
    Result<std::string> type_name = type->AsString();
    if (!type_name.ok()) {
      fail(type_name.status());
      continue;
    }
    spec.type = *type_name;
    if (const ConfigNode* n = node.Find("dry_run")) {
      Result<bool> b = n->AsBool();
      b.ok() ? void(spec.dry_run = *b) : fail(b.status());
    }
    if (const ConfigNode* n = node.Find("timeout")) {
      Result<std::int64_t> d = PositiveDuration(*n);
      d.ok() ? void(spec.timeout_ms = *d) : fail(d.status());
    }
    if (const ConfigNode* n = node.Find("concurrency")) {
      Result<std::int64_t> c = n->AsInt();
      if (!c.ok()) {
        fail(c.status());
      } else if (*c < 1 || *c > 1024) {
        fail(n->Error("concurrency must be between 1 and 1024"));
      } else {
        spec.concurrency = static_cast<std::uint32_t>(*c);
      }
    }
    if (const ConfigNode* r = node.Find("retry")) {
      Status rk = r->CheckKeys({"attempts", "initial_backoff", "max_backoff"}, "retry");
      if (!rk.ok()) {
        fail(rk);
      } else {
        if (const ConfigNode* n = r->Find("attempts")) {
          Result<std::int64_t> a = n->AsInt();
          if (!a.ok()) {
            fail(a.status());
          } else if (*a < 1 || *a > 100) {
            fail(n->Error("attempts must be between 1 and 100"));
          } else {
            spec.retry.attempts = static_cast<std::uint32_t>(*a);
          }
        }
        if (const ConfigNode* n = r->Find("initial_backoff")) {
          Result<std::int64_t> d = PositiveDuration(*n);
          d.ok() ? void(spec.retry.initial_backoff_ms = *d) : fail(d.status());
        }
        if (const ConfigNode* n = r->Find("max_backoff")) {
          Result<std::int64_t> d = PositiveDuration(*n);
          d.ok() ? void(spec.retry.max_backoff_ms = *d) : fail(d.status());
        }
      }
    }
    Result<ActionHandlerFactory> factory = registry.Find(spec.type);
    if (!factory.ok()) {
      fail(type->Error("handler \"" + name + "\": unknown handler type \"" + spec.type + "\"" +
                       ""));
      continue;
    }
    if (errors_.size() != before) continue;
    const ConfigNode* config = node.Find("config");
    ConfigNode empty = ConfigNode::Map({}, node.position());
    HandlerContext hc;
    hc.name = name;
    hc.type = spec.type;
    hc.store = ctx_.store;
    hc.log = ctx_.log ? ctx_.log : [](LogLevel, std::string_view) {};
    // LoadGlobal ran first, so cfg_->dry_run is known here.
    hc.dry_run = ctx_.force_dry_run || cfg_->dry_run || spec.dry_run.value_or(false);
    Result<std::shared_ptr<ActionHandler>> instance = Status::Internal("not created");
    try {
      instance = (*factory)(config != nullptr ? *config : empty, hc);
    } catch (const std::exception& e) {
      instance = Status::Internal(std::string("handler factory threw: ") + e.what());
    } catch (...) {
      instance = Status::Internal("handler factory threw");
    }
    if (!instance.ok()) {
      std::string msg(instance.status().message());
      // Factories report "file:line:col: ..." themselves; give others a place.
      if (msg.find(':') == std::string::npos || msg.rfind(node.position().file, 0) != 0) {
        msg = (config != nullptr ? *config : node).position().ToString() + ": handler \"" + name +
              "\": " + msg;
      }
      fail(Status::InvalidArgument(msg));
      continue;
    }
    if (*instance == nullptr) {
      fail(node.Error("handler \"" + name + "\": the factory returned no handler"));
      continue;
    }
    spec.instance = std::move(*instance);
    cfg_->handlers.emplace(name, std::move(spec));
  }
}

Result<BudgetSpec> Loader::LoadBudget(const ConfigNode& node, std::string_view what) {
  NIMIFY_RETURN_IF_ERROR(node.CheckKeys({"max", "per"}, what));
  if (!node.is_map()) return node.Error(std::string(what) + ": expected a mapping {max, per}");
  BudgetSpec b;
  const ConfigNode* max = node.Find("max");
  const ConfigNode* per = node.Find("per");
  if (max == nullptr) return node.Error(std::string(what) + ": missing field \"max\"");
  if (per == nullptr) return node.Error(std::string(what) + ": missing field \"per\"");
  NIMIFY_ASSIGN_OR_RETURN(b.max, max->AsInt());
  if (b.max < 0) return max->Error("max must not be negative");
  NIMIFY_ASSIGN_OR_RETURN(b.per_ms, PositiveDuration(*per));
  return b;
}

void Loader::LoadBudgets() {
  const ConfigNode* bs = root_.Find("budgets");
  if (bs == nullptr || bs->is_null()) return;
  if (!bs->is_map()) return errors_.Add(*bs, "budgets: expected a mapping of name to budget");
  for (const auto& [name, node] : bs->entries()) {
    Result<BudgetSpec> b = LoadBudget(node, "budget \"" + name + "\"");
    if (b.ok()) {
      cfg_->budgets.emplace(name, *b);
    } else {
      errors_.Add(b.status());
    }
  }
}

void Loader::LoadSafety() {
  const ConfigNode* s = root_.Find("safety");
  if (s == nullptr || s->is_null()) return;
  Status keys = s->CheckKeys({"max_remediations", "breaker"}, "safety");
  if (!keys.ok()) return errors_.Add(keys);
  if (!s->is_map()) return errors_.Add(*s, "safety: expected a mapping");
  if (const ConfigNode* m = s->Find("max_remediations")) {
    Result<BudgetSpec> b = LoadBudget(*m, "max_remediations");
    b.ok() ? void(cfg_->max_remediations = *b) : errors_.Add(b.status());
  }
  if (const ConfigNode* br = s->Find("breaker")) {
    Status bk = br->CheckKeys({"failures", "window", "open_for"}, "breaker");
    if (!bk.ok()) return errors_.Add(bk);
    const ConfigNode* f = br->Find("failures");
    const ConfigNode* w = br->Find("window");
    const ConfigNode* o = br->Find("open_for");
    if (f == nullptr || w == nullptr || o == nullptr) {
      return errors_.Add(*br, "breaker: needs failures, window and open_for");
    }
    Result<std::int64_t> fn = f->AsInt();
    Result<std::int64_t> wn = PositiveDuration(*w);
    Result<std::int64_t> on = PositiveDuration(*o);
    if (!fn.ok()) return errors_.Add(fn.status());
    if (*fn < 1) return errors_.Add(*f, "failures must be at least 1");
    if (!wn.ok()) return errors_.Add(wn.status());
    if (!on.ok()) return errors_.Add(on.status());
    cfg_->breaker = BreakerSpec{*fn, *wn, *on};
  }
}

Status Loader::CheckHandlerUse(const ConfigNode& at, const std::string& name,
                               ActionTrigger trigger, std::string_view use) {
  if (broken_handlers_.count(name) > 0) return Status::InvalidArgument("");
  auto it = cfg_->handlers.find(name);
  if (it == cfg_->handlers.end()) return at.Error("unknown handler \"" + name + "\"");
  if (!it->second.instance->Accepts(trigger)) {
    return at.Error("handler \"" + name + "\" (type " + it->second.type + ") cannot be used " +
                    std::string(use));
  }
  return Status::Ok();
}

void Loader::LoadReceivers() {
  const ConfigNode* rs = root_.Find("receivers");
  if (rs == nullptr || rs->is_null()) return;
  if (!rs->is_sequence()) return errors_.Add(*rs, "receivers: expected a list");
  for (const ConfigNode& node : rs->items()) {
    if (!node.is_map()) {
      errors_.Add(node, "receiver: expected a mapping");
      continue;
    }
    ReceiverSpec spec;
    const ConfigNode* name = node.Find("name");
    if (name == nullptr) {
      errors_.Add(node, "missing name in receiver");
      continue;
    }
    Result<std::string> n = name->AsString();
    if (!n.ok()) {
      errors_.Add(n.status());
      continue;
    }
    spec.name = *n;
    bool bad = false;
    for (const auto& [key, value] : node.entries()) {
      bool integration = false;
      for (std::string_view i : kAmIntegrations) integration = integration || key == i;
      if (integration) {
        errors_.Add(value, "receiver \"" + spec.name + "\": Alertmanager integration " + key +
                               " is not supported; use a nimify handler in notify: instead");
        bad = true;
      } else if (key != "name" && key != "notify" && key != "responses" && key != "escalation") {
        errors_.Add(value, "field \"" + key + "\" not found in receiver");
        bad = true;
      }
    }
    if (const ConfigNode* nt = node.Find("notify")) {
      Result<std::vector<std::string>> list = nt->AsStringList();
      if (!list.ok()) {
        errors_.Add(list.status());
      } else {
        for (std::size_t i = 0; i < list->size(); ++i) {
          const std::string& h = (*list)[i];
          auto it = cfg_->handlers.find(h);
          const ConfigNode& at = nt->items()[i];
          if (broken_handlers_.count(h) > 0) continue;
          if (it == cfg_->handlers.end()) {
            errors_.Add(at, "unknown handler \"" + h + "\"");
          } else if (!it->second.instance->Accepts(ActionTrigger::kNotification) &&
                     !it->second.instance->Accepts(ActionTrigger::kIncidentUpdate)) {
            errors_.Add(at, "handler \"" + h + "\" (type " + it->second.type +
                                ") cannot be used in notify: it takes neither notifications "
                                "nor incident updates");
          }
        }
        spec.notify = *list;
      }
    }
    if (const ConfigNode* r = node.Find("responses")) {
      Result<std::vector<std::string>> list = r->AsStringList();
      if (!list.ok()) {
        errors_.Add(list.status());
      } else {
        for (std::size_t i = 0; i < list->size(); ++i) {
          receiver_response_refs_.emplace_back(r->items()[i], (*list)[i]);
        }
        spec.responses = *list;
      }
    }
    if (const ConfigNode* e = node.Find("escalation")) {
      Result<std::string> s = e->AsString();
      if (!s.ok()) {
        errors_.Add(s.status());
      } else {
        receiver_escalation_refs_.emplace_back(*e, *s);
        spec.escalation = *s;
      }
    }
    if (cfg_->receivers.count(spec.name) > 0) {
      errors_.Add(*name, "notification config name \"" + spec.name + "\" is not unique");
      continue;
    }
    (void)bad;
    cfg_->receivers.emplace(spec.name, std::move(spec));
  }
}

void Loader::LoadEscalations() {
  const ConfigNode* es = root_.Find("escalations");
  if (es == nullptr || es->is_null()) return;
  if (!es->is_map()) return errors_.Add(*es, "escalations: expected a mapping of name to policy");
  for (const auto& [name, node] : es->entries()) {
    EscalationSpec spec;
    spec.name = name;
    Status keys = node.CheckKeys({"levels"}, "escalation \"" + name + "\"");
    if (!keys.ok()) {
      errors_.Add(keys);
      continue;
    }
    const ConfigNode* levels = node.Find("levels");
    if (levels == nullptr || !levels->is_sequence() || levels->items().empty()) {
      errors_.Add(node, "escalation \"" + name + "\": needs a non-empty list of levels");
      continue;
    }
    std::int64_t last_after = -1;
    for (const ConfigNode& l : levels->items()) {
      Status lk = l.CheckKeys({"after", "target", "notify", "responses"}, "escalation level");
      if (!lk.ok()) {
        errors_.Add(lk);
        continue;
      }
      EscalationLevelSpec level;
      if (const ConfigNode* a = l.Find("after")) {
        Result<std::chrono::milliseconds> d = a->AsDuration();
        if (!d.ok()) {
          errors_.Add(d.status());
          continue;
        }
        level.after_ms = d->count();
        if (level.after_ms < last_after) {
          errors_.Add(*a, "escalation levels must be in increasing order of after");
        }
        last_after = level.after_ms;
      } else {
        errors_.Add(l, "escalation level: missing field \"after\"");
        continue;
      }
      if (const ConfigNode* t = l.Find("target")) {
        Result<std::string> s = t->AsString();
        s.ok() ? void(level.target = *s) : errors_.Add(s.status());
      } else {
        errors_.Add(l, "escalation level: missing field \"target\"");
      }
      if (const ConfigNode* n = l.Find("notify")) {
        Result<std::vector<std::string>> list = n->AsStringList();
        if (!list.ok()) {
          errors_.Add(list.status());
        } else {
          for (std::size_t i = 0; i < list->size(); ++i) {
            Status u = CheckHandlerUse(n->items()[i], (*list)[i], ActionTrigger::kIncidentUpdate,
                                       "in an escalation's notify: it takes no incident updates");
            if (!u.ok() && !u.message().empty()) errors_.Add(u);
          }
          level.notify = *list;
        }
      }
      if (const ConfigNode* r = l.Find("responses")) {
        Result<std::vector<std::string>> list = r->AsStringList();
        if (!list.ok()) {
          errors_.Add(list.status());
        } else {
          for (std::size_t i = 0; i < list->size(); ++i) {
            receiver_response_refs_.emplace_back(r->items()[i], (*list)[i]);
          }
          level.responses = *list;
        }
      }
      spec.levels.push_back(std::move(level));
    }
    cfg_->escalations.emplace(name, std::move(spec));
  }
}

void Loader::LoadResponses() {
  const ConfigNode* rs = root_.Find("responses");
  if (rs == nullptr || rs->is_null()) return;
  if (!rs->is_map()) return errors_.Add(*rs, "responses: expected a mapping of name to response");
  for (const auto& [name, node] : rs->entries()) {
    Status keys = node.CheckKeys({"steps", "on_resolved"}, "response \"" + name + "\"");
    if (!keys.ok()) {
      errors_.Add(keys);
      continue;
    }
    ResponseSpec spec;
    spec.name = name;
    std::set<std::string> names;
    std::vector<std::string> earlier;
    if (const ConfigNode* steps = node.Find("steps")) {
      LoadSteps(*steps, name, &names, &earlier, &spec.steps);
    }
    if (const ConfigNode* steps = node.Find("on_resolved")) {
      LoadSteps(*steps, name, &names, &earlier, &spec.on_resolved);
    }
    cfg_->responses.emplace(name, std::move(spec));
  }
}

void Loader::LoadSteps(const ConfigNode& list, const std::string& response,
                       std::set<std::string>* names, std::vector<std::string>* earlier,
                       std::vector<StepSpec>* out) {
  if (list.is_null()) return;
  if (!list.is_sequence()) return errors_.Add(list, "steps: expected a list");
  for (const ConfigNode& item : list.items()) {
    Result<StepSpec> s = LoadStep(item, response, *earlier, names);
    if (!s.ok()) {
      errors_.Add(s.status());
      continue;
    }
    earlier->push_back(s->name);
    out->push_back(std::move(*s));
  }
}

Result<StepSpec> Loader::LoadStep(const ConfigNode& node, const std::string& response,
                                  const std::vector<std::string>& earlier,
                                  std::set<std::string>* names) {
  NIMIFY_RETURN_IF_ERROR(node.CheckKeys({"name", "handler", "with", "attach", "when",
                                         "remediation", "verify", "on_failure", "manual",
                                         "escalate"},
                                        "step"));
  if (!node.is_map()) return node.Error("step: expected a mapping");
  StepSpec step;
  const ConfigNode* name = node.Find("name");
  if (name == nullptr) return node.Error("step: missing field \"name\"");
  NIMIFY_ASSIGN_OR_RETURN(step.name, name->AsString());
  if (!names->insert(step.name).second) {
    return name->Error("duplicate step name \"" + step.name + "\" in response \"" + response +
                       "\"");
  }
  const ConfigNode* handler = node.Find("handler");
  const ConfigNode* manual = node.Find("manual");
  const ConfigNode* escalate = node.Find("escalate");
  const int kinds = (handler != nullptr) + (manual != nullptr) + (escalate != nullptr);
  if (kinds != 1) {
    return node.Error("step \"" + step.name +
                      "\": needs exactly one of \"handler\", \"manual\" or \"escalate\"");
  }
  if (manual != nullptr) {
    NIMIFY_ASSIGN_OR_RETURN(step.manual, manual->AsString());
    if (step.manual.empty()) return manual->Error("manual: the text must not be empty");
    // Rendered per alert with the data of `with:`, so the runbook's
    // <placeholders> can be filled from labels.
    NIMIFY_ASSIGN_OR_RETURN(step.manual_text, CompileAt(*manual, response + "/" + step.name));
  }
  if (escalate != nullptr) {
    NIMIFY_ASSIGN_OR_RETURN(bool e, escalate->AsBool());
    if (!e) return escalate->Error("escalate: only true makes sense");
    step.escalate = true;
  }
  const std::string tmpl_name = response + "/" + step.name;
  if (handler != nullptr) {
    NIMIFY_ASSIGN_OR_RETURN(step.handler, handler->AsString());
    Status use = CheckHandlerUse(*handler, step.handler, ActionTrigger::kStep,
                                 "as a step: it takes no steps");
    if (!use.ok()) {
      if (use.message().empty()) return Status::InvalidArgument("");  // reported already
      return use;
    }
    const ConfigNode* with = node.Find("with");
    ConfigNode params = with != nullptr ? *with : ConfigNode::Map({}, node.position());
    if (with != nullptr) {
      if (!with->is_map()) return with->Error("with: expected a mapping");
      NIMIFY_ASSIGN_OR_RETURN(step.with, CompileTree(*with, tmpl_name));
      step.has_with = true;
    } else {
      step.with.source = params;
    }
    Status v;
    try {
      v = cfg_->handlers.at(step.handler).instance->ValidateParams(params);
    } catch (const std::exception& e) {
      v = node.Error(std::string("ValidateParams threw: ") + e.what());
    }
    NIMIFY_RETURN_IF_ERROR(v);
  } else {
    for (std::string_view k : {"with", "remediation", "verify", "when", "attach"}) {
      if (const ConfigNode* n = node.Find(k); n != nullptr && k != "when") {
        return n->Error("step \"" + step.name + "\": \"" + std::string(k) +
                        "\" needs a handler step");
      }
    }
  }
  if (const ConfigNode* a = node.Find("attach")) {
    NIMIFY_ASSIGN_OR_RETURN(step.attach, a->AsBool());
  }
  if (const ConfigNode* w = node.Find("when")) {
    if (w->is_scalar()) {
      step.when.kind = ConditionSpec::Kind::kExpr;
      NIMIFY_RETURN_IF_ERROR(CheckExpr(*w, &step.when.expr));
    } else {
      NIMIFY_RETURN_IF_ERROR(w->CheckKeys({"expr", "step", "output_matches", "exit_status"}, "when"));
      if (!w->is_map()) return w->Error("when: expected a PromQL string or a mapping");
      if (const ConfigNode* e = w->Find("expr")) {
        if (w->entries().size() != 1) return w->Error("when: expr takes no other fields");
        step.when.kind = ConditionSpec::Kind::kExpr;
        NIMIFY_RETURN_IF_ERROR(CheckExpr(*e, &step.when.expr));
      } else {
        const ConfigNode* s = w->Find("step");
        const ConfigNode* om = w->Find("output_matches");
        const ConfigNode* es = w->Find("exit_status");
        if (s == nullptr) return w->Error("when: needs expr, or step with output_matches or exit_status");
        if ((om == nullptr) == (es == nullptr)) {
          return w->Error("when: needs exactly one of output_matches and exit_status");
        }
        NIMIFY_ASSIGN_OR_RETURN(step.when.step, s->AsString());
        bool known = false;
        for (const std::string& prior : earlier) known = known || prior == step.when.step;
        if (!known) {
          return s->Error("when: step \"" + step.when.step + "\" is not an earlier step of response \"" +
                          response + "\"");
        }
        if (om != nullptr) {
          NIMIFY_ASSIGN_OR_RETURN(std::string re, om->AsString());
          RE2::Options opts;
          opts.set_log_errors(false);
          auto compiled = std::make_shared<const RE2>(re, opts);
          if (!compiled->ok()) return om->Error("output_matches: bad regex: " + compiled->error());
          step.when.kind = ConditionSpec::Kind::kOutputMatches;
          step.when.output_re = std::move(compiled);
        } else {
          NIMIFY_ASSIGN_OR_RETURN(std::int64_t x, es->AsInt());
          step.when.kind = ConditionSpec::Kind::kExitStatus;
          step.when.exit_status = static_cast<int>(x);
        }
      }
    }
  }
  if (const ConfigNode* r = node.Find("remediation")) {
    NIMIFY_RETURN_IF_ERROR(r->CheckKeys({"target", "budget", "cooldown"}, "remediation"));
    if (!r->is_map()) return r->Error("remediation: expected a mapping");
    const ConfigNode* t = r->Find("target");
    if (t == nullptr) return r->Error("remediation: missing field \"target\"");
    if (!t->is_scalar()) return t->Error("remediation: target must be a string");
    RemediationSpec rem{tmpl::DataTemplate(), "", 0};
    NIMIFY_ASSIGN_OR_RETURN(rem.target, CompileAt(*t, tmpl_name + "/target"));
    if (const ConfigNode* b = r->Find("budget")) {
      NIMIFY_ASSIGN_OR_RETURN(rem.budget, b->AsString());
      if (cfg_->budgets.count(rem.budget) == 0) {
        return b->Error("unknown budget \"" + rem.budget + "\" (define it under budgets:)");
      }
    }
    if (const ConfigNode* c = r->Find("cooldown")) {
      NIMIFY_ASSIGN_OR_RETURN(rem.cooldown_ms, PositiveDuration(*c));
    }
    step.remediation = std::move(rem);
  }
  if (const ConfigNode* v = node.Find("verify")) {
    NIMIFY_RETURN_IF_ERROR(v->CheckKeys({"expr", "within", "every"}, "verify"));
    if (!v->is_map()) return v->Error("verify: expected a mapping {expr, within, every}");
    const ConfigNode* e = v->Find("expr");
    const ConfigNode* within = v->Find("within");
    if (e == nullptr) return v->Error("verify: missing field \"expr\"");
    if (within == nullptr) return v->Error("verify: missing field \"within\"");
    VerifySpec spec;
    NIMIFY_RETURN_IF_ERROR(CheckExpr(*e, &spec.expr));
    NIMIFY_ASSIGN_OR_RETURN(spec.within_ms, PositiveDuration(*within));
    spec.every_ms = 30000;
    if (const ConfigNode* every = v->Find("every")) {
      NIMIFY_ASSIGN_OR_RETURN(spec.every_ms, PositiveDuration(*every));
    }
    if (spec.every_ms > spec.within_ms) return v->Error("verify: every must not exceed within");
    step.verify = spec;
  }
  if (const ConfigNode* f = node.Find("on_failure")) {
    if (!f->is_sequence()) return f->Error("on_failure: expected a list of steps");
    std::vector<std::string> scope = earlier;
    scope.push_back(step.name);
    for (const ConfigNode& item : f->items()) {
      NIMIFY_ASSIGN_OR_RETURN(StepSpec s, LoadStep(item, response, scope, names));
      scope.push_back(s.name);
      step.on_failure.push_back(std::move(s));
    }
  }
  return step;
}

void Loader::CrossCheck() {
  for (const auto& [at, name] : receiver_response_refs_) {
    if (cfg_->responses.count(name) == 0) {
      const ConfigNode* rs = root_.Find("responses");
      bool defined = false;
      if (rs != nullptr) {
        for (const auto& entry : rs->entries()) defined = defined || entry.first == name;
      }
      if (!defined) errors_.Add(at, "unknown response \"" + name + "\"");
    }
  }
  for (const auto& [at, name] : receiver_escalation_refs_) {
    if (cfg_->escalations.count(name) == 0) {
      const ConfigNode* es = root_.Find("escalations");
      bool defined = false;
      if (es != nullptr) {
        for (const auto& entry : es->entries()) defined = defined || entry.first == name;
      }
      if (!defined) errors_.Add(at, "unknown escalation \"" + name + "\"");
    }
  }
}

Result<ConfigNode> RenderNode(const TemplatedNode& t, const tmpl::Value& data) {
  const ConfigNode& src = t.source;
  if (src.is_scalar()) {
    if (!t.text) return src;
    Result<std::string> s = t.text->Execute(data);
    if (!s.ok()) return src.Error(std::string(s.status().message()));
    return ConfigNode::Scalar(std::move(*s), src.position());
  }
  if (src.is_sequence()) {
    std::vector<ConfigNode> items;
    for (const TemplatedNode& c : t.children) {
      NIMIFY_ASSIGN_OR_RETURN(ConfigNode n, RenderNode(c, data));
      items.push_back(std::move(n));
    }
    return ConfigNode::Sequence(std::move(items), src.position());
  }
  if (src.is_map()) {
    std::vector<ConfigNode::Entry> entries;
    for (std::size_t i = 0; i < t.children.size(); ++i) {
      NIMIFY_ASSIGN_OR_RETURN(ConfigNode n, RenderNode(t.children[i], data));
      entries.emplace_back(src.entries()[i].first, std::move(n));
    }
    return ConfigNode::Map(std::move(entries), src.position());
  }
  return src;
}

}  // namespace

Result<ConfigNode> TemplatedNode::Render(const tmpl::Value& data) const {
  return RenderNode(*this, data);
}

std::string ConditionSpec::Describe() const {
  switch (kind) {
    case Kind::kNone: return "";
    case Kind::kExpr: return expr;
    case Kind::kOutputMatches: return "step " + step + " output matches " + output_re->pattern();
    case Kind::kExitStatus: return "step " + step + " exit status " + std::to_string(exit_status);
  }
  return "";
}

Result<std::shared_ptr<const ResponseConfig>> LoadResponseConfig(const ConfigNode& root,
                                                                 const LoadContext& context) {
  Loader loader(root, context);
  return loader.Run();
}

}  // namespace nimify::actions
