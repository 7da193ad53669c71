#!/usr/bin/env bash
# Runs each fuzz target for a given time and says what it found.
#
#   fuzz/run.sh SECONDS_PER_TARGET [TARGET...]      (default: every target)
#
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`). Each target's corpus
# starts from the recordings in fixtures/audio and grows in fuzz/corpus/TARGET; findings land
# in fuzz/artifacts/TARGET. A finding is: a crash (panic, overflow, out-of-bounds), a hang
# (one input over 10 s) or an allocation over 256 MiB. Exit status 1 if any target found one.
set -uo pipefail
cd "$(dirname "$0")"

seconds="${1:?usage: fuzz/run.sh SECONDS_PER_TARGET [TARGET...]}"
shift
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo +nightly fuzz list)
fi

found=0
summary=()
for target in "${targets[@]}"; do
  corpus="corpus/$target"
  mkdir -p "$corpus" "artifacts/$target"
  cp -n ../fixtures/audio/*.{wav,mp3,ogg,opus,flac,m4a,webm,mka,au,ul,al,sln,sln16,gsm,g722,g726} "$corpus"/ 2>/dev/null || true
  before=$(ls "artifacts/$target" | wc -l)
  log="artifacts/$target.log"
  cargo +nightly fuzz run "$target" "$corpus" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=256 -max_len=65536 \
    -print_final_stats=1 >"$log" 2>&1
  status=$?
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  crashes=$(ls "artifacts/$target" | grep -c '^crash-')
  timeouts=$(ls "artifacts/$target" | grep -c '^timeout-')
  ooms=$(ls "artifacts/$target" | grep -c -E '^(oom|leak|slow-unit)-')
  new=$(( $(ls "artifacts/$target" | wc -l) - before ))
  line="$target: ${seconds} s, ${runs:-?} runs, crashes $crashes, timeouts $timeouts, big allocations/oom $ooms (exit $status)"
  if [ "$status" -ne 0 ] || [ "$new" -gt 0 ]; then
    found=1
    line="$line — see $log and artifacts/$target"
  fi
  echo "$line"
  summary+=("$line")
done
echo
printf '%s\n' "${summary[@]}"
exit $found
