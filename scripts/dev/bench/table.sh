# shellcheck shell=bash
# scripts/dev/bench/table.sh - the one table every bench prints, the same shape for every
# proxy: a row per measure with its value, the baseline measured in the same run, the
# ratio, the goal and whether it was met. Goals are reported, never asserted.
#
#   row MEASURE VALUE BASELINE UNIT GOAL [RATIO LOW HIGH]   (VALUE or BASELINE "-" or
#         text: no ratio). With RATIO (figures taken in rounds: the median ratio, and its
#         range LOW..HIGH), the ratio column shows it and its range, and an x>= goal is
#         checked on it.
#     GOAL  -       none
#           <N      the value is below N (in UNIT)
#           <=N     the value is at most N (in UNIT)
#           >=N     the value is at least N (in UNIT)
#           x>=N    the ratio value / baseline is at least N
#           x<=N    the ratio value / baseline is at most N (a time, say)
#   print_table   the table, then "all goals met" or "MISSED: N goal(s) not met ..."

BENCH_ROWS=()
row() {
	local IFS='|'
	BENCH_ROWS+=("$*")
}

print_table() {
	printf '%s\n' "${BENCH_ROWS[@]}" | awk -F'|' '
		function num(v) { return v ~ /^-?[0-9.]+$/ }
		{
			m[NR] = $1; u = $4
			v[NR] = num($2) ? $2 " " u : $2
			b[NR] = num($3) ? $3 " " u : $3
			ratio = (num($2) && num($3) && $3 + 0 != 0) ? $2 / $3 : ""
			r[NR] = ratio == "" ? "-" : sprintf("%.2fx", ratio)
			if (NF >= 8 && num($6)) { ratio = $6; r[NR] = sprintf("%.2fx (%.2f-%.2f)", $6, $7, $8) }
			g[NR] = $5 == "-" ? "-" : $5 ~ /^x/ ? substr($5, 2) "x" : $5 " " u
			ok[NR] = "-"
			if ($5 != "-") {
				op = $5; sub(/[0-9.]+$/, "", op); lim = substr($5, length(op) + 1) + 0
				if (op == "<") met = num($2) && $2 + 0 < lim
				else if (op == "<=") met = num($2) && $2 + 0 <= lim
				else if (op == ">=") met = num($2) && $2 + 0 >= lim
				else if (op == "x>=") met = ratio != "" && ratio >= lim
				else if (op == "x<=") met = ratio != "" && ratio <= lim
				else met = 0
				ok[NR] = met ? "ok" : "MISSED"
			}
		}
		END {
			m[0] = "measure"; v[0] = "value"; b[0] = "baseline"; r[0] = "ratio"; g[0] = "goal"; ok[0] = "ok"
			for (i = 0; i <= NR; i++) {
				if (length(m[i]) > wm) wm = length(m[i]); if (length(v[i]) > wv) wv = length(v[i])
				if (length(b[i]) > wb) wb = length(b[i]); if (length(r[i]) > wr) wr = length(r[i])
				if (length(g[i]) > wg) wg = length(g[i])
			}
			for (i = 0; i <= NR; i++) {
				printf "%-*s | %*s | %*s | %*s | %-*s | %s\n", wm, m[i], wv, v[i], wb, b[i], wr, r[i], wg, g[i], ok[i]
				if (i == 0) { s = sprintf("%*s", wm + wv + wb + wr + wg + 20, ""); gsub(/ /, "-", s); print s }
				if (ok[i] == "MISSED") missed++
			}
			if (missed) printf "\nMISSED: %d goal(s) not met (see the ok column)\n", missed
			else print "\nall goals met"
		}'
}
