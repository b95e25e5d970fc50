/* qt_testenv: a valid envelope of every body type (see qt_testenv.h). */
#include "qt_testenv.h"

#include <string.h>

const Qt__V1__Envelope__BodyCase qt_testenv_kinds[] = {
    QT__V1__ENVELOPE__BODY_BAR,       QT__V1__ENVELOPE__BODY_FEATURES,
    QT__V1__ENVELOPE__BODY_SIGNAL,    QT__V1__ENVELOPE__BODY_TARGET,
    QT__V1__ENVELOPE__BODY_INTENT,    QT__V1__ENVELOPE__BODY_DECISION,
    QT__V1__ENVELOPE__BODY_ORDER,     QT__V1__ENVELOPE__BODY_REPORT,
    QT__V1__ENVELOPE__BODY_FILL,      QT__V1__ENVELOPE__BODY_POSITION,
    QT__V1__ENVELOPE__BODY_KILLSWITCH, QT__V1__ENVELOPE__BODY_HEARTBEAT,
    QT__V1__ENVELOPE__BODY_WATERMARK, QT__V1__ENVELOPE__BODY_RECON,
    QT__V1__ENVELOPE__BODY_ALERT,     QT__V1__ENVELOPE__BODY_MODE,
    QT__V1__ENVELOPE__BODY_ACTION,
};
const size_t qt_testenv_nkinds = sizeof qt_testenv_kinds / sizeof qt_testenv_kinds[0];

const char *const qt_testenv_kind_names[] = {
    "bar",        "features",  "signal",    "target", "intent", "decision",
    "order",      "report",    "fill",      "position", "killswitch", "heartbeat",
    "watermark",  "recon",     "alert",     "mode",   "action"};

static void position_init(Qt__V1__Position *p, const char *sym, int64_t qty) {
    qt__v1__position__init(p);
    p->account = "paper";
    p->symbol = (char *)sym;
    p->qty = qty;
    p->avg_price = 4200000000000LL;
    p->realized_pnl = -150000000LL;
    p->mark_price = 4210000000000LL;
}

void qt_testenv_init(qt_testenv_t *s, Qt__V1__Envelope__BodyCase kind) {
    memset(s, 0, sizeof *s);
    qt_env_init(&s->env, QT_TESTENV_T0_NS);
    s->env.source = "qt-test";
    s->env.seq = 42;
    s->env.publish_time_ns = 1700000000001000000LL;
    for (int i = 0; i < 16; i++) s->trace[i] = (uint8_t)(0xA0 + i);
    for (int i = 0; i < 8; i++) s->span[i] = (uint8_t)(0x10 + i);
    s->env.trace_id.data = s->trace;
    s->env.trace_id.len = 16;
    s->env.span_id.data = s->span;
    s->env.span_id.len = 8;
    s->env.body_case = kind;
    switch (kind) {
    case QT__V1__ENVELOPE__BODY_BAR:
        qt__v1__bar__init(&s->bar);
        s->bar.symbol = "BTC_USDT";
        s->bar.venue = "binance";
        s->bar.interval = "4h";
        s->bar.open_time_ms = 1700000000000LL;
        s->bar.open = 3650000000000LL;
        s->bar.high = 3700000000000LL;
        s->bar.low = 3600000000000LL;
        s->bar.close = 3680000000000LL;
        s->bar.volume = 123456789012LL;
        s->bar.flags = QT__V1__BAR_FLAG__BAR_FLAG_GAP_BEFORE;
        s->env.bar = &s->bar;
        break;
    case QT__V1__ENVELOPE__BODY_FEATURES: {
        static const char *names[3] = {"sma_20", "ret_1", "rvol_20"};
        const double vals[3] = {36500.25, -0.0125, 0.031};
        for (int i = 0; i < 3; i++) {
            qt__v1__feature__init(&s->feat[i]);
            s->feat[i].name = (char *)names[i];
            s->feat[i].value = vals[i];
            s->feat[i].ready = i != 2;
            s->featp[i] = &s->feat[i];
        }
        qt__v1__feature_vector__init(&s->fv);
        s->fv.symbol = "ETH_USDT";
        s->fv.interval = "4h";
        s->fv.bar_time_ms = 1700000000000LL;
        s->fv.close = 200000000000LL;
        s->fv.feature_schema = 1;
        s->fv.n_features = 3;
        s->fv.features = s->featp;
        s->env.features = &s->fv;
        break;
    }
    case QT__V1__ENVELOPE__BODY_SIGNAL:
        qt__v1__signal__init(&s->sig);
        s->sig.model = "MA_v1";
        s->sig.symbol = "BTC_USDT";
        s->sig.bar_time_ms = 1700000000000LL;
        s->sig.score = -0.5;
        s->sig.confidence = 0.75;
        s->sig.alpha = 0.0012;
        s->sig.beta = 1.1;
        s->sig.volatility = 0.02;
        s->sig.close = 3680000000000LL;
        s->sig.ready = 1;
        s->env.signal = &s->sig;
        break;
    case QT__V1__ENVELOPE__BODY_TARGET:
        for (int i = 0; i < 2; i++) {
            qt__v1__target_position__init(&s->tp[i]);
            s->tpp[i] = &s->tp[i];
        }
        s->tp[0].symbol = "BTC_USDT";
        s->tp[0].weight = 0.4;
        s->tp[0].ref_price = 3680000000000LL;
        s->tp[1].symbol = "ETH_USDT";
        s->tp[1].weight = 0.0; /* weight 0: ref price may be 0 */
        qt__v1__target_portfolio__init(&s->target);
        s->target.bar_time_ms = 1700000000000LL;
        s->target.solver = "qaoa";
        s->target.n_positions = 2;
        s->target.positions = s->tpp;
        s->target.solve_ms = 12.5;
        s->target.breaker_state = "closed";
        s->target.signals = 2;
        s->env.target = &s->target;
        break;
    case QT__V1__ENVELOPE__BODY_INTENT:
        qt__v1__order_intent__init(&s->intent);
        s->intent.intent_id = "1700000000000-BTC_USDT";
        s->intent.symbol = "BTC_USDT";
        s->intent.side = QT__V1__SIDE__SIDE_BUY;
        s->intent.qty = 1500000LL;
        s->intent.ref_price = 3680000000000LL;
        s->intent.bar_time_ms = 1700000000000LL;
        s->intent.reason = "rebalance";
        s->env.intent = &s->intent;
        break;
    case QT__V1__ENVELOPE__BODY_DECISION:
        qt__v1__reject_reason__init(&s->rr);
        s->rr.code = "MAX_POSITION_NOTIONAL";
        s->rr.detail = "notional above limit";
        s->rr.value = 600000000000LL;
        s->rr.limit = 500000000000LL;
        s->rrp[0] = &s->rr;
        qt__v1__risk_decision__init(&s->decision);
        s->decision.intent_id = "1700000000000-BTC_USDT";
        s->decision.symbol = "BTC_USDT";
        s->decision.approved = 0;
        s->decision.requested_qty = 1500000LL;
        s->decision.side = QT__V1__SIDE__SIDE_SELL;
        s->decision.n_reasons = 1;
        s->decision.reasons = s->rrp;
        s->decision.bar_time_ms = 1700000000000LL;
        s->decision.killswitch_tier = QT__V1__KILL_SWITCH_TIER__KS_NORMAL;
        s->env.decision = &s->decision;
        break;
    case QT__V1__ENVELOPE__BODY_ORDER:
        qt__v1__order__init(&s->order);
        s->order.client_order_id = "QT-1700000000000-BTC_USDT";
        s->order.intent_id = "1700000000000-BTC_USDT";
        s->order.symbol = "BTC_USDT";
        s->order.side = QT__V1__SIDE__SIDE_BUY;
        s->order.qty = 1500000LL;
        s->order.ref_price = 3680000000000LL;
        s->order.mode = "paper";
        s->order.fencing_token = 7;
        s->order.created_ms = 1700000000500LL;
        s->env.order = &s->order;
        break;
    case QT__V1__ENVELOPE__BODY_REPORT:
        qt__v1__execution_report__init(&s->report);
        s->report.client_order_id = "QT-1700000000000-BTC_USDT";
        s->report.symbol = "BTC_USDT";
        s->report.status = QT__V1__ORDER_STATUS__ORDER_STATUS_FILLED;
        s->report.filled_qty = 1500000LL;
        s->report.avg_price = 3681000000000LL;
        s->report.bar_time_ms = 1700000000000LL;
        s->env.report = &s->report;
        break;
    case QT__V1__ENVELOPE__BODY_FILL:
        qt__v1__fill__init(&s->fill);
        s->fill.fill_id = "QT-1700000000000-BTC_USDT-1";
        s->fill.client_order_id = "QT-1700000000000-BTC_USDT";
        s->fill.symbol = "BTC_USDT";
        s->fill.side = QT__V1__SIDE__SIDE_BUY;
        s->fill.qty = 1500000LL;
        s->fill.price = 3681000000000LL;
        s->fill.fee = 55215000LL;
        s->fill.fill_time_ms = 1700014400000LL;
        s->fill.intent_bar_time_ms = 1700000000000LL;
        s->env.fill = &s->fill;
        break;
    case QT__V1__ENVELOPE__BODY_POSITION:
        position_init(&s->pos[0], "ETH_USDT", -250000000LL);
        s->env.position = &s->pos[0];
        break;
    case QT__V1__ENVELOPE__BODY_KILLSWITCH:
        qt__v1__kill_switch__init(&s->ks);
        s->ks.tier = QT__V1__KILL_SWITCH_TIER__KS_NO_NEW;
        s->ks.version = 3;
        s->ks.set_by = "watchdog";
        s->ks.reason = "heartbeat missing: qt-exec";
        s->ks.set_at_ms = 1700000000000LL;
        s->ks.trigger = "watchdog";
        s->ks.previous_tier = QT__V1__KILL_SWITCH_TIER__KS_NORMAL;
        s->env.killswitch = &s->ks;
        break;
    case QT__V1__ENVELOPE__BODY_HEARTBEAT:
        qt__v1__heartbeat__init(&s->hb);
        s->hb.service = "qt-risk";
        s->hb.instance = "qt-risk-1";
        s->hb.pid = 4242;
        s->hb.uptime_ms = 60000;
        s->hb.last_event_time_ms = 1700000000000LL;
        s->hb.processed = 17;
        s->hb.status = "ok";
        s->env.heartbeat = &s->hb;
        break;
    case QT__V1__ENVELOPE__BODY_WATERMARK:
        qt__v1__watermark__init(&s->wm);
        s->wm.stream = "bars.4h";
        s->wm.event_time_ms = 1700000000000LL;
        s->wm.end_of_stream = 1;
        s->wm.count = 4;
        s->env.watermark = &s->wm;
        break;
    case QT__V1__ENVELOPE__BODY_RECON:
        position_init(&s->pos[1], "BTC_USDT", 1500000LL);
        position_init(&s->pos[2], "BTC_USDT", 1400000LL);
        s->rebuilt[0] = &s->pos[1];
        s->broker[0] = &s->pos[2];
        qt__v1__recon_report__init(&s->recon);
        s->recon.ok = 0;
        s->recon.mismatches = 1;
        s->recon.n_rebuilt = 1;
        s->recon.rebuilt = s->rebuilt;
        s->recon.n_broker = 1;
        s->recon.broker = s->broker;
        s->recon.fills_seen = 9;
        s->recon.duplicate_fills = 1;
        s->recon.detail = "BTC_USDT qty differs";
        s->env.recon = &s->recon;
        break;
    case QT__V1__ENVELOPE__BODY_ALERT:
        qt__v1__data_alert__init(&s->alert);
        s->alert.symbol = "BTC_USDT";
        s->alert.interval = "4h";
        s->alert.kind = "stale";
        s->alert.active = 1;
        s->alert.last_bar_ms = 1700000000000LL;
        s->alert.age_ms = 30000000LL;
        s->alert.sla_ms = 28800000LL;
        s->alert.detail = "no bar for 2 intervals";
        s->env.alert = &s->alert;
        break;
    case QT__V1__ENVELOPE__BODY_MODE:
        qt__v1__mode_state__init(&s->mode);
        s->mode.mode = "paper";
        s->mode.version = 2;
        s->mode.set_by = "alice";
        s->mode.reason = "weekly drawdown policy";
        s->mode.set_at_ms = 1700000000000LL;
        s->env.mode = &s->mode;
        break;
    case QT__V1__ENVELOPE__BODY_ACTION:
        qt__v1__policy_action__init(&s->action);
        s->action.action_id = "weekly_dd-1700000000000";
        s->action.policy = "weekly_dd";
        s->action.action = "PAUSE";
        s->action.params = "{}";
        s->action.state = "applied";
        s->action.decided_by = "qt-supervisor";
        s->action.reason = "weekly drawdown 6.1% > 5%";
        s->action.created_ms = 1700000000000LL;
        s->action.decided_ms = 1700000000000LL;
        s->action.reduces_risk = 1;
        s->env.action = &s->action;
        break;
    default:
        break;
    }
}

void qt_testenv_set_tag(qt_testenv_t *s, int64_t tag) {
    s->env.event_time_ns = QT_TESTENV_T0_NS + tag;
    switch (s->env.body_case) {
    case QT__V1__ENVELOPE__BODY_BAR: s->bar.open_time_ms = 1700000000000LL + tag; break;
    case QT__V1__ENVELOPE__BODY_FEATURES: s->fv.bar_time_ms = tag; break;
    case QT__V1__ENVELOPE__BODY_SIGNAL: s->sig.bar_time_ms = tag; break;
    case QT__V1__ENVELOPE__BODY_TARGET: s->target.bar_time_ms = tag; break;
    case QT__V1__ENVELOPE__BODY_INTENT: s->intent.bar_time_ms = tag; break;
    case QT__V1__ENVELOPE__BODY_DECISION: s->decision.bar_time_ms = tag; break;
    case QT__V1__ENVELOPE__BODY_ORDER: s->order.created_ms = tag; break;
    case QT__V1__ENVELOPE__BODY_REPORT: s->report.bar_time_ms = tag; break;
    case QT__V1__ENVELOPE__BODY_FILL: s->fill.fill_time_ms = tag; break;
    case QT__V1__ENVELOPE__BODY_POSITION: s->pos[0].realized_pnl = tag; break;
    case QT__V1__ENVELOPE__BODY_KILLSWITCH: s->ks.set_at_ms = tag; break;
    case QT__V1__ENVELOPE__BODY_HEARTBEAT: s->hb.uptime_ms = tag; break;
    case QT__V1__ENVELOPE__BODY_WATERMARK: s->wm.event_time_ms = tag; break;
    case QT__V1__ENVELOPE__BODY_RECON: s->recon.fills_seen = (uint64_t)tag; break;
    case QT__V1__ENVELOPE__BODY_ALERT: s->alert.last_bar_ms = tag; break;
    case QT__V1__ENVELOPE__BODY_MODE: s->mode.set_at_ms = tag; break;
    case QT__V1__ENVELOPE__BODY_ACTION: s->action.created_ms = tag; break;
    default: break;
    }
}

int64_t qt_testenv_tag(const qt_env_t *e) {
    switch (e->body_case) {
    case QT__V1__ENVELOPE__BODY_BAR: return e->bar->open_time_ms - 1700000000000LL;
    case QT__V1__ENVELOPE__BODY_FEATURES: return e->features->bar_time_ms;
    case QT__V1__ENVELOPE__BODY_SIGNAL: return e->signal->bar_time_ms;
    case QT__V1__ENVELOPE__BODY_TARGET: return e->target->bar_time_ms;
    case QT__V1__ENVELOPE__BODY_INTENT: return e->intent->bar_time_ms;
    case QT__V1__ENVELOPE__BODY_DECISION: return e->decision->bar_time_ms;
    case QT__V1__ENVELOPE__BODY_ORDER: return e->order->created_ms;
    case QT__V1__ENVELOPE__BODY_REPORT: return e->report->bar_time_ms;
    case QT__V1__ENVELOPE__BODY_FILL: return e->fill->fill_time_ms;
    case QT__V1__ENVELOPE__BODY_POSITION: return e->position->realized_pnl;
    case QT__V1__ENVELOPE__BODY_KILLSWITCH: return e->killswitch->set_at_ms;
    case QT__V1__ENVELOPE__BODY_HEARTBEAT: return e->heartbeat->uptime_ms;
    case QT__V1__ENVELOPE__BODY_WATERMARK: return e->watermark->event_time_ms;
    case QT__V1__ENVELOPE__BODY_RECON: return (int64_t)e->recon->fills_seen;
    case QT__V1__ENVELOPE__BODY_ALERT: return e->alert->last_bar_ms;
    case QT__V1__ENVELOPE__BODY_MODE: return e->mode->set_at_ms;
    case QT__V1__ENVELOPE__BODY_ACTION: return e->action->created_ms;
    default: return -1;
    }
}
