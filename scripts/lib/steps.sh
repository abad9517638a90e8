# One line per step, the chatter in a log file. Sourced by scripts/demo, scripts/test,
# scripts/local-cloud and scripts/local-directory:
#
#   step "installing Samba (Debian packages)" apt_install samba ...
#
# runs the command (a program or a shell function) with its stdout and stderr appended to
# $STEP_LOG and prints `installing Samba (Debian packages)… 38 s` on stderr; when it fails,
# `… failed after 3 s`, the log's last lines and its path, and returns the command's status.
# The command runs in a subshell with `set -e`, so a shell function stops at its first failure
# (and its variables do not outlive the step) — as long as `step` itself is called as a plain
# command: under `if` or `||` bash ignores `set -e` in everything the call runs. A failed step
# returns its status, so a script with `set -e` stops there. $STEP_PREFIX starts each line.
# Scripts that call each other share one log: the first sets STEP_LOG and exports it.

step_duration() { # seconds -> "38 s" / "2 min 05 s"
  if (($1 < 60)); then echo "$1 s"; else printf '%d min %02d s\n' $(($1 / 60)) $(($1 % 60)); fi
}

step() {
  local what="$1" start=$SECONDS status=0 from
  shift
  : "${STEP_LOG:?STEP_LOG must name the log file}"
  mkdir -p "$(dirname "$STEP_LOG")"
  touch "$STEP_LOG"
  from="$(($(wc -l <"$STEP_LOG") + 1))"
  printf '%s\n== %s (%s)\n' "" "$what" "$(date -u +%FT%TZ)" >>"$STEP_LOG"
  printf '%s%s… ' "${STEP_PREFIX:-}" "$what" >&2
  # In the background, so `set -e` holds inside it even though the caller tests its status.
  (set -e; "$@") </dev/null >>"$STEP_LOG" 2>&1 &
  wait $! || status=$?
  local took
  took="$(step_duration $((SECONDS - start)))"
  if ((status == 0)); then
    echo "$took" >&2
    return 0
  fi
  {
    echo "failed after $took (exit $status)"
    echo "  its last lines in $STEP_LOG:"
    tail -n "+$from" "$STEP_LOG" | tail -n 25 | sed 's/^/    /'
    echo "  the whole log: $STEP_LOG"
  } >&2
  return "$status"
}
