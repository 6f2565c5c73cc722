#!/usr/bin/env bash
# Tesseract's models (LANG.traineddata) for the tesseract engine, and the fonts the tests set
# pages in, with or without root; run by `make tesseract` (so by `make demo` and `make test`):
#
#   envs/tessdata.sh [--root-also PACKAGE]... TARGET LANG...
#   e.g. envs/tessdata.sh --root-also fonts-hosny-amiri .venv/share/tessdata ara fra eng osd
#
# TARGET is the environment's share/tessdata (<sys.prefix>/share/tessdata), where the engine
# looks after TESSDATA_PREFIX and before the system's folders (find_tessdata in
# ocrflow/engines/tesseract.py); it takes the first of these folders holding any *.traineddata.
# tesserocr's wheel brings its own libtesseract: the models are all it needs, no tesseract binary.
# A --root-also package named fonts-* is a font: without root it goes to the environment's
# share/fonts (TARGET/../fonts), its font files in FONTS/PACKAGE/ (.venv/share/fonts/
# fonts-hosny-amiri/Amiri-Regular.ttf), where tests/support/pdfs.py looks after the system's.
#
# - Nothing to do when that folder holds a readable model of every LANG and, as root with
#   apt-get, every --root-also package is installed; otherwise every font among them is in the
#   system (the files dpkg lists under /usr/share/fonts) or in FONTS/PACKAGE: run it as often as
#   you like.
# - As root with apt-get: the Debian packages system-wide (apt-get install tesseract-ocr
#   tesseract-ocr-LANG..., and the --root-also packages: the tests' Arabic font).
# - Otherwise, with apt-get and dpkg-deb (Debian, Ubuntu), as any user: the tesseract-ocr-LANG
#   packages downloaded (apt-get download), unpacked (dpkg-deb -x) in a temporary folder, and
#   their models copied into TARGET, each under a temporary name then renamed: an interrupted
#   copy leaves no model that looks complete. When apt cannot download them with the system's
#   package lists (none: a container where `apt-get update` never ran), fresh lists are fetched
#   first into that temporary folder, by the same user (apt-get update -o Dir::State::Lists=...).
#   The fonts among the --root-also packages the same way, each package's font files copied into
#   a temporary folder in FONTS then renamed FONTS/PACKAGE; when they cannot be downloaded, one
#   line on stderr names them (only the tests need them) and the status stays 0.
# - Elsewhere (RHEL, macOS...), or when the models' download fails: one line saying what to do,
#   on stderr, and exit status 1 (without apt-get a font is not fetched: the tests name it).
set -euo pipefail

me=envs/tessdata.sh
# The engine's system folders, in its order: SYSTEM_TESSDATA in ocrflow/engines/tesseract.py.
SYSTEM_TESSDATA=(/usr/share/tesseract-ocr/5/tessdata /usr/share/tesseract-ocr/4.00/tessdata
                 /usr/share/tessdata /usr/local/share/tessdata)

root_also=()
while [ $# -gt 0 ] && [ "$1" = --root-also ]; do
    root_also+=("$2")
    shift 2
done
if [ $# -lt 2 ]; then
    echo "usage: $me [--root-also PACKAGE]... TARGET LANG..." >&2
    exit 2
fi
target=$1
shift
langs=("$@")
# The environment's share/fonts, beside its share/tessdata (<sys.prefix>/share/fonts); no
# dirname: with the models there, bash alone is enough.
case ${target%/} in
    */*) fonts=${target%/}; fonts=${fonts%/*}/fonts ;;
    *) fonts=fonts ;;
esac

# The folder the engine reads its models from: the first, in its order, with any *.traineddata.
engine_folder() {
    local dir
    for dir in "${TESSDATA_PREFIX:-}" "$target" "${SYSTEM_TESSDATA[@]}"; do
        if [ -n "$dir" ] && [ -d "$dir" ] && compgen -G "$dir/*.traineddata" >/dev/null; then
            echo "$dir"
            return 0
        fi
    done
    return 1
}

# The LANGs with no readable model in folder $1, one a line.
missing_in() {
    local code
    for code in "${langs[@]}"; do
        [ -r "$1/$code.traineddata" ] || echo "$code"
    done
}

models_ok() {
    local dir
    dir=$(engine_folder) && [ -z "$(missing_in "$dir")" ]
}

installed() {
    local package
    for package in "$@"; do
        [[ "$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null)" == *" installed" ]] || return 1
    done
}

# Whether the system holds font package $1's files: those dpkg lists under /usr/share/fonts.
system_has_font() {
    local file found=1
    while IFS= read -r file; do
        case $file in
            /usr/share/fonts/*)
                if [ -d "$file" ]; then continue; fi
                [ -f "$file" ] || return 1
                found=0 ;;
        esac
    done < <(dpkg-query -L "$1" 2>/dev/null || true)
    return $found
}

# The --root-also fonts (Debian names them fonts-*) neither in the system nor in $fonts, one a line.
fonts_missing() {
    local package
    for package in ${root_also[@]+"${root_also[@]}"}; do
        case $package in
            fonts-*) system_has_font "$package" || [ -d "$fonts/$package" ] || echo "$package" ;;
        esac
    done
}

# Debian's package of a Tesseract language: tesseract-ocr-chi-sim for chi_sim.
packages=()
for code in "${langs[@]}"; do
    packages+=("tesseract-ocr-${code//_/-}")
done

if [ "$EUID" = 0 ] && command -v apt-get >/dev/null; then
    if models_ok && installed ${root_also[@]+"${root_also[@]}"}; then
        exit 0
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tesseract-ocr "${packages[@]}" \
        ${root_also[@]+"${root_also[@]}"} >/dev/null
fi
# Bash 3.2 (macOS's) up to the apt-get branch: no mapfile, no empty "${array[@]}" under set -u.
need_fonts=()
for package in $(fonts_missing); do
    need_fonts+=("$package")
done
need=()
if models_ok; then
    # The models are there: a font is fetched where apt can, else the tests name its package.
    if [ ${#need_fonts[@]} = 0 ] || ! command -v apt-get >/dev/null ||
       ! command -v dpkg-deb >/dev/null; then
        exit 0
    fi
else
    if [ -n "${TESSDATA_PREFIX:-}" ] && [ "$(engine_folder)" = "$TESSDATA_PREFIX" ] &&
       [ "$TESSDATA_PREFIX" != "$target" ]; then
        lacking=$(missing_in "$TESSDATA_PREFIX")
        echo "$me: TESSDATA_PREFIX=$TESSDATA_PREFIX has no readable model for" \
             "${lacking//$'\n'/ }, and the tesseract engine reads its models from there: add" \
             "them to it, or unset TESSDATA_PREFIX to have them fetched into $target" >&2
        exit 1
    fi

    for code in $(missing_in "$target"); do
        need+=("$code")
    done
    if ! command -v apt-get >/dev/null || ! command -v dpkg-deb >/dev/null; then
        dnf=()
        for code in "${need[@]}"; do
            if [ "$code" = osd ]; then dnf+=(tesseract-osd)
            else dnf+=("tesseract-langpack-$code"); fi
        done
        echo "$me: Tesseract's models for ${need[*]} (the tesseract engine's languages) are not" \
             "installed, and without apt-get and dpkg-deb they cannot be fetched here: install" \
             "them (dnf install ${dnf[*]}; brew install tesseract tesseract-lang) and set" \
             "TESSDATA_PREFIX to the folder holding ${langs[*]/%/.traineddata}, or run the" \
             "workflow with 'snakemake --sdm conda' (envs/tesseract.yaml)" >&2
        exit 1
    fi
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/ocrflow-tessdata.XXXXXX")
part=""
trap 'rm -rf "$work"; if [ -n "$part" ]; then rm -rf "$part"; fi' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
mkdir "$work/debs" "$work/root" "$work/font-debs"

apt_options=()
# The Debian packages $2... downloaded into folder $1.
download() {
    local into=$1
    shift
    (cd "$into" && apt-get -q ${apt_options[@]+"${apt_options[@]}"} download "$@")
}
# The same, with fresh package lists fetched first into a folder of this user's when apt cannot
# download them with the system's (none, or out of date ones); apt's last error in $apt_error.
fetch() {
    if download "$@" >/dev/null 2>"$work/apt.log"; then
        return 0
    fi
    if [ ${#apt_options[@]} = 0 ]; then
        echo "$me: apt cannot download them with this system's package lists: fetching the" \
             "lists into a temporary folder first (apt-get update, as $(id -un))"
        mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
        apt_options=(-o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache"
                     -o Debug::NoLocking=1)
        if { apt-get -q "${apt_options[@]}" update && download "$@"; } >/dev/null \
               2>"$work/apt.log"; then
            return 0
        fi
    fi
    apt_error=$(grep -E '^(E|W): ' "$work/apt.log" | tail -1 || true)
    return 1
}

if [ ${#need[@]} -gt 0 ]; then
    need_packages=()
    for code in "${need[@]}"; do
        need_packages+=("tesseract-ocr-${code//_/-}")
    done
    echo "$me: fetching Tesseract's ${need[*]} models into $target (out of Debian's" \
         "${need_packages[*]}, no root needed)"
    if ! fetch "$work/debs" "${need_packages[@]}"; then
        echo "$me: cannot download ${need_packages[*]} with apt-get" \
             "(${apt_error:-no error given}), even with fresh package lists: install them (as" \
             "root), or set TESSDATA_PREFIX to a folder holding ${langs[*]/%/.traineddata}, or" \
             "run the workflow with 'snakemake --sdm conda' (envs/tesseract.yaml)" >&2
        exit 1
    fi

    for deb in "$work"/debs/*.deb; do
        dpkg-deb -x "$deb" "$work/root"
    done
    mkdir -p "$target"
    for code in "${need[@]}"; do
        model=$(find "$work/root" -name "$code.traineddata" -type f -print -quit)
        if [ -z "$model" ]; then
            echo "$me: tesseract-ocr-${code//_/-} holds no $code.traineddata" >&2
            exit 1
        fi
        # Under a name the engine does not take for a model until the copy is whole.
        part=$(mktemp "$target/$code.traineddata.part-XXXXXX")
        cp "$model" "$part"
        chmod 644 "$part"
        mv -f "$part" "$target/$code.traineddata"
        part=""
    done
fi

if [ ${#need_fonts[@]} -gt 0 ]; then
    echo "$me: fetching the fonts ${need_fonts[*]} (the tests' Arabic pages) into $fonts (out" \
         "of Debian's packages, no root needed)"
    if ! fetch "$work/font-debs" "${need_fonts[@]}"; then
        echo "$me: cannot download ${need_fonts[*]} with apt-get" \
             "(${apt_error:-no error given}): the tests that set pages in them fail naming" \
             "them; install them (as root)" >&2
        exit 0  # only the tests need them: `make demo` goes on
    fi
    mkdir -p "$fonts"
    for package in "${need_fonts[@]}"; do
        unpacked="$work/fonts-root/$package"
        mkdir -p "$unpacked"
        for deb in "$work/font-debs/${package}_"*.deb; do
            dpkg-deb -x "$deb" "$unpacked"
        done
        if [ -z "$(find "$unpacked/usr/share/fonts" -type f -print -quit 2>/dev/null)" ]; then
            echo "$me: $package holds no font under /usr/share/fonts" >&2
            exit 1
        fi
        # Its files together in a folder that takes the package's name only once they are all in.
        part=$(mktemp -d "$fonts/$package.part-XXXXXX")
        find "$unpacked/usr/share/fonts" -type f -exec cp {} "$part" \;
        chmod 644 "$part"/*
        chmod 755 "$part"
        mv -T "$part" "$fonts/$package"
        part=""
    done
fi
