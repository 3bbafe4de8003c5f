#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz_targets/ for FUZZ_SECONDS (default 60) each, on stable
# (--sanitizer none), and fails if any of them finds a crash. A crash leaves its input in
# fuzz/artifacts/<target>/; the corpus grows in fuzz/corpus/<target>/ (both git-ignored).
#   FUZZ_SECONDS=300 fuzz/run.sh            # longer
#   fuzz/run.sh access_token ws_frame       # only these targets
set -euo pipefail
cd "$(dirname "$0")"

seconds="${FUZZ_SECONDS:-60}"
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi

if (($# > 0)); then
  targets=("$@")
else
  targets=()
  for file in fuzz_targets/*.rs; do
    targets+=("$(basename "$file" .rs)")
  done
fi

cargo fuzz build --sanitizer none

logs=target/fuzz-logs
mkdir -p "$logs"
failed=()
summary=()
for target in "${targets[@]}"; do
  corpora=("corpus/$target")
  mkdir -p "corpus/$target"
  if [[ -d "seeds/$target" ]]; then
    corpora+=("seeds/$target")
  fi
  echo "== $target: ${seconds}s"
  status=0
  cargo fuzz run --sanitizer none "$target" "${corpora[@]}" -- \
    -max_total_time="$seconds" -print_final_stats=1 >"$logs/$target.log" 2>&1 || status=$?
  execs="$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$logs/$target.log" | grep -oE '[0-9]+$' || true)"
  time="$(grep -oE 'Done [0-9]+ runs in [0-9]+ second' "$logs/$target.log" | grep -oE '[0-9]+ second' | grep -oE '[0-9]+' || true)"
  grep -E '^#[0-9]+[[:space:]]+DONE' "$logs/$target.log" || true
  if ((status != 0)); then
    failed+=("$target")
    grep -E 'panicked at|^SUMMARY|Test unit written' "$logs/$target.log" || tail -n 20 "$logs/$target.log"
    summary+=("$target: CRASH (exit $status, log $logs/$target.log)")
  else
    summary+=("$target: ${time:-?} s, ${execs:-?} executions")
  fi
done

echo
printf '%s\n' "${summary[@]}"
if ((${#failed[@]} > 0)); then
  echo "crashed: ${failed[*]} (inputs in fuzz/artifacts/; reproduce with cargo fuzz run --sanitizer none TARGET FILE)" >&2
  exit 1
fi
