#!/usr/bin/env bash
# man.sh AUTOTUNE OUT - write the man page autotune.1 with help2man from the binary's own
# --help: the top-level help (commands, global options, environment), then a COMMANDS
# section with each command's --help (each `db` subcommand's too), so that the page and
# the help cannot disagree. Run by the build's `man` target when help2man is present.
set -euo pipefail
exe=$1 out=$2
inc=$(mktemp)
trap 'rm -f "$inc" "$out.tmp"' EXIT
{
  echo "[COMMANDS]"
  "$exe" --help | sed -n '/^commands:/,/^$/p' | awk 'NR > 1 && NF { print $1 }' |
  while read -r cmd; do
    echo ".SS \"autotune $cmd\""
    echo ".nf"
    "$exe" "$cmd" --help | sed 's/\\/\\e/g; s/^\./\\\&./'
    echo ".fi"
    if [ "$cmd" = db ]; then
      "$exe" db --help | sed -n '/^commands:/,/^$/p' | awk 'NR > 1 && NF { print $1 }' |
      while read -r sub; do
        echo ".SS \"autotune db $sub\""
        echo ".nf"
        "$exe" db "$sub" --help | sed 's/\\/\\e/g; s/^\./\\\&./'
        echo ".fi"
      done
    fi
  done
} > "$inc"
help2man --no-info --no-discard-stderr --name="GPU kernel autotuner" \
  --include="$inc" --output="$out.tmp" "$exe"
mv "$out.tmp" "$out"
