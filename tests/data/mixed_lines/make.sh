#!/bin/sh
# Rebuilds the PDFs from their sources (CI has no TeX: the PDFs are committed). Needs Debian's
# texlive-xetex, texlive-luatex, texlive-lang-arabic and fonts-hosny-amiri.
set -e
cd "$(dirname "$0")"
export SOURCE_DATE_EPOCH=0 FORCE_SOURCE_DATE=1
for name in xelatex_polyglossia xelatex_bidi; do xelatex -interaction=batchmode "$name.tex"; done
for name in lualatex_arabluatex lualatex_paragraphs; do lualatex -interaction=batchmode "$name.tex"; done
rm -f ./*.aux ./*.log
