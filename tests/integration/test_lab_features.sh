#!/usr/bin/env bash
# Integration test of `qt-lab features` on real data (BTC_USDT 4h from ../shared/data).
# No servers needed. What it asserts:
#   - one CSV row per bar plus the header, columns named after the spec outputs
#   - warm-up cells are empty (never NaN): SMA(20) first at row 20, RSI(14) first at row
#     15 (TA-Lib: the first RSI needs 14 changes), values of RSI within [0, 100]
#   - SMA(20) at row 20 equals the mean of the first 20 closes computed here with awk
#     from the raw file (exact decimal input, 1e-9 relative)
#   - --out writes exactly what stdout prints; two runs are byte-identical
#   - a bad spec is a usage error (exit 2) naming the item; a missing file exits 1
set -euo pipefail
cd "$(dirname "$0")/../.."
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }
: "${BUILD_DIR:?BUILD_DIR not set: run through scripts/run-tests}"
: "${QT_DATA_DIR:=../shared/data}"
LAB="$BUILD_DIR/bin/qt-lab"
[ -x "$LAB" ] || fail "$LAB not built"
command -v jq >/dev/null || fail "jq not found"
IN="$QT_DATA_DIR/raw/djienne-3EMA_SRSI_ATR-binance/4h/BTC_USDT-4h.json"
[ -f "$IN" ] || fail "$IN missing"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/qt-test-lab.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT

SPEC="sma:20,rsi:14,macd:12:26:9,atr:14,bbands:20:2"
"$LAB" features --input "$IN" --spec "$SPEC" >"$TMP/a.csv" || fail "qt-lab features exited $?"
"$LAB" features --input "$IN" --spec "$SPEC" --out "$TMP/b.csv" >"$TMP/b.stdout" || fail "--out run exited $?"
cmp -s "$TMP/a.csv" "$TMP/b.csv" || fail "--out file differs from stdout"
[ ! -s "$TMP/b.stdout" ] || fail "--out still printed on stdout"
"$LAB" features --input "$IN" --spec "$SPEC" >"$TMP/c.csv"
cmp -s "$TMP/a.csv" "$TMP/c.csv" || fail "two runs differ"
ok "--out == stdout, deterministic"

head -1 "$TMP/a.csv" | grep -qx 'timestamp,sma_20,rsi_14,macd_12_26_9,macd_signal_12_26_9,macd_hist_12_26_9,atr_14,bb_mid_20_2,bb_upper_20_2,bb_lower_20_2' \
    || fail "header: $(head -1 "$TMP/a.csv")"
bars="$(jq length "$IN")"
rows="$(($(wc -l <"$TMP/a.csv") - 1))"
[ "$rows" = "$bars" ] || fail "rows $rows != bars $bars"
ok "header and $rows rows (one per bar)"

grep -qi 'nan\|inf' "$TMP/a.csv" && fail "NaN or inf in the output"
# first non-empty row (1-based data row) of a column
first_ready() { awk -F, -v c="$1" 'NR > 1 && $c != "" { print NR - 1; exit }' "$TMP/a.csv"; }
[ "$(first_ready 2)" = 20 ] || fail "sma_20 first at row $(first_ready 2), expected 20"
[ "$(first_ready 3)" = 15 ] || fail "rsi_14 first at row $(first_ready 3), expected 15"
awk -F, 'NR > 1 && $3 != "" && ($3 < 0 || $3 > 100) { bad = 1 } END { exit bad }' "$TMP/a.csv" \
    || fail "rsi_14 outside [0, 100]"
ok "warm-up empty cells: sma_20 from row 20, rsi_14 from row 15; rsi in [0, 100]"

want="$(jq -r '[.[0:20][] | .[4] | tonumber] | add / 20' "$IN")"
got="$(awk -F, 'NR == 21 { print $2 }' "$TMP/a.csv")"
awk -v a="$got" -v b="$want" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 1e-9 * b) }' \
    || fail "sma_20 at row 20: $got, expected $want"
ok "sma_20 at row 20 = $got = mean of the first 20 closes"

set +e
"$LAB" features --input "$IN" --spec "bogus:3" >/dev/null 2>"$TMP/err"; rc=$?
set -e
[ "$rc" = 2 ] || fail "bad spec: exit $rc, expected 2"
grep -q "bogus:3" "$TMP/err" || fail "bad spec error does not name the item: $(cat "$TMP/err")"
set +e
"$LAB" features --input "$TMP/does-not-exist.json" --spec "sma:3" >/dev/null 2>"$TMP/err"; rc=$?
set -e
[ "$rc" = 1 ] || fail "missing file: exit $rc, expected 1"
ok "bad spec -> 2 naming the item; missing file -> 1"
echo "test_lab_features: all checks passed"
