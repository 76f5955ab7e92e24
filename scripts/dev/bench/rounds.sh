# shellcheck shell=bash
# scripts/dev/bench/rounds.sh - what the data-path benches share: figures taken in rounds
# (candidate and baselines alternate, ROUNDS times; the machine is noisy), their median
# and range, and today's build to compare with.
#
#   keep NAME VALUE            adds a round's figure to NAME
#   med NAME / lo NAME / hi NAME   the median, least and greatest of NAME's figures
#   ratios NAME A B            NAME gets A[i] / B[i] for each round i
#   row_rounds MEASURE A B UNIT GOAL   a table row: A's and B's medians, the median
#                              ratio A/B with its range over the rounds, the goal on it
#   bench_cpus                 MEASURED_CPU: the last CPU, for what is measured (pinned);
#                              LOAD_CPUS: the others, for the load (both 0 on one CPU)
#   baseline_build VAR PROXY   VAR: today's build of PROXY (BASELINE_REF, the last commit
#                              before the batched data path), built once into
#                              .cache/baseline-<ref>/ from git (no network), or
#                              BENCH_BASELINE_DIR when given
declare -A ROUND=()
# shellcheck disable=SC2034 # set for the bench that sources this file
bench_cpus() {
	local n
	n=$(nproc)
	if [ "$n" -ge 2 ]; then
		MEASURED_CPU=$((n - 1))
		LOAD_CPUS="0-$((n - 2))"
	else
		MEASURED_CPU=0 LOAD_CPUS=0
	fi
}
keep() { ROUND[$1]="${ROUND[$1]:-} $2"; }
_stat() { tr ' ' '\n' <<<"${ROUND[$1]:-}" | awk 'NF' | sort -g | awk -v w="$2" '{ v[NR] = $1 } END { if (!NR) { print "-"; exit } if (w == "lo") print v[1]; else if (w == "hi") print v[NR]; else print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
med() { _stat "$1" med; }
lo() { _stat "$1" lo; }
hi() { _stat "$1" hi; }
ratios() {
	local -a a b
	read -ra a <<<"${ROUND[$2]:-}"
	read -ra b <<<"${ROUND[$3]:-}"
	local i
	for i in "${!a[@]}"; do [ -n "${b[i]:-}" ] && keep "$1" "$(awk -v x="${a[i]}" -v y="${b[i]}" 'BEGIN { if (y > 0) printf "%.3f", x / y; else print 0 }')"; done
}
row_rounds() { # MEASURE A B UNIT GOAL
	ratios "$2/$3" "$2" "$3"
	row "$1" "$(med "$2")" "$(med "$3")" "$4" "$5" "$(med "$2/$3")" "$(lo "$2/$3")" "$(hi "$2/$3")"
}

BASELINE_REF=${BASELINE_REF:-c822346}
baseline_build() { # VAR PROXY
	local dir=${BENCH_BASELINE_DIR:-.cache/baseline-$BASELINE_REF} src
	if [ ! -x "$dir/$2-linux-x64" ]; then
		git rev-parse -q --verify "$BASELINE_REF^{commit}" >/dev/null ||
			die "today's build: commit $BASELINE_REF is not in this clone (give BENCH_BASELINE_DIR)"
		echo "building today's $2 ($BASELINE_REF) into $dir" >&2
		src=$(mktemp -d)
		git archive "$BASELINE_REF" | tar -x -C "$src"
		ln -s "$PWD/node_modules" "$src/node_modules"
		mkdir -p "$src/.cache"
		[ ! -d .cache/pinned ] || ln -s "$PWD/.cache/pinned" "$src/.cache/pinned" # the pinned Node bases: no download
		# The build script of that commit, where it was then (scripts/ was grouped by role later).
		(cd "$src" && node "$(if [ -f scripts/build/build.mjs ]; then echo scripts/build/build.mjs; else echo scripts/build.mjs; fi)" \
			--out "$OLDPWD/$dir" --target linux-x64 udp-proxy udp-tunnel >/dev/null) ||
			die "cannot build $BASELINE_REF in $src"
		rm -rf "$src"
	fi
	printf -v "$1" '%s' "$dir/$2-linux-x64"
}

# cpu_ticks PID : user + system clock ticks so far (0 once it is gone)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
# shellcheck disable=SC2034 # for the bench that sources this
CLK_TCK=$(getconf CLK_TCK)
