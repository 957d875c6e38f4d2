# bench/lib.sh — shell helpers the wrk-driven benchmarks share (http.sh,
# online.sh, serving.sh); sourced, not run.

wait_line() { # FILE PATTERN PID: waits up to 30 s for a line matching PATTERN in FILE while PID lives
  for _ in $(seq 300); do
    if grep -m1 -E "$2" "$1" 2>/dev/null; then return 0; fi
    kill -0 "$3" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

to_ms() { # wrk's "1.23ms" / "456.00us" / "1.02s" -> milliseconds
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
    printf "%.3f", n }'
}

cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; } # PID -> utime + stime

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }'; } # A B -> A / B

verdict() { # RATIO AIM ge|le -> meets | MISSES
  awk -v r="$1" -v aim="$2" -v dir="$3" 'BEGIN { ok = (dir == "ge" ? r >= aim : r <= aim); print (ok ? "meets" : "MISSES") }'
}

jstr() { printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')"; } # TEXT -> a JSON string
