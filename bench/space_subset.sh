#!/usr/bin/env bash
# space_subset.sh - is every config of a template's space on a smaller device also in
# its space on a bigger one, for the default problem and each of the host sweep's shapes,
# in every layout? (gemm_mma: a100 in h100; gemm_mfma: mi250x in mi300x.) When it is,
# the smaller device's host sweep runs nothing new: the same config is the same variant
# source, and host:sm_80/sm_90 (host:gfx90a/gfx942) turn on the same instructions for
# it. Prints the counts per shape and layout and the number of configs outside.
#
#   bench/space_subset.sh [BUILD_DIR]
set -eu
cd "$(dirname "$0")/.."
bin="${1:-build}/autotune"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
total=0
for pair in "gemm_mma h100 a100" "gemm_mfma mi300x mi250x"; do
  read -r t big small <<<"$pair"
  for shape in 4096x4096x4096 1x1x1 7x13x29 64x64x64 127x129x65 1x256x512 300x8x40 48x40x24; do
    IFS=x read -r m n k <<<"$shape"
    for ta in 0 1; do
      for tb in 0 1; do
        for d in "$big" "$small"; do
          "$bin" generate "templates/gemm/$t.h" --device "$d" --dim M="$m" --dim N="$n" \
            --dim K="$k" --dim TA="$ta" --dim TB="$tb" --dtype f16 --json |
            grep -o '"config":"[^"]*"' | sort >"$tmp/$d"
        done
        out=$(comm -13 "$tmp/$big" "$tmp/$small" | wc -l)
        total=$((total + out))
        echo "$t $shape TA=$ta TB=$tb: $big $(wc -l <"$tmp/$big"), $small $(wc -l <"$tmp/$small"), outside: $out"
      done
    done
  done
done
echo "configs outside the bigger device's space, over every shape and layout: $total"
[ "$total" -eq 0 ]
