#!/usr/bin/env bash
# The demo: the example repository as a real git repository with two commits, then maestro's view of it.
# Runs on embedded defaults; needs only git, bin/maestro and bin/maestro-ops (make build).
set -euo pipefail
top="$(cd "$(dirname "$0")/.." && pwd)"
maestro="$top/bin/maestro"
work="$(mktemp -d "${TMPDIR:-/tmp}/maestro-demo.XXXXXX")"
trap 'rm -rf "$work"' EXIT

say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
git_() { git -C "$work/repo" -c user.name="maestro demo" -c user.email="demo@maestro.invalid" -c commit.gpgsign=false "$@"; }

cp -R "$top/examples/repo" "$work/repo"
git_ init -q -b main
git_ add -A
git_ commit -q -m "workflows: first version"

# The second commit: the edits in examples/edits replace or add files; examples/edits/REMOVE lists deletions.
cp -R "$top/examples/edits/workflows/." "$work/repo/workflows/"
if [ -f "$top/examples/edits/REMOVE" ]; then
  while read -r f; do [ -n "$f" ] && rm -f "$work/repo/$f"; done < "$top/examples/edits/REMOVE"
fi
git_ add -A
git_ commit -q -m "workflows: bump extract, rename a training step, add data-quality"

cd "$work/repo"
say "maestro validate"
"$maestro" validate
say "maestro digest --ref HEAD~1"
"$maestro" digest --ref HEAD~1
say "maestro digest"
"$maestro" digest
say "maestro diff --from HEAD~1 --to HEAD --color always"
set +e
"$maestro" diff --from HEAD~1 --to HEAD --color always
code=$?
set -e
echo "(exit status $code: 1 means some graph digest changed)"
say "maestro diff --from HEAD~1 --to HEAD --fail-on breaking --output markdown | head -n 25"
"$maestro" diff --from HEAD~1 --to HEAD --fail-on never --output markdown | head -n 25
say "maestro graph -w train-model --diff-from HEAD~1 (Mermaid: the renamed task and its neighbours)"
"$maestro" graph -w train-model --diff-from HEAD~1
# --- promotion and two regions ------------------------------------------------------------------------------
export MAESTRO_HOME="$work/home" COSIGN_PASSWORD=""   # the embedded transparency log lives under $MAESTRO_HOME/log
git init -q --bare "$work/remote.git"
git_ remote add origin "file://$work/remote.git"
git_ push -q origin main

say "maestro keys generate --out keys"
"$maestro" keys generate --out "$work/keys"
say "maestro promote -w nightly-etl -t 1.0.0 --freeze --key keys/cosign.key --push origin"
"$maestro" promote -w nightly-etl -t 1.0.0 --freeze --key "$work/keys/cosign.key" --promoter release@example.com --push origin
"$maestro" keys allowed-signers --pub "$work/keys/cosign.pub" --principal release@example.com > "$work/allowed_signers"
say "git verify-tag nightly-etl/v1.0.0   (git itself checks maestro's signature)"
git_ -c gpg.ssh.allowedSignersFile="$work/allowed_signers" verify-tag nightly-etl/v1.0.0
say "maestro verify -w nightly-etl -t 1.0.0 --pub keys/cosign.pub"
"$maestro" verify -w nightly-etl -t 1.0.0 --pub "$work/keys/cosign.pub"

# Two regions, each its own maestro serve with its own SQLite store, pulling the same remote.
free_port() {
  local p
  for p in $(seq $((20000 + RANDOM % 20000)) 65000); do
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
servers=()
for region in us-east us-west; do
  port=$(free_port)
  "$maestro" serve --region "$region" --repo "file://$work/remote.git" --listen "127.0.0.1:$port" \
    --data-dir "$work/$region" --trust-pub "$work/keys/cosign.pub" --interval 2s --log-level warn \
    2> "$work/$region.log" &
  pids+=($!)
  servers+=(--server "http://127.0.0.1:$port")
  echo "region $region: maestro serve on 127.0.0.1:$port"
done
say "maestro status ${servers[*]} --wait-for nightly-etl@1.0.0"
"$maestro" status "${servers[@]}" --wait-for nightly-etl@1.0.0 --timeout 60s

say "promote train-model 1.0.0, and watch both regions pick it up"
"$maestro" promote -w train-model -t 1.0.0 --freeze --key "$work/keys/cosign.key" --promoter release@example.com --push origin >/dev/null
"$maestro" status "${servers[@]}" --wait-for train-model@1.0.0 --timeout 60s

say "a broken edit: a dependency cycle and a typo, caught with file:line"
cat >> workflows/weekly-report.yaml <<'YAML'
---
apiVersion: maestro.dev/v1
kind: Workflow
metadata: {name: broken}
spec:
  tasks:
    a: {package: "registry.example.com/x/a:1.0", dependsOn: [b]}
    b: {package: "registry.example.com/x/b:1.0", dependsOn: [a], retires: 3}
YAML
set +e
"$maestro" validate
echo "(exit status $?: 2 means bad input)"
set -e
