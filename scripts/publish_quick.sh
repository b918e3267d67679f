#!/usr/bin/env bash
# Copies the quick profile's report, tables and figures (made by `./run_all.sh --profile quick`) into the tracked
# folder results/quick/, so that a reader who opens the repository sees every table and figure before any
# full-profile (GPU) run exists. Qualitative only: one seed of a small CNN; never mixed into the full report.
# The HTML copy is not kept (it embeds the same figures); REPORT.md's figure links are rewritten to the copies.
set -euo pipefail
cd "$(dirname "$0")/.."
grep -q '^\*\*Profile: quick\*\*' results/REPORT.md || {
  echo "error: results/REPORT.md is not a quick-profile report; run ./run_all.sh --profile quick first" >&2; exit 1; }
dest=results/quick
rm -rf "$dest" && mkdir -p "$dest/tables" "$dest/figures"
cp results/tables/* "$dest/tables/"
cp figures/*.png figures/*.note.txt "$dest/figures/" 2>/dev/null || cp figures/*.png "$dest/figures/"
sed 's#(\.\./figures/#(figures/#g' results/REPORT.md > "$dest/REPORT.md"
cat > "$dest/README.md" <<TXT
# The quick profile's report (qualitative)

Made by \`./run_all.sh --profile quick\` and \`scripts/publish_quick.sh\` on $(date -u +%Y-%m-%d) from commit
$(git rev-parse --short HEAD). **Not the thesis's protocol**: one seed of a small CNN trained for a few epochs on
2 CPU cores, to show every table and figure end to end while no full-profile (GPU) run exists. Its verdicts are
indicative, never findings; the full report (\`results/REPORT.md\` at \`--profile full\`) is rendered from
\`results/runs/full/\` alone. Open [REPORT.md](REPORT.md).
TXT
echo "published $(ls "$dest/tables" | wc -l) tables and $(ls "$dest/figures"/*.png | wc -l) figures to $dest"
