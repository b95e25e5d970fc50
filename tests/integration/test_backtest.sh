#!/usr/bin/env bash
# Integration test of qt-backtest (tools/qt-backtest, docs/backtest.md). No servers: the
# backtest runs the service cores in one process. Needs BUILD_DIR (scripts/run-tests),
# python3, and the shipped 4h Binance files (QT_DATA_DIR, default ../shared/data).
#
# What it asserts:
#   - determinism: two runs of configs/backtest.yml (the demo window, 33 pairs) give
#     byte-identical metrics.json, trades.csv and equity.csv, the same run id and the same
#     `artifact sha256:` line, which equals sha256(metrics.json || trades.csv);
#     run_log.jsonl gets one valid JSON line per run;
#   - books: at every bar equity - initial == realised + unrealised - fees and equity ==
#     cash + positions value; cash after each fill == initial - sum(notional) - fees (exact
#     decimals, notional = qty x price rounded half-even to 1e-8 as the broker does);
#   - report.html has the inline SVG equity curve and the metrics; portfolio_snapshot.png
#     is a PNG (cairo);
#   - golden: metrics.json equals tests/golden/backtest_demo_metrics.json key by key
#     (money and counts exactly, doubles to 1e-9 relative); a difference names the metric.
#     QT_UPDATE_GOLDEN=1 rewrites the golden file instead (review the diff, then commit);
#   - zero costs (fee 0, slippage 0, shorter window): every fill price is the open of its
#     bar in the data file, fees are 0, and at every bar equity - initial cash equals
#     sum over fills of qty * (close of the symbol at that bar - fill price), computed
#     here from trades.csv and the raw files with exact decimals (tolerance 1e-6 USDT);
#   - doubling fees (10 -> 20 bps, same window) does not increase PnL;
#   - grid of 4 trials (features.sma_fast 5/8/10/15): same trials, PBO and DSR with -j 2 and
#     -j 1; the trial with the shipped value equals the plain run; the best trial is the
#     highest Sharpe; the verdict follows the configured gates (0.5/0.95 and 1.0/0.0);
#     the walk-forward folds, choices and OOS Sharpe, and the CPCV splits (N 6, k 2,
#     embargo 3 bars), per-split choices and path Sharpe ratios equal a recomputation in
#     Python;
#   - the optimizer settings qt-backtest reads (bt_config.c mirrors the service's reader)
#     equal `qt-optimizer --check-config`, shipped and with QT_* env overrides;
#   - hostile input: unknown key value, bad date, missing --out, missing data, unknown
#     grid parameter, bad -j: exit 2 with a message naming it.
set -euo pipefail
cd "$(dirname "$0")/../.."

fail() {
    echo "FAIL: $*" >&2
    exit 1
}
ok() { echo "ok: $*"; }

: "${BUILD_DIR:?BUILD_DIR not set: run through scripts/run-tests}"
BT="$BUILD_DIR/bin/qt-backtest"
[ -x "$BT" ] || fail "$BT not built"
command -v python3 >/dev/null || fail "python3 not found (used to read JSON/CSV output)"
DATA="${QT_DATA_DIR:-../shared/data}"
SRC="$DATA/raw/djienne-3EMA_SRSI_ATR-binance/4h"
[ -f "$SRC/BTC_USDT-4h.json" ] || fail "$SRC/BTC_USDT-4h.json missing"
GOLDEN=tests/golden/backtest_demo_metrics.json

TMP="$(mktemp -d "${TMPDIR:-/tmp}/qt-test-backtest.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT

# ---- determinism on the demo config ----
"$BT" run --config configs/backtest.yml --out "$TMP/a" --run-log "$TMP/run_log.jsonl" >"$TMP/a.out" 2>"$TMP/a.err" ||
    fail "run a: $(cat "$TMP/a.err")"
"$BT" run --config configs/backtest.yml --out "$TMP/b" --run-log "$TMP/run_log.jsonl" >"$TMP/b.out" 2>"$TMP/b.err" ||
    fail "run b: $(cat "$TMP/b.err")"
for f in metrics.json trades.csv equity.csv; do
    cmp -s "$TMP/a/$f" "$TMP/b/$f" || fail "two runs differ in $f"
done
ok "two runs: byte-identical metrics.json, trades.csv, equity.csv"
[ "$(head -c 8 "$TMP/a/portfolio_snapshot.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] ||
    fail "portfolio_snapshot.png is not a PNG"
grep -q '<polyline' "$TMP/a/report.html" && grep -q '"final_equity"' "$TMP/a/report.html" ||
    fail "report.html lacks the equity SVG or the metrics"
ok "report.html (inline SVG + metrics) and portfolio_snapshot.png (PNG) written"
la="$(tail -n 1 "$TMP/a.out")"
lb="$(tail -n 1 "$TMP/b.out")"
[[ "$la" =~ ^artifact\ sha256:\ [0-9a-f]{64}$ ]] || fail "last line is not the artifact line: '$la'"
[ "$la" = "$lb" ] || fail "artifact lines differ: '$la' vs '$lb'"
want="artifact sha256: $(cat "$TMP/a/metrics.json" "$TMP/a/trades.csv" | sha256sum | cut -d' ' -f1)"
[ "$la" = "$want" ] || fail "artifact line '$la' != sha256(metrics.json || trades.csv) '$want'"
ok "artifact line identical and equal to sha256(metrics.json || trades.csv)"
python3 - "$TMP/run_log.jsonl" "$TMP/a/metrics.json" "${la#artifact sha256: }" <<'EOF' || fail "run log"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 2, f"{len(lines)} run-log lines, want 2"
a, b = (json.loads(l) for l in lines)
m = json.load(open(sys.argv[2]))
for k in ("run_id", "git_commit", "config_hash", "data_hash", "seed", "artifacts", "artifact_sha256"):
    assert k in a, f"run log lacks {k}"
assert a["run_id"] == b["run_id"] and len(a["run_id"]) == 16, "run id not deterministic"
assert a["metrics"] == m, "run log metrics != metrics.json"
assert a["artifact_sha256"] == sys.argv[3], "run log artifact hash != printed line"
assert len(a["config_hash"]) == 64 and len(a["data_hash"]) == 64
EOF
ok "run_log.jsonl: one line per run, deterministic run id, metrics and hashes"
python3 - "$TMP/a" <<'EOF' || fail "books identity"
import csv, json, sys
from decimal import Decimal as D
d = sys.argv[1]
m = json.load(open(f"{d}/metrics.json"))
init = D(m["initial_cash"])
rows = list(csv.DictReader(open(f"{d}/equity.csv")))
for r in rows:
    assert D(r["equity"]) - init == D(r["realised_pnl"]) + D(r["unrealised_pnl"]) - D(r["fees"]), r["time"]
    assert D(r["equity"]) == D(r["cash"]) + D(r["positions_value"]), r["time"]
assert D(m["final_equity"]) == D(rows[-1]["equity"]) and D(m["pnl"]) == D(m["final_equity"]) - init
fills = list(csv.DictReader(open(f"{d}/trades.csv")))
assert len(fills) == m["fills"] and D(m["fees"]) == sum(D(f["fee"]) for f in fills)
cash = init
for f in fills:
    sgn = 1 if f["side"] == "buy" else -1
    assert D(f["notional"]) == (D(f["qty"]) * D(f["price"])).quantize(D("1e-8")), f["fill_id"]
    cash += -sgn * D(f["notional"]) - D(f["fee"])
    assert cash == D(f["cash_after"]), f["fill_id"]
print(f"books: {len(rows)} bars, {len(fills)} fills, identity exact")
EOF
ok "books: equity - initial == realised + unrealised - fees at every bar; cash == sum of fills, exactly"

# ---- golden metrics ----
if [ "${QT_UPDATE_GOLDEN:-0}" = 1 ]; then
    cp "$TMP/a/metrics.json" "$GOLDEN"
    echo "golden: rewrote $GOLDEN (review and commit)"
fi
[ -f "$GOLDEN" ] || fail "$GOLDEN missing (QT_UPDATE_GOLDEN=1 writes it)"
python3 - "$GOLDEN" "$TMP/a/metrics.json" <<'EOF' || fail "golden metrics moved (see above)"
import json, math, sys
g = json.load(open(sys.argv[1]))
m = json.load(open(sys.argv[2]))
bad = []
for k in sorted(set(g) | set(m)):
    if k not in m:
        bad.append(f"{k}: missing (golden {g[k]!r})")
    elif k not in g:
        bad.append(f"{k}: new metric {m[k]!r} not in the golden file")
    else:
        a, b = g[k], m[k]
        if isinstance(a, float) and isinstance(b, (int, float)) and not isinstance(b, bool):
            if not (a == b or abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))):
                bad.append(f"{k}: golden {a!r} now {b!r}")
        elif a != b:
            bad.append(f"{k}: golden {a!r} now {b!r}")
for line in bad:
    print("metric moved:", line, file=sys.stderr)
sys.exit(1 if bad else 0)
EOF
ok "metrics equal $GOLDEN key by key"

# ---- properties on a shorter window ----
short_cfg() { # NAME FEE SLIP
    cat >"$TMP/$1.yml" <<EOF
version: 1
backtest:
  configs: configs
  start: "2022-03-17T12:00:00Z"
  end: "2022-06-30T20:00:00Z"
  seed: 1
  initial_cash: "100000"
  periods_per_year: 2190
  costs:
    fee_bps: $2
    slippage_bps: $3
EOF
}
short_cfg zero 0 0
short_cfg fee10 10 5
short_cfg fee20 20 5
for n in zero fee10 fee20; do
    "$BT" run --config "$TMP/$n.yml" --out "$TMP/$n" >/dev/null 2>"$TMP/$n.err" || fail "run $n: $(cat "$TMP/$n.err")"
done

python3 - "$TMP/zero" "$SRC" <<'EOF' || fail "zero-cost PnL != price path x positions"
import csv, json, sys
from decimal import Decimal, ROUND_HALF_EVEN
out, src = sys.argv[1], sys.argv[2]
q8 = Decimal("0.00000001")
m = json.load(open(f"{out}/metrics.json"))
assert m["fee_bps"] == 0 and m["slippage_bps"] == 0 and Decimal(m["fees"]) == 0
fills = list(csv.DictReader(open(f"{out}/trades.csv")))
eq = list(csv.DictReader(open(f"{out}/equity.csv")))
assert len(fills) > 20, f"only {len(fills)} fills: the property would be vacuous"
bars = {}
for s in sorted({f["symbol"] for f in fills}):
    rows = json.load(open(f"{src}/{s}-4h.json"), parse_float=Decimal)
    bars[s] = {int(r[0]): (Decimal(r[1]).quantize(q8, ROUND_HALF_EVEN),
                           Decimal(r[4]).quantize(q8, ROUND_HALF_EVEN)) for r in rows}
for f in fills:
    assert Decimal(f["fee"]) == 0, f"fee on {f['fill_id']}"
    o = bars[f["symbol"]][int(f["time_ms"])][0]
    assert Decimal(f["price"]) == o, f"{f['fill_id']}: price {f['price']} != open {o}"
initial = Decimal(m["initial_cash"])
i, pos, worst = 0, {}, Decimal(0)
paid = Decimal(0)   # sum of qty * fill price (signed)
for row in eq:
    t = int(row["time_ms"])
    while i < len(fills) and int(fills[i]["time_ms"]) <= t:
        f = fills[i]
        q = Decimal(f["qty"]) * (1 if f["side"] == "buy" else -1)
        pos[f["symbol"]] = pos.get(f["symbol"], Decimal(0)) + q
        paid += q * Decimal(f["price"])
        i += 1
    # price path x positions: sum over fills of qty * (close_t - fill price)
    path = sum(q * bars[s][t][1] for s, q in pos.items()) - paid
    diff = abs(Decimal(row["equity"]) - initial - path)
    worst = max(worst, diff)
    assert diff <= Decimal("0.000001"), f"{row['time']}: equity-initial {Decimal(row['equity'])-initial} != {path}"
assert i == len(fills)
print(f"zero-cost: {len(fills)} fills, {len(eq)} bars, max |diff| {worst}")
EOF
ok "zero fees + zero slippage: fills at the open, PnL == sum qty x price path at every bar"

python3 - "$TMP/fee10/metrics.json" "$TMP/fee20/metrics.json" <<'EOF' || fail "doubling fees increased PnL"
import json, sys
from decimal import Decimal
a, b = (json.load(open(p)) for p in sys.argv[1:3])
assert a["fee_bps"] == 10 and b["fee_bps"] == 20
assert Decimal(b["fees"]) > 0 and a["fills"] > 20
pa, pb = Decimal(a["pnl"]), Decimal(b["pnl"])
print(f"pnl fee 10 bps {pa}, fee 20 bps {pb}")
assert pb <= pa
EOF
ok "doubling fees does not increase PnL"

# ---- grid: N trials, fork pool, PBO / DSR gates ----
grid_cfg() { # NAME PBO_MAX DSR_MIN
    sed '/^  costs:/,$d' "$TMP/fee10.yml" >"$TMP/$1.yml"
    cat >>"$TMP/$1.yml" <<EOF
grid:
  param: features.sma_fast
  values: [5, 8, 10, 15]
  blocks: 8
  pbo_max: $2
  dsr_min: $3
  cpcv_groups: 6
  cpcv_test: 2
  cpcv_embargo: 3
EOF
}
grid_cfg grid_default 0.5 0.95
grid_cfg grid_loose 1.0 0.0
"$BT" grid --config "$TMP/grid_default.yml" --out "$TMP/g2" -j 2 >"$TMP/g2.out" 2>"$TMP/g2.err" ||
    fail "grid -j 2: $(cat "$TMP/g2.err")"
"$BT" grid --config "$TMP/grid_loose.yml" --out "$TMP/g1" -j 1 >"$TMP/g1.out" 2>"$TMP/g1.err" ||
    fail "grid -j 1: $(cat "$TMP/g1.err")"
[[ "$(tail -n 1 "$TMP/g2.out")" == "artifact sha256: $(sha256sum <"$TMP/g2/grid.json" | cut -d' ' -f1)" ]] ||
    fail "grid: last line is not the sha256 of grid.json"
# trial 2 is sma_fast 10 = the shipped features.yml: the same run as fee10 (same window/costs)
cmp -s "$TMP/g2/trial_002/metrics.json" "$TMP/fee10/metrics.json" ||
    fail "grid trial sma_fast=10 differs from the plain run with the shipped config"
cmp -s "$TMP/g2/trial_001/trades.csv" "$TMP/g1/trial_001/trades.csv" || fail "trial 1 differs between -j 2 and -j 1"
python3 - "$TMP/g2/grid.json" "$TMP/g1/grid.json" <<'EOF' || fail "grid results"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
for k in ("trials", "pbo", "dsr", "sr0", "best_index", "pbo_combinations", "var_trials_sharpe"):
    assert a[k] == b[k], f"{k} differs between -j 2 and -j 1"
assert a["n_trials"] == 4 and len(a["trials"]) == 4 and a["pbo_combinations"] == 70
assert 0 <= a["pbo"] <= 1 and 0 <= a["dsr"] <= 1
best = max(range(4), key=lambda k: (a["trials"][k]["sharpe_per_period"], -k))
assert a["best_index"] == best, "best trial is not the highest Sharpe"
for g in (a, b):
    want = "pass" if g["pbo"] < g["pbo_max"] and g["dsr"] >= g["dsr_min"] else "fail"
    assert g["verdict"] == want, f"verdict {g['verdict']} with pbo {g['pbo']} dsr {g['dsr']}"
assert a["pbo_max"] == 0.5 and a["dsr_min"] == 0.95 and b["pbo_max"] == 1.0 and b["dsr_min"] == 0.0
assert b["verdict"] == ("pass" if b["pbo"] < 1.0 else "fail")
print(f"grid: pbo {a['pbo']:.4f} dsr {a['dsr']:.4f} verdict {a['verdict']} (loose gates: {b['verdict']})")
EOF
ok "grid: same trials/PBO/DSR with -j 2 and -j 1, verdict from the configured gates"

python3 - "$TMP/g2" <<'EOF' || fail "walk-forward selection"
import csv, json, math, statistics, sys
d = sys.argv[1]
g = json.load(open(f"{d}/grid.json"))
R = [[float(r["return"]) for r in csv.DictReader(open(f"{d}/trial_{j:03d}/equity.csv"))]
     for j in range(g["n_trials"])]
T, K = len(R[0]), g["wf_folds"]
assert K == 4 and len(g["wf"]) == K
sizes = [T // (K + 1) + (1 if b < T % (K + 1) else 0) for b in range(K + 1)]
row, oos = sizes[0], []
for f, w in enumerate(g["wf"]):
    srs = [statistics.mean(r[:row]) / statistics.stdev(r[:row]) for r in R]
    best = max(range(len(R)), key=lambda j: (srs[j], -j))
    assert (w["start_row"], w["end_row"], w["trial"]) == (row, row + sizes[f + 1], best), (f, w, best)
    assert abs(w["is_sharpe_per_period"] - srs[best]) <= 1e-9 * max(1, abs(srs[best]))
    oos += R[best][row:row + sizes[f + 1]]
    row += sizes[f + 1]
sr = statistics.mean(oos) / statistics.stdev(oos) * math.sqrt(2190)
assert abs(g["wf_oos_sharpe"] - sr) <= 1e-9 * abs(sr), (g["wf_oos_sharpe"], sr)
print(f"walk-forward: choices {[w['trial'] for w in g['wf']]}, OOS Sharpe {sr:.4f}")
EOF
ok "walk-forward: folds, choices (best in-sample Sharpe) and OOS Sharpe recomputed from the trials"

python3 - "$TMP/g2" <<'EOF' || fail "CPCV paths"
import csv, itertools, json, math, statistics, sys
d = sys.argv[1]
g = json.load(open(f"{d}/grid.json"))
R = [[float(r["return"]) for r in csv.DictReader(open(f"{d}/trial_{j:03d}/equity.csv"))]
     for j in range(g["n_trials"])]
T, N, k, e = len(R[0]), g["cpcv_groups"], g["cpcv_test"], g["cpcv_embargo"]
assert (N, k, e) == (6, 2, 3), (N, k, e)
sizes = [T // N + (1 if i < T % N else 0) for i in range(N)]
bounds = [(sum(sizes[:i]), sum(sizes[:i + 1])) for i in range(N)]
splits = list(itertools.combinations(range(N), k))          # lexicographic, as qt_cv
assert g["cpcv_splits"] == len(splits) == 15 and g["cpcv_paths"] == len(splits) * k // N == 5
def sr(x):
    return statistics.mean(x) / statistics.stdev(x)
choice = []
for groups in splits:
    test = set(t for gg in groups for t in range(*bounds[gg]))
    # point labels [i, i]: purge + embargo removes train rows in [a_g, b_g + e]
    train = [i for i in range(T) if i not in test and
             not any(bounds[gg][0] <= i <= bounds[gg][1] - 1 + e for gg in groups)]
    s = [sr([R[j][i] for i in train]) for j in range(len(R))]
    choice.append(max(range(len(R)), key=lambda j: (s[j], -j)))
want = []
for p in range(g["cpcv_paths"]):
    path = []
    for gg in range(N):
        s = [i for i, grp in enumerate(splits) if gg in grp][p]   # p-th split testing gg
        path += R[choice[s]][bounds[gg][0]:bounds[gg][1]]
    want.append(sr(path) * math.sqrt(2190))
got = g["cpcv_path_sharpe"]
assert all(abs(a - b) <= 1e-9 * max(1, abs(b)) for a, b in zip(got, want)), (got, want)
print(f"CPCV: {len(splits)} splits, {len(want)} paths, path Sharpe {[round(x, 3) for x in want]}")
EOF
ok "CPCV: splits, purged/embargoed selection and path Sharpe ratios recomputed in Python"

# ---- the settings bt_config.c reads == the service's own reader (optimizer) ----
OPT="$BUILD_DIR/bin/qt-optimizer"
[ -x "$OPT" ] || fail "$OPT not built"
cfg_parity() { # label, then env assignments
    local label="$1"
    shift
    env "$@" "$OPT" --check-config --config configs/services.yml >"$TMP/optcfg.txt" 2>&1 ||
        fail "qt-optimizer --check-config ($label): $(cat "$TMP/optcfg.txt")"
    env "$@" "$BT" config --config configs/backtest.yml >"$TMP/btcfg.json" 2>"$TMP/btcfg.err" ||
        fail "qt-backtest config ($label): $(cat "$TMP/btcfg.err")"
    python3 - "$TMP/optcfg.txt" "$TMP/btcfg.json" "$label" <<'EOF' || fail "optimizer settings differ ($label)"
import json, sys
line = open(sys.argv[1]).read().splitlines()[-1]
svc = dict(kv.split("=", 1) for kv in line.split())
bt = json.load(open(sys.argv[2]))
assert len(svc) >= 18, f"unexpected --check-config output: {line}"
bad = []
for k, v in svc.items():
    b = bt.get("optimizer." + k)
    if b is None:
        bad.append(f"{k}: missing in qt-backtest config")
    elif isinstance(b, bool):
        if v != ("true" if b else "false"): bad.append(f"{k}: service {v} backtest {b}")
    elif isinstance(b, (int, float)):
        if abs(float(v) - b) > 1e-5 * max(1.0, abs(b)): bad.append(f"{k}: service {v} backtest {b}")
    elif v != b:
        bad.append(f"{k}: service {v} backtest {b}")
for x in bad: print("setting differs:", x, file=sys.stderr)
sys.exit(1 if bad else 0)
EOF
}
cfg_parity shipped QT_NOTHING=1
cfg_parity env QT_OPTIMIZER_MAX_NAMES=7 QT_OPTIMIZER_SOLVER=greedy QT_QAOA_LATENCY_MS=99
grep -q '"optimizer.max_names": 7' "$TMP/btcfg.json" || fail "env override not seen by qt-backtest config"
ok "optimizer settings read by qt-backtest == qt-optimizer --check-config (shipped and env overrides)"

# ---- hostile input ----
expect_exit() { # CODE PATTERN ARGS...
    local code="$1" pat="$2"
    shift 2
    set +e
    "$BT" "$@" >"$TMP/h.out" 2>"$TMP/h.err"
    local rc=$?
    set -e
    [ "$rc" = "$code" ] || fail "'$*' exited $rc, want $code ($(cat "$TMP/h.err"))"
    grep -q -- "$pat" "$TMP/h.err" || fail "'$*': stderr lacks '$pat': $(cat "$TMP/h.err")"
}
expect_exit 2 "config needs a value" run --config
expect_exit 2 "needs --config FILE and --out DIR" run --config configs/backtest.yml
expect_exit 2 "unknown argument" run --bogus 1
mkdir -p "$TMP/cfgbad"
cp configs/*.yml "$TMP/cfgbad/"
sed -i 's/^  solver: exact/  solver: quantum_magic/' "$TMP/cfgbad/optimizer.yml"
sed "s#configs: configs#configs: $TMP/cfgbad#" "$TMP/zero.yml" >"$TMP/bad1.yml"
expect_exit 2 "optimizer.solver" run --config "$TMP/bad1.yml" --out "$TMP/x"
sed 's#start: "2022-03-17T12:00:00Z"#start: "yesterday"#' "$TMP/zero.yml" >"$TMP/bad2.yml"
expect_exit 2 "start" run --config "$TMP/bad2.yml" --out "$TMP/x"
sed 's/param: features.sma_fast/param: features.nope/' "$TMP/grid_default.yml" >"$TMP/bad3.yml"
expect_exit 2 "unknown grid parameter" grid --config "$TMP/bad3.yml" --out "$TMP/x"
expect_exit 2 "expected an integer" grid --config "$TMP/grid_default.yml" --out "$TMP/x" -j 0
QT_DATA_DIR="$TMP/nodata" expect_exit 2 "cannot open data directory" run --config "$TMP/zero.yml" --out "$TMP/x"
ok "hostile input: exit 2 naming what was wrong"
echo "test_backtest: all checks passed"
