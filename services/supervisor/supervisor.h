/* supervisor: the qt-supervisor core (policy engine and operating modes), pure: no I/O,
 * time passed in.
 *
 * Why: the kill switch and the watchdog react to faults; the supervisor reacts to the
 * trading itself (losing too much, winning too rarely, SLOs breached) by policies an
 * operator wrote down in configs/policy.yml. The rule that keeps it safe: an action
 * that REDUCES risk may apply on its own (raise the kill switch, move to a safer mode,
 * shrink the risk scale); anything else is only PROPOSED and waits for a human
 * (qtctl actions approve|reject). Every action, applied or proposed, is audited.
 *
 * Pieces:
 *   - modes: off < manual < paper < live (safest first). Going down is one actor;
 *     going up needs two approvals (see docs/services/supervisor.md).
 *   - sup_book_t: an account tracker fed with Fills and Bars (event time): equity =
 *     cash + sum(qty * last close), an equity sample per fills Watermark, windowed
 *     drawdown, and trade outcomes (a fill that reduces a position closes a "trade";
 *     it wins when its realized PnL after fee is > 0; average-cost basis).
 *   - policies: metric + threshold (above / below) -> list of actions.
 *   - sup_evaluate: metrics + current state -> actions, each marked reduces_risk (apply)
 *     or not (propose); actions that would change nothing are dropped, and a proposal
 *     identical to one still pending is not made again, so evaluating every few
 *     seconds does not flood the audit trail. */
#ifndef SUPERVISOR_H
#define SUPERVISOR_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "qt_config.h"
#include "qt_money.h"
#include "qt/v1/control.pb-c.h"

/* ------------------------------------------------------------------ modes */

typedef enum {
    SUP_MODE_UNKNOWN = -1,
    SUP_MODE_OFF = 0,     /* no orders at all */
    SUP_MODE_MANUAL = 1,  /* orders become a command list for a human, never sent */
    SUP_MODE_PAPER = 2,   /* simulated broker */
    SUP_MODE_LIVE = 3     /* real broker (none exists yet: always refused) */
} sup_mode_t;

const char *sup_mode_name(sup_mode_t m);            /* "off", ... "unknown" */
int sup_mode_parse(const char *s, sup_mode_t *out); /* exact lower case; 0 / -1 */

/* ------------------------------------------------------------------ book */

typedef struct sup_book_t sup_book_t;

/* max_samples: equity samples kept (oldest dropped); max_trades: outcomes kept. */
sup_book_t *sup_book_new(qt_fixed_t initial_cash, size_t max_samples, size_t max_trades);
void sup_book_destroy(sup_book_t **self_p);
/* side +1 buy / -1 sell; qty > 0; price > 0; fee >= 0. 1 applied, 0 duplicate fill_id,
 * -1 invalid or out of memory (nothing changed). */
int sup_book_on_fill(sup_book_t *self, const char *fill_id, const char *symbol, int side,
                     qt_fixed_t qty, qt_fixed_t price, qt_fixed_t fee);
/* Latest close per symbol (a bar older than the one known is ignored). 0 / -1. */
int sup_book_on_bar(sup_book_t *self, const char *symbol, int64_t open_time_ms,
                    qt_fixed_t close);
/* Equity now (cash + sum qty * last close; a position without a close is valued at its
 * average cost). */
double sup_book_equity(const sup_book_t *self);
/* Appends an equity sample at event time t_ms (not before the last one: ignored). */
void sup_book_sample(sup_book_t *self, int64_t t_ms);
/* Drawdown of the last sample from the highest sample in [last_t - window_ms, last_t],
 * in percent (>= 0). 0 with no sample. */
double sup_book_drawdown_pct(const sup_book_t *self, int64_t window_ms);
/* Win rate over the last n closed trades: the number of trades used (min(n, closed));
 * *rate = wins / used (0 when used == 0). */
size_t sup_book_win_rate(const sup_book_t *self, size_t n, double *rate);
size_t sup_book_trades(const sup_book_t *self);
qt_fixed_t sup_book_position(const sup_book_t *self, const char *symbol);

/* ------------------------------------------------------------------ policies */

typedef enum {
    SUP_MET_DRAWDOWN_PCT = 0, /* window_ms */
    SUP_MET_WIN_RATE,         /* trades: needs at least that many closed trades */
    SUP_MET_STALE_HEARTBEATS  /* services whose Redis heartbeat expired */
} sup_metric_t;

typedef enum {
    SUP_ACT_WARN = 0,     /* kill switch >= WARN */
    SUP_ACT_THROTTLE,     /* kill switch >= THROTTLE */
    SUP_ACT_PAUSE,        /* kill switch >= NO_NEW */
    SUP_ACT_FLATTEN_ALL,  /* kill switch FLATTEN_ALL */
    SUP_ACT_SET_MODE,     /* mode: lower = reduces risk; higher = proposal */
    SUP_ACT_LOWER_RISK,   /* risk scale = min(scale, factor) */
    SUP_ACT_SET_RISK_SCALE /* risk scale = factor: lower reduces, higher = proposal */
} sup_act_kind_t;

const char *sup_act_name(sup_act_kind_t k);         /* "WARN", ... */

typedef struct {
    sup_act_kind_t kind;
    sup_mode_t mode;      /* SET_MODE */
    double factor;        /* LOWER_RISK / SET_RISK_SCALE, in (0, 1] resp. (0, 1] */
} sup_action_spec_t;

#define SUP_NAME_MAX 47
#define SUP_MAX_POLICIES 32
#define SUP_MAX_ACTIONS 4

typedef struct {
    char name[SUP_NAME_MAX + 1];
    sup_metric_t metric;
    int64_t window_ms;    /* drawdown window */
    int64_t trades;       /* win_rate: last N trades */
    bool above;           /* breached when value > threshold (else value < threshold) */
    double threshold;
    int64_t for_ms;       /* act only once breached continuously for this long (0: at once) */
    size_t n_actions;
    sup_action_spec_t actions[SUP_MAX_ACTIONS];
} sup_policy_t;

typedef struct {
    int64_t evaluate_every_ms;
    qt_fixed_t initial_cash;   /* not in policy.yml: exec.yml initial_cash */
    size_t n;
    sup_policy_t p[SUP_MAX_POLICIES];
} sup_policies_t;

/* Reads policy.yml from a loaded config:
 *   evaluate_every_ms: 5000
 *   policies:
 *     <name>: {metric: drawdown_pct|win_rate|stale_heartbeats, window_ms: N (drawdown),
 *              trades: N (win_rate), above: X | below: X, for_ms: N (default 0),
 *              actions: ["SET_MODE paper", PAUSE, "LOWER_RISK 0.5", WARN, ...]}
 * 0 ok; -1 with err naming the file, key and what was expected. */
int sup_policies_load(qt_config_t *cfg, sup_policies_t *out, char *err, size_t errlen);
/* "SET_MODE manual", "LOWER_RISK 0.5", "PAUSE", ... 0 / -1. */
int sup_action_parse(const char *s, sup_action_spec_t *out);

/* ------------------------------------------------------------------ evaluation */

typedef struct {
    double drawdown_pct[SUP_MAX_POLICIES];   /* per policy (each has its own window) */
    double win_rate[SUP_MAX_POLICIES];
    size_t win_trades[SUP_MAX_POLICIES];     /* trades the rate is over */
    size_t stale_heartbeats;
    Qt__V1__KillSwitchTier tier;             /* effective (absent/unreadable = NO_NEW) */
    sup_mode_t mode;
    double risk_scale;                       /* 1.0 when absent */
} sup_inputs_t;

/* Fills the per-policy metric inputs from the book. */
void sup_inputs_from_book(const sup_policies_t *ps, const sup_book_t *book, sup_inputs_t *in);

typedef struct {
    char action_id[SUP_NAME_MAX + 48];  /* "<eval_ms>-<policy>-<i>" */
    char policy[SUP_NAME_MAX + 1];
    sup_action_spec_t spec;
    bool reduces_risk;                  /* apply now; else propose */
    Qt__V1__KillSwitchTier tier;        /* kill-switch actions: target tier */
    char params[96];                    /* JSON object text */
    char reason[256];
} sup_action_t;

/* Is this a duplicate of a proposal still pending? (policy, action name, params) */
typedef bool (*sup_pending_fn)(void *ctx, const char *policy, const char *action,
                               const char *params);

/* Per-policy memory between evaluations: since when each policy has been breached
 * (-1: not breached). Init with sup_eval_state_init. */
typedef struct {
    int64_t since[SUP_MAX_POLICIES];
} sup_eval_state_t;
void sup_eval_state_init(sup_eval_state_t *st);

/* Evaluates every policy at now_ms; writes up to cap actions; returns the count. A
 * policy acts once breached for for_ms (tracked in *st). Each action is compared with
 * the state as left by the actions before it (so "SET_MODE paper" followed by PAUSE
 * reads sensibly). pending may be NULL. */
size_t sup_evaluate(const sup_policies_t *ps, const sup_inputs_t *in, int64_t now_ms,
                    sup_eval_state_t *st, sup_pending_fn pending, void *pending_ctx,
                    sup_action_t *out, size_t cap);

/* Does applying spec to the state (tier, mode, scale) reduce risk? *noop: it would
 * change nothing. */
bool sup_action_reduces_risk(const sup_action_spec_t *spec, Qt__V1__KillSwitchTier tier,
                             sup_mode_t mode, double scale, bool *noop);
/* Kill-switch tier of WARN/THROTTLE/PAUSE/FLATTEN_ALL (KS_UNKNOWN otherwise). */
Qt__V1__KillSwitchTier sup_action_tier(sup_act_kind_t k);
/* params JSON of a spec: {} | {"mode":"manual"} | {"factor":0.5}. */
void sup_action_params(const sup_action_spec_t *spec, char *out, size_t outlen);

int supervisor_selftest(bool verbose);
#endif
