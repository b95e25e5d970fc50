/* test_supervisor: the qt-supervisor core.
 *  - policy.yml parsing: the shipped file, and hostile files refused with the key named;
 *  - the account tracker: drawdown over a window on REAL BTC_USDT 4h closes (checked
 *    against an independent computation), trade outcomes / win rate, duplicate fills;
 *  - evaluation: risk-reducing actions apply, anything else is a proposal, no-ops are
 *    dropped, pending proposals are not repeated, for_ms holds, actions see each other;
 *  - the action record JSON round trip and its strict parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/qt_testdata.h"
#include "supervisor/sup_store.h"
#include "supervisor/supervisor.h"

#define KS(t) QT__V1__KILL_SWITCH_TIER__KS_##t
#define FX(x) ((qt_fixed_t)((x) * QT_FIXED_SCALE))

static int load_text(const char *text, sup_policies_t *ps, char *err, size_t errlen)
{
    char perr[256];
    qt_config_t *c = qt_config_parse(text, strlen(text), "policy.yml", perr, sizeof perr);
    if (!c) {
        snprintf(err, errlen, "%s", perr);
        return -1;
    }
    int rc = sup_policies_load(c, ps, err, errlen);
    qt_config_destroy(&c);
    return rc;
}

static void test_policy_file(void **state)
{
    (void)state;
    char err[600] = "";
    qt_config_t *c = qt_config_load("configs/policy.yml", err, sizeof err);
    assert_non_null(c);
    sup_policies_t ps;
    assert_int_equal(sup_policies_load(c, &ps, err, sizeof err), 0);
    qt_config_destroy(&c);
    assert_int_equal(ps.evaluate_every_ms, 5000);
    assert_int_equal(ps.n, 3);
    assert_string_equal(ps.p[0].name, "weekly_drawdown");
    assert_int_equal(ps.p[0].metric, SUP_MET_DRAWDOWN_PCT);
    assert_int_equal(ps.p[0].window_ms, 604800000);
    assert_true(ps.p[0].above);
    assert_true(ps.p[0].threshold == 15.0);
    assert_int_equal(ps.p[0].n_actions, 2);
    assert_int_equal(ps.p[0].actions[0].kind, SUP_ACT_SET_MODE);
    assert_int_equal(ps.p[0].actions[0].mode, SUP_MODE_PAPER);
    assert_int_equal(ps.p[0].actions[1].kind, SUP_ACT_PAUSE);
    assert_int_equal(ps.p[1].metric, SUP_MET_WIN_RATE);
    assert_int_equal(ps.p[1].trades, 50);
    assert_false(ps.p[1].above);
    assert_true(ps.p[1].actions[0].factor == 0.5);
    assert_int_equal(ps.p[2].metric, SUP_MET_STALE_HEARTBEATS);
    assert_int_equal(ps.p[2].for_ms, 60000);
    assert_int_equal(ps.p[2].actions[0].kind, SUP_ACT_WARN);
}

static void test_policy_errors(void **state)
{
    (void)state;
    sup_policies_t ps;
    char err[600];
    struct {
        const char *text, *expect;
    } bad[] = {
        {"policies:\n  a: {metric: sharpe, above: 1, actions: [WARN]}\n", "policies.a.metric"},
        {"policies:\n  a: {metric: stale_heartbeats, above: 1, below: 2, actions: [WARN]}\n",
         "exactly one of"},
        {"policies:\n  a: {metric: stale_heartbeats, actions: [WARN]}\n", "exactly one of"},
        {"policies:\n  a: {metric: drawdown_pct, above: 1, actions: [WARN]}\n",
         "policies.a.window_ms"},
        {"policies:\n  a: {metric: win_rate, below: 0.5, trades: 0, actions: [WARN]}\n",
         "policies.a.trades"},
        {"policies:\n  a: {metric: stale_heartbeats, above: 0, actions: [\"LOWER_RISK 2\"]}\n",
         "LOWER_RISK 2"},
        {"policies:\n  a: {metric: stale_heartbeats, above: 0, actions: [\"SET_MODE fast\"]}\n",
         "SET_MODE fast"},
        {"policies:\n  a: {metric: stale_heartbeats, above: 0, actions: [PAUSE now]}\n",
         "PAUSE now"},
        {"policies:\n  a: {metric: stale_heartbeats, above: 0, actions: []}\n", "1 to 4"},
        {"policies:\n  a: {metric: stale_heartbeats, above: 0,"
         " actions: [WARN, WARN, WARN, WARN, WARN]}\n",
         "1 to 4"},
        {"policies:\n  Bad-Name: {metric: stale_heartbeats, above: 0, actions: [WARN]}\n",
         "[a-z0-9_]"},
        {"policies:\n  a: {metric: stale_heartbeats, above: x, actions: [WARN]}\n",
         "policies.a.above"},
        {"evaluate_every_ms: 5\npolicies: {}\n", "evaluate_every_ms"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(load_text(bad[i].text, &ps, err, sizeof err), -1);
        if (!strstr(err, bad[i].expect))
            fail_msg("case %zu: error '%s' does not mention '%s'", i, err, bad[i].expect);
    }
    assert_int_equal(load_text("policies: {}\n", &ps, err, sizeof err), 0);
    assert_int_equal(ps.n, 0);
}

/* Real data: hold 1 BTC bought at the first close; the equity follows the close. The
 * 7-day drawdown from the tracker must equal (peak - last) / peak over the closes of
 * the last 7 days, computed here independently, at every bar. */
static void test_drawdown_real_data(void **state)
{
    (void)state;
    qt_bars_t bars;
    qt_testdata_load_4h("BTC_USDT", &bars);
    assert_true(bars.n > 1000);
    const qt_fixed_t cash0 = FX(100000);
    sup_book_t *b = sup_book_new(cash0, 5000, 100);
    assert_non_null(b);
    const int64_t week = 7LL * 24 * 3600 * 1000;
    double c0 = qt_fixed_to_double(bars.bars[0].close);
    assert_int_equal(sup_book_on_bar(b, "BTC_USDT", bars.bars[0].t_ms, bars.bars[0].close), 0);
    assert_int_equal(sup_book_on_fill(b, "QT-0-BTC_USDT-1", "BTC_USDT", 1, FX(1),
                                      bars.bars[0].close, 0),
                     1);
    double worst = 0.0;
    size_t n = bars.n < 3000 ? bars.n : 3000;
    for (size_t i = 0; i < n; i++) {
        const qt_bar_t *bar = &bars.bars[i];
        assert_int_equal(sup_book_on_bar(b, "BTC_USDT", bar->t_ms, bar->close), 0);
        sup_book_sample(b, bar->t_ms);
        double cash = 100000.0 - c0;
        double last = cash + qt_fixed_to_double(bar->close), peak = last;
        for (size_t j = i + 1; j-- > 0;) {
            if (bar->t_ms - bars.bars[j].t_ms > week)
                break;
            double e = cash + qt_fixed_to_double(bars.bars[j].close);
            if (e > peak)
                peak = e;
        }
        double expect = (peak - last) / peak * 100.0;
        assert_true(fabs(sup_book_drawdown_pct(b, week) - expect) < 1e-9);
        if (expect > worst)
            worst = expect;
    }
    /* the series has real drawdowns: the test is not comparing zeros */
    assert_true(worst > 1.0);
    /* an old bar does not move the mark back */
    assert_int_equal(sup_book_on_bar(b, "BTC_USDT", bars.bars[0].t_ms, FX(1)), 0);
    assert_true(fabs(sup_book_equity(b) - (100000.0 - c0 + qt_fixed_to_double(bars.bars[n - 1].close))) <
                1e-6);
    sup_book_destroy(&b);
    qt_bars_free(&bars);
}

static void test_trades(void **state)
{
    (void)state;
    sup_book_t *b = sup_book_new(FX(1000), 10, 3);
    double r = -1;
    assert_int_equal(sup_book_win_rate(b, 10, &r), 0);
    assert_true(r == 0.0);
    /* buy 2 @ 10, sell 1 @ 12 (win: +2 - fee 0.5), sell 1 @ 9 (loss) */
    assert_int_equal(sup_book_on_fill(b, "a", "X", 1, FX(2), FX(10), FX(0.5)), 1);
    assert_int_equal(sup_book_on_fill(b, "b", "X", -1, FX(1), FX(12), FX(0.5)), 1);
    assert_int_equal(sup_book_on_fill(b, "b", "X", -1, FX(1), FX(12), FX(0.5)), 0); /* dup */
    assert_int_equal(sup_book_on_fill(b, "c", "X", -1, FX(1), FX(9), FX(0)), 1);
    assert_int_equal(sup_book_position(b, "X"), 0);
    assert_int_equal(sup_book_trades(b), 2);
    assert_int_equal(sup_book_win_rate(b, 10, &r), 2);
    assert_true(r == 0.5);
    assert_int_equal(sup_book_win_rate(b, 1, &r), 1);   /* the last trade: a loss */
    assert_true(r == 0.0);
    /* a win smaller than its fee is a loss */
    assert_int_equal(sup_book_on_fill(b, "d", "X", -1, FX(1), FX(10), 0), 1);   /* short */
    assert_int_equal(sup_book_on_fill(b, "e", "X", 1, FX(1), FX(9.9), FX(0.2)), 1);
    assert_int_equal(sup_book_win_rate(b, 1, &r), 1);
    assert_true(r == 0.0);
    /* flip: long 1 @ 10 -> sell 3 @ 11: closes 1 (win), opens short 2 @ 11 */
    assert_int_equal(sup_book_on_fill(b, "f", "X", 1, FX(1), FX(10), 0), 1);
    assert_int_equal(sup_book_on_fill(b, "g", "X", -1, FX(3), FX(11), 0), 1);
    assert_int_equal(sup_book_position(b, "X"), -FX(2));
    assert_int_equal(sup_book_trades(b), 4);
    assert_int_equal(sup_book_win_rate(b, 10, &r), 3);   /* ring of 3 */
    assert_true(fabs(r - 1.0 / 3.0) < 1e-12);
    /* cash: 1000 - 20 - .5 + 12 - .5 + 9 + 10 - 9.9 - .2 - 10 + 33 = 1022.9; mark the
     * short at its cost (no close yet): equity = 1022.9 - 22 */
    assert_true(fabs(sup_book_equity(b) - (1022.9 - 22.0)) < 1e-9);
    assert_int_equal(sup_book_on_bar(b, "X", 1, FX(10)), 0);
    assert_true(fabs(sup_book_equity(b) - (1022.9 - 20.0)) < 1e-9);
    /* hostile fills */
    assert_int_equal(sup_book_on_fill(b, "", "X", 1, FX(1), FX(1), 0), -1);
    assert_int_equal(sup_book_on_fill(b, "h", "X", 0, FX(1), FX(1), 0), -1);
    assert_int_equal(sup_book_on_fill(b, "h", "X", 1, 0, FX(1), 0), -1);
    assert_int_equal(sup_book_on_fill(b, "h", "X", 1, FX(1), 0, 0), -1);
    assert_int_equal(sup_book_on_fill(b, "h", "X", 1, FX(1), FX(1), -1), -1);
    assert_int_equal(sup_book_on_fill(b, "h", NULL, 1, FX(1), FX(1), 0), -1);
    assert_int_equal(sup_book_on_fill(b, "h", "X", -1, INT64_MAX, FX(1), 0), -1);
    assert_int_equal(sup_book_position(b, "X"), -FX(2));   /* unchanged */
    /* samples never go back in time; the ring keeps the newest */
    for (int i = 0; i < 20; i++)
        sup_book_sample(b, 1000 + i);
    sup_book_sample(b, 5);
    assert_true(sup_book_drawdown_pct(b, 1000000) == 0.0);
    sup_book_destroy(&b);
    assert_null(sup_book_new(FX(1), 0, 1));
}

typedef struct {
    const char *policy, *action, *params;
} pend_t;

static bool pending_fn(void *ctx, const char *policy, const char *action, const char *params)
{
    const pend_t *p = ctx;
    return p && strcmp(p->policy, policy) == 0 && strcmp(p->action, action) == 0 &&
           strcmp(p->params, params) == 0;
}

static void test_evaluate(void **state)
{
    (void)state;
    const char *text =
        "policies:\n"
        "  dd: {metric: drawdown_pct, window_ms: 1000, above: 5, actions: [\"SET_MODE paper\", PAUSE]}\n"
        "  wr: {metric: win_rate, trades: 4, below: 0.5, actions: [\"LOWER_RISK 0.5\"]}\n"
        "  up: {metric: win_rate, trades: 4, above: 0.9, actions: [\"SET_RISK_SCALE 1\", \"SET_MODE live\"]}\n"
        "  slo: {metric: stale_heartbeats, above: 0, for_ms: 3000, actions: [WARN]}\n";
    sup_policies_t ps;
    char err[600];
    assert_int_equal(load_text(text, &ps, err, sizeof err), 0);
    sup_inputs_t in;
    memset(&in, 0, sizeof in);
    in.tier = KS(NORMAL);
    in.mode = SUP_MODE_PAPER;
    in.risk_scale = 1.0;
    sup_eval_state_t es;
    sup_eval_state_init(&es);
    sup_action_t out[16];
    /* nothing breached */
    assert_int_equal(sup_evaluate(&ps, &in, 1000, &es, NULL, NULL, out, 16), 0);
    /* drawdown 6 % in paper: SET_MODE paper is a no-op, PAUSE applies */
    in.drawdown_pct[0] = 6.0;
    size_t n = sup_evaluate(&ps, &in, 2000, &es, NULL, NULL, out, 16);
    assert_int_equal(n, 1);
    assert_int_equal(out[0].spec.kind, SUP_ACT_PAUSE);
    assert_true(out[0].reduces_risk);
    assert_int_equal(out[0].tier, KS(NO_NEW));
    assert_string_equal(out[0].action_id, "2000-dd-1");
    assert_string_equal(out[0].policy, "dd");
    assert_string_equal(out[0].params, "{}");
    assert_string_equal(out[0].reason, "policy dd: drawdown_pct 6.0000 > 5");
    /* in live: both apply, in order */
    in.mode = SUP_MODE_LIVE;
    n = sup_evaluate(&ps, &in, 2100, &es, NULL, NULL, out, 16);
    assert_int_equal(n, 2);
    assert_int_equal(out[0].spec.kind, SUP_ACT_SET_MODE);
    assert_true(out[0].reduces_risk);
    assert_string_equal(out[0].params, "{\"mode\":\"paper\"}");
    assert_int_equal(out[1].spec.kind, SUP_ACT_PAUSE);
    /* already NO_NEW (or higher, or unreadable = NO_NEW): nothing */
    in.mode = SUP_MODE_PAPER;
    in.tier = KS(NO_NEW);
    assert_int_equal(sup_evaluate(&ps, &in, 2200, &es, NULL, NULL, out, 16), 0);
    in.tier = KS(UNKNOWN);
    assert_int_equal(sup_evaluate(&ps, &in, 2200, &es, NULL, NULL, out, 16), 0);
    in.tier = KS(FLATTEN_ALL);
    assert_int_equal(sup_evaluate(&ps, &in, 2200, &es, NULL, NULL, out, 16), 0);
    in.tier = KS(NORMAL);
    in.drawdown_pct[0] = 5.0;   /* at the threshold: not above */
    assert_int_equal(sup_evaluate(&ps, &in, 2300, &es, NULL, NULL, out, 16), 0);
    in.drawdown_pct[0] = 0.0;
    /* win rate below 0.5 but over too few trades: nothing */
    in.win_rate[1] = 0.25;
    in.win_trades[1] = 3;
    assert_int_equal(sup_evaluate(&ps, &in, 3000, &es, NULL, NULL, out, 16), 0);
    in.win_trades[1] = 4;
    n = sup_evaluate(&ps, &in, 3000, &es, NULL, NULL, out, 16);
    assert_int_equal(n, 1);
    assert_int_equal(out[0].spec.kind, SUP_ACT_LOWER_RISK);
    assert_true(out[0].reduces_risk);
    assert_string_equal(out[0].params, "{\"factor\":0.5}");
    assert_string_equal(out[0].reason, "policy wr: win_rate 0.2500 over 4 trades < 0.5");
    in.risk_scale = 0.5;   /* applied: LOWER_RISK never raises, so nothing more */
    assert_int_equal(sup_evaluate(&ps, &in, 3100, &es, NULL, NULL, out, 16), 0);
    in.risk_scale = 0.25;
    assert_int_equal(sup_evaluate(&ps, &in, 3100, &es, NULL, NULL, out, 16), 0);
    /* a great win rate: scale up and go live are PROPOSALS, never applied */
    in.win_rate[2] = 0.95;
    in.win_trades[2] = 4;
    n = sup_evaluate(&ps, &in, 4000, &es, NULL, NULL, out, 16);
    assert_int_equal(n, 2);
    assert_int_equal(out[0].spec.kind, SUP_ACT_SET_RISK_SCALE);
    assert_false(out[0].reduces_risk);
    assert_string_equal(out[0].params, "{\"factor\":1}");
    assert_int_equal(out[1].spec.kind, SUP_ACT_SET_MODE);
    assert_false(out[1].reduces_risk);
    /* the same proposal still pending is not made again; a different one is */
    pend_t p = {"up", "SET_RISK_SCALE", "{\"factor\":1}"};
    n = sup_evaluate(&ps, &in, 4100, &es, pending_fn, &p, out, 16);
    assert_int_equal(n, 1);
    assert_int_equal(out[0].spec.kind, SUP_ACT_SET_MODE);
    assert_string_equal(out[0].action_id, "4100-up-1");
    in.win_rate[2] = 0.0;
    /* SLO: breached from 5000, acts only from 8000 (for_ms 3000); a recovery resets */
    in.stale_heartbeats = 2;
    assert_int_equal(sup_evaluate(&ps, &in, 5000, &es, NULL, NULL, out, 16), 0);
    assert_int_equal(sup_evaluate(&ps, &in, 7999, &es, NULL, NULL, out, 16), 0);
    in.stale_heartbeats = 0;
    assert_int_equal(sup_evaluate(&ps, &in, 8000, &es, NULL, NULL, out, 16), 0);
    in.stale_heartbeats = 1;
    assert_int_equal(sup_evaluate(&ps, &in, 8500, &es, NULL, NULL, out, 16), 0);
    assert_int_equal(sup_evaluate(&ps, &in, 11499, &es, NULL, NULL, out, 16), 0);
    n = sup_evaluate(&ps, &in, 11500, &es, NULL, NULL, out, 16);
    assert_int_equal(n, 1);
    assert_int_equal(out[0].spec.kind, SUP_ACT_WARN);
    assert_true(out[0].reduces_risk);
    assert_int_equal(out[0].tier, KS(WARN));
    /* capacity is respected */
    in.drawdown_pct[0] = 9.0;
    in.mode = SUP_MODE_LIVE;
    assert_int_equal(sup_evaluate(&ps, &in, 12000, &es, NULL, NULL, out, 1), 1);
}

static void test_reduces_risk(void **state)
{
    (void)state;
    sup_action_spec_t s = {SUP_ACT_SET_MODE, SUP_MODE_OFF, 0};
    bool noop = true;
    assert_true(sup_action_reduces_risk(&s, KS(NORMAL), SUP_MODE_MANUAL, 1.0, &noop));
    assert_false(noop);
    s.mode = SUP_MODE_MANUAL;
    assert_false(sup_action_reduces_risk(&s, KS(NORMAL), SUP_MODE_MANUAL, 1.0, &noop));
    assert_true(noop);
    s.mode = SUP_MODE_PAPER;
    assert_false(sup_action_reduces_risk(&s, KS(NORMAL), SUP_MODE_MANUAL, 1.0, &noop));
    assert_false(noop);   /* up: a proposal */
    /* an unreadable mode acts as off: nothing is above "off" except a proposal */
    assert_false(sup_action_reduces_risk(&s, KS(NORMAL), SUP_MODE_UNKNOWN, 1.0, &noop));
    assert_false(noop);
    s.mode = SUP_MODE_OFF;
    assert_false(sup_action_reduces_risk(&s, KS(NORMAL), SUP_MODE_UNKNOWN, 1.0, &noop));
    assert_true(noop);
    s = (sup_action_spec_t){SUP_ACT_SET_RISK_SCALE, SUP_MODE_UNKNOWN, 0.8};
    assert_true(sup_action_reduces_risk(&s, KS(NORMAL), SUP_MODE_PAPER, 1.0, &noop));
    assert_false(sup_action_reduces_risk(&s, KS(NORMAL), SUP_MODE_PAPER, 0.5, &noop));
    assert_false(noop);
    assert_false(sup_action_reduces_risk(&s, KS(NORMAL), SUP_MODE_PAPER, 0.8, &noop));
    assert_true(noop);
    s.kind = SUP_ACT_THROTTLE;
    assert_true(sup_action_reduces_risk(&s, KS(WARN), SUP_MODE_PAPER, 1.0, &noop));
    assert_false(sup_action_reduces_risk(&s, KS(THROTTLE), SUP_MODE_PAPER, 1.0, &noop));
    assert_true(noop);
    assert_int_equal(sup_action_tier(SUP_ACT_FLATTEN_ALL), KS(FLATTEN_ALL));
    assert_int_equal(sup_action_tier(SUP_ACT_SET_MODE), KS(UNKNOWN));
    sup_mode_t m;
    assert_int_equal(sup_mode_parse("live", &m), 0);
    assert_int_equal(m, SUP_MODE_LIVE);
    assert_int_equal(sup_mode_parse("Live", &m), -1);
    assert_int_equal(sup_mode_parse(NULL, &m), -1);
    assert_string_equal(sup_mode_name(SUP_MODE_UNKNOWN), "unknown");
    assert_string_equal(sup_act_name(SUP_ACT_PAUSE), "PAUSE");
}

static void test_record_json(void **state)
{
    (void)state;
    sup_action_t a;
    memset(&a, 0, sizeof a);
    snprintf(a.action_id, sizeof a.action_id, "1700000000000-wr-0");
    snprintf(a.policy, sizeof a.policy, "wr");
    a.spec.kind = SUP_ACT_LOWER_RISK;
    a.spec.factor = 0.5;
    a.reduces_risk = true;
    snprintf(a.params, sizeof a.params, "{\"factor\":0.5}");
    snprintf(a.reason, sizeof a.reason, "policy wr: \"quoted\"\n");
    sup_record_t rec, back;
    sup_record_from_action(&a, "qt-supervisor", 1700000000000LL, &rec);
    assert_string_equal(rec.state, "applied");
    assert_string_equal(rec.decided_by, "qt-supervisor");
    char *j = sup_record_json(&rec);
    assert_non_null(j);
    assert_int_equal(sup_record_parse(j, strlen(j), &back), 0);
    assert_memory_equal(&rec, &back, sizeof rec);
    free(j);
    a.reduces_risk = false;
    sup_record_from_action(&a, "qt-supervisor", 5, &rec);
    assert_string_equal(rec.state, "proposed");
    assert_string_equal(rec.decided_by, "");
    assert_int_equal(rec.decided_ms, 0);
    Qt__V1__PolicyAction pb;
    sup_record_to_proto(&rec, &pb);
    assert_string_equal(pb.state, "proposed");
    assert_false(pb.reduces_risk);
    /* Lua's cjson writes numbers as reals: an integral real is accepted */
    const char *lua =
        "{\"action\":\"PAUSE\",\"action_id\":\"x\",\"created_ms\":1.7e+12,\"decided_by\":\"\","
        "\"decided_ms\":0,\"params\":\"{}\",\"policy\":\"p\",\"reason\":\"\","
        "\"reduces_risk\":true,\"state\":\"applied\"}";
    assert_int_equal(sup_record_parse(lua, strlen(lua), &back), 0);
    assert_int_equal(back.created_ms, 1700000000000LL);
    /* hostile records */
    const char *bad[] = {
        "", "[]", "{}", "{\"action_id\":1}",
        "{\"action\":\"PAUSE\",\"action_id\":\"x\",\"created_ms\":1.5,\"decided_by\":\"\","
        "\"decided_ms\":0,\"params\":\"{}\",\"policy\":\"p\",\"reason\":\"\","
        "\"reduces_risk\":true,\"state\":\"applied\"}",
        "{\"action\":\"PAUSE\",\"action_id\":\"\",\"created_ms\":1,\"decided_by\":\"\","
        "\"decided_ms\":0,\"params\":\"{}\",\"policy\":\"p\",\"reason\":\"\","
        "\"reduces_risk\":true,\"state\":\"applied\"}",
        "{\"action\":\"PAUSE\",\"action_id\":\"x\",\"created_ms\":1,\"decided_by\":\"\","
        "\"decided_ms\":0,\"params\":\"{}\",\"policy\":\"p\",\"reason\":\"\","
        "\"reduces_risk\":1,\"state\":\"applied\"}",
        "{\"action\":\"PAUSE\",\"action_id\":\"x\\u0000y\",\"created_ms\":1,\"decided_by\":\"\","
        "\"decided_ms\":0,\"params\":\"{}\",\"policy\":\"p\",\"reason\":\"\","
        "\"reduces_risk\":true,\"state\":\"applied\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (sup_record_parse(bad[i], strlen(bad[i]), &back) != -1)
            fail_msg("bad record %zu accepted", i);
    assert_int_equal(supervisor_selftest(false), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_policy_file),      cmocka_unit_test(test_policy_errors),
        cmocka_unit_test(test_drawdown_real_data), cmocka_unit_test(test_trades),
        cmocka_unit_test(test_evaluate),         cmocka_unit_test(test_reduces_risk),
        cmocka_unit_test(test_record_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
