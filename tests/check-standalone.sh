#!/usr/bin/env bash
# Fails if a tracked file refers to something outside the repository: the
# reference directory named `shared` that exists only beside the developers'
# checkouts, or an absolute path of a build machine (`/work/...`). A user's
# clone has neither, so such a reference breaks the build, a test or a doc.
set -euo pipefail
cd "$(dirname "$0")/.."
# `/work/` only where it starts a path (the captured frames contain
# `/tmp/vec/work/...`, which is data).
pattern='(\.\./)+shared(/|\b)|(^|[^A-Za-z0-9_./-])/work/'
if hits=$(git grep -nIE "$pattern" -- . ':!tests/check-standalone.sh'); then
  echo "tracked files refer to paths outside the repository:" >&2
  echo "$hits" >&2
  exit 1
fi
echo "no references outside the repository"
