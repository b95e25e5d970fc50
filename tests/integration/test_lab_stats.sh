#!/usr/bin/env bash
# Integration test of `qt-lab stats | dsr | pbo | cpcv | labels` (the research CLI over
# qt_stats, qt_overfit, qt_cv, qt_labels). Needs only BUILD_DIR (from scripts/run-tests)
# and python3 to read the JSON. Exits non-zero on the first failed check.
#
# What it asserts:
#   - stats on the issue-4 series [NaN, .01, .10, -.04, .02, .03, .02, .01, -.10]:
#     sharpe, sortino, max_drawdown, annual_return (empyrical values, 1e-12)
#   - dsr reproduces Bailey & Lopez de Prado (2014): sr0 = 0.1132, dsr = 0.9004
#   - pbo: valid JSON with pbo in [0, 1] and C(10, 5) = 252 combinations
#   - cpcv: N = 6, k = 2 -> 15 splits, 5 paths; the purged/embargoed train set of split 0
#   - labels: triple-barrier CSV on real BTC 4h bars, labels in {-1, 0, 1}, t1 > t0
#   - hostile input: bad number -> exit 1 naming file:line; usage errors -> exit 2
set -euo pipefail
cd "$(dirname "$0")/../.."

fail() {
    echo "FAIL: $*" >&2
    exit 1
}
ok() { echo "ok: $*"; }

: "${BUILD_DIR:?BUILD_DIR not set: run through scripts/run-tests}"
LAB="$BUILD_DIR/bin/qt-lab"
[ -x "$LAB" ] || fail "$LAB not built"
command -v python3 >/dev/null || fail "python3 not found (used to validate JSON output)"
DATA="${QT_DATA_DIR:-../shared/data}"
BTC="$DATA/raw/djienne-3EMA_SRSI_ATR-binance/4h/BTC_USDT-4h.json"
[ -f "$BTC" ] || fail "$BTC missing"

TMP="$(mktemp -d "${TMPDIR:-/tmp}/qt-test-lab-stats.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT

# json_check FILE PYTHON-EXPR: the expression over `j` (the parsed object) must be true.
json_check() {
    python3 -c "import json,sys; j=json.load(open(sys.argv[1])); sys.exit(0 if ($2) else 1)" "$1" ||
        fail "check '$2' on $(cat "$1")"
}

printf 'NaN\n.01\n.10\n-.04\n.02\n.03\n.02\n.01\n-.10\n' >"$TMP/r.txt"
"$LAB" stats --returns "$TMP/r.txt" --periods 252 >"$TMP/stats.json" || fail "stats exit $?"
json_check "$TMP/stats.json" 'abs(j["sharpe"]-1.7238613961706866)<1e-12 and abs(j["sortino"]-2.605531251673693)<1e-12'
json_check "$TMP/stats.json" 'abs(j["max_drawdown"]+0.1)<1e-12 and abs(j["annual_return"]-1.9135925373194231)<1e-11'
json_check "$TMP/stats.json" 'j["n_obs"]==8 and j["n_periods"]==9 and 0<j["psr"]<1 and "calmar" in j and "annual_volatility" in j'
ok "stats check series"

"$LAB" dsr --sr 0.15811388300841897 --n 1250 --skew -3 --kurt 10 --trials 100 --var-trials 0.002 >"$TMP/dsr.json" ||
    fail "dsr exit $?"
json_check "$TMP/dsr.json" 'abs(j["sr0"]-0.1132)<5e-5 and abs(j["dsr"]-0.9004)<5e-5'
ok "dsr paper example"

python3 -c "
import random
random.seed(3)
print(','.join('s%d' % k for k in range(6)))
for t in range(300): print(','.join('%.6f' % random.gauss(0, 0.01) for _ in range(6)))
" >"$TMP/m.csv"
"$LAB" pbo --matrix "$TMP/m.csv" --blocks 10 >"$TMP/pbo.json" || fail "pbo exit $?"
json_check "$TMP/pbo.json" '0<=j["pbo"]<=1 and j["n_combinations"]==252 and j["n_strategies"]==6 and j["n_rows"]==300'
ok "pbo"

"$LAB" cpcv --n-obs 12 --folds 6 --test-folds 2 --purge 1 --embargo 1 >"$TMP/cpcv.json" || fail "cpcv exit $?"
json_check "$TMP/cpcv.json" 'j["n_splits"]==15 and j["n_paths"]==5 and len(j["splits"])==15 and len(j["paths"])==5'
json_check "$TMP/cpcv.json" 'j["splits"][0]=={"test_folds":[0,1],"train":[6,7,8,9,10,11]}'
json_check "$TMP/cpcv.json" 'all(all(g in j["splits"][p[g]]["test_folds"] for g in range(6)) for p in j["paths"])'
ok "cpcv"

"$LAB" labels --input "$BTC" --horizon 24 --pt 2 --sl 2 --out "$TMP/labels.csv" || fail "labels exit $?"
python3 - "$TMP/labels.csv" <<'EOF' || fail "labels CSV"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert len(rows) > 10000, len(rows)
for r in rows:
    assert r["label"] in ("-1", "0", "1"), r
    assert 0 < int(r["t1"]) - int(r["t0"]) <= 24, r
    assert r["barrier"] in ("profit", "stop", "vertical"), r
EOF
"$LAB" labels --input "$BTC" --side short --intrabar >"$TMP/meta.csv" || fail "labels meta exit $?"
awk -F, 'NR > 1 && $9 != 0 && $9 != 1 { exit 1 }' "$TMP/meta.csv" || fail "meta-labels not in {0,1}"
ok "labels"

printf '0.01\n0.02\nabc\n' >"$TMP/bad.txt"
set +e
"$LAB" stats --returns "$TMP/bad.txt" >/dev/null 2>"$TMP/err"
rc=$?
set -e
[ "$rc" = 1 ] || fail "bad returns file: exit $rc, expected 1"
grep -q "bad.txt:3" "$TMP/err" || fail "bad returns file: message does not name file:line: $(cat "$TMP/err")"
for args in "stats" "stats --returns" "dsr --sr 1" "pbo --matrix $TMP/m.csv --blocks 7" \
    "cpcv --n-obs 10 --folds 3" "labels --input $BTC --pt -1" "stats --returns $TMP/r.txt --periods nan"; do
    set +e
    # shellcheck disable=SC2086
    "$LAB" $args >/dev/null 2>&1
    rc=$?
    set -e
    [ "$rc" = 2 ] || fail "qt-lab $args: exit $rc, expected 2"
done
ok "hostile input"
echo "PASS test_lab_stats"
